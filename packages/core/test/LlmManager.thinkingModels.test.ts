/**
 * Models that think before their first token by default get the thinking
 * first-token limit: DeepSeek's V4 models (thinking is on unless the request
 * turns it off) and OpenAI's reasoning models (the o-series, gpt-5 and later,
 * but `gpt-5-chat-latest`: the `gpt-N.M-chat` ones reason). Through
 * `LlmManager` over the mock provider server, the first-token limit on the
 * `TestClock`.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import { AllProvidersFailed } from "../src/LlmError.ts"
import { Bench, type ChainOptions, inject, manager, runDriven } from "./utils/chain.ts"

const limits = { firstByteMs: 5_000, firstTokenMs: 300, thinkingFirstTokenMs: 4_000, idleMs: 5_000 }

/** The first-token limit the first attempt of `model` on `kind` timed out by. */
const timedOutBy = (kind: "deepseek" | "openai", model: string) =>
  Effect.gen(function*() {
    const chain: ChainOptions["chain"] = [kind]
    const llm = yield* manager({ chain, policy: { limits, maxRetries: 0 } })
    yield* inject(kind, MockFault.slowFirstToken(60_000))
    // headers arrive at once (real I/O); the first token never comes within the time under test
    const failed = yield* Effect.flip(runDriven(llm.generate({ prompt: "hi", options: { model } }), 100))
    const first = failed instanceof AllProvidersFailed ? failed.attempts[0] : undefined
    if (first?.error?._tag !== "ProviderTimeout") {
      return assert.fail(`${model}: expected a timeout, got ${String(failed)}`)
    }
    assert.strictEqual(first.error.phase, "first-token", model)
    return first.error.timeoutMs
  })

describe("LlmManager: models that think before their first token", () => {
  it.effect("DeepSeek's V4 models and OpenAI's reasoning models get thinkingFirstTokenMs; the others firstTokenMs", () =>
    Effect.gen(function*() {
      for (const model of ["deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash"]) {
        assert.strictEqual(yield* timedOutBy("deepseek", model), 4_000, model)
      }
      for (
        const model of [
          "gpt-5",
          "gpt-5-mini",
          "gpt-5.6-luna",
          "gpt-6-sol",
          "gpt-5.1-chat-latest",
          "o4-mini",
          "ft:o4-mini:org::id"
        ]
      ) {
        assert.strictEqual(yield* timedOutBy("openai", model), 4_000, model)
      }
      for (const model of ["gpt-4o-mini", "gpt-4.1", "gpt-5-chat-latest"]) {
        assert.strictEqual(yield* timedOutBy("openai", model), 300, model)
      }
    }).pipe(Effect.provide(Bench)))

  it("the rule, on names as OpenAI-compatible servers spell them", () => {
    for (const model of ["deepseek/deepseek-flash", "openai/gpt-5", "deepseek-r1", "gemini-2.5-flash"]) {
      assert.isTrue(FallbackPolicy.thinksSilently(model), model)
    }
    for (const model of ["gpt-4o", "my-gpt-5-clone", "deepseek-chat", "llama-3.1-8b", "gpt-50x"]) {
      assert.isFalse(FallbackPolicy.thinksSilently(model), model)
    }
  })
})
