import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as Pricing from "../src/Pricing.ts"
import * as TokenUsage from "../src/TokenUsage.ts"

const deepseek = ProviderName.make("deepseek")
const gemini = ProviderName.make("gemini")
const openai = ProviderName.make("openai")

describe("Pricing", () => {
  it("prices the seed defaults exactly for models without a row", () => {
    const pricing = Pricing.make(Pricing.defaultTable)
    const million = { promptTokens: 1_000_000, completionTokens: 1_000_000 }
    const ds = pricing.usage(deepseek, ModelId.make("unknown-model"), million)
    assert.strictEqual(ds.costNanoUsd, 420_000_000) // $0.14 + $0.28
    assert.strictEqual(ds.pricing, "provider-default")
    assert.strictEqual(ds.estimatedCostUsd, 0.42)
    assert.strictEqual(pricing.usage(gemini, ModelId.make("x"), million).costNanoUsd, 375_000_000) // $0.075 + $0.30
    assert.strictEqual(pricing.usage(openai, ModelId.make("x"), million).costNanoUsd, 18_000_000_000) // $3 + $15
  })

  it("uses a model's own row and bills cached input at the cached price", () => {
    const pricing = Pricing.make(Pricing.defaultTable)
    const usage = pricing.usage(openai, ModelId.make("gpt-4o-mini"), {
      promptTokens: 1000,
      cachedPromptTokens: 400,
      completionTokens: 200,
      reasoningTokens: 50
    })
    // 600 × $0.15/M + 400 × $0.075/M + 200 × $0.60/M = 90_000 + 30_000 + 120_000 nano-USD
    assert.strictEqual(usage.costNanoUsd, 240_000)
    assert.strictEqual(usage.pricing, "model")
    assert.strictEqual(usage.totalTokens, 1200)
    assert.strictEqual(usage.cachedPromptTokens, 400)
    assert.strictEqual(usage.reasoningTokens, 50)
  })

  it("says when a provider has no prices at all", () => {
    const usage = Pricing.make(Pricing.defaultTable).usage(ProviderName.make("ollama"), ModelId.make("llama3"), {
      promptTokens: 10,
      completionTokens: 10
    })
    assert.strictEqual(usage.costNanoUsd, 0)
    assert.strictEqual(usage.pricing, "unpriced")
  })

  it("rounds half up once per call", () => {
    // 1 token at $0.0005/M = 0.5 nano-USD -> 1; 1 token at $0.0004/M = 0.4 -> 0
    assert.strictEqual(Pricing.costNanoUsd({ input: 0.0005, output: 0 }, { promptTokens: 1, completionTokens: 0 }), 1)
    assert.strictEqual(Pricing.costNanoUsd({ input: 0.0004, output: 0 }, { promptTokens: 1, completionTokens: 0 }), 0)
  })

  it("sums a million small costs exactly to the nano-USD", () => {
    const pricing = Pricing.make(Pricing.defaultTable)
    let total = TokenUsage.zero
    let expected = 0n
    for (let i = 0; i < 1_000_000; i++) {
      const counts = { promptTokens: 7 + (i % 13), completionTokens: 3 + (i % 5) }
      const usage = pricing.usage(gemini, ModelId.make("x"), counts)
      total = TokenUsage.add(total, usage)
      // exact reference in bigint: (in × 75_000_000 + out × 300_000_000 + 500_000) / 1_000_000 per call
      expected +=
        (BigInt(counts.promptTokens) * 75_000_000n + BigInt(counts.completionTokens) * 300_000_000n + 500_000n) /
        1_000_000n
    }
    assert.strictEqual(BigInt(total.costNanoUsd), expected)
    assert.strictEqual(total.pricing, "provider-default")
  })

  it("is exact at every magnitude: against a bigint reference, across 2^53 and far beyond", () => {
    const reference = (
      price: Pricing.Price,
      counts: { promptTokens: number; completionTokens: number; cachedPromptTokens: number }
    ) => {
      const rate = (usd: number) => BigInt(Math.round(usd * 1e9))
      const scaled = BigInt(counts.promptTokens - counts.cachedPromptTokens) * rate(price.input) +
        BigInt(counts.cachedPromptTokens) * rate(price.cachedInput ?? price.input) +
        BigInt(counts.completionTokens) * rate(price.output)
      return Number((scaled + 500_000n) / 1_000_000n)
    }
    // a linear congruential generator: the same cases every run
    let seed = 12345
    const next = (bound: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return Math.floor((seed / 2 ** 31) * bound)
    }
    // odd nano-USD rates: a product past 2^53 is then not exact in a `number` (rates with many factors of two would be)
    const price = { input: 1.234567891, cachedInput: 0.123456789, output: 9.876543211 }
    // the sum crosses 2^53 near 2^53 / 9,876,543,211 ≈ 911,963 completion tokens: scan around it
    const edge = Math.floor((Number.MAX_SAFE_INTEGER - 500_000) / 9_876_543_211)
    const cases = [
      ...Array.from(
        { length: 2_000 },
        (_, i) => ({ promptTokens: 0, completionTokens: edge - 1_000 + i, cachedPromptTokens: 0 })
      ),
      ...Array.from(
        { length: 2_000 },
        (_, i) => ({ promptTokens: edge + 500_000 + i, completionTokens: edge - 1_000 + i, cachedPromptTokens: i })
      ),
      ...Array.from({ length: 20_000 }, () => {
        const magnitude = 10 ** next(13)
        const promptTokens = next(magnitude) + 1
        return { promptTokens, completionTokens: next(magnitude), cachedPromptTokens: next(promptTokens) }
      })
    ]
    for (const counts of cases) {
      assert.strictEqual(Pricing.costNanoUsd(price, counts), reference(price, counts), JSON.stringify(counts))
    }
  })

  it("merges overrides over the defaults", () => {
    const table = Pricing.mergeTables(Pricing.defaultTable, {
      openai: { models: { "gpt-4.1": { input: 1, output: 2 } } },
      ollama: { default: { input: 0, output: 0 } }
    })
    assert.deepStrictEqual(Pricing.lookup(table, openai, ModelId.make("gpt-4.1")).price, { input: 1, output: 2 })
    assert.strictEqual(Pricing.lookup(table, openai, ModelId.make("gpt-4o-mini")).source, "model")
    assert.strictEqual(Pricing.lookup(table, ProviderName.make("ollama"), ModelId.make("m")).source, "provider-default")
  })

  it.effect("is a service", () =>
    Effect.gen(function*() {
      const usage = yield* Pricing.usage(deepseek, ModelId.make("deepseek-flash"), {
        promptTokens: 100,
        completionTokens: 10
      })
      assert.strictEqual(usage.costNanoUsd, 100 * 300 + 10 * 1200)
    }).pipe(Effect.provide(Pricing.layerDefault)))
})
