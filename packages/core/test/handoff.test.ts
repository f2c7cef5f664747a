/**
 * The stream's handoff (`internal/handoff.ts`, under `LlmManager.stream`): a
 * batch whose emit was interrupted while it waited stays to be taken, and
 * the next emit's batch follows it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Handoff from "../src/internal/handoff.ts"

describe("Handoff", () => {
  it.effect("a batch left by an interrupted emit is taken, then the next emit's: no defect", () =>
    Effect.gen(function*() {
      const parts = Handoff.stream<number, never>((emit) =>
        Effect.gen(function*() {
          yield* emit([1])
          // the consumer dwells on 1: this batch waits, and its emit is interrupted
          const left = yield* Effect.forkChild(emit([2, 3]), { startImmediately: true })
          yield* Fiber.interrupt(left)
          yield* emit([4])
        })
      )
      const collected = yield* Effect.forkChild(
        Stream.runCollect(Stream.tap(parts, (n) => n === 1 ? Effect.sleep(1_000) : Effect.void)),
        { startImmediately: true }
      )
      yield* TestClock.adjust(1_000)
      assert.deepStrictEqual(yield* Fiber.join(collected), [1, 2, 3, 4])
    }))
})
