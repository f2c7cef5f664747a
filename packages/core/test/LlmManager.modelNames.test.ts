/**
 * A model named like a built-in property of JavaScript objects
 * (`constructor`, `toString`, `valueOf`, `__proto__`, ...) is a model like
 * any other: priced by its provider's default row, retried and timed by the
 * policy's defaults. Through `LlmManager` over the mock provider server (the
 * first-token limit on the `TestClock`).
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Bench, inject, manager, pick, runDriven } from "./utils/chain.ts"

const names = ["constructor", "toString", "valueOf", "__proto__", "hasOwnProperty", "isPrototypeOf"] as const

/** OpenAI's default row, $3 / $15 per 1M tokens: 3,000 and 15,000 nano-USD a token. */
const openAiDefaultCost = (usage: { readonly promptTokens: number; readonly completionTokens: number }) =>
  usage.promptTokens * 3_000 + usage.completionTokens * 15_000

describe("LlmManager: models named like Object.prototype's properties", () => {
  for (const via of ["stream", "generate"] as const) {
    it.live(`are priced by the provider's default row (generate via ${via})`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["openai"], policy: { generateVia: via } })
        for (const model of names) {
          const result = yield* llm.generate({ prompt: "hi", options: { model } })
          assert.strictEqual(String(result.model), model)
          assert.strictEqual(result.usage.pricing, "provider-default", model)
          assert.isAbove(result.usage.costNanoUsd, 0, model)
          assert.strictEqual(result.usage.costNanoUsd, openAiDefaultCost(result.usage), model)
        }
      }).pipe(Effect.provide(Bench)))
  }

  it.live("are retried maxRetries times, like any model without an entry in maxRetriesByModel", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"], policy: { maxRetries: 1, maxRetriesByModel: { "gpt-x": 0 } } })
      for (const model of names) {
        yield* inject("openai", MockFault.status(503))
        const result = yield* llm.generate({ prompt: "hi", options: { model } })
        assert.deepStrictEqual(result.attempts.map(pick("role", "outcome", "error")), [
          ["primary", "error", "ProviderUnavailable"],
          ["retry", "success", undefined]
        ], model)
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("are timed by the default first-token limit, like any model without an entry in firstTokenMsByModel", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: {
          limits: { firstByteMs: 5_000, firstTokenMs: 300, idleMs: 5_000, firstTokenMsByModel: { "gpt-x": 1 } }
        }
      })
      for (const model of ["constructor", "valueOf", "__proto__"]) {
        yield* inject("openai", MockFault.slowFirstToken(60_000))
        // headers arrive at once (real I/O); the first token never comes within the time under test
        const first = (yield* runDriven(llm.generate({ prompt: "hi", options: { model } }), 100)).attempts[0]
        if (first?.error?._tag !== "ProviderTimeout") {
          return assert.fail(`${model}: expected a timeout, got ${first?.error?._tag}`)
        }
        assert.deepStrictEqual([first.error.phase, first.error.timeoutMs], ["first-token", 300], model)
      }
    }).pipe(Effect.provide(Bench)))
})
