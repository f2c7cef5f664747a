/**
 * How long until a request Baton skipped every provider of (open circuits,
 * spent local budgets) may be served: the read behind
 * `ErrorPolicy.retryAfterAllSkipped`.
 */
import { Duration } from "effect"
import type { Attempt } from "../Attempt.ts"

/**
 * The earliest wait of the attempts when each was skipped with an error of
 * one of `tags` that knows its wait; `undefined` when an attempt ran, was
 * skipped for another reason or without a wait, or there were none.
 */
export const earliestWait = (
  attempts: ReadonlyArray<Attempt>,
  tags: ReadonlyArray<"CircuitOpen" | "ProviderThrottled">
): Duration.Duration | undefined => {
  let earliest: Duration.Duration | undefined
  for (const { error } of attempts) {
    const wait = error !== undefined && "retryAfter" in error && tags.some((tag) => tag === error._tag)
      ? error.retryAfter
      : undefined
    if (wait === undefined) return undefined
    earliest = earliest === undefined ? wait : Duration.min(earliest, wait)
  }
  return earliest
}
