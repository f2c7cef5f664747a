/**
 * The request's deadline, for the stores that wait on I/O.
 *
 * A store shared over the network (Redis) can stop answering. So that no
 * request waits on it past its deadline, `LlmManager` sets
 * {@link StoreDeadline} to each request's deadline around the whole
 * request (its quota reservation, its attempts, its commit or refund) when a
 * store needs it: a `CircuitBreakerStore` from context, or a remote quota
 * limiter (`QuotaLimiter`'s `remote`: a remote `QuotaStore`, or an
 * `overrides` lookup that may wait on I/O). A store bounds each
 * of its commands by it with {@link bound}. With nothing remote the manager
 * sets nothing, and a command bounded here runs as it is.
 *
 * A command that settles what a request did (a circuit's `record`, a quota's
 * refund or budget charge) is bounded by at least {@link settleGraceMs}:
 * a request that ends at its deadline still settles with a store that
 * answers.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"

/**
 * The time (`Clock` milliseconds) by which a command bounded by
 * {@link bound} must answer; `LlmManager` sets it to each request's
 * deadline. Unset, commands are not bounded.
 *
 * @since 0.1.0
 */
export const StoreDeadline = Context.Reference<number | undefined>("@baton/core/StoreDeadline", {
  defaultValue: () => undefined
})

/**
 * How long a command that settles a request may take past the deadline: an
 * outcome that ends at or near it still reaches a store that answers (a
 * circuit's `record` of a failure, or of a half-open probe cut by the
 * deadline, whose record frees the probe; a quota's refund or budget
 * charge).
 *
 * @since 0.1.0
 */
export const settleGraceMs = 1_000

/**
 * `command`, failing with `onTimeout()` when it has not answered by the
 * {@link StoreDeadline} in context, or within `graceMs` (default 0) when
 * that is later; the command is then interrupted, even inside an
 * uninterruptible region (a quota reservation, a circuit's admission).
 * Without a deadline in context, `command` itself.
 *
 * @since 0.1.0
 */
export const bound = <A, E, R, E2>(
  command: Effect.Effect<A, E, R>,
  options: {
    readonly graceMs?: number | undefined
    readonly onTimeout: () => E2
  }
): Effect.Effect<A, E | E2, R> =>
  StoreDeadline.use((deadlineAt) => {
    if (deadlineAt === undefined) return command
    return Effect.clockWith((clock) =>
      Effect.timeoutOrElse(Effect.interruptible(command), {
        duration: Math.max(options.graceMs ?? 0, deadlineAt - clock.currentTimeMillisUnsafe()),
        orElse: () => Effect.fail(options.onTimeout())
      })
    )
  })
