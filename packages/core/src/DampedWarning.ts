/**
 * The one rule for warnings about a store that keeps failing: at most one
 * warning per {@link intervalMs} (10 seconds, on the Effect clock), each
 * counting the events it kept quiet since the last. During an outage every
 * request, or every retry, would otherwise log its own. The quota limiter,
 * the provider throttle, the batch writer, the request log and the Redis
 * quota store's pending undos all warn by it.
 *
 * Each {@link make} is a window of its own: two owners (or two kinds of
 * failure) never silence each other.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as DampedWarning from "@baton/core/DampedWarning"
 *
 * const failed = DampedWarning.make<string>((latest, count) =>
 *   Effect.logWarning(`store failed ${count} times since the last warning; the last: ${latest}`)
 * )
 * // logged at once, then at most once per 10 seconds
 * const onFailure = (message: string) => failed.add(message)
 * ```
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import * as internal from "./internal/damped.ts"

/**
 * How long a warning silences its repeats: 10 seconds.
 *
 * @since 0.1.0
 */
export const intervalMs: number = internal.warningIntervalMs

/**
 * Counts events and warns of them at most once per {@link intervalMs}.
 *
 * @since 0.1.0
 */
export interface DampedWarning<A> {
  /**
   * Counts `count` events (default 1), `value` the latest, and logs at once
   * unless a warning was logged within the window; the events silenced are
   * counted into the next warning.
   */
  readonly add: (value: A, count?: number) => Effect.Effect<void>
  /** Logs the events still counted, whatever the window: the last warning of an owner that closes. */
  readonly settle: Effect.Effect<void>
}

/**
 * A damped warning logged by `log`, which is given the latest value and the
 * number of events since the last warning.
 *
 * @since 0.1.0
 */
export const make: <A>(log: (latest: A, count: number) => Effect.Effect<void>) => DampedWarning<A> = internal.dampedBy
