/**
 * The stream's handoff (`internal/handoff.ts`, under `LlmManager.stream`): a
 * batch whose emit was interrupted while it waited stays to be taken, and
 * the next emit's batch follows it; a batch given (by a provider's push) goes
 * to a waiting consumer at once, else is kept and holds its giver until the
 * consumer took it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Handoff from "../src/internal/handoff.ts"

/** Collects `parts` in a fiber of its own, dwelling a second (on the test clock) on the part 1. */
const dwellingOnOne = (parts: Stream.Stream<number>) =>
  Effect.forkChild(
    Stream.runCollect(Stream.tap(parts, (n) => n === 1 ? Effect.sleep(1_000) : Effect.void)),
    { startImmediately: true }
  )

describe("Handoff", () => {
  it.effect("a batch left by an interrupted emit is taken, then the next emit's: no defect", () =>
    Effect.gen(function*() {
      const parts = Handoff.stream<number, never>(({ emit }) =>
        Effect.gen(function*() {
          yield* emit([1])
          // the consumer dwells on 1: this batch waits, and its emit is interrupted
          const left = yield* Effect.forkChild(emit([2, 3]), { startImmediately: true })
          yield* Fiber.interrupt(left)
          yield* emit([4])
        })
      )
      const collected = yield* dwellingOnOne(parts)
      yield* TestClock.adjust(1_000)
      assert.deepStrictEqual(yield* Fiber.join(collected), [1, 2, 3, 4])
    }))

  it.effect("a batch given to a waiting consumer is taken at once; one it has not asked for holds until taken", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const parts = Handoff.stream<number, never>(({ give, taken }) =>
        Effect.gen(function*() {
          // by then the consumer waits for its first batch
          yield* Effect.sleep(10)
          seen.push(`1 ${give([1]) === undefined ? "taken" : "held"}`)
          // the consumer dwells on 1: 2 is kept, and 3 after it
          const hold = give([2])
          seen.push(`2 ${hold === undefined ? "taken" : "held"}`)
          hold?.(() => seen.push("resumed"))
          give([3])
          yield* taken()
          seen.push("all taken")
        })
      )
      const collected = yield* dwellingOnOne(parts)
      yield* TestClock.adjust(10)
      assert.deepStrictEqual(seen, ["1 taken", "2 held"])
      yield* TestClock.adjust(1_000)
      assert.deepStrictEqual(yield* Fiber.join(collected), [1, 2, 3])
      assert.deepStrictEqual(seen, ["1 taken", "2 held", "resumed", "all taken"])
    }))

  it.effect("a wait for the taking interrupted leaves no waiter behind: the next emit is no overlap", () =>
    Effect.gen(function*() {
      const parts = Handoff.stream<number, never>(({ emit, give, taken }) =>
        Effect.gen(function*() {
          yield* emit([1])
          give([2])
          const waiting = yield* Effect.forkChild(taken(), { startImmediately: true })
          yield* Fiber.interrupt(waiting)
          yield* emit([3])
        })
      )
      const collected = yield* dwellingOnOne(parts)
      yield* TestClock.adjust(1_000)
      assert.deepStrictEqual(yield* Fiber.join(collected), [1, 2, 3])
    }))
})
