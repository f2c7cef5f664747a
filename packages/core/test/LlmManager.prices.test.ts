/**
 * `LLM_PRICES` overrides lay a model's given fields over its default row:
 * the documented override `{"gpt-4.1":{"input":2,"output":8}}` keeps the
 * model's cached-input rate, and a provider's default row raised without
 * `cachedInput` keeps the shipped default's (DeepSeek's $0.044). A prompt
 * above a row's long-context threshold is billed at the tier's rates, in the
 * result and in the usage ledger. The
 * shipped table's rows bill the models providers.md prices. Through
 * `LlmManager.layerConfig` over the mock provider server, which reports
 * cached input tokens (`setUsage`) and counts a prompt's tokens as its
 * characters / 4.
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Effect } from "effect"
import * as UsageLedger from "../src/UsageLedger.ts"
import { Bench, managerFromEnv, warningsOf } from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about the tides of the Bay of Fundy, with four options." }

/** A call to `model` of `kind` whose reply reports 8 cached input tokens, priced by a row of the model's own. */
const generateWith = (kind: "openai" | "gemini", model: string, variables: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    yield* mock.setUsage(kind, { cachedPromptTokens: 8 })
    const llm = yield* managerFromEnv({
      LLM_PRIMARY_PROVIDER: kind,
      LLM_FALLBACK_PROVIDER: "none",
      [`${kind.toUpperCase()}_MODEL`]: model,
      ...variables
    })
    const result = yield* llm.generate(prompt)
    assert.strictEqual(String(result.model), model)
    assert.strictEqual(result.usage.pricing, "model", model)
    assert.strictEqual(result.usage.cachedPromptTokens, 8)
    assert.isAbove(result.usage.promptTokens, 8)
    return result.usage
  })

const generateWithPrices = (prices: unknown) =>
  generateWith("openai", "gpt-4.1", { LLM_PRICES: JSON.stringify(prices) })

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

  it.effect("a provider's default row raised without cachedInput keeps the shipped default's cached rate", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      yield* mock.setUsage("deepseek", { cachedPromptTokens: 8 })
      const llm = yield* managerFromEnv({
        LLM_PRIMARY_PROVIDER: "deepseek",
        LLM_FALLBACK_PROVIDER: "none",
        DEEPSEEK_MODEL: "deepseek-v9-preview",
        LLM_PRICES: JSON.stringify({ deepseek: { default: { input: 5, output: 10 } } })
      })
      const { usage } = yield* llm.generate(prompt)
      assert.deepStrictEqual([usage.pricing, usage.cachedPromptTokens], ["provider-default", 8])
      // uncached input at $5, output at $10, but cached input at the shipped default's $0.044 per 1M tokens
      assert.strictEqual(
        usage.costNanoUsd,
        (usage.promptTokens - 8) * 5_000 + 8 * 44 + usage.completionTokens * 10_000
      )
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager.layerConfig: an LLM_PRICES key naming no provider of the chain", () => {
  it.effect("is warned about as it starts (a typo bills nothing); hosted providers and the chain's steps are not", () =>
    Effect.gen(function*() {
      const price = { default: { input: 1, output: 2 } }
      const typo = yield* warningsOf(managerFromEnv({
        LLM_CHAIN: "deepseek/deepseek-chat,local/llama3",
        LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1",
        LLM_PRICES: JSON.stringify({ deepsek: price, lcoal: price, local: price, anthropic: price })
      }))
      assert.deepStrictEqual(typo, [
        "LLM_PRICES prices \"deepsek\", \"lcoal\": neither a hosted provider nor a step of the chain " +
        "(deepseek, local); only a provider built in code under that name bills by it"
      ])
      const none = yield* warningsOf(managerFromEnv({
        LLM_CHAIN: "deepseek/deepseek-chat,local/llama3",
        LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1",
        LLM_PRICES: JSON.stringify({ local: price, anthropic: price })
      }))
      assert.deepStrictEqual(none, [])
    }).pipe(Effect.provide(Bench)))

  it.effect("a key pasted as such a provider name is [redacted] in the warning, its prefix too", () =>
    Effect.gen(function*() {
      const key = "sk-CANARY-1234567890"
      const warnings = yield* warningsOf(managerFromEnv({
        DEEPSEEK_API_KEY: key,
        LLM_PRICES: JSON.stringify({ [key]: { default: { input: 1, output: 2 } } })
      }))
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "[redacted]")
      assert.notInclude(warnings.join("\n"), key.slice(0, 8))
    }).pipe(Effect.provide(Bench)))

  it.effect("so is the key of an OpenAI-compatible endpoint outside the chain, and of a hosted provider outside it", () =>
    Effect.gen(function*() {
      const compatKey = "sk-CANARY-COMPAT-1234567890"
      const openAiKey = "sk-CANARY-OPENAI-1234567890"
      const price = { default: { input: 1, output: 2 } }
      // the chain is deepseek -> gemini: neither key belongs to one of its steps
      const variables = {
        OPENAI_API_KEY: openAiKey,
        LLM_COMPAT_SPARE_API_KEY: compatKey,
        LLM_PRICES: JSON.stringify({ [compatKey]: price, [openAiKey]: price })
      }
      // the process environment, as the manager's layer reads it in production
      const warnings = yield* warningsOf(managerFromEnv(variables)).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown(variables))
      )
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "[redacted]")
      assert.notInclude(warnings.join("\n"), "CANARY")
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager: long-context tiers", () => {
  it.effect("a claude-haiku-5-5 answer to a prompt above 100K tokens costs 5x, in the result and the ledger", () =>
    Effect.gen(function*() {
      const llm = yield* managerFromEnv({
        LLM_PRIMARY_PROVIDER: "anthropic",
        LLM_FALLBACK_PROVIDER: "none",
        ANTHROPIC_MODEL: "claude-haiku-5-5"
      })
      // about 110,000 tokens at 4 characters a token
      const result = yield* llm.generate({ prompt: "Summarise the tide tables. ".repeat(16_300) })
      assert.strictEqual(String(result.model), "claude-haiku-5-5")
      const usage = result.usage
      assert.isAbove(usage.promptTokens, 100_000)
      // $0.10 in, $0.50 out per 1M tokens (100 and 500 nano-USD a token), 5x above 100K prompt tokens
      const tiered = (usage.promptTokens * 100 + usage.completionTokens * 500) * 5
      assert.strictEqual(usage.costNanoUsd, tiered)
      const ledger = yield* UsageLedger.UsageLedger
      const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const rows = yield* ledger.usageByProvider(day, day)
      assert.deepStrictEqual(rows.map((row) => [row.provider, row.costNanoUsd]), [["anthropic", tiered]])
    }).pipe(Effect.provide(Bench), Effect.provide(UsageLedger.layerMemory())))

  it.effect("LLM_PRICES expresses a tier; a row's threshold counts cached tokens and bills them at the tier", () =>
    Effect.gen(function*() {
      const usage = yield* generateWithPrices({
        openai: { models: { "gpt-4.1": { input: 2, output: 8, longContext: { above: 10, input: 2, output: 1.5 } } } }
      })
      assert.isAbove(usage.promptTokens, 10)
      // uncached $4, cached $1 (the kept $0.50, doubled), output $12 per 1M tokens
      assert.strictEqual(
        usage.costNanoUsd,
        (usage.promptTokens - 8) * 4_000 + 8 * 1_000 + usage.completionTokens * 12_000
      )
    }).pipe(Effect.provide(Bench)))

  it.effect("a bad tier in LLM_PRICES is an LlmConfigError naming the variable", () =>
    Effect.gen(function*() {
      for (
        const [longContext, words] of [
          [{ above: 0, input: 2, output: 2 }, "above"],
          [{ above: 272_000.5, input: 2, output: 2 }, "above"],
          [{ above: 272_000, input: -2, output: 2 }, "input"],
          [{ above: 272_000, input: 2, output: 0.5 }, "output"]
        ] as const
      ) {
        const error = yield* Effect.flip(managerFromEnv({
          LLM_PRIMARY_PROVIDER: "openai",
          LLM_FALLBACK_PROVIDER: "none",
          LLM_PRICES: JSON.stringify({ openai: { models: { "gpt-5.6-luna": { input: 1, output: 1, longContext } } } })
        }))
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, "LLM_PRICES")
        assert.include(error.message, words, JSON.stringify(longContext))
      }
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager: the shipped list prices of providers.md's models", () => {
  it.effect("gpt-6-sol and gpt-6-luna bill at their own rows, not OpenAI's default", () =>
    Effect.gen(function*() {
      // nano-USD a token: uncached input, cached input, output
      const rows = { "gpt-6-sol": [2_000, 200, 10_000], "gpt-6-luna": [100, 10, 500] } as const
      for (const [model, [input, cached, output]] of Object.entries(rows)) {
        const usage = yield* generateWith("openai", model)
        assert.strictEqual(
          usage.costNanoUsd,
          (usage.promptTokens - 8) * input + 8 * cached + usage.completionTokens * output,
          model
        )
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("gemini-3.8-flash bills at its price from 2027-01-01, double today's, so a budget is never under-estimated", () =>
    Effect.gen(function*() {
      const usage = yield* generateWith("gemini", "gemini-3.8-flash")
      // $1.50 in (cached too: no cache discount listed), $7.50 out per 1M tokens
      assert.strictEqual(usage.costNanoUsd, usage.promptTokens * 1_500 + usage.completionTokens * 7_500)
    }).pipe(Effect.provide(Bench)))

  it.effect("an endpoint priced for some models only bills any other model unpriced, not at a $0 default row", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const llm = yield* managerFromEnv({
        LLM_CHAIN: "groq",
        LLM_COMPAT_GROQ_BASE_URL: mock.baseUrl("openai"),
        LLM_COMPAT_GROQ_MODEL: "mixtral-8x7b",
        LLM_COMPAT_GROQ_API_KEY: "gsk-test",
        LLM_PRICES: JSON.stringify({ groq: { models: { "llama-3.3-70b": { input: 0.59, output: 0.79 } } } })
      })
      const usage = (yield* llm.generate(prompt)).usage
      assert.isAbove(usage.totalTokens, 0)
      assert.deepStrictEqual([usage.pricing, usage.costNanoUsd], ["unpriced", 0])
      const priced = (yield* llm.generate({ ...prompt, options: { model: "llama-3.3-70b" } })).usage
      assert.deepStrictEqual(
        [priced.pricing, priced.costNanoUsd],
        ["model", priced.promptTokens * 590 + priced.completionTokens * 790]
      )
    }).pipe(Effect.provide(Bench)))
})
