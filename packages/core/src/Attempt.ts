/**
 * One provider attempt of a request, as the result and the errors report it.
 *
 * A request may take several attempts: retries on the same provider,
 * fallbacks to the next provider in the chain, a hedge started in parallel.
 * Each leaves one `Attempt`, in the order they started, on
 * `GenerationResult.attempts` for a success and on `AllProvidersFailed`,
 * `DeadlineExceeded` or the manager's `StreamInterrupted` for a failure.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ModelId, ProviderName } from "./Ids.ts"
import * as ProviderError from "./ProviderError.ts"

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

/** The fields of an attempt but its error. */
const fields = {
  provider: ProviderName,
  model: ModelId,
  role: Role,
  outcome: Outcome,
  latencyMs: Schema.Finite
}

/**
 * One attempt: who was asked, why, how it ended and how long it took.
 * `error` is set exactly when the outcome is `error` or `skipped`.
 *
 * (An interface, not the schema's inferred type: a `StreamInterrupted` the
 * manager returns lists the request's attempts, so the two types refer to
 * each other.)
 *
 * @since 0.1.0
 */
export interface Attempt extends Schema.Struct.Type<typeof fields> {
  readonly error?: ProviderError.ProviderError
}

/**
 * An attempt as encoded for logs and wire formats.
 *
 * @since 0.1.0
 */
export interface Encoded extends Schema.Struct.Encoded<typeof fields> {
  readonly error?: typeof ProviderError.ProviderError.Encoded
}

/**
 * The schema of an attempt. Its `error` is suspended: `ProviderError` and
 * this module import each other.
 *
 * @since 0.1.0
 */
export const Attempt = Schema.Struct({
  ...fields,
  error: Schema.optionalKey(Schema.suspend(() => ProviderError.ProviderError))
})

/**
 * One line per attempt, for error messages: `deepseek/deepseek-flash: ProviderUnavailable (503 ...) after 120 ms`.
 *
 * @since 0.1.0
 */
export const describe = (attempt: Attempt): string => {
  const what = attempt.error === undefined ? attempt.outcome : `${attempt.error._tag}: ${attempt.error.message}`
  return `${attempt.provider}/${attempt.model} [${attempt.role}] ${what} after ${Math.round(attempt.latencyMs)} ms`
}
