/**
 * The one table from a failure to its HTTP status and OpenAI error body:
 * the gateway's own refusals (bad body, key, model, size) and every error
 * the manager can end a call with.
 */
import type * as Attempt from "@baton/core/Attempt"
import type { InvalidOptions } from "@baton/core/LlmError"
import type * as LlmManager from "@baton/core/LlmManager"
import { Data } from "effect"
import type { ErrorBody } from "./wire.ts"

/** A request the gateway refuses itself, before any provider call. */
export class Rejected extends Data.TaggedError("Rejected")<{
  readonly status: 400 | 401 | 404 | 413
  readonly code: string
  readonly param: string | null
  readonly message: string
}> {}

/** What a failure becomes on the wire. */
export interface HttpFailure {
  readonly status: number
  readonly body: ErrorBody
}

const rejectionTypes: Record<Rejected["status"], string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  404: "invalid_request_error",
  413: "invalid_request_error"
}

const clientFaults: ReadonlyArray<string> = ["InvalidRequest", "ContextLengthExceeded", "ContentFiltered"]

const errorsOf = (attempts: ReadonlyArray<Attempt.Attempt>) =>
  attempts.flatMap((attempt) => attempt.error === undefined ? [] : [attempt.error])

/** 504 when every provider timed out, 400 when every one refused the request itself, else 503. */
const allFailed = (attempts: ReadonlyArray<Attempt.Attempt>): Pick<HttpFailure, "status"> & { code: string } => {
  const errors = errorsOf(attempts)
  if (errors.length > 0 && errors.every((error) => error._tag === "ProviderTimeout")) {
    return { status: 504, code: "upstream_timeout" }
  }
  if (errors.length > 0 && errors.every((error) => clientFaults.includes(error._tag))) {
    return {
      status: 400,
      code: errors[0]?._tag === "ContextLengthExceeded" ? "context_length_exceeded" : "invalid_request"
    }
  }
  return { status: 503, code: "upstream_unavailable" }
}

const make = (status: number, type: string, code: string, message: string, param: string | null = null) => ({
  status,
  body: { message, type, code, param }
})

/** The status and body of any failure of a gateway call. */
export const toHttp = (error: Rejected | InvalidOptions | LlmManager.StreamError): HttpFailure => {
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
    case "AllProvidersFailed": {
      const { code, status } = allFailed(error.attempts)
      return make(status, status === 400 ? "invalid_request_error" : "server_error", code, error.message)
    }
    case "StreamInterrupted":
      return make(502, "server_error", "stream_interrupted", error.message)
  }
}
