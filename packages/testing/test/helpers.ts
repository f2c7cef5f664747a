/**
 * Test helpers: raw HTTP calls to the mock server with `fetch`, and an SSE
 * reader, so the tests check the bytes a client sees.
 */
import { Effect } from "effect"
import type { MockProvider, MockProviderServer } from "../src/MockProviderServer.ts"

export interface RawResponse {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

export interface SseEvent {
  readonly event: string | undefined
  readonly data: string
}

export const AUTH: Record<MockProvider, Record<string, string>> = {
  openai: { authorization: "Bearer sk-test" },
  deepseek: { authorization: "Bearer sk-test" },
  gemini: { "x-goog-api-key": "test" },
  anthropic: { "x-api-key": "test", "anthropic-version": "2023-06-01" }
}

export const MODELS: Record<MockProvider, string> = {
  openai: "gpt-4o-mini",
  deepseek: "deepseek-flash",
  gemini: "gemini-2.5-flash",
  anthropic: "claude-haiku-4-5"
}

export interface Ask {
  readonly prompt?: string
  readonly stream?: boolean
  readonly model?: string
  readonly maxTokens?: number
  readonly system?: string
  readonly prefill?: string
  readonly headers?: Record<string, string>
  /** Extra top-level body fields (Gemini: merged into the body too). */
  readonly extra?: Record<string, unknown>
}

const messagesOf = (ask: Ask) => [
  { role: "user", content: ask.prompt ?? "What is photosynthesis" },
  ...(ask.prefill === undefined ? [] : [{ role: "assistant", content: ask.prefill }])
]

/** The request path and body a client of `provider` would send. */
export const requestOf = (provider: MockProvider, ask: Ask): { readonly path: string; readonly body: unknown } => {
  const model = ask.model ?? MODELS[provider]
  const stream = ask.stream ?? false
  switch (provider) {
    case "openai":
    case "deepseek":
      return {
        path: "/chat/completions",
        body: {
          model,
          messages: [
            ...(ask.system === undefined ? [] : [{ role: "system", content: ask.system }]),
            ...messagesOf(ask)
          ],
          ...(stream ? { stream, stream_options: { include_usage: true } } : {}),
          ...(ask.maxTokens === undefined ? {} : { max_tokens: ask.maxTokens }),
          ...ask.extra
        }
      }
    case "gemini":
      return {
        path: `/models/${model}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
        body: {
          contents: messagesOf(ask).map((m) => ({
            role: m.role === "assistant" ? "model" : "user",
            parts: [{ text: m.content }]
          })),
          ...(ask.system === undefined ? {} : { systemInstruction: { parts: [{ text: ask.system }] } }),
          ...(ask.maxTokens === undefined ? {} : { generationConfig: { maxOutputTokens: ask.maxTokens } }),
          ...ask.extra
        }
      }
    case "anthropic":
      return {
        path: "/v1/messages",
        body: {
          model,
          max_tokens: ask.maxTokens ?? 1024,
          messages: messagesOf(ask),
          ...(ask.system === undefined ? {} : { system: ask.system }),
          ...(stream ? { stream } : {}),
          ...ask.extra
        }
      }
  }
}

/** POSTs `body` to `url` and reads the whole response. */
export const postRaw = (url: string, body: string, headers: Record<string, string>) =>
  Effect.promise(async (signal): Promise<RawResponse> => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      signal
    })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** Asks `provider` on `server` like its official client would. */
export const ask = (server: MockProviderServer["Service"], provider: MockProvider, options: Ask = {}) => {
  const { body, path } = requestOf(provider, options)
  return postRaw(`${server.baseUrl(provider)}${path}`, JSON.stringify(body), {
    ...AUTH[provider],
    ...options.headers
  })
}

/** The events of an SSE body (LF or CRLF separated). */
export const sseEvents = (text: string): ReadonlyArray<SseEvent> =>
  text.split(/\r?\n\r?\n/).filter((block) => block.trim() !== "").map((block) => {
    const lines = block.split(/\r?\n/)
    const event = lines.find((l) => l.startsWith("event: "))?.slice(7)
    const data = lines.filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n")
    return { event, data }
  })

/** The parsed JSON `data` of the SSE events (a `[DONE]` stays a string). */
export const sseJson = (text: string): ReadonlyArray<unknown> =>
  sseEvents(text).map((e) => e.data === "[DONE]" ? e.data : parseJson(e.data))

/** `JSON.parse`, typed as `unknown`. */
export const parseJson = (text: string): unknown => JSON.parse(text)

/** The answer text of a reply body or stream, whatever the provider. */
export const replyText = (provider: MockProvider, stream: boolean, text: string): string => {
  const pieces = stream ? sseJson(text) : [JSON.parse(text)]
  return pieces.map((piece) => textIn(provider, stream, piece)).join("")
}

const isIndexable = (u: unknown): u is Readonly<Record<PropertyKey, unknown>> => typeof u === "object" && u !== null

/** The value at `path` inside a parsed JSON value, or `undefined`. */
export const pick = (value: unknown, ...path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>((node, key) => isIndexable(node) ? node[key] : undefined, value)

const textIn = (provider: MockProvider, stream: boolean, piece: unknown): string => {
  const text = provider === "gemini"
    ? pick(piece, "candidates", 0, "content", "parts", 0, "text")
    : provider === "anthropic"
    ? (stream ? pick(piece, "delta", "text") : pick(piece, "content", 0, "text"))
    : pick(piece, "choices", 0, stream ? "delta" : "message", "content")
  return typeof text === "string" ? text : ""
}
