/**
 * The provider throttle on the manager path: each attempt is checked with
 * the request's token estimate, so a tokens-per-minute limit skips a
 * provider before the call that would overspend it, not after. Only an
 * attempt its circuit admits takes from the budget: one skipped by an open
 * circuit calls nobody and spends nothing.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { ProviderName } from "../src/Ids.ts"
import * as ProviderThrottle from "../src/ProviderThrottle.ts"
import { assertSkippedOpenAi, Bench, inject, manager, pick, stats, tripOnFirstFailure } from "./utils/chain.ts"

const openai = ProviderName.make("openai")

const Throttle = ProviderThrottle.layerMemory({ openai: { tokensPerMinute: 1_000 } })

/** A throttle letting openai take `requestsPerMinute` requests a minute. */
const requestsPerMinute = (requestsPerMinute: number) => ProviderThrottle.layerMemory({ openai: { requestsPerMinute } })

const request = { prompt: "Name a planet.", options: { maxTokens: 100 } }

/**
 * A manager whose circuit opens at the first failure (200 ms cooldown), and
 * the result of its first `request`, on which openai failed with a 503.
 */
const afterOneFailure = Effect.gen(function*() {
  const llm = yield* tripOnFirstFailure(200)
  yield* inject("openai", MockFault.status(503))
  return { llm, failed: yield* llm.generate(request) }
})

describe("LlmManager with a ProviderThrottle", () => {
  it.effect("skips a provider whose tokens-per-minute cannot take the request's estimate, before any call", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      // 2,000 tokens may come back: more than the minute's 1,000, though nothing was spent yet
      assertSkippedOpenAi(yield* llm.generate({ ...request, options: { maxTokens: 2_000 } }), "ProviderThrottled")
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(Bench), Effect.provide(Throttle)))

  it.effect("takes each request's estimate (prompt chars / 4 + maxTokens) from the minute's tokens", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      // "Name a planet." is 14 characters: 4 tokens, plus 100 = 104 a request; 9 fit in 1,000
      const providers: Array<string> = []
      for (let i = 0; i < 11; i++) providers.push((yield* llm.generate(request)).provider)
      assert.deepStrictEqual(providers, [...Array<string>(9).fill("openai"), "anthropic", "anthropic"])
      assert.strictEqual((yield* stats("openai")).requests, 9)
    }).pipe(Effect.provide(Bench), Effect.provide(Throttle)))

  it.effect("attempts skipped by an open circuit take nothing: the probe after the cooldown is not throttled", () =>
    Effect.gen(function*() {
      // one failure opens the circuit (and takes one of the minute's 4 requests)
      const { failed, llm } = yield* afterOneFailure
      assert.deepStrictEqual(failed.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "error", "ProviderUnavailable"],
        ["anthropic", "success", undefined]
      ])
      // the first skip is the store's refusal, the next ones are known open
      for (let i = 0; i < 3; i++) assertSkippedOpenAi(yield* llm.generate(request), "CircuitOpen")
      yield* TestClock.adjust(200)
      // the probe still has the minute's requests the skips did not take
      const probe = yield* llm.generate(request)
      assert.deepStrictEqual(probe.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "success", undefined]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(Effect.provide(Bench), Effect.provide(requestsPerMinute(4))))

  it.effect("an attempt the circuit store refuses takes nothing; admitted calls still spend the budget", () =>
    Effect.gen(function*() {
      const { llm } = yield* afterOneFailure
      // not yet known open: the store refuses it
      assertSkippedOpenAi(yield* llm.generate(request), "CircuitOpen")
      yield* TestClock.adjust(200)
      // the failure and the probe: the minute's 2 requests
      const probe = yield* llm.generate(request)
      assert.deepStrictEqual(probe.attempts.map(pick("provider", "outcome")), [["openai", "success"]])
      assertSkippedOpenAi(yield* llm.generate(request), "ProviderThrottled")
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(Effect.provide(Bench), Effect.provide(requestsPerMinute(2))))

  it.effect("a half-open probe the throttle refuses frees the probe: the circuit waits, half-open, for the next", () =>
    Effect.gen(function*() {
      const { llm } = yield* afterOneFailure
      yield* TestClock.adjust(200)
      // the circuit admits the probe, the minute's one request is spent: skipped, the circuit not told of a failure
      assertSkippedOpenAi(yield* llm.generate(request), "ProviderThrottled")
      assert.deepStrictEqual(yield* llm.circuitState(openai), {
        _tag: "HalfOpen",
        key: "openai/gpt-4o-mini",
        probing: false,
        consecutiveOpenings: 1
      })
      yield* TestClock.adjust("1 minute")
      const probe = yield* llm.generate(request)
      assert.deepStrictEqual(probe.attempts.map(pick("provider", "outcome")), [["openai", "success"]])
      assert.strictEqual((yield* llm.circuitState(openai))._tag, "Closed")
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(Effect.provide(Bench), Effect.provide(requestsPerMinute(1))))
})
