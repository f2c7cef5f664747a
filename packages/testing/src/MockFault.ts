/**
 * The faults the mock provider server can play, and their compact text form.
 *
 * A `MockFault` describes one way a real provider misbehaves: an HTTP error
 * with the provider's own error body, a slow or silent server, a broken
 * connection, a garbled or truncated stream, a safety block, or a reply with
 * chosen content. Build faults with the constructors below and hand them to
 * `MockProviderServer.inject`, or name them per request in an `x-mock-fault`
 * header or a model-name suffix (`gpt-4o-mini@status=503`), for clients in
 * any language.
 *
 * Text form: `name` or `name=value`, then optional `;option=value` pairs.
 * Values are percent-decoded, so `content=%7B%7D` replies `{}`.
 *
 * | Fault | Text form |
 * |---|---|
 * | {@link status} | `status=503`, `status=429;retryAfter=2;message=slow%20down`, `status=503;shouldRetry=false`, `status=400;errorCode=unsupported_value;param=temperature` |
 * | {@link rateLimited} | `rateLimited`, `rateLimited;retryAfter=5` |
 * | {@link quotaExhausted} | `quotaExhausted` |
 * | {@link contextLengthExceeded} | `contextLengthExceeded` |
 * | {@link contentFilter} | `contentFilter` |
 * | {@link contentFilterAfter} | `contentFilter;after=3` (text events) |
 * | {@link refusal} | `contentFilter;refusal=I%20can%27t%20help`, `contentFilter;after=3;refusal=No` |
 * | {@link resourceStop} | `resourceStop` |
 * | {@link latency} | `latency=250` (ms) |
 * | {@link noResponse} | `noResponse` |
 * | {@link slowFirstToken} | `slowFirstToken=250` (ms) |
 * | {@link slowTokens} | `slowTokens=1000` (ms between events), `slowTokens=5;content=one%20two` |
 * | {@link stallMidStream} | `stallMidStream=250`, `stallMidStream=forever;after=3`, `stallMidStream=forever;after=end` |
 * | {@link resetBeforeHeaders} | `resetBeforeHeaders` |
 * | {@link notJson} | `notJson` |
 * | {@link wrongShape} | `wrongShape` |
 * | {@link illTyped} | `illTyped` |
 * | {@link cutStream} | `cutStream`, `cutStream;after=3` (text events), `cutStream;after=end` |
 * | {@link malformedEvent} | `malformedEvent`, `malformedEvent;after=3` |
 * | {@link noTerminator} | `noTerminator` |
 * | {@link oversized} | `oversized=1048576` (bytes), `oversized=forever` |
 * | {@link noUsage} | `noUsage` |
 * | {@link rejectPrefill} | `rejectPrefill` |
 * | {@link content} | `content=Hello` |
 *
 * A text event is one that carries the answer: the reasoning a thinking model
 * streams first (DeepSeek's `reasoning_content` deltas) is never counted, so
 * `cutStream;after=3` cuts after three words of the answer whatever the model
 * reasoned before it.
 *
 * Parsing is strict: an unknown name, a missing or extra value, an unknown
 * option or a bad number is a {@link MockFaultParseError} (the server answers
 * it with a 400).
 *
 * @since 0.1.0
 */
import { Data, Result } from "effect"

/**
 * One misbehaviour of a provider. See the module header for the catalogue.
 *
 * @since 0.1.0
 */
export type MockFault =
  | Status
  | RateLimited
  | QuotaExhausted
  | ContextLengthExceeded
  | ContentFilter
  | ResourceStop
  | Latency
  | NoResponse
  | SlowFirstToken
  | SlowTokens
  | StallMidStream
  | ResetBeforeHeaders
  | NotJson
  | WrongShape
  | IllTyped
  | CutStream
  | MalformedEvent
  | NoTerminator
  | Oversized
  | NoUsage
  | RejectPrefill
  | Content

/** @since 0.1.0 */
export interface Status {
  readonly _tag: "Status"
  readonly code: number
  readonly retryAfter: string | undefined
  /** The `x-should-retry` header, as written (OpenAI and Anthropic send `true` or `false`). */
  readonly shouldRetry?: string | undefined
  readonly message: string | undefined
  /** The provider's error code (OpenAI `code`, Anthropic `error.type`, Gemini `status`). */
  readonly errorCode?: string | undefined
  /** The field the error names (OpenAI `param`). */
  readonly param?: string | undefined
}
/** @since 0.1.0 */
export interface RateLimited {
  readonly _tag: "RateLimited"
  readonly retryAfter: string | undefined
}
/** @since 0.1.0 */
export interface QuotaExhausted {
  readonly _tag: "QuotaExhausted"
}
/** @since 0.1.0 */
export interface ContextLengthExceeded {
  readonly _tag: "ContextLengthExceeded"
}
/** @since 0.1.0 */
export interface ContentFilter {
  readonly _tag: "ContentFilter"
  /** Text events sent before the filter stops the answer. Default: none, no text at all. */
  readonly after?: number | undefined
  /** The model's own words declining, on the chat-completions wire ({@link refusal}). */
  readonly refusal?: string | undefined
}
/** @since 0.1.0 */
export interface ResourceStop {
  readonly _tag: "ResourceStop"
}
/** @since 0.1.0 */
export interface Latency {
  readonly _tag: "Latency"
  readonly ms: number
  /** What the reply is once the wait is over (a normal answer when absent). */
  readonly then?: MockFault | undefined
}
/** @since 0.1.0 */
export interface NoResponse {
  readonly _tag: "NoResponse"
}
/** @since 0.1.0 */
export interface SlowFirstToken {
  readonly _tag: "SlowFirstToken"
  readonly ms: number
}
/** @since 0.1.0 */
export interface SlowTokens {
  readonly _tag: "SlowTokens"
  readonly ms: number
  readonly content?: string | undefined
}
/** @since 0.1.0 */
export interface StallMidStream {
  readonly _tag: "StallMidStream"
  readonly ms: number | "forever"
  /** Text events sent before the stall; `"end"`: every event but the last. Default: after the first event. */
  readonly after?: number | "end" | undefined
}
/** @since 0.1.0 */
export interface ResetBeforeHeaders {
  readonly _tag: "ResetBeforeHeaders"
}
/** @since 0.1.0 */
export interface NotJson {
  readonly _tag: "NotJson"
}
/** @since 0.1.0 */
export interface WrongShape {
  readonly _tag: "WrongShape"
}
/** @since 0.1.0 */
export interface IllTyped {
  readonly _tag: "IllTyped"
}
/** @since 0.1.0 */
export interface CutStream {
  readonly _tag: "CutStream"
  /** Text events sent before the cut, or `"end"`: before the last event. Default: half the events. */
  readonly after?: number | "end" | undefined
}
/** @since 0.1.0 */
export interface MalformedEvent {
  readonly _tag: "MalformedEvent"
  /** Text events sent before the malformed one. Default: after the first event. */
  readonly after?: number | undefined
}
/** @since 0.1.0 */
export interface NoTerminator {
  readonly _tag: "NoTerminator"
}
/** @since 0.1.0 */
export interface Oversized {
  readonly _tag: "Oversized"
  readonly bytes: number | "forever"
}
/** @since 0.1.0 */
export interface NoUsage {
  readonly _tag: "NoUsage"
}
/** @since 0.1.0 */
export interface RejectPrefill {
  readonly _tag: "RejectPrefill"
}
/** @since 0.1.0 */
export interface Content {
  readonly _tag: "Content"
  readonly text: string
}

/**
 * Answers with this HTTP status and the provider's real error body for it
 * (Anthropic 529 `overloaded_error`, Gemini 429 `RESOURCE_EXHAUSTED` with a
 * `RetryInfo`, OpenAI 429 `rate_limit_exceeded`, DeepSeek 402 `Insufficient
 * Balance`, ...). `retryAfter` is sent as the `retry-after` header, but on
 * a Gemini 429, which carries it only as `RetryInfo.retryDelay`, as Gemini
 * does; `shouldRetry` is sent as the `x-should-retry` header (OpenAI's and
 * Anthropic's word on whether a retry may succeed), on every wire;
 * `message` replaces the default message; `errorCode`
 * replaces the provider's error code (OpenAI `code`, Anthropic `error.type`,
 * Gemini `status`) and `param` sets OpenAI's `param`.
 *
 * @since 0.1.0
 */
export const status = (
  code: number,
  options: {
    readonly retryAfter?: string | undefined
    readonly shouldRetry?: string | undefined
    readonly message?: string | undefined
    readonly errorCode?: string | undefined
    readonly param?: string | undefined
  } = {}
): MockFault => ({
  _tag: "Status",
  code,
  retryAfter: options.retryAfter,
  shouldRetry: options.shouldRetry,
  message: options.message,
  errorCode: options.errorCode,
  param: options.param
})

/**
 * Answers 429 with the provider's rate-limit body (OpenAI
 * `rate_limit_exceeded`, Anthropic `rate_limit_error`, Gemini
 * `RESOURCE_EXHAUSTED` with a `RetryInfo`, DeepSeek `Rate Limit Reached`).
 *
 * @since 0.1.0
 */
export const rateLimited = (options: { readonly retryAfter?: string | undefined } = {}): MockFault => ({
  _tag: "RateLimited",
  retryAfter: options.retryAfter
})

/**
 * Answers the provider's "out of money" error, which must never be retried:
 * OpenAI 429 `insufficient_quota`, DeepSeek 402 `Insufficient Balance`,
 * Gemini 429 `RESOURCE_EXHAUSTED` with a per-day `QuotaFailure`, Anthropic
 * 400 "credit balance is too low".
 *
 * @since 0.1.0
 */
export const quotaExhausted: MockFault = { _tag: "QuotaExhausted" }

/**
 * Answers 400 with the provider's "prompt too long" error and message text.
 *
 * @since 0.1.0
 */
export const contextLengthExceeded: MockFault = { _tag: "ContextLengthExceeded" }

/**
 * Answers HTTP 200 with the provider's safety block: `finish_reason:
 * "content_filter"`, Gemini `finishReason: "SAFETY"`, Anthropic `stop_reason:
 * "refusal"`, and no text.
 *
 * @since 0.1.0
 */
export const contentFilter: MockFault = { _tag: "ContentFilter" }

/**
 * HTTP 200, the first `tokens` text events of the answer (one per word), then
 * the provider's safety block as in {@link contentFilter}: a filter that
 * stops an answer already under way. The usage reported, and billed, is the
 * prompt and the text sent. A non-streaming reply carries that text with the
 * same finish.
 *
 * @since 0.1.0
 */
export const contentFilterAfter = (tokens: number): MockFault => ({ _tag: "ContentFilter", after: tokens })

/**
 * HTTP 200 and the model declining in its own words `text`, after the first
 * `after` text events when given. The chat-completions wire (OpenAI,
 * DeepSeek) sends OpenAI's refusal: `message.refusal` with `content: null`
 * and `finish_reason: "stop"`, streamed as `delta.refusal` pieces (one per
 * word); the other wires have none and send the block of {@link contentFilter}.
 * The refusal is billed as output.
 *
 * @since 0.1.0
 */
export const refusal = (text: string, options: { readonly after?: number | undefined } = {}): MockFault => ({
  _tag: "ContentFilter",
  ...(options.after === undefined ? {} : { after: options.after }),
  refusal: text
})

/**
 * HTTP 200 and the answer, ended by DeepSeek's stop for a server out of
 * resources, `finish_reason: "insufficient_system_resource"` (the OpenAI
 * route sends the same). The other wires have no such stop: they send an
 * unusual one (Gemini `OTHER`, Anthropic `pause_turn`), which Baton serves as
 * a finished answer with finish reason `other`.
 *
 * @since 0.1.0
 */
export const resourceStop: MockFault = { _tag: "ResourceStop" }

/**
 * Waits `ms` milliseconds before sending the headers, then answers normally,
 * or as `then` says (`latency(300, contentFilter)`: a refusal that comes
 * late).
 *
 * @since 0.1.0
 */
export const latency = (ms: number, then?: MockFault): MockFault =>
  then === undefined ? { _tag: "Latency", ms } : { _tag: "Latency", ms, then }

/**
 * Reads the request and never answers (until the client gives up).
 *
 * @since 0.1.0
 */
export const noResponse: MockFault = { _tag: "NoResponse" }

/**
 * Sends the headers at once, then waits `ms` milliseconds before the first
 * event. A non-streaming reply waits before its body.
 *
 * @since 0.1.0
 */
export const slowFirstToken = (ms: number): MockFault => ({ _tag: "SlowFirstToken", ms })

/**
 * Sends the events of a stream `ms` milliseconds apart (a slow but healthy
 * stream), with `content` as the text when given (one event per word).
 *
 * @since 0.1.0
 */
export const slowTokens = (ms: number, options: { readonly content?: string | undefined } = {}): MockFault => ({
  _tag: "SlowTokens",
  ms,
  content: options.content
})

/**
 * Stops after the first event (or half the body when not streaming) for `ms`
 * milliseconds, or for ever, then goes on. `after` stops after that many
 * text events instead, or before the last event (`"end"`: the answer, its
 * finish and its usage sent, the terminator not). A stream abandoned during
 * the stall is billed the usage it had reported.
 *
 * @since 0.1.0
 */
export const stallMidStream = (
  ms: number | "forever",
  options: { readonly after?: number | "end" | undefined } = {}
): MockFault => ({ _tag: "StallMidStream", ms, after: options.after })

/**
 * Resets the connection (TCP RST) before any byte of the response.
 *
 * @since 0.1.0
 */
export const resetBeforeHeaders: MockFault = { _tag: "ResetBeforeHeaders" }

/**
 * Answers 200 with an HTML page instead of JSON or SSE (a proxy error page).
 *
 * @since 0.1.0
 */
export const notJson: MockFault = { _tag: "NotJson" }

/**
 * Answers 200 with valid JSON of the wrong shape (`{"unexpected":true}`);
 * a stream sends well-framed events of that shape.
 *
 * @since 0.1.0
 */
export const wrongShape: MockFault = { _tag: "WrongShape" }

/**
 * A well-formed, billed reply (usage included) whose answer text is the
 * number `42` instead of a string: OpenAI `content`, Anthropic `text`, Gemini
 * `parts[].text`. A stream sends the answer as one such event.
 *
 * @since 0.1.0
 */
export const illTyped: MockFault = { _tag: "IllTyped" }

/**
 * Destroys the connection in the middle of the body (half of a stream's
 * events after a thinking model's reasoning, which is sent whole). A stream
 * is billed the usage it had reported before the cut.
 *
 * @since 0.1.0
 */
export const cutStream: MockFault = { _tag: "CutStream" }

/**
 * Destroys the connection of a stream after `tokens` text events, or before
 * the last event (`"end"`: the answer, its finish and its usage sent, the
 * terminator not; Gemini's last chunk, its finish, not sent either).
 *
 * @since 0.1.0
 */
export const cutStreamAfter = (tokens: number | "end"): MockFault => ({ _tag: "CutStream", after: tokens })

/**
 * Puts one event whose data is not JSON in the middle of an otherwise good
 * stream. A non-streaming reply gets a truncated JSON body.
 *
 * @since 0.1.0
 */
export const malformedEvent: MockFault = { _tag: "MalformedEvent" }

/**
 * Puts the malformed event after `tokens` text events.
 *
 * @since 0.1.0
 */
export const malformedEventAfter = (tokens: number): MockFault => ({ _tag: "MalformedEvent", after: tokens })

/**
 * Ends a stream without its terminator: no `data: [DONE]` (OpenAI,
 * DeepSeek), no `finishReason` (Gemini), no `message_stop` (Anthropic).
 * Non-streaming replies are unaffected.
 *
 * @since 0.1.0
 */
export const noTerminator: MockFault = { _tag: "NoTerminator" }

/**
 * A well-formed reply whose answer is `bytes` characters of ASCII text: a
 * non-streaming body over `bytes`, or a stream whose one text event is over
 * `bytes`. For provider body and event size caps. `"forever"`: an endless
 * body (or one endless stream event), written as fast as the client reads
 * it, until the client closes the connection.
 *
 * @since 0.1.0
 */
export const oversized = (bytes: number | "forever"): MockFault => ({ _tag: "Oversized", bytes })

/**
 * Leaves every usage field out of the reply or stream.
 *
 * @since 0.1.0
 */
export const noUsage: MockFault = { _tag: "NoUsage" }

/**
 * Answers 400 when the last message is an assistant prefill, as OpenAI does;
 * other requests are answered normally.
 *
 * @since 0.1.0
 */
export const rejectPrefill: MockFault = { _tag: "RejectPrefill" }

/**
 * Replies with exactly this text (still cut at the request's max tokens),
 * e.g. invalid JSON for a structured-output retry test.
 *
 * @since 0.1.0
 */
export const content = (text: string): MockFault => ({ _tag: "Content", text })

/**
 * A fault's text form could not be read. `input` is the text, `message` says
 * what is wrong and what is accepted.
 *
 * @since 0.1.0
 */
export class MockFaultParseError extends Data.TaggedError("MockFaultParseError")<{
  readonly input: string
  readonly message: string
}> {}

type Parser = (value: string | undefined, options: ReadonlyMap<string, string>) => MockFault | string

const noValue = (fault: MockFault): Parser => (value) => value === undefined ? fault : "takes no value"

const millis = (value: string | undefined): number | string =>
  value !== undefined && /^\d{1,9}$/.test(value) ? Number(value) : "needs a whole number of milliseconds"

const withMillis = (make: (ms: number) => MockFault): Parser => (value) => {
  const ms = millis(value)
  return typeof ms === "number" ? make(ms) : ms
}

/** The `after` option: a whole number of text events (or `end` where `allowEnd`). */
const afterOption = (options: ReadonlyMap<string, string>, allowEnd: boolean): number | undefined | string => {
  const after = options.get("after")
  if (after === undefined) return undefined
  if (allowEnd && after === "end") return "end"
  return /^\d{1,6}$/.test(after)
    ? Number(after)
    : `after needs a whole number of text events${allowEnd ? " or end" : ""}`
}

const withAfter = (make: (after: number | undefined) => MockFault): Parser => (value, options) => {
  if (value !== undefined) return "takes no value"
  const after = afterOption(options, false)
  return typeof after === "string" ? after : make(after)
}

const parsers: Record<string, { readonly options: ReadonlyArray<string>; readonly parse: Parser }> = {
  status: {
    options: ["retryAfter", "message", "errorCode", "param", "shouldRetry"],
    parse: (value, options) =>
      value !== undefined && /^[1-5]\d\d$/.test(value)
        ? status(Number(value), {
          retryAfter: options.get("retryAfter"),
          shouldRetry: options.get("shouldRetry"),
          message: options.get("message"),
          errorCode: options.get("errorCode"),
          param: options.get("param")
        })
        : "needs an HTTP status code such as 503"
  },
  rateLimited: {
    options: ["retryAfter"],
    parse: (value, options) =>
      value === undefined ? rateLimited({ retryAfter: options.get("retryAfter") }) : "takes no value"
  },
  quotaExhausted: { options: [], parse: noValue(quotaExhausted) },
  contextLengthExceeded: { options: [], parse: noValue(contextLengthExceeded) },
  contentFilter: {
    options: ["after", "refusal"],
    parse: (value, options) =>
      withAfter((after) => {
        const text = options.get("refusal")
        if (text !== undefined) return refusal(text, { after })
        return after === undefined ? contentFilter : contentFilterAfter(after)
      })(value, options)
  },
  resourceStop: { options: [], parse: noValue(resourceStop) },
  latency: { options: [], parse: withMillis(latency) },
  noResponse: { options: [], parse: noValue(noResponse) },
  slowFirstToken: { options: [], parse: withMillis(slowFirstToken) },
  slowTokens: {
    options: ["content"],
    parse: (value, options) => withMillis((ms) => slowTokens(ms, { content: options.get("content") }))(value, options)
  },
  stallMidStream: {
    options: ["after"],
    parse: (value, options) => {
      const after = afterOption(options, true)
      if (after === "end" || typeof after !== "string") {
        return value === "forever"
          ? stallMidStream("forever", { after })
          : withMillis((ms) => stallMidStream(ms, { after }))(value, options)
      }
      return after
    }
  },
  resetBeforeHeaders: { options: [], parse: noValue(resetBeforeHeaders) },
  notJson: { options: [], parse: noValue(notJson) },
  wrongShape: { options: [], parse: noValue(wrongShape) },
  illTyped: { options: [], parse: noValue(illTyped) },
  cutStream: {
    options: ["after"],
    parse: (value, options) => {
      if (value !== undefined) return "takes no value"
      const after = afterOption(options, true)
      if (after === undefined) return cutStream
      return after === "end" || typeof after === "number" ? cutStreamAfter(after) : after
    }
  },
  malformedEvent: {
    options: ["after"],
    parse: withAfter((after) => after === undefined ? malformedEvent : malformedEventAfter(after))
  },
  noTerminator: { options: [], parse: noValue(noTerminator) },
  oversized: {
    options: [],
    parse: (value) =>
      value === "forever"
        ? oversized("forever")
        : value !== undefined && /^\d{1,9}$/.test(value)
        ? oversized(Number(value))
        : "needs a whole number of bytes or forever"
  },
  noUsage: { options: [], parse: noValue(noUsage) },
  rejectPrefill: { options: [], parse: noValue(rejectPrefill) },
  content: {
    options: [],
    parse: (value) => value === undefined ? "needs the reply text, e.g. content=Hello" : content(value)
  }
}

/**
 * The names accepted by {@link parse}.
 *
 * @since 0.1.0
 */
export const names: ReadonlyArray<string> = Object.keys(parsers)

const decode = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

const splitPair = (text: string): readonly [string, string | undefined] => {
  const at = text.indexOf("=")
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)]
}

/**
 * Reads a fault from its text form (see the module header).
 *
 * @example
 * ```ts
 * import * as MockFault from "@baton/testing/MockFault"
 *
 * MockFault.parse("status=429;retryAfter=2") // Result.succeed(status(429, { retryAfter: "2" }))
 * ```
 *
 * @since 0.1.0
 */
export const parse = (input: string): Result.Result<MockFault, MockFaultParseError> => {
  const fail = (problem: string) =>
    Result.fail(new MockFaultParseError({ input, message: `mock fault "${input}": ${problem}` }))
  const [head = "", ...rest] = input.trim().split(";")
  const [name, rawValue] = splitPair(head)
  const parser = Object.hasOwn(parsers, name) ? parsers[name] : undefined
  if (parser === undefined) return fail(`unknown fault "${name}"; expected one of ${names.join(", ")}`)
  const value = rawValue === undefined ? undefined : decode(rawValue)
  if (rawValue !== undefined && value === undefined) return fail("the value is not valid percent-encoding")
  const options = new Map<string, string>()
  for (const pair of rest) {
    const [key, rawOption] = splitPair(pair)
    const option = rawOption === undefined ? undefined : decode(rawOption)
    if (!parser.options.includes(key)) {
      const accepted = parser.options.length === 0 ? "none" : parser.options.join(", ")
      return fail(`unknown option "${key}" for ${name}; accepted options: ${accepted}`)
    }
    if (option === undefined) return fail(`option "${key}" needs a percent-encoded value, e.g. ${key}=2`)
    options.set(key, option)
  }
  const fault = parser.parse(value, options)
  return typeof fault === "string" ? fail(`${name} ${fault}`) : Result.succeed(fault)
}
