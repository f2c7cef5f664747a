import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as Pricing from "../src/Pricing.ts"
import * as TokenUsage from "../src/TokenUsage.ts"

const deepseek = ProviderName.make("deepseek")
const gemini = ProviderName.make("gemini")
const openai = ProviderName.make("openai")

describe("Pricing", () => {
  it("prices a model without a row at its provider's default row, exactly", () => {
    const pricing = Pricing.make(Pricing.defaultTable)
    const million = { promptTokens: 1_000_000, completionTokens: 1_000_000 }
    // deepseek-v4-flash: a legacy name DeepSeek still accepts, priced at the default (deepseek-v4-pro's peak rates)
    const ds = pricing.usage(deepseek, ModelId.make("deepseek-v4-flash"), million)
    assert.strictEqual(ds.costNanoUsd, 5_280_000_000) // $1.32 + $3.96
    assert.strictEqual(ds.pricing, "provider-default")
    assert.strictEqual(ds.estimatedCostUsd, 5.28)
    // gemini-2.5-pro: gemini-3.5-flash's $1.50 + $9.00
    assert.strictEqual(pricing.usage(gemini, ModelId.make("gemini-2.5-pro"), million).costNanoUsd, 10_500_000_000)
    assert.strictEqual(pricing.usage(openai, ModelId.make("x"), million).costNanoUsd, 18_000_000_000) // $3 + $15
    // a cached token of an unknown DeepSeek model at the dearest listed cached rate, $0.044
    const cached = pricing.usage(deepseek, ModelId.make("x"), {
      promptTokens: 1_000,
      cachedPromptTokens: 1_000,
      completionTokens: 0
    })
    assert.strictEqual(cached.costNanoUsd, 44_000)
  })

  it("the shipped table's default rows are at least as dear as every row of their provider, rate by rate", () => {
    const rates = ["input", "cachedInput", "output"] as const
    // the dearest rates a row bills: its own times its tier's multipliers (a default row's own: its lowest)
    const dearest = (row: Pricing.Price, tier = row.longContext) => ({
      input: row.input * (tier?.input ?? 1),
      cachedInput: (row.cachedInput ?? row.input) * (tier?.cachedInput ?? tier?.input ?? 1),
      output: row.output * (tier?.output ?? 1)
    })
    const cheaper = Object.entries(Pricing.defaultTable).flatMap(([provider, prices]) => {
      if (prices.default === undefined) return [`${provider} has no default row`]
      const floor = dearest(prices.default, undefined)
      return Object.entries(prices.models).flatMap(([model, row]) => {
        const top = dearest(row)
        return rates.filter((rate) => top[rate] > floor[rate]).map((rate) =>
          `${provider}/${model} ${rate} ${top[rate]} > default ${floor[rate]}`
        )
      })
    })
    assert.deepStrictEqual(cheaper, [])
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
      // exact reference in bigint: (in × 1_500_000_000 + out × 9_000_000_000 + 500_000) / 1_000_000 per call
      expected +=
        (BigInt(counts.promptTokens) * 1_500_000_000n + BigInt(counts.completionTokens) * 9_000_000_000n + 500_000n) /
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
      const cost = (scaled + 500_000n) / 1_000_000n
      // past 2^53 nano-USD (about $9M for one call) the cost is capped: it stays a safe integer
      return cost > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(cost)
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
      openai: { models: { "gpt-4.1": { input: 1, output: 2 }, "gpt-new": { input: 4, output: 5 } } },
      ollama: { default: { input: 0, output: 0 } }
    })
    // the fields an override leaves out keep the default row's: gpt-4.1's cached input stays $0.50
    assert.deepStrictEqual(Pricing.lookup(table, openai, ModelId.make("gpt-4.1")).price, {
      input: 1,
      cachedInput: 0.5,
      output: 2
    })
    assert.deepStrictEqual(Pricing.lookup(table, openai, ModelId.make("gpt-new")).price, { input: 4, output: 5 })
    assert.strictEqual(Pricing.lookup(table, openai, ModelId.make("gpt-4o-mini")).source, "model")
    assert.strictEqual(Pricing.lookup(table, ProviderName.make("ollama"), ModelId.make("m")).source, "provider-default")
  })

  it("an override keeps the cached-input rate it leaves out, never above its input rate", () => {
    const row = (override: Pricing.Price) =>
      Pricing.lookup(
        Pricing.mergeTables(Pricing.defaultTable, { openai: { models: { "gpt-4.1": override } } }),
        openai,
        ModelId.make("gpt-4.1")
      ).price
    // LlmConfig's documented example (gpt-4.1 at $2 / $0.50 cached / $8 by default)
    assert.deepStrictEqual(row({ input: 2, output: 8 }), { input: 2, cachedInput: 0.5, output: 8 })
    assert.deepStrictEqual(row({ input: 2, cachedInput: 2, output: 8 }), { input: 2, cachedInput: 2, output: 8 })
    assert.deepStrictEqual(row({ input: 0.2, output: 8 }), { input: 0.2, cachedInput: 0.2, output: 8 })
    // a cached token billed at the kept rate: 600 × $2/M + 400 × $0.50/M
    assert.strictEqual(
      Pricing.costNanoUsd(row({ input: 2, output: 8 }), {
        promptTokens: 1000,
        cachedPromptTokens: 400,
        completionTokens: 0
      }),
      1_400_000
    )
    // a provider's default row is merged the same way
    const base: Pricing.PriceTable = { acme: { default: { input: 1, cachedInput: 0.1, output: 2 }, models: {} } }
    const merged = Pricing.mergeTables(base, { acme: { default: { input: 3, output: 4 } } })
    assert.deepStrictEqual(merged.acme?.default, { input: 3, cachedInput: 0.1, output: 4 })
    // the tables merged are left as they were
    assert.deepStrictEqual(Pricing.defaultTable.openai?.models["gpt-4.1"], { input: 2, cachedInput: 0.5, output: 8 })
    assert.deepStrictEqual(base.acme?.default, { input: 1, cachedInput: 0.1, output: 2 })
  })

  it("looks up only a table's own entries: names like constructor or __proto__ are names like any other", () => {
    const pricing = Pricing.make(Pricing.defaultTable)
    const counts = { promptTokens: 1_000, completionTokens: 100 }
    for (const name of ["constructor", "toString", "valueOf", "__proto__", "hasOwnProperty"]) {
      const usage = pricing.usage(openai, ModelId.make(name), counts)
      assert.deepStrictEqual([usage.pricing, usage.costNanoUsd], ["provider-default", 4_500_000], name) // $3 / $15
    }
    // a provider name is lower-case: `constructor` is one
    const unknown = pricing.usage(ProviderName.make("constructor"), ModelId.make("m"), counts)
    assert.deepStrictEqual([unknown.pricing, unknown.costNanoUsd], ["unpriced", 0])
    // such names, as own keys of an override (JSON.parse makes them so), are priced by their rows
    const overrides = JSON.parse(
      "{\"__proto__\":{\"default\":{\"input\":1,\"output\":1}}," +
        "\"openai\":{\"models\":{\"__proto__\":{\"input\":1,\"output\":1},\"toString\":{\"input\":2,\"output\":2}}}}"
    ) as Record<string, Partial<Pricing.ProviderPrices>>
    const table = Pricing.mergeTables(Pricing.defaultTable, overrides)
    assert.strictEqual(Object.getPrototypeOf(table), Object.prototype)
    assert.isTrue(Object.hasOwn(table, "__proto__"))
    assert.deepStrictEqual(Pricing.lookup(table, openai, ModelId.make("__proto__")), {
      price: { input: 1, output: 1 },
      source: "model"
    })
    assert.deepStrictEqual(Pricing.lookup(table, openai, ModelId.make("toString")).price, { input: 2, output: 2 })
    assert.strictEqual(Pricing.lookup(table, openai, ModelId.make("gpt-4.1")).source, "model")
  })

  it("bills more cached tokens than input tokens as all the input cached, and never below 0", () => {
    const price = { input: 2, cachedInput: 0.5, output: 8 }
    // 10 cached × 500 + 2 × 8,000 nano-USD
    assert.strictEqual(
      Pricing.costNanoUsd(price, { promptTokens: 10, cachedPromptTokens: 1_000, completionTokens: 2 }),
      21_000
    )
    assert.strictEqual(
      Pricing.costNanoUsd(price, { promptTokens: 10, cachedPromptTokens: -5, completionTokens: 2 }),
      36_000
    )
    // the same past 2^53 in the intermediate sum (the bigint path)
    assert.strictEqual(
      Pricing.costNanoUsd(price, { promptTokens: 5e9, cachedPromptTokens: 6e9, completionTokens: 0 }),
      2_500_000_000_000
    )
    const usage = Pricing.make(Pricing.defaultTable).usage(openai, ModelId.make("gpt-4.1"), {
      promptTokens: 10,
      cachedPromptTokens: 1_000,
      completionTokens: 2
    })
    assert.deepStrictEqual([usage.cachedPromptTokens, usage.costNanoUsd], [10, 21_000])
  })

  it("caps a cost past 2^53 nano-USD (about $9M for one call), so it stays a safe integer", () => {
    const price = { input: 1_000_000, output: 1_000_000 }
    for (
      const counts of [
        { promptTokens: 1e300, completionTokens: 0 },
        { promptTokens: 0, completionTokens: Number.MAX_SAFE_INTEGER },
        { promptTokens: 9_007_200, completionTokens: 0 }
      ]
    ) {
      assert.strictEqual(Pricing.costNanoUsd(price, counts), Number.MAX_SAFE_INTEGER, JSON.stringify(counts))
    }
    // just below the cap: exact
    assert.strictEqual(Pricing.costNanoUsd(price, { promptTokens: 9_007_199, completionTokens: 0 }), 9_007_199e9)
    const usage = Pricing.make({ acme: { default: price, models: {} } }).usage(
      ProviderName.make("acme"),
      ModelId.make("m"),
      { promptTokens: 1e300, completionTokens: 1e300 }
    )
    assert.isTrue(Number.isSafeInteger(usage.costNanoUsd))
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

describe("Pricing: long-context tiers", () => {
  const anthropic = ProviderName.make("anthropic")
  const haiku = ModelId.make("claude-haiku-5-5")
  const luna = ModelId.make("gpt-5.6-luna")
  const pricing = Pricing.make(Pricing.defaultTable)
  const cost = (provider: ProviderName, model: ModelId, counts: TokenUsage.TokenCounts) =>
    pricing.usage(provider, model, counts).costNanoUsd

  it("bills claude-haiku-5-5 5x, input and output, once the prompt is above 100K tokens", () => {
    // $0.10 / $0.01 / $0.50 per 1M: 100 / 10 / 500 nano-USD a token; 5x above 100,000 prompt tokens
    assert.strictEqual(cost(anthropic, haiku, { promptTokens: 200_000, completionTokens: 1_000 }), 102_500_000) // $0.1025
    assert.strictEqual(cost(anthropic, haiku, { promptTokens: 100_000, completionTokens: 1_000 }), 10_500_000)
    assert.strictEqual(cost(anthropic, haiku, { promptTokens: 100_001, completionTokens: 1_000 }), 52_500_500)
    // cached tokens count toward the threshold and are billed at 5x the cached rate
    assert.strictEqual(
      cost(anthropic, haiku, { promptTokens: 150_000, cachedPromptTokens: 120_000, completionTokens: 0 }),
      (30_000 * 100 + 120_000 * 10) * 5
    )
  })

  it("bills gpt-5.6-luna 2x input (cached included) and 1.5x output above 272K prompt tokens", () => {
    // $0.20 / $0.02 / $1.20 per 1M: 200 / 20 / 1,200 nano-USD a token
    assert.strictEqual(cost(openai, luna, { promptTokens: 300_000, completionTokens: 10_000 }), 138_000_000) // $0.138
    assert.strictEqual(cost(openai, luna, { promptTokens: 272_000, completionTokens: 10_000 }), 66_400_000)
    assert.strictEqual(
      cost(openai, luna, { promptTokens: 300_000, cachedPromptTokens: 100_000, completionTokens: 10_000 }),
      200_000 * 400 + 100_000 * 40 + 10_000 * 1_800
    )
    // a mostly cached prompt still crosses the threshold: the count is the whole prompt's
    assert.strictEqual(
      cost(openai, luna, { promptTokens: 280_000, cachedPromptTokens: 270_000, completionTokens: 0 }),
      10_000 * 400 + 270_000 * 40
    )
  })

  it("the shipped table has the tiers providers.md lists, and none elsewhere", () => {
    assert.deepStrictEqual(Pricing.defaultTable.openai?.models["gpt-5.6-luna"]?.longContext, {
      above: 272_000,
      input: 2,
      output: 1.5
    })
    assert.deepStrictEqual(Pricing.defaultTable.anthropic?.models["claude-haiku-5-5"]?.longContext, {
      above: 100_000,
      input: 5,
      output: 5
    })
    const tiered = Object.entries(Pricing.defaultTable).flatMap(([provider, prices]) =>
      Object.entries({ "(default)": prices.default, ...prices.models })
        .filter(([, row]) => row?.longContext !== undefined)
        .map(([model]) => `${provider}/${model}`)
    )
    assert.deepStrictEqual(tiered, ["openai/gpt-5.6-luna", "anthropic/claude-haiku-5-5"])
  })

  it("costNanoUsd applies a row's tier, a tier's cached multiplier defaulting to its input one", () => {
    const price: Pricing.Price = {
      input: 1,
      cachedInput: 0.1,
      output: 2,
      longContext: { above: 1_000, input: 3, output: 1.5 }
    }
    // 1,000 tokens: the base row
    assert.strictEqual(
      Pricing.costNanoUsd(price, { promptTokens: 1_000, cachedPromptTokens: 500, completionTokens: 100 }),
      500 * 1_000 + 500 * 100 + 100 * 2_000
    )
    // 1,001 tokens: the whole request at the tier
    assert.strictEqual(
      Pricing.costNanoUsd(price, { promptTokens: 1_001, cachedPromptTokens: 500, completionTokens: 100 }),
      501 * 3_000 + 500 * 300 + 100 * 3_000
    )
    // a tier's own cached multiplier
    const cachedOwn = { ...price, longContext: { above: 1_000, input: 3, cachedInput: 1, output: 1.5 } }
    assert.strictEqual(
      Pricing.costNanoUsd(cachedOwn, { promptTokens: 1_001, cachedPromptTokens: 500, completionTokens: 0 }),
      501 * 3_000 + 500 * 100
    )
    // the bigint path (a sum past 2^53) applies it too
    assert.strictEqual(
      Pricing.costNanoUsd(price, { promptTokens: 5e9, completionTokens: 0 }),
      5e9 * 3_000
    )
  })

  it("a table of one's own expresses tiers, on a provider's default row too", () => {
    const acme = ProviderName.make("acme")
    const custom = Pricing.make({
      acme: {
        default: { input: 1, output: 1, longContext: { above: 10, input: 2, output: 4 } },
        models: { small: { input: 1, output: 1 } }
      }
    })
    assert.strictEqual(
      custom.usage(acme, ModelId.make("any"), { promptTokens: 10, completionTokens: 10 }).costNanoUsd,
      20_000
    )
    assert.strictEqual(
      custom.usage(acme, ModelId.make("any"), { promptTokens: 11, completionTokens: 10 }).costNanoUsd,
      11 * 2_000 + 10 * 4_000
    )
    // a model's own row without a tier has none
    assert.strictEqual(
      custom.usage(acme, ModelId.make("small"), { promptTokens: 11, completionTokens: 10 }).costNanoUsd,
      21_000
    )
  })

  it("an override without longContext keeps the replaced row's tier, over its new rates; one with it replaces it", () => {
    const row = (override: Pricing.Price) =>
      Pricing.lookup(
        Pricing.mergeTables(Pricing.defaultTable, { openai: { models: { "gpt-5.6-luna": override } } }),
        openai,
        luna
      )
        .price
    const kept = row({ input: 0.4, output: 2 })
    assert.deepStrictEqual(kept, {
      input: 0.4,
      cachedInput: 0.02,
      output: 2,
      longContext: { above: 272_000, input: 2, output: 1.5 }
    })
    assert.strictEqual(
      Pricing.costNanoUsd(kept, { promptTokens: 300_000, completionTokens: 10_000 }),
      300_000 * 800 + 10_000 * 3_000
    )
    // multipliers of 1 turn a tier off
    const flat = row({ input: 0.2, output: 1.2, longContext: { above: 272_000, input: 1, output: 1 } })
    assert.strictEqual(
      Pricing.costNanoUsd(flat, { promptTokens: 300_000, completionTokens: 10_000 }),
      300_000 * 200 + 10_000 * 1_200
    )
    // the shipped row is left as it was
    assert.deepStrictEqual(Pricing.defaultTable.openai?.models["gpt-5.6-luna"]?.longContext?.above, 272_000)
  })

  it("a row's schema refuses a bad tier: a threshold not a positive integer, a multiplier below 1 or not finite", () => {
    const decode = Schema.decodeUnknownExit(Pricing.Price)
    const withTier = (longContext: unknown) => decode({ input: 1, output: 1, longContext })
    assert.isTrue(Exit.isSuccess(withTier({ above: 200_000, input: 2, cachedInput: 2, output: 1.5 })))
    for (
      const bad of [
        { above: 0, input: 2, output: 2 },
        { above: -1, input: 2, output: 2 },
        { above: 1.5, input: 2, output: 2 },
        { above: Number.POSITIVE_INFINITY, input: 2, output: 2 },
        { above: "100000", input: 2, output: 2 },
        { above: 100, input: -2, output: 2 },
        { above: 100, input: 2, output: -1 },
        { above: 100, input: 2, cachedInput: -1, output: 2 },
        { above: 100, input: 0.5, output: 2 },
        { above: 100, input: Number.NaN, output: 2 },
        { above: 100, input: 2, output: 101 },
        { above: 100, input: 2 }
      ]
    ) {
      assert.isTrue(Exit.isFailure(withTier(bad)), JSON.stringify(bad))
    }
  })
})
