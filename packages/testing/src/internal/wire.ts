/**
 * What a wire format (OpenAI chat completions, DeepSeek, Gemini, Anthropic
 * messages) must provide to the mock server: read a request into a
 * `Conversation`, write a `Reply` as a JSON body or as SSE frames, and write
 * an error the way that provider does.
 *
 * @internal
 */
import type { Conversation, Reply, Usage } from "./conversation.ts"

/** An error the server answers instead of a reply. @internal */
export type WireError =
  | {
    readonly _tag: "Status"
    readonly code: number
    readonly message?: string | undefined
    readonly errorCode?: string | undefined
    readonly param?: string | undefined
  }
  | { readonly _tag: "RateLimited" }
  | { readonly _tag: "QuotaExhausted" }
  | { readonly _tag: "ContextLength"; readonly promptTokens: number }
  | { readonly _tag: "InvalidRequest"; readonly message: string }
  | { readonly _tag: "Unauthorized"; readonly message: string }

/** An error as it goes on the wire. @internal */
export interface ErrorResponse {
  readonly status: number
  readonly body: unknown
}

/** Where a request landed, from its method, path and query. @internal */
export interface Route {
  readonly stream: boolean
  /** The model named in the path (Gemini), else `undefined`. */
  readonly model: string | undefined
}

/** The request's headers, lower-case names. @internal */
export type RequestHeaders = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/** How the stream should end and what it carries. @internal */
export interface WriteOptions {
  readonly id: string
  readonly model: string
  readonly usage: boolean
  readonly terminator: boolean
}

/** One provider wire format. @internal */
export interface WireFormat {
  /** `undefined` when the request carries credentials, else why not. */
  readonly checkAuth: (headers: RequestHeaders, query: URLSearchParams) => string | undefined
  /** The conversation, or why the body is invalid. */
  readonly parse: (body: unknown, route: Route, headers: RequestHeaders) => Conversation | string
  readonly body: (reply: Reply, options: WriteOptions) => unknown
  readonly events: (reply: Reply, options: WriteOptions) => ReadonlyArray<string>
  /** How many of `events`' frames come before the first one that can carry text or reasoning. */
  readonly leadingFrames: number
  /** How many frames of reasoning follow the leading ones, before the first that can carry text. */
  readonly reasoningFrames: (reply: Reply) => number
  /**
   * For each frame of `events`, the usage a client has been told once that
   * frame is sent (`undefined`: none yet): what the server bills for a
   * response cut or abandoned after it.
   */
  readonly usageByFrame: (reply: Reply, options: WriteOptions) => ReadonlyArray<Usage | undefined>
  /** One SSE frame carrying `data` (`event` is used by formats that name events). */
  readonly frame: (event: string, data: string) => string
  readonly error: (error: WireError, retryAfter: string | undefined) => ErrorResponse
}

/** A record, or `undefined`. @internal */
export const asRecord = (u: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? { ...u } : undefined

/** An array, or `undefined`. @internal */
export const asArray = (u: unknown): ReadonlyArray<unknown> | undefined => Array.isArray(u) ? u : undefined

/** A whole positive number, or `undefined`. @internal */
export const asCount = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u > 0 ? u : undefined

/** The text of a `content` that is a string or an array of `{ text }` parts. @internal */
export const textOf = (content: unknown): string | undefined => {
  if (typeof content === "string") return content
  const parts = asArray(content)
  if (parts === undefined) return undefined
  return parts.map((part) => {
    const text = asRecord(part)?.["text"]
    return typeof text === "string" ? text : ""
  }).join("")
}

/** The first value of a header. @internal */
export const header = (headers: RequestHeaders, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" ? value : value?.[0]
}

/** A `data:` SSE frame with LF line ends. @internal */
export const dataFrame = (_event: string, data: string): string => `data: ${data}\n\n`

/** Seconds for a Gemini `retryDelay` or similar, from a `retry-after` value. @internal */
export const retryDelaySeconds = (retryAfter: string | undefined, fallback: number): string =>
  retryAfter !== undefined && /^\d+(\.\d+)?$/.test(retryAfter) ? `${retryAfter}s` : `${fallback}s`
