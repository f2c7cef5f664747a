/**
 * The provider throttle on the manager path: each attempt is checked with
 * the request's token estimate, so a tokens-per-minute limit skips a
 * provider before the call that would overspend it, not after.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ProviderThrottle from "../src/ProviderThrottle.ts"
import { Bench, manager, pick, stats } from "./utils/chain.ts"

const Throttle = ProviderThrottle.layerMemory({ openai: { tokensPerMinute: 1_000 } })

describe("LlmManager with a ProviderThrottle", () => {
  it.effect("skips a provider whose tokens-per-minute cannot take the request's estimate, before any call", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      // 2,000 tokens may come back: more than the minute's 1,000, though nothing was spent yet
      const result = yield* llm.generate({ prompt: "Name a planet.", options: { maxTokens: 2_000 } })
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "skipped", "ProviderThrottled"],
        ["anthropic", "success", undefined]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(Bench), Effect.provide(Throttle)))

  it.effect("takes each request's estimate (prompt chars / 4 + maxTokens) from the minute's tokens", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      // "Name a planet." is 14 characters: 4 tokens, plus 100 = 104 a request; 9 fit in 1,000
      const request = { prompt: "Name a planet.", options: { maxTokens: 100 } }
      const providers: Array<string> = []
      for (let i = 0; i < 11; i++) providers.push((yield* llm.generate(request)).provider)
      assert.deepStrictEqual(providers, [...Array<string>(9).fill("openai"), "anthropic", "anthropic"])
      assert.strictEqual((yield* stats("openai")).requests, 9)
    }).pipe(Effect.provide(Bench), Effect.provide(Throttle)))
})
