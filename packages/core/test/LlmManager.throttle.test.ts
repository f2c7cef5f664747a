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
import { Bench, inject, manager, pick, stats } from "./utils/chain.ts"

const openai = ProviderName.make("openai")

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

  it.effect("attempts skipped by an open circuit take nothing: the probe after the cooldown is not throttled", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        circuit: { failureThreshold: 1, cooldownMs: 200 }
      })
      const request = { prompt: "Name a planet.", options: { maxTokens: 100 } }
      // one failure opens the circuit (and takes one of the minute's 4 requests)
      yield* inject("openai", MockFault.status(503))
      const failed = yield* llm.generate(request)
      assert.deepStrictEqual(failed.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "error", "ProviderUnavailable"],
        ["anthropic", "success", undefined]
      ])
      // the first skip is the store's refusal, the next ones are known open
      for (let i = 0; i < 3; i++) {
        const skipped = yield* llm.generate(request)
        assert.deepStrictEqual(skipped.attempts.map(pick("provider", "outcome", "error")), [
          ["openai", "skipped", "CircuitOpen"],
          ["anthropic", "success", undefined]
        ])
      }
      yield* TestClock.adjust(200)
      // the probe still has the minute's requests the skips did not take
      const probe = yield* llm.generate(request)
      assert.deepStrictEqual(probe.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "success", undefined]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(
      Effect.provide(Bench),
      Effect.provide(ProviderThrottle.layerMemory({ openai: { requestsPerMinute: 4 } }))
    ))

  it.effect("an attempt the circuit store refuses takes nothing; admitted calls still spend the budget", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        circuit: { failureThreshold: 1, cooldownMs: 200 }
      })
      const request = { prompt: "Name a planet.", options: { maxTokens: 100 } }
      yield* inject("openai", MockFault.status(503))
      yield* llm.generate(request)
      // not yet known open: the store refuses it
      const refused = yield* llm.generate(request)
      assert.deepStrictEqual(refused.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "skipped", "CircuitOpen"],
        ["anthropic", "success", undefined]
      ])
      yield* TestClock.adjust(200)
      // the failure and the probe: the minute's 2 requests
      const probe = yield* llm.generate(request)
      assert.deepStrictEqual(probe.attempts.map(pick("provider", "outcome")), [["openai", "success"]])
      const spent = yield* llm.generate(request)
      assert.deepStrictEqual(spent.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "skipped", "ProviderThrottled"],
        ["anthropic", "success", undefined]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(
      Effect.provide(Bench),
      Effect.provide(ProviderThrottle.layerMemory({ openai: { requestsPerMinute: 2 } }))
    ))

  it.effect("a half-open probe the throttle refuses frees the probe: the circuit waits, half-open, for the next", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        circuit: { failureThreshold: 1, cooldownMs: 200 }
      })
      const request = { prompt: "Name a planet.", options: { maxTokens: 100 } }
      yield* inject("openai", MockFault.status(503))
      yield* llm.generate(request)
      yield* TestClock.adjust(200)
      // the circuit admits the probe, the minute's one request is spent: skipped, the circuit not told of a failure
      const throttled = yield* llm.generate(request)
      assert.deepStrictEqual(throttled.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "skipped", "ProviderThrottled"],
        ["anthropic", "success", undefined]
      ])
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
    }).pipe(
      Effect.provide(Bench),
      Effect.provide(ProviderThrottle.layerMemory({ openai: { requestsPerMinute: 1 } }))
    ))
})
