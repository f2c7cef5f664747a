/**
 * DeepSeek models served through an OpenAI-shaped proxy report cache hits as
 * `prompt_tokens_details.cached_tokens`, without DeepSeek's own
 * `prompt_cache_hit_tokens`: the DeepSeek adapter still counts them. Through
 * `LlmManager`, with the DeepSeek layer pointed at the mock server's OpenAI
 * route, plain and streamed.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"

const apiKey = Redacted.make("sk-test-key")

describe("DeepSeek usage through an OpenAI-shaped proxy", () => {
  for (const via of ["generate", "stream"] as const) {
    it.live(`generate (generateVia: ${via}): cached tokens come from prompt_tokens_details`, () =>
      Effect.gen(function*() {
        const mock = yield* MockProviderServer.MockProviderServer
        yield* mock.setUsage("openai", { cachedPromptTokens: 3 })
        const llm = yield* LlmManager.make({
          providers: [DeepSeek.layer({ apiKey, baseUrl: mock.baseUrl("openai") })],
          policy: FallbackPolicy.make({ maxRetries: 0, generateVia: via }),
          generationEnabled: true
        })
        const result = yield* llm.generate({ prompt: "Name one planet, please, in a few words" })
        const stats = yield* mock.stats("openai")
        assert.strictEqual(String(result.provider), "deepseek")
        assert.strictEqual(stats.cachedPromptTokens, 3)
        assert.strictEqual(result.usage.cachedPromptTokens, stats.cachedPromptTokens)
        assert.strictEqual(result.usage.promptTokens, stats.promptTokens)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it("DeepSeek's own prompt_cache_hit_tokens comes first", () => {
    const usage = {
      prompt_tokens: 10,
      completion_tokens: 2,
      prompt_cache_hit_tokens: 6,
      prompt_tokens_details: { cached_tokens: 4 }
    }
    assert.strictEqual(DeepSeek.usage(usage)?.cachedPromptTokens, 6)
    assert.strictEqual(DeepSeek.usage({ prompt_tokens: 10, completion_tokens: 2 })?.cachedPromptTokens, undefined)
  })
})
