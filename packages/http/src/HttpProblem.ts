/**
 * Baton's errors as HTTP responses: one table from each error to its status,
 * rendered as RFC 9457 Problem Details (`application/problem+json`).
 *
 * | error | status | extra |
 * | --- | --- | --- |
 * | `RateLimitExceeded` | 429 | `RateLimit-*` (in units) and `Retry-After` headers; `resetsAt`, and `limit` (units) or, for a spent budget, `budget`, `budgetLimit`, `budgetUsed` |
 * | `TooManyQuestions` | 400 | `field` (the request's count field), `requested`, `max` (the most this subject may ask for at once) |
 * | `InvalidOptions` | 400 | `field` (the offending field) |
 * | `BodyTooLarge` | 413 | `maxBytes` (the most bytes a body may have; see `HttpBody`) |
 * | `GenerationDisabled` | 503 | |
 * | `AllProvidersFailed`, the request itself refused (`ErrorPolicy.allFailed`: too long, invalid, filtered, structured answers cut at its token limit) | 400 | `cause`: `ContextLengthExceeded`, `InvalidRequest`, `ContentFiltered` or `StructuredOutputInvalid` (raise `maxTokens`) |
 * | `AllProvidersFailed`, every provider timed out | 504 | |
 * | `AllProvidersFailed`, otherwise | 503 | `Retry-After` when every provider was skipped (an open circuit, a spent local budget), or the rest timed out (`ErrorPolicy.retryAfterAllFailed`) |
 * | `QuotaStoreUnavailable` | 503 | |
 * | `DeadlineExceeded` | 504 | |
 * | `StreamInterrupted`, the request's deadline ended it (`deadlineMs`) | 504 | |
 * | `StreamInterrupted`, the providers refused the request mid-answer, as for `AllProvidersFailed` (a content filter stopped it) | 400 | `cause` |
 * | `StreamInterrupted`, otherwise | 502 | |
 * | `LlmConfigError` | 500 | |
 *
 * A body never carries an error's internal detail: no provider message, no
 * attempt list, no key, no prompt, no store URL. Only `InvalidOptions` and
 * `BodyTooLarge` repeat their messages, which describe the caller's own
 * input. Operators read the rest in the request log.
 *
 * @since 0.1.0
 */
import * as CircuitPolicy from "@baton/core/CircuitPolicy"
import * as ErrorPolicy from "@baton/core/ErrorPolicy"
import type {
  AllProvidersFailed,
  DeadlineExceeded,
  GenerationDisabled,
  InvalidOptions,
  LlmConfigError,
  QuotaStoreUnavailable,
  RateLimitExceeded,
  TooManyQuestions
} from "@baton/core/LlmError"
import type { ProviderError, StreamInterrupted } from "@baton/core/ProviderError"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import { DateTime } from "effect"
import { HttpServerResponse, ProblemDetails } from "effect/http"
import type { BodyTooLarge } from "./HttpBody.ts"

/**
 * Every Baton error an HTTP handler may answer with, `HttpBody`'s
 * `BodyTooLarge` among them.
 *
 * @since 0.1.0
 * @category models
 */
export type BatonError =
  | AllProvidersFailed
  | BodyTooLarge
  | DeadlineExceeded
  | GenerationDisabled
  | InvalidOptions
  | LlmConfigError
  | QuotaStoreUnavailable
  | RateLimitExceeded
  | StreamInterrupted
  | TooManyQuestions

/**
 * How errors are rendered. `countField` is the request field that
 * `TooManyQuestions` names (default `questionCount`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly countField?: string | undefined
}

interface Rendered {
  readonly status: number
  readonly title: string
  readonly detail: string
  readonly extensions?: Readonly<Record<string, unknown>>
  readonly headers?: Readonly<Record<string, string>>
}

const budgetUnit = { tokens: "tokens", cost: "nano-USD" } as const

const spent = (error: RateLimitExceeded): string =>
  error.budget !== undefined
    ? `The daily ${error.budget === "tokens" ? "token" : "cost"} budget of ${error.limit} ${
      budgetUnit[error.budget]
    } is spent (${error.used} used)`
    : error.requested !== undefined && error.remaining > 0
    ? `The daily limit of ${error.limit} leaves ${error.remaining}, less than the ${error.requested} requested`
    : `The daily limit of ${error.limit} is spent`

/** The title and detail of a request every provider refused, by its first refusal: never the provider's words. */
const refusalText = (error: ProviderError): { readonly title: string; readonly detail: string } => {
  switch (error._tag) {
    case "StructuredOutputInvalid":
      return {
        title: "Answer cut at the token limit",
        detail: "The answers were cut at the request's token limit before they matched the schema; raise maxTokens."
      }
    case "ContextLengthExceeded":
      return {
        title: "Request too long",
        detail: "The request is longer than the models asked can take; shorten it."
      }
    case "ContentFiltered":
      return {
        title: "Refused by a content filter",
        detail: "The providers asked refused the request on policy grounds."
      }
    default:
      return {
        title: "Request refused",
        detail: "The providers asked refused the request as invalid; it will not succeed as it is."
      }
  }
}

/** A request the providers refused as its own fault (`ErrorPolicy.allFailed`), by the first refusal. */
const refused = (error: ProviderError): Rendered => ({
  status: 400,
  ...refusalText(error),
  extensions: { cause: error._tag }
})

/** Which `AllProvidersFailed` it is: the request refused (400), every provider timed out (504), or none available (503). */
const allFailed = (error: AllProvidersFailed): Rendered => {
  const why = ErrorPolicy.allFailed(error.attempts)
  switch (why._tag) {
    case "Refused":
      return refused(why.error)
    case "TimedOut":
      return { status: 504, title: "Providers timed out", detail: "Every provider timed out; try again later." }
    case "Unavailable":
      return {
        status: 503,
        title: "No provider available",
        detail: "Every configured provider failed or is paused; try again later.",
        // `Retry-After` when every provider was skipped (open circuits, spent budgets), or the rest timed out: one rule
        headers: CircuitPolicy.retryAfterHeaders(error.attempts)
      }
  }
}

/** Why an answer broke mid-way: its deadline (504), the providers refusing it as `allFailed` would (400), else 502. */
const interrupted = (error: StreamInterrupted): Rendered => {
  if (error.deadlineMs !== undefined) {
    return { status: 504, title: "Deadline exceeded", detail: `No whole answer within ${error.deadlineMs} ms.` }
  }
  const why = ErrorPolicy.allFailed(error.attempts ?? [])
  return why._tag === "Refused"
    ? refused(why.error)
    : { status: 502, title: "Answer interrupted", detail: "The provider stopped mid-answer." }
}

const render = (error: BatonError, now: DateTime.Utc, options: Options): Rendered => {
  switch (error._tag) {
    case "RateLimitExceeded":
      return {
        status: 429,
        title: "Daily limit reached",
        detail: `${spent(error)}; it resets at ${DateTime.formatIso(error.resetsAt)}.`,
        // a budget's numbers are not units: in the body under their own names, never as `limit`
        extensions: error.budget === undefined
          ? { limit: error.limit, resetsAt: DateTime.formatIso(error.resetsAt) }
          : {
            budget: error.budget,
            budgetLimit: error.limit,
            budgetUsed: error.used,
            resetsAt: DateTime.formatIso(error.resetsAt)
          },
        // `RateLimit-*` in units only, `Retry-After` at the reset: one rule, `rateLimitHeaders`
        headers: QuotaLimiter.rateLimitHeaders(error, now)
      }
    case "TooManyQuestions": {
      const field = options.countField ?? "questionCount"
      return {
        status: 400,
        title: "Too many questions",
        detail: `${field}: ${error.requested} requested; at most ${error.max} per request.`,
        extensions: { field, requested: error.requested, max: error.max }
      }
    }
    case "InvalidOptions":
      return { status: 400, title: "Invalid request", detail: error.message, extensions: { field: error.field } }
    case "BodyTooLarge":
      return {
        status: 413,
        title: "Request body too large",
        detail: error.message,
        extensions: { maxBytes: error.maxBytes }
      }
    case "GenerationDisabled":
      return { status: 503, title: "Generation disabled", detail: "AI generation is switched off." }
    case "AllProvidersFailed":
      return allFailed(error)
    case "QuotaStoreUnavailable":
      return { status: 503, title: "Quota store unavailable", detail: "Quotas cannot be checked right now." }
    case "DeadlineExceeded":
      return { status: 504, title: "Deadline exceeded", detail: `No answer within ${error.timeoutMs} ms.` }
    case "StreamInterrupted":
      return interrupted(error)
    case "LlmConfigError":
      return { status: 500, title: "Server misconfigured", detail: "The service configuration is invalid." }
  }
}

/**
 * The Problem Details object of an error (also the data of an SSE `error`
 * event), and the headers that go with it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toProblem = (
  error: BatonError,
  now: DateTime.Utc,
  options: Options = {}
): { readonly problem: ProblemDetails.ProblemDetails; readonly headers: Readonly<Record<string, string>> } => {
  const rendered = render(error, now, options)
  return {
    problem: {
      type: `urn:baton:problem:${error._tag}`,
      status: rendered.status,
      title: rendered.title,
      detail: rendered.detail,
      ...rendered.extensions
    },
    headers: rendered.headers ?? {}
  }
}

/**
 * The response for an error: its status, `application/problem+json`, and its
 * headers (`Retry-After`, `RateLimit-*` for a 429).
 *
 * @example
 * ```ts
 * import { DateTime } from "effect"
 * import { GenerationDisabled } from "@baton/core/LlmError"
 * import * as HttpProblem from "@baton/http/HttpProblem"
 *
 * const response = HttpProblem.toResponse(new GenerationDisabled(), DateTime.nowUnsafe()) // 503
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const toResponse = (
  error: BatonError,
  now: DateTime.Utc,
  options: Options = {}
): HttpServerResponse.HttpServerResponse => {
  const { headers, problem } = toProblem(error, now, options)
  return ProblemDetails.toResponse(problem).pipe(HttpServerResponse.setHeaders(headers))
}
