/**
 * How long until a request Baton skipped every provider of, for one reason
 * (open circuits, spent local budgets), may be served: the one read behind
 * `CircuitPolicy.retryAfterAllOpen` and `ProviderThrottle.retryAfterAllThrottled`.
 */
import { Duration } from "effect"
import type { Attempt } from "../Attempt.ts"

/**
 * The earliest wait of the attempts when each was skipped with a `tag` error
 * that knows its wait; `undefined` when an attempt ran, was skipped for
 * another reason or without a wait, or there were none.
 */
export const earliestWait = (
  attempts: ReadonlyArray<Attempt>,
  tag: "CircuitOpen" | "ProviderThrottled"
): Duration.Duration | undefined => {
  let earliest: Duration.Duration | undefined
  for (const { error } of attempts) {
    const wait = error !== undefined && error._tag === tag && "retryAfter" in error ? error.retryAfter : undefined
    if (wait === undefined) return undefined
    earliest = earliest === undefined ? wait : Duration.min(earliest, wait)
  }
  return earliest
}
