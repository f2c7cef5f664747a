/**
 * A caller-chosen model name longer than `ModelId`'s cap (256 characters)
 * would reach logs, metric labels, circuit keys and database rows: it is an
 * `InvalidOptions` naming `options.model`, before any network call. Through
 * `LlmManager` over the mock provider server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type * as LlmError from "../src/LlmError.ts"
import { Bench, manager, stats } from "./utils/chain.ts"

const assertTooLong = (error: LlmError.ManagerError | { readonly _tag: string }, label: string) => {
  assert.strictEqual(error._tag, "InvalidOptions", label)
  if (error._tag === "InvalidOptions" && "field" in error) {
    assert.strictEqual(error.field, "options.model", label)
    assert.include(error.message, "at most 256 characters", label)
    assert.isBelow(error.message.length, 1_000, `${label}: the model name is not repeated in the message`)
  }
}

describe("LlmManager: a model name longer than 256 characters", () => {
  it.live("is InvalidOptions naming options.model, for generate and stream, before any call to the provider", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const before = (yield* stats("openai")).requests
      for (const model of ["m".repeat(257), "m".repeat(1_000_000)]) {
        const label = `${model.length} characters`
        assertTooLong(yield* Effect.flip(llm.generate({ prompt: "hi", options: { model } })), `generate, ${label}`)
        assertTooLong(
          yield* Effect.flip(Stream.runDrain(llm.stream({ prompt: "hi", options: { model } }))),
          `stream, ${label}`
        )
      }
      assert.strictEqual((yield* stats("openai")).requests, before, "no call reached the provider")
      // 256 characters is a model name like any other: the mock server answers it
      const result = yield* llm.generate({ prompt: "hi", options: { model: "m".repeat(256) } })
      assert.strictEqual(String(result.model), "m".repeat(256))
    }).pipe(Effect.provide(Bench)))
})
