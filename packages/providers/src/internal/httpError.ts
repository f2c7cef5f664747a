/**
 * Maps what went wrong on the wire to exactly one `ProviderError`.
 *
 * Every provider reports failures the same few ways: an HTTP status with an
 * error body (`{"error":{...}}` for OpenAI, DeepSeek, Gemini and compatible
 * servers, `{"type":"error","error":{...}}` for Anthropic, a flat
 * `{"object":"error","message":...}` for older vLLM, or plain text), hint
 * headers (`retry-after-ms`, `Retry-After`, `x-should-retry`), an error
 * event in the middle of a stream, or a transport failure before any byte arrived. One table covers
 * them all:
 *
 * | what | error |
 * | --- | --- |
 * | 429, or a stream error of type `rate_limit*` | `ProviderRateLimited` (`retryAfter` from `retry-after-ms`, `Retry-After` seconds or date, Gemini `RetryInfo.retryDelay`: {@link retryAfter}; `shouldRetry` from `x-should-retry`: {@link shouldRetry}) |
 * | 402, 4xx `insufficient_quota` / `billing_error` / "credit balance is too low" (Anthropic's 400), a Gemini `QuotaFailure` on a per-day quota, a stream error of type `billing_error` | `ProviderQuotaExhausted` |
 * | 401, 403, Gemini's 400 with an `ErrorInfo` reason `API_KEY_INVALID` / `API_KEY_EXPIRED` | `ProviderAuthenticationFailed` |
 * | 4xx `content_policy_violation` / `content_filter` (OpenAI, Azure), a message about the content (filtering) policy or safety system (Anthropic, Gemini), OpenRouter's moderation error (its 403 with `metadata.reasons`) | `ContentFiltered` (stage `prompt`) |
 * | 400, 404, 413, 422 and other 4xx | `InvalidRequest` (with the provider's `param` and `code`), or `ContextLengthExceeded` when the code or message says the prompt is too long |
 * | 408, 409, 499, 5xx, Anthropic 529, or a stream error of type `overloaded*` | `ProviderUnavailable` (`retryAfter` and `shouldRetry` from the same hints, when the response carries them: a 503 or a 529 `overloaded_error` may say when to come back, or not to retry) |
 * | refused, reset, DNS, TLS | `ProviderConnectionFailed` |
 * | a body compressed in a content coding Baton cannot decode, or that does not decode | `MalformedResponse` |
 * | anything else | `MalformedResponse` |
 *
 * The manager honours a `retryAfter` on either error alike (see
 * `@baton/core/ErrorPolicy`): the retry waits at least that long, within the
 * request's deadline, and a circuit the failure opens stays open at least
 * that long. A `shouldRetry: false` on either means no retry on the same
 * provider (the request falls back); `true` changes nothing. An error event
 * in a stream has no headers of its own, so no `shouldRetry`.
 *
 * An error body sent with HTTP 200 (a stream's error event, or the whole
 * body of a reply: OpenRouter, once it has accepted a request; vLLM's flat
 * error, as a stream event too) is read the same way, its status taken from
 * its `code` or `type` (vLLM's `"code": 400` with a message about the
 * context length is `ContextLengthExceeded`, as over plain HTTP). So is
 * the error OpenRouter puts on the choice itself (`choices[0].error`, beside
 * `finish_reason: "error"`), plain or streamed. A body or a chunk whose
 * `error` is `null` carries none ({@link carriesError}, {@link fromOkBody}).
 *
 * Provider messages are copied into the error with the provider's secrets
 * scrubbed (its API key, the values of its extra headers): some providers
 * echo part or all of a rejected key.
 */
import type { ModelId, ProviderName } from "@baton/core/Ids"
import {
  ContentFiltered,
  ContextLengthExceeded,
  fromStatus as ofStatus,
  InvalidRequest,
  MalformedResponse,
  ProviderAuthenticationFailed,
  ProviderConnectionFailed,
  type ProviderError,
  ProviderQuotaExhausted
} from "@baton/core/ProviderError"
import * as Redact from "@baton/core/Redact"
import { Duration, type Redacted, Result } from "effect"
import { Headers } from "effect/http"
import * as Json from "./json.ts"
import type * as Transport from "./transport.ts"

/** Who failed, and the secrets that must never appear in a message. */
export interface ErrorContext {
  readonly provider: ProviderName
  readonly model: ModelId
  readonly secrets: ReadonlyArray<Redacted.Redacted>
}

/** The fields of a provider error body, whatever its shape. */
export interface ErrorBody {
  readonly message: string | undefined
  readonly type: string | undefined
  readonly code: string | undefined
  readonly param: string | undefined
  /** Gemini's `details` (`RetryInfo`, `QuotaFailure`, `ErrorInfo`, ...). */
  readonly details: ReadonlyArray<unknown>
  /** OpenRouter's `metadata` (a moderation error's `reasons`, ...); empty when absent. */
  readonly metadata: Json.JsonObject
}

const emptyBody: ErrorBody = {
  message: undefined,
  type: undefined,
  code: undefined,
  param: undefined,
  details: [],
  metadata: {}
}

/**
 * The error OpenRouter puts on the choice itself (`choices[0].error`, its
 * `ErrorResponse`, beside `finish_reason: "error"`) when it is an object,
 * else `undefined`.
 */
const choiceError = (json: Json.JsonObject): Json.JsonObject | undefined => {
  const choice: unknown = Array.isArray(json.choices) ? json.choices[0] : undefined
  return Json.isObject(choice) && Json.isObject(choice.error) ? choice.error : undefined
}

/**
 * The error fields of a parsed body: `error` as an object or a string,
 * Anthropic's envelope, vLLM's flat shape, else the first choice's `error`
 * ({@link choiceError}).
 */
export const errorBody = (json: unknown): ErrorBody => {
  if (!Json.isObject(json)) return emptyBody
  const inner = json.error ?? choiceError(json)
  if (typeof inner === "string") {
    return { ...emptyBody, message: inner, type: Json.string(json.type), code: Json.string(json.code) }
  }
  const source = Json.isObject(inner) ? inner : json
  return {
    message: Json.string(source.message),
    type: Json.string(source.type) ?? Json.string(source.status),
    code: Json.string(source.code),
    param: Json.string(source.param),
    details: Array.isArray(source.details) ? source.details : [],
    metadata: Json.isObject(source.metadata) ? source.metadata : {}
  }
}

/** The text with the provider's secrets and key-shaped tokens replaced (`@baton/core/Redact`). */
export const scrub = (secrets: ReadonlyArray<Redacted.Redacted>, text: string): string => Redact.scrub(text, secrets)

const detailOf = (details: ReadonlyArray<unknown>, type: string): Record<string, unknown> | undefined => {
  for (const detail of details) {
    if (Json.isObject(detail) && typeof detail["@type"] === "string" && detail["@type"].endsWith(type)) return detail
  }
  return undefined
}

const protobufDuration = /^(\d+(?:\.\d+)?)s$/

const decimalMillis = /^\d+(?:\.\d+)?$/

/** A `retry-after-ms` value: a non-negative decimal number of ms; blank or anything else is none. */
const millisHint = (header: string | undefined): Duration.Duration | undefined => {
  const value = header?.trim()
  return value !== undefined && decimalMillis.test(value) ? Duration.millis(Number(value)) : undefined
}

/**
 * The server's wait hint: `retry-after-ms`, then `Retry-After` (seconds or an
 * HTTP date), then Gemini's `RetryInfo.retryDelay` (`"34s"`). Read for a 429
 * and for every status that is `ProviderUnavailable` (a 503, a 529). A header
 * that says no number (blank, `soon`, `0x10`) is skipped, never read as 0.
 */
export const retryAfter = (
  headers: Readonly<Record<string, string | undefined>>,
  details: ReadonlyArray<unknown>,
  nowMs: number
): Duration.Duration | undefined => {
  const ms = millisHint(headers["retry-after-ms"])
  if (ms !== undefined) return ms
  const header = headers["retry-after"]
  if (header !== undefined) {
    const parsed = Headers.parseRetryAfter(header)
    if (Result.isSuccess(parsed)) return Headers.retryAfterDelay(parsed.success, nowMs)
  }
  const delay = Json.string(detailOf(details, "google.rpc.RetryInfo")?.retryDelay)
  const seconds = delay === undefined ? undefined : protobufDuration.exec(delay)?.[1]
  return seconds === undefined ? undefined : Duration.millis(Math.round(Number(seconds) * 1000))
}

/**
 * The server's `x-should-retry` (sent by OpenAI and Anthropic, read from
 * every error response): `true` or `false`, as their SDKs read it; anything
 * else is no hint.
 */
export const shouldRetry = (headers: Readonly<Record<string, string | undefined>>): boolean | undefined => {
  const value = headers["x-should-retry"]?.trim().toLowerCase()
  return value === "true" ? true : value === "false" ? false : undefined
}

const isPerDayQuota = (details: ReadonlyArray<unknown>): boolean => {
  const violations = detailOf(details, "google.rpc.QuotaFailure")?.violations
  return Array.isArray(violations) &&
    violations.some((v) =>
      Json.isObject(v) && /per.?day/i.test(`${Json.string(v.quotaId) ?? ""} ${Json.string(v.quotaMetric) ?? ""}`)
    )
}

const billingPattern = /credit balance is too low|insufficient balance/i

const isQuotaExhausted = (body: ErrorBody): boolean =>
  body.code === "insufficient_quota" || body.type === "insufficient_quota" || body.type === "billing_error" ||
  billingPattern.test(body.message ?? "") || isPerDayQuota(body.details)

const contextLengthPattern =
  /context[ _-]?length|context window|maximum context|prompt is too long|input token count|too many tokens|exceeds the maximum number of tokens/i

const isContextLength = (body: ErrorBody): boolean =>
  body.code === "context_length_exceeded" || contextLengthPattern.test(body.message ?? "")

/** Codes of a prompt refused by a content policy; `invalid_prompt` is OpenAI's for one its usage policy flags. */
const contentPolicyCodes: ReadonlySet<string> = new Set([
  "content_policy_violation",
  "content_filter",
  "invalid_prompt"
])

const contentPolicyPattern =
  /content (?:filtering |management )?polic|usage polic|safety system|blocked by (?:our|the) (?:content|safety)|prohibited content/i

/**
 * OpenRouter's moderation error (HTTP 403, "Your input was flagged"): its
 * `metadata` is a `ModerationErrorMetadata` whose `reasons` name what the
 * prompt was flagged for. Decided on that field, never on the message.
 */
const isFlaggedPrompt = (body: ErrorBody): boolean => {
  const reasons = body.metadata.reasons
  return Array.isArray(reasons) && reasons.length > 0 && reasons.every((reason) => typeof reason === "string")
}

const isContentPolicy = (body: ErrorBody): boolean =>
  (body.code !== undefined && contentPolicyCodes.has(body.code)) ||
  contentPolicyPattern.test(body.message ?? "") ||
  isFlaggedPrompt(body)

/** The `ErrorInfo` reasons of Gemini's 400 `INVALID_ARGUMENT` for a key it does not accept. */
const rejectedKeyReasons: ReadonlySet<string> = new Set(["API_KEY_INVALID", "API_KEY_EXPIRED"])

const isRejectedKey = (body: ErrorBody): boolean => {
  const reason = Json.string(detailOf(body.details, "google.rpc.ErrorInfo")?.reason)
  return reason !== undefined && rejectedKeyReasons.has(reason)
}

/** A 401, a 403 but a flagged prompt's, or Gemini's 400 for a rejected key. */
const isAuthentication = (status: number, body: ErrorBody): boolean =>
  status === 401 || (status === 403 && !isFlaggedPrompt(body)) || (status === 400 && isRejectedKey(body))

/**
 * A stream error's type and code mapped to the status the same failure has
 * over plain HTTP: a numeric code is that status; otherwise the type and a
 * string code are read together (OpenAI's rate-limit event has the type
 * `tokens` and the code `rate_limit_exceeded`).
 */
const statusOfType = (type: string | undefined, code: string | undefined): number => {
  const numeric = Number(code)
  if (Number.isInteger(numeric) && numeric >= 400 && numeric < 600) return numeric
  const named = `${type ?? ""} ${code ?? ""}`
  if (/overloaded/i.test(named)) return 529
  if (/rate.?limit|resource_exhausted|insufficient_quota/i.test(named)) return 429
  // Anthropic sends `billing_error` with HTTP 402
  if (/billing/i.test(named)) return 402
  // Anthropic sends `request_too_large` with HTTP 413, `not_found_error` with 404,
  // `permission_error` with 403 and `timeout_error` with 504
  if (/too_large/i.test(named)) return 413
  if (/not_found/i.test(named)) return 404
  if (/permission/i.test(named)) return 403
  if (/timeout/i.test(named)) return 504
  if (/auth/i.test(named)) return 401
  if (/invalid|argument|context_length|content_(?:policy|filter)/i.test(named)) return 400
  return 500
}

const describe = (context: ErrorContext, status: number, body: ErrorBody, text: string): string => {
  const detail = body.message ?? (text.trim().length > 0 ? text.trim() : "no error message")
  return Redact.truncate(scrub(context.secrets, `${context.provider} answered HTTP ${status}: ${detail}`), 400)
}

const fromBody = (
  context: ErrorContext,
  status: number,
  headers: Readonly<Record<string, string | undefined>>,
  body: ErrorBody,
  text: string,
  nowMs: number
): ProviderError => {
  const common = { provider: context.provider, model: context.model }
  const message = describe(context, status, body, text)
  if (status >= 400 && status < 500 && isQuotaExhausted(body)) {
    return new ProviderQuotaExhausted({ ...common, status, message })
  }
  if (isAuthentication(status, body)) {
    return new ProviderAuthenticationFailed({ ...common, status, message: `${message} (check the API key)` })
  }
  // the status's own rule (`ProviderError.fromStatus`), but for a 4xx its body names (a 403 a flagged prompt)
  const wait = retryAfter(headers, body.details, nowMs)
  const retry = shouldRetry(headers)
  const byStatus = ofStatus({
    ...common,
    status,
    message,
    ...(wait === undefined ? {} : { retryAfter: wait }),
    ...(retry === undefined ? {} : { shouldRetry: retry })
  })
  if (byStatus._tag === "InvalidRequest" || byStatus._tag === "ProviderAuthenticationFailed") {
    if (isContextLength(body)) return new ContextLengthExceeded({ ...common, message })
    if (isContentPolicy(body)) return new ContentFiltered({ ...common, stage: "prompt", message })
    return new InvalidRequest({
      ...common,
      status,
      message,
      ...(body.param === undefined ? {} : { param: Redact.truncate(scrub(context.secrets, body.param), 200) }),
      ...(body.code === undefined ? {} : { code: Redact.truncate(scrub(context.secrets, body.code), 200) })
    })
  }
  return byStatus
}

/** The error for a non-2xx response, from its status, headers and body text. */
export const fromStatus = (
  context: ErrorContext,
  status: number,
  headers: Readonly<Record<string, string | undefined>>,
  text: string,
  nowMs: number
): ProviderError => fromBody(context, status, headers, errorBody(Json.parse(text)), text, nowMs)

/** The error for an error event inside a 200 stream, before any text reached the caller. */
export const fromStreamError = (context: ErrorContext, json: unknown, nowMs: number): ProviderError => {
  const body = errorBody(json)
  const status = statusOfType(body.type, body.code)
  return fromBody(context, status, {}, body, "", nowMs)
}

/**
 * Whether a body is an error without a top-level `error` field: vLLM's flat
 * error, `{"object":"error","message":...,"code":400}`, or a choice that
 * carries one ({@link choiceError}).
 */
const isErrorElsewhere = (json: Json.JsonObject): boolean => json.object === "error" || choiceError(json) !== undefined

/**
 * Whether a stream chunk is an error event ({@link fromStreamError}): it has
 * an `error` field holding anything but `null`, is vLLM's flat error
 * (`"object": "error"`), or its first choice has an `error` object.
 * `"error": null`, which some servers send on every chunk while all is
 * well, is no error, nor is a missing field. The one test the stream
 * decoders apply, and the one a plain reply's decoder applies first.
 */
export const carriesError = (json: Json.JsonObject): boolean =>
  (json.error !== undefined && json.error !== null) || isErrorElsewhere(json)

/**
 * The error a whole 2xx body carries in place of a reply or a stream, read
 * as the same error sent as a stream event is ({@link fromStreamError}):
 * OpenRouter sends `{"error":{"code":402,...}}` with HTTP 200 once it has
 * accepted a request, vLLM its flat error, OpenRouter an error on the
 * choice. `undefined` for a body without an `error` object or string
 * (`"error": null` among them) that is no flat error and whose first choice
 * has no `error` object either.
 */
export const fromOkBody = (context: ErrorContext, json: unknown, nowMs: number): ProviderError | undefined =>
  Json.isObject(json) && (Json.isObject(json.error) || typeof json.error === "string" || isErrorElsewhere(json))
    ? fromStreamError(context, json, nowMs)
    : undefined

const causeCode = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 4 && Json.isObject(current); depth++) {
    const code = Json.string(current.code)
    if (code !== undefined) return code
    current = current.cause
  }
  return undefined
}

const causeMessage = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** The error for a transport failure: no usable response arrived, or its body broke. */
export const fromTransport = (context: ErrorContext, failure: Transport.TransportFailure): ProviderError => {
  const common = { provider: context.provider, model: context.model }
  if (failure.stage === "url") {
    return new ProviderConnectionFailed({
      ...common,
      message: `${context.provider}: invalid URL (check the base URL setting)`
    })
  }
  if (failure.stage === "encoding") {
    return new MalformedResponse({
      ...common,
      message: scrub(context.secrets, `${context.provider} answered with a body ${causeMessage(failure.cause)}`)
    })
  }
  const code = causeCode(failure.cause)
  const what = failure.stage === "request" ? "could not be reached" : "broke the connection mid-response"
  const detail = code === undefined ? causeMessage(failure.cause) : `${code}: ${causeMessage(failure.cause)}`
  return new ProviderConnectionFailed({
    ...common,
    message: scrub(context.secrets, `${context.provider} ${what} (${detail})`)
  })
}
