/**
 * Token counts a provider (or a proxy in front of it) reports that cannot be
 * true never make a call's cost negative or unrepresentable: more cached
 * input tokens than input tokens are billed as all input cached, and a count
 * no call could reach is no count at all (the usage is then estimated from
 * the text and says so). Through `LlmManager`, plain and streamed, over real
 * HTTP from a server that sends exactly the given reply.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as TokenUsage from "@baton/core/TokenUsage"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"

type Kind = "openai" | "gemini"

const apiKey = Redacted.make("sk-test-key")
const adapters = { openai: OpenAi.layer, gemini: Gemini.layer } as const
/** Models with a row of their own: gpt-4.1 at $2 / $0.50 cached / $8, gemini-2.5-flash at $0.30 / $2.50 (no cache discount). */
const models = { openai: "gpt-4.1", gemini: "gemini-2.5-flash" } as const

interface Counts {
  readonly prompt: number
  readonly completion: number
  readonly cached: number
}

const openAiUsage = ({ cached, completion, prompt }: Counts) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  prompt_tokens_details: { cached_tokens: cached }
})
const geminiUsage = ({ cached, completion, prompt }: Counts) => ({
  promptTokenCount: prompt,
  candidatesTokenCount: completion,
  cachedContentTokenCount: cached,
  totalTokenCount: prompt + completion
})

const reply = (kind: Kind, counts: Counts): RawServer.Reply => {
  if (kind === "openai") {
    const usage = openAiUsage(counts)
    return {
      body: { choices: [{ index: 0, message: { role: "assistant", content: "Mars." }, finish_reason: "stop" }], usage },
      events: [
        { choices: [{ index: 0, delta: { role: "assistant", content: "Mars." }, finish_reason: null }] },
        { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
        { choices: [], usage },
        "[DONE]"
      ]
    }
  }
  const body = {
    candidates: [{ content: { role: "model", parts: [{ text: "Mars." }] }, finishReason: "STOP" }],
    usageMetadata: geminiUsage(counts)
  }
  return { body, events: [body] }
}

const generate = (kind: Kind, via: "stream" | "generate", counts: Counts) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start(reply(kind, counts))
    const llm = yield* LlmManager.make({
      providers: [adapters[kind]({ apiKey, baseUrl: server.url, model: models[kind] })],
      policy: FallbackPolicy.make({ maxRetries: 0, generateVia: via }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
    const result = yield* llm.generate({ prompt: "Name one planet." })
    assert.strictEqual(String(result.model), models[kind])
    // a usage that holds its own schema: every count and the cost safe integers, 0 or more
    assert.isTrue(Schema.is(TokenUsage.TokenUsage)(result.usage), JSON.stringify(result.usage))
    return result.usage
  })

describe("usage counts a provider cannot mean", () => {
  for (const via of ["generate", "stream"] as const) {
    const how = via === "stream" ? "streamed" : "plain"

    it.live(`openai (${how}): more cached tokens than input tokens are all the input, cached`, () =>
      Effect.gen(function*() {
        const usage = yield* generate("openai", via, { prompt: 10, completion: 2, cached: 1_000 })
        assert.deepStrictEqual([usage.promptTokens, usage.cachedPromptTokens, usage.completionTokens], [10, 10, 2])
        // 10 cached × 500 + 2 × 8,000 nano-USD
        assert.strictEqual(usage.costNanoUsd, 21_000)
        assert.isUndefined(usage.estimated)
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live(`gemini (${how}): more cached tokens than input tokens are all the input, cached`, () =>
      Effect.gen(function*() {
        const usage = yield* generate("gemini", via, { prompt: 10, completion: 2, cached: 11 })
        assert.deepStrictEqual([usage.promptTokens, usage.cachedPromptTokens, usage.completionTokens], [10, 10, 2])
        // no cache discount: 10 × 300 + 2 × 2,500 nano-USD
        assert.strictEqual(usage.costNanoUsd, 8_000)
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live(`openai (${how}): an input or output count no call reaches is estimated from the text`, () =>
      Effect.gen(function*() {
        for (
          const counts of [{ prompt: 1e300, completion: 2, cached: 0 }, { prompt: 10, completion: 2 ** 60, cached: 0 }]
        ) {
          const usage = yield* generate("openai", via, counts)
          assert.isTrue(usage.estimated, JSON.stringify(counts))
          assert.isBelow(usage.promptTokens, 1_000, JSON.stringify(counts))
          assert.isBelow(usage.completionTokens, 1_000, JSON.stringify(counts))
        }
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live(`openai (${how}): a cached count no call reaches is not reported: the input is billed uncached`, () =>
      Effect.gen(function*() {
        const usage = yield* generate("openai", via, { prompt: 10, completion: 2, cached: 1e300 })
        assert.deepStrictEqual([usage.promptTokens, usage.cachedPromptTokens, usage.completionTokens], [10, 0, 2])
        assert.strictEqual(usage.costNanoUsd, 10 * 2_000 + 2 * 8_000)
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live(`openai (${how}): a count of a billion tokens is still a count`, () =>
      Effect.gen(function*() {
        const usage = yield* generate("openai", via, { prompt: 1e9, completion: 1e9, cached: 4e8 })
        assert.isUndefined(usage.estimated)
        assert.deepStrictEqual([usage.promptTokens, usage.cachedPromptTokens, usage.completionTokens], [1e9, 4e8, 1e9])
        // 6e8 × 2,000 + 4e8 × 500 + 1e9 × 8,000 nano-USD
        assert.strictEqual(usage.costNanoUsd, 1.2e12 + 2e11 + 8e12)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
