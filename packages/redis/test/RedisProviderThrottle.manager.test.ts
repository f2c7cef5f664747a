/**
 * The Redis provider throttle under `LlmManager`: a request whose token
 * estimate is more than the provider's whole tokens-per-minute never fits,
 * however long it waits. It is skipped at once without spending the minute's
 * requests, and its `ProviderThrottled` promises no time to wait for.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { assertSkippedOpenAi, Bench, manager, stats } from "../../core/test/utils/chain.ts"
import * as RedisProviderThrottle from "../src/RedisProviderThrottle.ts"
import * as RedisTest from "./redisTest.ts"

const prefix = RedisTest.uniquePrefix("throttle-too-big")

describe.skipIf(!RedisTest.redisAvailable)("RedisProviderThrottle through LlmManager", () => {
  it.effect("a request larger than a whole minute's tokens is skipped, takes none of the minute's requests, and names no wait", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 4, 10, 10))
      const throttle = yield* Layer.build(
        RedisProviderThrottle.layer({ openai: { requestsPerMinute: 2, tokensPerMinute: 1_000 } }, { prefix }).pipe(
          Layer.provide(RedisTest.layer(prefix))
        )
      )
      const llm = yield* Effect.provideContext(manager({ chain: ["openai", "anthropic"] }), throttle)
      const request = { prompt: "Name a planet.", options: { maxTokens: 100 } }
      // 2,000 tokens may come back: more than the whole minute's 1,000
      const tooBig = yield* llm.generate({ ...request, options: { maxTokens: 2_000 } })
      assertSkippedOpenAi(tooBig, "ProviderThrottled")
      const refusal = tooBig.attempts[0]?.error
      assert.strictEqual(refusal?._tag === "ProviderThrottled" ? refusal.retryAfter : "not throttled", undefined)
      // nothing was spent: the message says why it never fits
      assert.strictEqual(
        refusal?.message,
        "openai skipped: the request's token estimate is more than its whole local tokens-per-minute budget"
      )
      // the minute's two requests are still there
      assert.strictEqual((yield* llm.generate(request)).provider, "openai")
      assert.strictEqual((yield* llm.generate(request)).provider, "openai")
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
