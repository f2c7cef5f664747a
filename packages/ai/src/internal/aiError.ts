/**
 * Baton's errors as `AiError` reasons, and back.
 *
 * `AiError` fixes `isRetryable` per reason class, so a Baton error is mapped
 * to the first of its candidate reasons whose `isRetryable` agrees with
 * Baton's own `LlmError.isRetryable` for it; when none agrees, to
 * `InternalProviderError` (retryable) or `UnknownError` (not). A request
 * that failed without any provider refusing it is retryable whatever Baton
 * says of its attempts: a chain Baton skipped whole (open circuits, spent
 * local budgets) is a `RateLimitError` with the earliest wait, so is one
 * whose asked providers all timed out and the rest were skipped (the skips'
 * wait), one some routes refused and the rest skipped a `RateLimitError`
 * with no wait, as HTTP's 503 (a refusal not every provider gave is one
 * route's), one whose every attempt timed out a `NetworkError`, and a request past its deadline
 * or that its quota store could not count an `InternalProviderError`. A
 * daily quota spent stays a `QuotaExhaustedError`. A stream the manager
 * ended mid-answer (`StreamInterrupted`) reads as `HttpProblem` answers it:
 * at its deadline, a timeout, an `InternalProviderError` as a request past
 * its deadline before any text (`effect/ai` has no timeout reason, and the
 * answer had begun: no `NetworkError`); else a refusal's (a content filter)
 * as that refusal, else a retryable `InternalProviderError` (the answer
 * broke after the response began: no `NetworkError`). The Baton
 * error's tag, provider and model travel in the reason's `metadata.baton`,
 * with the model's refusal in its own words when it declined (a
 * `ContentFiltered`'s `refusal`), and with what the request was billed when the error reports it: `usage` (as
 * `effect/ai` `Usage`), `costNanoUsd`, `estimatedCostUsd` and `pricing`, the
 * names of the finish part's account: the whole request's for a failed
 * request's final error, which Baton's manager gives that `usage`.
 * `effect/ai`'s `NetworkError` has no metadata: a transport failure of a
 * billed request is an `InternalProviderError` (retryable too) instead. Its
 * `url` is empty, as on `effect/http`'s request with no URL set: Baton's
 * errors carry none (an adapter keeps only its server's host and port, as a
 * base URL may hold a key), and its `description` names the provider.
 */
import type { Attempt } from "@baton/core/Attempt"
import * as ErrorPolicy from "@baton/core/ErrorPolicy"
import type { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmError from "@baton/core/LlmError"
import * as ProviderError from "@baton/core/ProviderError"
import type * as TokenUsage from "@baton/core/TokenUsage"
import type { Duration } from "effect"
import { AiError } from "effect/ai"
import { toUsage } from "./response.ts"

type Reason = AiError.AiErrorReason

type Metadata = AiError.ProviderMetadata

/**
 * What the request of an error was billed: a failed request's final error
 * (`AllProvidersFailed`, `DeadlineExceeded`, the manager's `StreamInterrupted`)
 * carries the whole request's usage, a provider's error its own.
 */
const billedOf = (error: LlmError.LlmError): TokenUsage.TokenUsage | undefined =>
  "usage" in error ? error.usage : undefined

/** The billed usage as the finish part's account names it. */
const accountOf = (usage: TokenUsage.TokenUsage) => ({
  usage: toUsage(usage),
  costNanoUsd: usage.costNanoUsd,
  estimatedCostUsd: usage.estimatedCostUsd,
  pricing: usage.pricing
})

const metadataOf = (error: LlmError.LlmError, billed: TokenUsage.TokenUsage | undefined): Metadata => ({
  baton: {
    tag: error._tag,
    ...("provider" in error ? { provider: error.provider } : {}),
    ...("model" in error ? { model: error.model } : {}),
    ...(error._tag === "ContentFiltered" && error.refusal !== undefined ? { refusal: error.refusal } : {}),
    ...(billed === undefined ? {} : accountOf(billed))
  }
})

const agreeing = (candidates: ReadonlyArray<Reason>, retryable: boolean, description: string, metadata: Metadata) =>
  candidates.find((reason) => reason.isRetryable === retryable) ??
    (retryable
      ? new AiError.InternalProviderError({ description, metadata })
      : new AiError.UnknownError({ description, metadata }))

/**
 * The reasons that may stand for `error`. `billed`: the request was billed,
 * so its reason must carry metadata (a `NetworkError` has none: an
 * `InternalProviderError`, retryable too, stands for a transport failure then).
 */
const candidatesOf = (
  error: ProviderError.ProviderError,
  metadata: Metadata,
  billed: boolean
): ReadonlyArray<Reason> => {
  const description = error.message
  switch (error._tag) {
    case "ProviderRateLimited":
      // not retryable when its server said not to retry (`x-should-retry: false`): a limit that will not lift soon
      return [
        new AiError.RateLimitError({ metadata, ...retryAfterOf(error.retryAfter) }),
        new AiError.QuotaExhaustedError({ metadata })
      ]
    case "ProviderThrottled":
      return [new AiError.RateLimitError({ metadata, ...retryAfterOf(error.retryAfter) })]
    case "ProviderQuotaExhausted":
      return [new AiError.QuotaExhaustedError({ metadata })]
    case "ProviderUnavailable":
    case "CircuitOpen":
    case "Defect":
      return [new AiError.InternalProviderError({ description, metadata })]
    // a provider's own (the manager's are read as `HttpProblem` reads them): not retryable, and no `NetworkError`
    // (a failure before any response): `UnknownError`
    case "StreamInterrupted":
      return []
    case "ProviderTimeout":
    case "ProviderConnectionFailed":
      return [
        billed
          ? new AiError.InternalProviderError({ description, metadata })
          : new AiError.NetworkError({ reason: "TransportError", method: "POST", url: "", description })
      ]
    case "ProviderAuthenticationFailed":
      return [
        new AiError.AuthenticationError({
          kind: error.status === 403 ? "InsufficientPermissions" : "InvalidKey",
          description,
          metadata
        })
      ]
    case "InvalidRequest":
      return [
        new AiError.InvalidRequestError({
          description,
          metadata,
          ...(error.param === undefined ? {} : { parameter: error.param })
        })
      ]
    case "ContextLengthExceeded":
      return [new AiError.InvalidRequestError({ constraint: "context length", description, metadata })]
    case "ContentFiltered":
      return [new AiError.ContentPolicyError({ description, metadata })]
    case "MalformedResponse":
      return [
        new AiError.InvalidResponseError({ description, metadata }),
        new AiError.InvalidOutputError({ description, metadata })
      ]
    case "StructuredOutputInvalid":
      return [
        new AiError.StructuredOutputError({ description: error.issue, responseText: error.content, metadata }),
        new AiError.InvalidResponseError({ description, metadata })
      ]
  }
}

const retryAfterOf = (retryAfter: Duration.Duration | undefined) => retryAfter === undefined ? {} : { retryAfter }

const skipped = (error: ProviderError.ProviderError): boolean =>
  error._tag === "CircuitOpen" || error._tag === "ProviderThrottled"

/**
 * The error that decided a failed chain the providers did not refuse
 * (`ErrorPolicy.allFailed` is no `Refused`), a refusal of the request (too
 * long, invalid, filtered; a step's of a model it does not serve) passed
 * over, as it was one route's: the last real failure that another try may
 * get past (a rate limit, with its `retryAfter`), so that a request one
 * provider only rate-limited is retryable whatever the next one said; else
 * the last real failure, else the last skip.
 */
const decisive = (attempts: ReadonlyArray<Attempt>): ProviderError.ProviderError | undefined => {
  const failed = attempts.flatMap((attempt) =>
    attempt.error === undefined || ErrorPolicy.table[attempt.error._tag].requestsFault ? [] : [attempt.error]
  )
  const asked = failed.filter((error) => !skipped(error))
  return asked.findLast(LlmError.isRetryable) ?? asked.at(-1) ?? failed.at(-1)
}

/**
 * The reason of a failed chain, as the HTTP layers answer it: when Baton
 * skipped every provider (its circuit open or its local budget spent; a
 * step's refusal before any call counts as no attempt), or no provider
 * refused it (every asked one timed out and the others were skipped), a
 * `RateLimitError` retryable after the skips' earliest wait
 * (`ErrorPolicy.retryAfterAllFailed`, as the HTTP layers' `Retry-After`
 * reads it; none when a skip knows no wait); when the providers refused the
 * request as its own fault (`ErrorPolicy.allFailed`'s `Refused`, a 400), the
 * refusal it names; when every attempt timed out, its last timeout's reason,
 * retryable (`effect/ai` has no timeout reason: a silent provider is a
 * transport failure to it, a `NetworkError`); else its deciding attempt's
 * ({@link decisive}: no refusal), a skip's a `RateLimitError` with no wait,
 * so a refusal then a skip is retryable, as HTTP's 503.
 */
const chainReason = (
  error: LlmError.AllProvidersFailed,
  billed: TokenUsage.TokenUsage | undefined,
  metadata: Metadata
): Reason => {
  const wait = ErrorPolicy.retryAfterAllFailed(error.attempts)
  if (wait !== undefined) return new AiError.RateLimitError({ metadata, retryAfter: wait })
  const why = ErrorPolicy.allFailed(error.attempts)
  if (why._tag === "Refused") return reasonBilled(why.error, billed)
  const last = decisive(error.attempts)
  if (last === undefined) return new AiError.UnknownError({ description: error.message, metadata })
  // refused on one route, skipped on the others: they may serve later, when is not known (HTTP sends no Retry-After)
  if (skipped(last)) return new AiError.RateLimitError({ metadata })
  const asked = error.attempts.filter((attempt) => attempt.outcome !== "skipped")
  if (ErrorPolicy.allFailed(asked)._tag !== "TimedOut") return reasonBilled(last, billed)
  // timed out and skipped, a skip knowing no wait
  if (asked.length < error.attempts.length) return new AiError.RateLimitError({ metadata })
  const timedOut = metadataOf(last, billed)
  return agreeing(candidatesOf(last, timedOut, billed !== undefined), true, last.message, timedOut)
}

/**
 * The reason of a stream the manager ended mid-answer, as `HttpProblem`
 * answers it: one its deadline ended (`deadlineMs`) timed out (504), as a
 * request past its deadline before any text did (`DeadlineExceeded`): an
 * `InternalProviderError`, retryable, whatever its attempts said; else a
 * request the providers refused as its own fault (`ErrorPolicy.allFailed`: a
 * content filter stopped the answer) has that refusal's reason (400); else
 * the provider broke its answer, which a new request may get past (502): an
 * `InternalProviderError`, retryable.
 */
const interrupted = (
  error: ProviderError.StreamInterrupted,
  attempts: ReadonlyArray<Attempt>,
  billed: TokenUsage.TokenUsage | undefined,
  metadata: Metadata
): Reason => {
  const why = error.deadlineMs === undefined ? ErrorPolicy.allFailed(attempts) : undefined
  return why?._tag === "Refused"
    ? reasonBilled(why.error, billed)
    : new AiError.InternalProviderError({ description: error.message, metadata })
}

/**
 * The `AiError` reason of any Baton error.
 */
export const reasonOf = (error: LlmError.LlmError): Reason => reasonBilled(error, billedOf(error))

/** The reason of an error whose request was billed `billed` (a failed chain's, for its deciding attempt). */
const reasonBilled = (error: LlmError.LlmError, billed: TokenUsage.TokenUsage | undefined): Reason => {
  const metadata = metadataOf(error, billed)
  if (error._tag === "StreamInterrupted" && error.attempts !== undefined) {
    return interrupted(error, error.attempts, billed, metadata)
  }
  if (ProviderError.isProviderError(error)) {
    return agreeing(
      candidatesOf(error, metadata, billed !== undefined),
      LlmError.isRetryable(error),
      error.message,
      metadata
    )
  }
  switch (error._tag) {
    case "AllProvidersFailed":
      return chainReason(error, billed, metadata)
    case "RateLimitExceeded":
      return new AiError.QuotaExhaustedError({ resetAt: error.resetsAt, metadata })
    case "InvalidOptions":
      return new AiError.InvalidRequestError({ parameter: error.field, description: error.message, metadata })
    case "TooManyQuestions":
    case "GenerationDisabled":
    case "LlmConfigError":
      return new AiError.InvalidRequestError({ description: error.message, metadata })
    // the request ran out of time, or could not be counted: no provider's fault, a new request may get through
    case "DeadlineExceeded":
    case "QuotaStoreUnavailable":
      return new AiError.InternalProviderError({ description: error.message, metadata })
    case "CircuitStoreUnavailable":
      return new AiError.UnknownError({ description: error.message, metadata })
  }
}

/**
 * A Baton error as the `AiError` an `effect/ai` caller matches on.
 */
export const toAiError = (method: string) => (error: LlmError.LlmError): AiError.AiError =>
  AiError.make({ module: "BatonLanguageModel", method, reason: reasonOf(error) })

/**
 * An `AiError` from a `LanguageModel` as the `ProviderError` Baton's manager
 * reads (retry, fallback, circuit): each reason to the Baton error of the
 * same meaning.
 */
export const toProviderError = (
  provider: ProviderName,
  model: ModelId,
  error: AiError.AiError
): ProviderError.ProviderError => {
  const reason = error.reason
  const common = { provider, model }
  const message = reason.message
  switch (reason._tag) {
    case "RateLimitError":
      return new ProviderError.ProviderRateLimited({ ...common, message, ...retryAfterOf(reason.retryAfter) })
    case "QuotaExhaustedError":
      return new ProviderError.ProviderQuotaExhausted({ ...common, status: 429, message })
    case "AuthenticationError":
      return new ProviderError.ProviderAuthenticationFailed({
        ...common,
        status: reason.kind === "InsufficientPermissions" ? 403 : 401,
        message
      })
    case "ContentPolicyError":
      return new ProviderError.ContentFiltered({ ...common, stage: "prompt", message })
    case "InvalidRequestError":
    case "InvalidUserInputError":
    case "UnsupportedSchemaError":
    case "ToolkitRequiredError":
    case "ToolConfigurationError":
      return new ProviderError.InvalidRequest({ ...common, status: 400, message })
    case "InternalProviderError":
      return new ProviderError.ProviderUnavailable({ ...common, status: 500, message })
    case "NetworkError":
      return new ProviderError.ProviderConnectionFailed({ ...common, message })
    // a status `effect/ai` does not name (408, 409, 404...): read as Baton's adapters read it; with no status
    // (a bug in the model's package), a defect, not retried on the same provider, falls back
    case "UnknownError": {
      const status = reason.http?.response?.status
      return status === undefined
        ? new ProviderError.Defect({ ...common, message })
        : ProviderError.fromStatus({ ...common, status, message })
    }
    case "StructuredOutputError":
      return new ProviderError.StructuredOutputInvalid({
        ...common,
        issue: reason.description,
        content: reason.responseText
      })
    default:
      return new ProviderError.MalformedResponse({ ...common, message })
  }
}
