/**
 * A provider that is down or overloaded (OpenAI, DeepSeek, Gemini 503,
 * Anthropic 529 `overloaded_error`) may say when to come back, as a 429
 * does (`Retry-After`): the manager's retry waits at least that long, and a
 * circuit the failure opens stays open at least that long. Real HTTP to the
 * mock provider server; the manager's sleeps run on the `TestClock`, and no
 * assertion reads the wall clock (real time only lets I/O happen).
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { ProviderName } from "../src/Ids.ts"
import {
  assertSkippedOpenAi,
  assertStraightToFallback,
  Bench,
  driveClock,
  eventually,
  inject,
  liveWait,
  manager,
  pick,
  stats,
  tripOnFirstFailure
} from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about glaciers." }

const overloaded = [
  ["openai", 503],
  ["deepseek", 503],
  ["gemini", 503],
  ["anthropic", 529]
] as const

describe("LlmManager honours the wait hint of an overloaded provider", () => {
  for (const [kind, status] of overloaded) {
    it.effect(`${kind} ${status} with Retry-After: 2 is retried after 2 s, not after the 100 ms backoff`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({
          chain: [kind],
          policy: { maxRetries: 1, retryBaseDelayMs: 100, requestTimeoutMs: 60_000 }
        })
        yield* inject(kind, MockFault.status(status, { retryAfter: "2" }))
        const fiber = yield* Effect.forkChild(llm.generate(prompt))
        // the failed call reached the server, and its answer the manager (real time, for I/O only)
        yield* eventually(Effect.map(stats(kind), (s) => s.requests === 1))
        yield* liveWait(100)

        // 1.9 s later on the clock (19 backoffs' worth): still no retry
        yield* TestClock.adjust(1_900)
        yield* liveWait(100)
        assert.strictEqual((yield* stats(kind)).requests, 1, "no retry before the hint elapsed")
        assert.isUndefined(fiber.pollUnsafe())

        // past the hint: the retry happens and succeeds
        yield* driveClock(fiber, 100)
        const result = yield* Fiber.join(fiber)
        assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "outcome", "error")), [
          [kind, "primary", "error", "ProviderUnavailable"],
          [kind, "retry", "success", undefined]
        ])
        const error = result.attempts[0]?.error
        assert.strictEqual(error?._tag === "ProviderUnavailable" ? error.status : undefined, status)
        // the retry started (the clock now, less the retry's own latency) once the hinted 2 s had passed
        const retryStartedAt = (yield* Clock.currentTimeMillis) - (result.attempts[1]?.latencyMs ?? Infinity)
        assert.isAtLeast(retryStartedAt, 2_000)
        assert.strictEqual((yield* stats(kind)).requests, 2)
      }).pipe(Effect.provide(Bench)))
  }

  it.effect("a 529 whose hint outlives the deadline goes straight to the next provider", () =>
    Effect.gen(function*() {
      yield* assertStraightToFallback({
        request: prompt,
        chain: ["anthropic", "openai"],
        fault: MockFault.status(529, { retryAfter: "30" }),
        error: "ProviderUnavailable"
      })
    }).pipe(Effect.provide(Bench)))

  it.effect("a 503's hint longer than the cooldown holds the circuit open that long", () =>
    Effect.gen(function*() {
      const openai = ProviderName.make("openai")
      const llm = yield* tripOnFirstFailure(5_000)
      yield* inject("openai", MockFault.status(503, { retryAfter: "30" }))
      assert.strictEqual((yield* llm.generate(prompt)).provider, "anthropic")
      assert.strictEqual((yield* llm.circuitState(openai))._tag, "Open")

      // past the 5 s cooldown, within the 30 s hint: still skipped, no request reaches the server
      yield* TestClock.adjust("29 seconds")
      assertSkippedOpenAi(yield* llm.generate(prompt), "CircuitOpen")
      assert.strictEqual((yield* stats("openai")).requests, 1)

      // past the hint: one probe, which succeeds and closes the circuit
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* llm.generate(prompt)).provider, "openai")
      assert.strictEqual((yield* llm.circuitState(openai))._tag, "Closed")
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(Effect.provide(Bench)))
})
