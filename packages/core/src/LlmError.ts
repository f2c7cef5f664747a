/**
 * Every failure a Baton call can end with, as one closed union.
 *
 * - Provider errors (`ProviderError.ts`): what went wrong on one attempt.
 * - Manager errors: `AllProvidersFailed` (every attempt, in order),
 *   `DeadlineExceeded` (the request's time ran out; the attempts so far),
 *   `GenerationDisabled` (`AI_GENERATION_ENABLED=false`), `InvalidOptions`
 *   (Baton rejected the options before any network call). A stream cut
 *   after text reached the caller fails with the provider error
 *   `StreamInterrupted`, which then lists every attempt too.
 * - Quota errors: `RateLimitExceeded` (a subject's daily quota is spent; the
 *   fields an HTTP layer puts in `RateLimit-*` and `Retry-After` headers),
 *   `TooManyQuestions` (one request asks for more than the per-request limit),
 *   `QuotaStoreUnavailable` (the quota store cannot be reached and the limiter
 *   fails closed).
 * - `CircuitStoreUnavailable`: `LlmManager.circuitState` could not read the
 *   circuit store (calls do not fail with it: circuits fail open).
 * - `LlmConfigError`: configuration that cannot work, raised when a layer is
 *   built, naming the variable to fix.
 *
 * A request that reached a provider and failed lists its attempts
 * (`AllProvidersFailed`, `DeadlineExceeded`, the manager's
 * `StreamInterrupted`). The other failures of a call (`GenerationDisabled`,
 * `InvalidOptions`, the quota errors) end it before any provider is called:
 * there is nothing to list, so they carry no `attempts` field.
 *
 * Match them exhaustively with `Match.tagsExhaustive` or `Effect.catchTags`;
 * every class has a `message` fit to show an operator. No error here or in
 * `ProviderError.ts` captures a JavaScript stack trace: they are built inside
 * Effect's run loop, where a trace only lists its internals, and capturing one
 * cost 10-20 µs, several times the rest of building the error.
 *
 * @since 0.1.0
 */
import { DateTime, type Duration, Schema } from "effect"
import * as Attempt from "./Attempt.ts"
import * as ErrorPolicy from "./ErrorPolicy.ts"
import { SubjectId } from "./Ids.ts"
import { stackless } from "./internal/stackless.ts"
import { isProviderError, ProviderError } from "./ProviderError.ts"
import { TokenUsage } from "./TokenUsage.ts"

/**
 * Options or a request that Baton rejected before any provider was called.
 * `field` is the path of the offending field (`options.temperature`).
 *
 * @since 0.1.0
 */
export class InvalidOptions extends stackless(
  Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
    field: Schema.String,
    message: Schema.String
  })
) {}

/**
 * Every provider in the chain failed or was skipped. `attempts` lists each
 * attempt in the order it started, with its error; `usage` is what the
 * request was billed all the same (answers that did not decode, a content
 * filter's reply), absent when no attempt was billed. A skip's
 * `retryAfter` (an open circuit's, a spent local budget's) counts from when
 * this error was returned, not from the skip, however long the attempts
 * after it took.
 *
 * @since 0.1.0
 */
export class AllProvidersFailed extends stackless(
  Schema.TaggedError<AllProvidersFailed>()("AllProvidersFailed", {
    attempts: Schema.Array(Attempt.Attempt),
    usage: Schema.optionalKey(TokenUsage)
  })
) {
  override get message(): string {
    return `all providers failed:\n${this.attempts.map((a) => `  - ${Attempt.describe(a)}`).join("\n")}`
  }
}

/**
 * The request's deadline passed before any provider answered. `usage` is
 * what the request was billed all the same, absent when nothing was.
 *
 * @since 0.1.0
 */
export class DeadlineExceeded extends stackless(
  Schema.TaggedError<DeadlineExceeded>()("DeadlineExceeded", {
    timeoutMs: Schema.Int,
    attempts: Schema.Array(Attempt.Attempt),
    usage: Schema.optionalKey(TokenUsage)
  })
) {
  override get message(): string {
    return `no answer within the ${this.timeoutMs} ms deadline after ${this.attempts.length} attempt(s)`
  }
}

/**
 * Generation is switched off (`AI_GENERATION_ENABLED=false`).
 *
 * @since 0.1.0
 */
export class GenerationDisabled extends stackless(Schema.TaggedError<GenerationDisabled>()("GenerationDisabled", {})) {
  override get message(): string {
    return "AI generation is disabled (AI_GENERATION_ENABLED=false)"
  }
}

/**
 * A subject's quota cannot pay for the request until `resetsAt`. `limit` and
 * `used` are the day's numbers. `budget` is absent when the daily unit limit
 * refused: then `requested` is the request's units and `remaining` what is
 * left (more than 0 when the request asked for more than is left). `"tokens"`
 * or `"cost"` when a daily token or cost budget is spent, and then `limit` and
 * `used` count tokens or nano-USD and `remaining` is 0.
 *
 * @since 0.1.0
 */
export class RateLimitExceeded extends stackless(
  Schema.TaggedError<RateLimitExceeded>()("RateLimitExceeded", {
    subjectId: SubjectId,
    limit: Schema.Int,
    used: Schema.Int,
    remaining: Schema.Int,
    resetsAt: Schema.DateTimeUtc,
    budget: Schema.optionalKey(Schema.Literals(["tokens", "cost"])),
    requested: Schema.optionalKey(Schema.Int)
  })
) {
  /**
   * The time left until the quota resets, for a `Retry-After` header.
   *
   * @since 0.1.0
   */
  retryAfter(now: DateTime.Utc): Duration.Duration {
    return DateTime.distance(now, this.resetsAt)
  }
  override get message(): string {
    const what = this.budget === undefined
      ? "daily limit"
      : this.budget === "tokens"
      ? "daily token budget"
      : "daily cost budget (nano-USD)"
    const asked = this.requested !== undefined && this.remaining > 0
      ? ` (${this.requested} requested, ${this.remaining} left)`
      : ""
    return `${what} of ${this.limit} reached for ${this.subjectId}${asked}; resets at ${
      DateTime.formatIso(this.resetsAt)
    }`
  }
}

/**
 * One request asked for more questions than it may: more than
 * `AI_MAX_QUESTIONS_PER_REQUEST`, or more than the subject's whole daily
 * limit (which no day could hold). `max` is the most it may ask for.
 *
 * @since 0.1.0
 */
export class TooManyQuestions extends stackless(
  Schema.TaggedError<TooManyQuestions>()("TooManyQuestions", {
    requested: Schema.Int,
    max: Schema.Int
  })
) {
  override get message(): string {
    return `${this.requested} questions requested; at most ${this.max} per request`
  }
}

/**
 * The quota store (Redis) could not be reached and the limiter is set to fail
 * closed.
 *
 * @since 0.1.0
 */
export class QuotaStoreUnavailable extends stackless(
  Schema.TaggedError<QuotaStoreUnavailable>()("QuotaStoreUnavailable", {
    message: Schema.String
  })
) {}

/**
 * The circuit store (Redis) could not be read by `LlmManager.circuitState`
 * (attempts do not fail with it: circuits fail open, see
 * `@baton/core/CircuitPolicy`). `message` is the store's error.
 *
 * @since 0.1.0
 */
export class CircuitStoreUnavailable extends stackless(
  Schema.TaggedError<CircuitStoreUnavailable>()(
    "CircuitStoreUnavailable",
    { message: Schema.String }
  )
) {}

/**
 * Configuration that cannot work. `variable` names the environment variable
 * to fix.
 *
 * @since 0.1.0
 */
export class LlmConfigError extends stackless(
  Schema.TaggedError<LlmConfigError>()("LlmConfigError", {
    variable: Schema.String,
    message: Schema.String
  })
) {}

/**
 * The failures of the manager itself.
 *
 * @since 0.1.0
 */
export type ManagerError = AllProvidersFailed | DeadlineExceeded | GenerationDisabled | InvalidOptions

/**
 * The failures of quota checks.
 *
 * @since 0.1.0
 */
export type QuotaError = RateLimitExceeded | TooManyQuestions | QuotaStoreUnavailable

/**
 * Every failure of a Baton call, as a schema (for logs and wire formats).
 *
 * @since 0.1.0
 */
export const LlmError = Schema.Union([
  ProviderError,
  InvalidOptions,
  AllProvidersFailed,
  DeadlineExceeded,
  GenerationDisabled,
  RateLimitExceeded,
  TooManyQuestions,
  QuotaStoreUnavailable,
  CircuitStoreUnavailable,
  LlmConfigError
])

/** @since 0.1.0 */
export type LlmError = typeof LlmError.Type

/**
 * True when trying the same provider again may succeed (a backoff retry or a
 * structured-output re-ask in `ErrorPolicy`'s table; not an answer cut at its
 * token limit, which the same request would cut again). Only provider errors
 * can be; everything else is final for the request.
 *
 * @since 0.1.0
 */
export const isRetryable = (error: LlmError): boolean =>
  isProviderError(error) && (ErrorPolicy.retries(error) || ErrorPolicy.reasks(error))

/**
 * True when another provider may succeed where this error happened, under
 * the default switches of `ErrorPolicy`.
 *
 * @since 0.1.0
 */
export const shouldFallback = (error: LlmError): boolean => isProviderError(error) && ErrorPolicy.fallsBack(error)
