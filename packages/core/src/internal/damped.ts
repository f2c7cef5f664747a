/**
 * Warnings about an unavailable store, at most one per window: during an
 * outage every request would otherwise log its own. The one rule for the
 * quota limiter's and the provider throttle's warnings.
 */
import { Effect } from "effect"

/** How long a warning silences its repeats. */
export const warningIntervalMs = 10_000

/**
 * Logs `message` with the error's message at most once per
 * {@link warningIntervalMs} (on the Effect clock), saying how many times it
 * was silenced meanwhile. Each call makes a logger of its own window.
 */
export const damped = (message: string) => {
  let quietUntil = -Infinity
  let silenced = 0
  return (error: { readonly message: string }): Effect.Effect<void> =>
    Effect.clockWith((clock) => {
      const now = clock.currentTimeMillisUnsafe()
      if (now < quietUntil) {
        silenced++
        return Effect.void
      }
      quietUntil = now + warningIntervalMs
      const more = silenced
      silenced = 0
      return Effect.logWarning(more === 0 ? message : `${message} (${more} more since the last warning)`, error.message)
    })
}
