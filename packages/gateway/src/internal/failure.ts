/**
 * The one table from a failure to its HTTP status and OpenAI error body:
 * the gateway's own refusals (bad body, key, model, size) and every error
 * the manager can end a call with.
 *
 * A body never carries a provider attempt's detail: no attempt list, no
 * provider message, no address or socket error (as `@baton/http/HttpProblem`
 * does). A failed call gets one generic message per class, naming the
 * request id when the caller passes it, and the operator reads the attempts
 * in the request log. The one exception: when every provider rejected the
 * caller's own request, or the one asked rejected its conversation while
 * another was skipped (400), the first provider's message, scrubbed of
 * key-shaped text, and its `param` are passed on, because an OpenAI client
 * needs to know what to fix. A 503 because Baton skipped every provider (its
 * circuit open or its local budget spent), or skipped some and the rest timed
 * out, says when to come back: `Retry-After`, the seconds until the earliest
 * probe or refill (`CircuitPolicy.retryAfterHeaders`, as `@baton/http`
 * answers).
 *
 * One failure of Baton's is no failure on the wire: a provider's content
 * filter stopping the answer (`ContentFiltered`, stage `response`), which
 * OpenAI answers with a 200 whose `finish_reason` is `content_filter`, or
 * the model declining in its own words, which OpenAI answers with a 200
 * carrying its `refusal` and `finish_reason: "stop"` ({@link filterStop}).
 */
import type * as Attempt from "@baton/core/Attempt"
import * as CircuitPolicy from "@baton/core/CircuitPolicy"
import * as ErrorPolicy from "@baton/core/ErrorPolicy"
import type { Finish } from "@baton/core/GenerationResult"
import type { InvalidOptions } from "@baton/core/LlmError"
import type * as LlmManager from "@baton/core/LlmManager"
import type * as ProviderError from "@baton/core/ProviderError"
import * as Redact from "@baton/core/Redact"
import type { TokenUsage } from "@baton/core/TokenUsage"
import { Data } from "effect"
import type { ErrorBody } from "./wire.ts"

/** A request the gateway refuses itself, before any provider call. */
export class Rejected extends Data.TaggedError("Rejected")<{
  readonly status: 400 | 401 | 404 | 405 | 413
  readonly code: string
  readonly param: string | null
  readonly message: string
}> {}

/** Any failure of a gateway call. */
export type CallError = Rejected | InvalidOptions | LlmManager.StreamError

/** What a failure becomes on the wire: its status, body and own headers (`Retry-After`). */
export interface HttpFailure {
  readonly status: number
  readonly body: ErrorBody
  readonly headers?: Readonly<Record<string, string>> | undefined
}

const rejectionTypes: Record<Rejected["status"], string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  404: "invalid_request_error",
  405: "invalid_request_error",
  413: "invalid_request_error"
}

const make = (status: number, type: string, code: string, message: string, param: string | null = null) => ({
  status,
  body: { message, type, code, param }
})

/** The most of a provider's message passed on to the client. */
const MESSAGE_MAX_CHARS = 1000

/** Where the details are: the request log, under the request's id when known. */
const seeLog = (requestId: string | undefined): string =>
  requestId === undefined ? "; the details are in the gateway's request log" : `; see request ${requestId}`

/** What the caller sent that the provider refused: its message, scrubbed and cut, and its `param`. */
const callersFault = (error: ProviderError.ProviderError): { message: string; param: string | null } => ({
  message: Redact.truncate(Redact.scrub(error.message, []), MESSAGE_MAX_CHARS),
  param: error._tag === "InvalidRequest"
    ? error.param ?? null
    : error._tag === "StructuredOutputInvalid" && error.truncated === true
    ? "max_tokens"
    : null
})

/**
 * 504 when every provider timed out, 400 when the request itself was refused
 * (the message of the first refusal a provider was sent; `ErrorPolicy.allFailed`
 * decides), else
 * 503, with `Retry-After` when Baton knows when to come back
 * (`CircuitPolicy.retryAfterHeaders`); generic
 * messages but the 400's.
 */
const allFailed = (attempts: ReadonlyArray<Attempt.Attempt>, requestId: string | undefined): HttpFailure => {
  const why = ErrorPolicy.allFailed(attempts)
  switch (why._tag) {
    case "TimedOut":
      return make(504, "server_error", "upstream_timeout", `every provider timed out${seeLog(requestId)}`)
    case "Refused": {
      const { message, param } = callersFault(why.error)
      const code = why.error._tag === "ContextLengthExceeded" ? "context_length_exceeded" : "invalid_request"
      return make(400, "invalid_request_error", code, message, param)
    }
    case "Unavailable":
      return {
        ...make(503, "server_error", "upstream_unavailable", `every provider failed${seeLog(requestId)}`),
        headers: CircuitPolicy.retryAfterHeaders(attempts)
      }
  }
}

/**
 * The status and body of any failure of a gateway call; `requestId`, when
 * given, is named in the generic messages of failed provider calls.
 */
export const toHttp = (error: CallError, requestId?: string): HttpFailure => {
  switch (error._tag) {
    case "Rejected":
      return make(error.status, rejectionTypes[error.status], error.code, error.message, error.param)
    case "InvalidOptions":
      return make(400, "invalid_request_error", "invalid_value", error.message, error.field)
    case "RateLimitExceeded":
      return make(
        429,
        "rate_limit_error",
        error.budget === undefined ? "rate_limit_exceeded" : `daily_${error.budget}_budget_exceeded`,
        error.message
      )
    case "TooManyQuestions":
      return make(400, "invalid_request_error", "too_many_units", error.message, "units")
    case "QuotaStoreUnavailable":
      return make(503, "service_unavailable", "quota_store_unavailable", "the quota store is unavailable")
    case "GenerationDisabled":
      return make(503, "service_unavailable", "generation_disabled", error.message)
    case "DeadlineExceeded":
      return make(504, "timeout_error", "deadline_exceeded", error.message)
    case "AllProvidersFailed":
      return allFailed(error.attempts, requestId)
    case "StreamInterrupted":
      return error.deadlineMs === undefined
        ? make(502, "server_error", "stream_interrupted", `the provider stopped mid-answer${seeLog(requestId)}`)
        : make(
          504,
          "timeout_error",
          "deadline_exceeded",
          `no whole answer within ${error.deadlineMs} ms${seeLog(requestId)}`
        )
  }
}

/** The usage of a call no attempt of which was billed. */
const unbilled: TokenUsage = {
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  cachedPromptTokens: 0,
  reasoningTokens: 0,
  costNanoUsd: 0,
  estimatedCostUsd: 0,
  pricing: "unpriced"
}

/** How OpenAI ends an answer a content filter stopped: its `Finish`, and the model's words if it declined. */
export interface FilterStop {
  readonly finish: Finish
  readonly refusal: string | undefined
}

/**
 * How OpenAI ends an answer a content filter stopped, if that is how the
 * call ended: its deciding attempt (the last that failed, skips aside, as
 * the chain stops on a filter unless `fallbackOnContentFilter`) is a
 * `ContentFiltered` of the answer, before any text (`AllProvidersFailed`) or
 * after some (`StreamInterrupted`). The `Finish` names that attempt's
 * provider and model and carries what the whole request billed; its reason
 * is `content_filter`, or `stop` when the model declined with a `refusal`
 * (as OpenAI sends it, and as the SDKs' `parse` reads it: they throw on
 * `content_filter`). A blocked prompt (stage `prompt`) stays a failure.
 */
export const filterStop = (error: CallError): FilterStop | undefined => {
  if (error._tag !== "AllProvidersFailed" && error._tag !== "StreamInterrupted") return undefined
  const deciding = (error.attempts ?? []).findLast((attempt) =>
    attempt.error !== undefined && attempt.outcome !== "skipped"
  )
  if (deciding?.error?._tag !== "ContentFiltered" || deciding.error.stage !== "response") return undefined
  const refusal = deciding.error.refusal
  return {
    finish: {
      _tag: "Finish",
      finishReason: refusal === undefined ? "content_filter" : "stop",
      usage: error.usage ?? unbilled,
      provider: deciding.provider,
      model: deciding.model
    },
    refusal
  }
}
