/**
 * Waits on real time for real I/O, whatever clock the test runs on: how a
 * test under `TestClock` lets a request reach the mock server before it moves
 * the clock past a limit. Time under test never passes by these waits; only
 * `TestClock.adjust` moves it. Wait for a condition ({@link eventually}), not
 * for a span of real time, so a loaded machine only makes the test slower.
 *
 * @example
 * ```ts
 * import { Effect, Fiber } from "effect"
 * import { TestClock } from "effect/testing"
 * import * as LiveWait from "@baton/testing/LiveWait"
 * import * as MockProviderServer from "@baton/testing/MockProviderServer"
 *
 * declare const call: Effect.Effect<string> // a request to a provider that never answers, a 100 ms limit
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* MockProviderServer.MockProviderServer
 *   const fiber = yield* Effect.forkChild(call)
 *   // the call is on the wire, so its limit is armed
 *   yield* LiveWait.eventually(Effect.map(server.stats("openai"), (stats) => stats.requests === 1))
 *   yield* TestClock.adjust(100)
 *   return yield* Fiber.await(fiber)
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Effect } from "effect"

/**
 * Milliseconds of real time, whatever clock the test runs on.
 *
 * @since 0.1.0
 */
export const liveNow: Effect.Effect<number> = Effect.sync(() => performance.now())

/**
 * Waits `ms` of real time (for I/O to happen, never for time under test to pass).
 *
 * @since 0.1.0
 */
export const liveWait = (ms: number): Effect.Effect<void> =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/**
 * Waits on real time until `check` holds, polling every 5 ms; fails after
 * `withinMs` (default 5 s) of real time.
 *
 * @since 0.1.0
 */
export const eventually = <E, R>(
  check: Effect.Effect<boolean, E, R>,
  withinMs = 5_000
): Effect.Effect<void, E | Error, R> =>
  Effect.gen(function*() {
    const start = yield* liveNow
    while (!(yield* check)) {
      if ((yield* liveNow) - start > withinMs) {
        return yield* Effect.fail(new Error(`condition not met within ${withinMs} ms`))
      }
      yield* liveWait(5)
    }
  })
