/**
 * OpenAI and Anthropic may say whether retrying a failed response can help
 * (`x-should-retry`). `false` is obeyed: an error the manager would retry on
 * the same provider (a 503, an Anthropic 529, a 429) goes straight to the
 * next provider, its one attempt in the request log; the fallback itself is
 * unchanged. `true` changes nothing: a 503 is retried as without it, and an
 * error the manager never retries (a refused key) is still not retried.
 * Real HTTP to the mock provider server; the manager's sleeps run on the
 * `TestClock`.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as LlmError from "../src/LlmError.ts"
import * as RequestLog from "../src/RequestLog.ts"
import { assertStraightToFallback, Bench, inject, manager, pick, runDriven, stats } from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about glaciers." }

const refused = [
  ["openai", 503, "ProviderUnavailable"],
  ["anthropic", 529, "ProviderUnavailable"],
  ["openai", 429, "ProviderRateLimited"]
] as const

describe("LlmManager and a server's x-should-retry", () => {
  for (const [kind, status, tag] of refused) {
    const fallback = kind === "openai" ? "anthropic" : "openai"
    it.effect(`${kind} ${status} with x-should-retry: false is not retried: one attempt, then ${fallback}`, () =>
      Effect.gen(function*() {
        const result = yield* assertStraightToFallback({
          request: prompt,
          chain: [kind, fallback],
          fault: MockFault.status(status, { shouldRetry: "false" }),
          error: tag
        })
        const error = result.attempts[0]?.error
        assert.isFalse(error !== undefined && LlmError.isRetryable(error))
        const records = yield* (yield* RequestLog.RequestLogMemory).records
        assert.deepStrictEqual(records.map((r) => [r.provider, r.role, r.outcome, r.errorTag]), [
          [kind, "primary", "error", tag],
          [fallback, "fallback", "success", null]
        ])
      }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))
  }

  it.effect("streamed: a 503 with x-should-retry: false is not retried either, the fallback streams the answer", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { maxRetries: 2, retryBaseDelayMs: 100 } })
      yield* inject("openai", MockFault.status(503, { shouldRetry: "false" }))
      const parts = yield* Stream.runCollect(llm.stream(prompt))
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      assert.deepStrictEqual(
        finish?._tag === "Finish" ? (finish.attempts ?? []).map(pick("provider", "role", "outcome")) : [],
        [["openai", "primary", "error"], ["anthropic", "fallback", "success"]]
      )
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(Bench)))

  it.effect("a 503 with x-should-retry: true is retried, as without it", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"], policy: { maxRetries: 1, retryBaseDelayMs: 100 } })
      yield* inject("openai", MockFault.status(503, { shouldRetry: "true" }))
      const result = yield* runDriven(llm.generate(prompt), 100)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "outcome", "error")), [
        ["openai", "primary", "error", "ProviderUnavailable"],
        ["openai", "retry", "success", undefined]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(Effect.provide(Bench)))

  it.effect("a 401 with x-should-retry: true is still not retried: the key is wrong whatever the server hopes", () =>
    Effect.gen(function*() {
      yield* assertStraightToFallback({
        request: prompt,
        chain: ["openai", "anthropic"],
        fault: MockFault.status(401, { shouldRetry: "true" }),
        error: "ProviderAuthenticationFailed"
      })
    }).pipe(Effect.provide(Bench)))
})
