import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as BatchWriter from "../src/BatchWriter.ts"

/** A writer whose sink keeps the batches it was given; `rows` items offered, then flushed. */
const batchesOf = (rows: number, maxBatchSize: number | undefined) =>
  Effect.scoped(Effect.gen(function*() {
    const batches: Array<ReadonlyArray<number>> = []
    const writer = yield* BatchWriter.make((batch: ReadonlyArray<number>) =>
      Effect.sync(() => {
        batches.push(batch)
      }), { name: "test", maxBatchSize })
    for (let i = 0; i < rows; i++) yield* writer.offer(i)
    yield* writer.flush
    return batches
  }))

describe("BatchWriter", () => {
  it.effect("a flush writes every row in order, in batches of at most maxBatchSize", () =>
    Effect.gen(function*() {
      const batches = yield* batchesOf(1203, 500)
      assert.deepStrictEqual(batches.map((batch) => batch.length), [500, 500, 203])
      assert.deepStrictEqual(batches.flat(), Array.from({ length: 1203 }, (_, i) => i))
    }))

  it.effect("a maxBatchSize below 1, fractional or NaN is taken as a whole number of at least 1", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* batchesOf(3, 0)).map((batch) => batch.length), [1, 1, 1])
      assert.deepStrictEqual((yield* batchesOf(3, -5)).map((batch) => batch.length), [1, 1, 1])
      assert.deepStrictEqual((yield* batchesOf(3, Number.NaN)).map((batch) => batch.length), [1, 1, 1])
      assert.deepStrictEqual((yield* batchesOf(5, 2.7)).map((batch) => batch.length), [2, 2, 1])
    }))
})
