/**
 * `LLM_PRICES` overrides lay a model's given fields over its default row:
 * the documented override `{"gpt-4.1":{"input":2,"output":8}}` keeps the
 * model's cached-input rate. Through `LlmManager.layerConfig` over the mock
 * provider server, which reports cached input tokens (`setUsage`).
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Bench, managerFromEnv } from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about the tides of the Bay of Fundy, with four options." }

const generateWithPrices = (prices: unknown) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    yield* mock.setUsage("openai", { cachedPromptTokens: 8 })
    const llm = yield* managerFromEnv({
      LLM_PRIMARY_PROVIDER: "openai",
      LLM_FALLBACK_PROVIDER: "none",
      OPENAI_MODEL: "gpt-4.1",
      LLM_PRICES: JSON.stringify(prices)
    })
    const result = yield* llm.generate(prompt)
    assert.strictEqual(String(result.model), "gpt-4.1")
    assert.strictEqual(result.usage.pricing, "model")
    assert.strictEqual(result.usage.cachedPromptTokens, 8)
    assert.isAbove(result.usage.promptTokens, 8)
    return result.usage
  })

describe("LlmManager with LLM_PRICES", () => {
  it.effect("an override of a model's input and output keeps its cached-input rate", () =>
    Effect.gen(function*() {
      // the example of LlmConfig's documentation: gpt-4.1's own prices, written without cachedInput
      const usage = yield* generateWithPrices({ openai: { models: { "gpt-4.1": { input: 2, output: 8 } } } })
      // uncached input at $2, cached at the default row's $0.50, output at $8 per 1M tokens
      assert.strictEqual(
        usage.costNanoUsd,
        (usage.promptTokens - 8) * 2_000 + 8 * 500 + usage.completionTokens * 8_000
      )
    }).pipe(Effect.provide(Bench)))

  it.effect("an override's own cachedInput wins; one below the default cached rate caps it", () =>
    Effect.gen(function*() {
      const given = yield* generateWithPrices({
        openai: { models: { "gpt-4.1": { input: 2, cachedInput: 0.25, output: 8 } } }
      })
      assert.strictEqual(
        given.costNanoUsd,
        (given.promptTokens - 8) * 2_000 + 8 * 250 + given.completionTokens * 8_000
      )
      // input cut to $0.20: a cached token never costs more than an uncached one
      const cheaper = yield* generateWithPrices({ openai: { models: { "gpt-4.1": { input: 0.2, output: 8 } } } })
      assert.strictEqual(cheaper.costNanoUsd, cheaper.promptTokens * 200 + cheaper.completionTokens * 8_000)
    }).pipe(Effect.provide(Bench)))
})
