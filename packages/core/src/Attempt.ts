/**
 * One provider attempt of a request, as the result and the errors report it.
 *
 * A request may take several attempts: retries on the same provider,
 * fallbacks to the next provider in the chain, a hedge started in parallel.
 * Each leaves one `Attempt`, in the order they started, on
 * `GenerationResult.attempts` for a success and on `AllProvidersFailed` or
 * `DeadlineExceeded` for a failure.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ModelId, ProviderName } from "./Ids.ts"
import { ProviderError } from "./ProviderError.ts"

/**
 * How an attempt ended. `skipped` means Baton did not call the provider
 * (open circuit, spent local budget).
 *
 * @since 0.1.0
 */
export const Outcome = Schema.Literals(["success", "error", "cancelled", "skipped"])

/** @since 0.1.0 */
export type Outcome = typeof Outcome.Type

/**
 * Why an attempt was made: the first try, a retry on the same provider, a
 * fallback to the next one, or a hedge started in parallel.
 *
 * @since 0.1.0
 */
export const Role = Schema.Literals(["primary", "retry", "fallback", "hedge"])

/** @since 0.1.0 */
export type Role = typeof Role.Type

/**
 * One attempt: who was asked, why, how it ended and how long it took.
 * `error` is set exactly when the outcome is `error` or `skipped`.
 *
 * @since 0.1.0
 */
export const Attempt = Schema.Struct({
  provider: ProviderName,
  model: ModelId,
  role: Role,
  outcome: Outcome,
  latencyMs: Schema.Finite,
  error: Schema.optionalKey(ProviderError)
})

/** @since 0.1.0 */
export type Attempt = typeof Attempt.Type

/**
 * One line per attempt, for error messages: `deepseek/deepseek-flash: ProviderUnavailable (503 ...) after 120 ms`.
 *
 * @since 0.1.0
 */
export const describe = (attempt: Attempt): string => {
  const what = attempt.error === undefined ? attempt.outcome : `${attempt.error._tag}: ${attempt.error.message}`
  return `${attempt.provider}/${attempt.model} [${attempt.role}] ${what} after ${Math.round(attempt.latencyMs)} ms`
}
