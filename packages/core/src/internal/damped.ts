/**
 * Warnings about an unavailable store, at most one per window: during an
 * outage every request would otherwise log its own. The one rule for the
 * quota limiter's, the provider throttle's, the batch writer's and the
 * request log's sink warnings, and, through its public face
 * (`DampedWarning`), of the stores in other packages.
 */
import { Effect } from "effect"

/** How long a warning silences its repeats. */
export const warningIntervalMs = 10_000

/**
 * Counts events and logs them by `log` at most once per
 * {@link warningIntervalMs} (on the Effect clock). `add` counts `count`
 * events, `value` the latest, and logs at once unless a warning was logged
 * within the window; the events it silences are counted into the next
 * warning, which `log` is given with their total and the latest value.
 * `settle` logs the events still pending, whatever the window: the last
 * warning of an owner that closes.
 */
export const dampedBy = <A>(log: (latest: A, count: number) => Effect.Effect<void>) => {
  let quietUntil = -Infinity
  let pending: { latest: A; count: number } | undefined
  const emit = (now: number) => {
    if (pending === undefined) return Effect.void
    const { count, latest } = pending
    pending = undefined
    quietUntil = now + warningIntervalMs
    return log(latest, count)
  }
  return {
    add: (value: A, count = 1): Effect.Effect<void> =>
      Effect.clockWith((clock) => {
        if (pending === undefined) pending = { latest: value, count }
        else {
          pending.latest = value
          pending.count += count
        }
        const now = clock.currentTimeMillisUnsafe()
        return now < quietUntil ? Effect.void : emit(now)
      }),
    settle: Effect.clockWith((clock) => emit(clock.currentTimeMillisUnsafe()))
  }
}

/**
 * Logs `message` with the error's message at most once per
 * {@link warningIntervalMs}, saying how many times it was pending
 * meanwhile. Each call makes a logger of its own window.
 */
export const damped = (message: string) =>
  dampedBy<{ readonly message: string }>((error, count) =>
    Effect.logWarning(count === 1 ? message : `${message} (${count - 1} more since the last warning)`, error.message)
  ).add
