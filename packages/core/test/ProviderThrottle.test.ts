import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Logger } from "effect"
import { RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import * as GenerationOptions from "../src/GenerationOptions.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmError from "../src/LlmError.ts"
import * as LlmRequest from "../src/LlmRequest.ts"
import * as ProviderThrottle from "../src/ProviderThrottle.ts"

const openai = ProviderName.make("openai")
const gemini = ProviderName.make("gemini")

const throttle = (limits: ProviderThrottle.LimitTable) =>
  Effect.service(ProviderThrottle.ProviderThrottle).pipe(Effect.provide(ProviderThrottle.layerMemory(limits)))

const down = Effect.fail(
  new RateLimiter.RateLimiterError({ reason: new RateLimiter.RateLimitStoreError({ message: "down" }) })
)

/** A store that is down: every command fails, as Redis does during an outage. */
const storeDown = Layer.succeed(RateLimiter.RateLimiterStore, {
  fixedWindow: () => down,
  tokenBucket: () => down,
  adaptiveConsume: () => down,
  adaptiveFeedback: () => down
})

describe("ProviderThrottle", () => {
  it.effect("fails at once past requests-per-minute, and lets calls through as the bucket refills", () =>
    Effect.gen(function*() {
      const t = yield* throttle({ openai: { requestsPerMinute: 2 } })
      yield* t.check(openai)
      yield* t.check(openai)
      const error = yield* Effect.flip(t.check(openai, { model: ModelId.make("gpt-4o-mini") }))
      assert.strictEqual(error._tag, "ProviderThrottled")
      assert.strictEqual(error.limit, "requests-per-minute")
      assert.strictEqual(error.model, "gpt-4o-mini")
      assert.isTrue(LlmError.shouldFallback(error))
      assert.strictEqual(Duration.toMillis(error.retryAfter ?? Duration.zero), 30_000)
      yield* TestClock.adjust("30 seconds")
      yield* t.check(openai)
    }))

  it.effect("fails past tokens-per-minute with the estimate, and after recorded usage", () =>
    Effect.gen(function*() {
      const t = yield* throttle({ openai: { tokensPerMinute: 1_000 } })
      yield* t.check(openai, { tokens: 600 })
      assert.strictEqual((yield* Effect.flip(t.check(openai, { tokens: 600 }))).limit, "tokens-per-minute")
      yield* t.check(openai, { tokens: 300 })
      yield* t.record(openai, 500)
      const error = yield* Effect.flip(t.check(openai))
      assert.strictEqual(error.limit, "tokens-per-minute")
      assert.isDefined(error.retryAfter)
      yield* TestClock.adjust(error.retryAfter ?? Duration.zero)
      yield* t.check(openai)
    }))

  it.effect("estimates the prompt at 4 characters a token plus maxTokens, or Baton's default when it is the provider's", () =>
    Effect.gen(function*() {
      const prompt = [{ role: "user" as const, content: "x".repeat(400) }]
      const limited = yield* LlmRequest.make({ prompt, options: { maxTokens: 300 } })
      const unlimited = yield* LlmRequest.make({ prompt, options: { maxTokens: "provider" } })
      assert.strictEqual(ProviderThrottle.estimateTokens(limited), 100 + 300)
      assert.strictEqual(ProviderThrottle.estimateTokens(unlimited), 100 + GenerationOptions.defaultMaxTokens)
    }))

  it.effect("keeps providers apart and never throttles one without limits", () =>
    Effect.gen(function*() {
      const t = yield* throttle({ openai: { requestsPerMinute: 1 } })
      yield* t.check(openai)
      assert.strictEqual((yield* Effect.flip(t.check(openai)))._tag, "ProviderThrottled")
      yield* Effect.forEach(Array.from({ length: 100 }), () => t.check(gemini, { tokens: 1_000_000 }))
      yield* t.record(gemini, 1_000_000)
    }))
  it.effect("a store outage lets calls through and warns once per 10 seconds, counting what it kept quiet", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
      })
      const t = yield* Effect.service(ProviderThrottle.ProviderThrottle).pipe(
        Effect.provide(
          ProviderThrottle.layer({ openai: { requestsPerMinute: 10, tokensPerMinute: 1_000 } }).pipe(
            Layer.provide(RateLimiter.layer),
            Layer.provide(storeDown)
          )
        )
      )
      // each attempt: a check on both buckets and a record, all failing
      const attempts = (n: number) =>
        Effect.forEach(
          Array.from({ length: n }),
          () => Effect.andThen(t.check(openai, { tokens: 100 }), t.record(openai, 50)),
          { discard: true }
        ).pipe(Effect.provide(Logger.layer([capture])))
      yield* attempts(20)
      assert.deepStrictEqual(warnings, ["provider throttle store unavailable; letting the call through"])
      yield* TestClock.adjust("9 seconds")
      yield* attempts(1)
      assert.strictEqual(warnings.length, 1)
      yield* TestClock.adjust("1 second")
      yield* attempts(1)
      assert.deepStrictEqual(warnings.slice(1), [
        "provider throttle store unavailable; letting the call through (62 more since the last warning)"
      ])
    }))
})
