/**
 * The manager's one clock (`internal/watchdog.ts`): a check that throws
 * fails only its own call, as a defect, and the ticker keeps guarding the
 * calls after it. (A manager's own checks no longer throw: `LlmManager.make`
 * refuses the fractional limit that made them, see
 * `LlmManager.policyNumbers.test.ts`.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Watchdog from "../src/internal/watchdog.ts"

describe("Watchdog", () => {
  it.effect("a check that throws fails only its own call: the next calls keep their limits", () =>
    Effect.gen(function*() {
      const watchdog = Watchdog.make<string>()
      const throwing: Watchdog.Check<string> = (now) => {
        if (now >= 1_000) throw new Error("a broken check")
        return 1_000
      }
      const broken = yield* Effect.forkChild(Effect.exit(watchdog.guard(Effect.never, throwing)), {
        startImmediately: true
      })
      yield* TestClock.adjust(1_000)
      const exit = yield* Fiber.join(broken)
      assert.isTrue(exit._tag === "Failure" && Cause.hasDies(exit.cause))
      // the ticker still runs: the next call ends at its own limit
      const next = yield* Effect.forkChild(
        Effect.flip(watchdog.guard(Effect.never, (now) => now >= 1_400 ? "expired" : 1_400)),
        { startImmediately: true }
      )
      yield* TestClock.adjust(400)
      assert.strictEqual(yield* Fiber.join(next), "expired")
    }))
})
