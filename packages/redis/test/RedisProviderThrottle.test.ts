import { ProviderName } from "@baton/core/Ids"
import * as ProviderThrottle from "@baton/core/ProviderThrottle"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as RedisProviderThrottle from "../src/RedisProviderThrottle.ts"
import * as RedisTest from "./redisTest.ts"

const prefix = RedisTest.uniquePrefix("throttle")
const openai = ProviderName.make("openai")

/** A throttle as one process builds it, on its own connection to the shared Redis. */
const processThrottle = Effect.gen(function*() {
  const context = yield* Layer.build(
    RedisProviderThrottle.layer({ openai: { requestsPerMinute: 2, tokensPerMinute: 1_000 } }, { prefix }).pipe(
      Layer.provide(RedisTest.layer(prefix))
    )
  )
  return yield* Effect.service(ProviderThrottle.ProviderThrottle).pipe(Effect.provideContext(context))
})

describe.skipIf(!RedisTest.redisAvailable)("RedisProviderThrottle", () => {
  afterAll(() => RedisTest.deleteKeys(prefix))

  it.effect("shares request and token buckets between processes, on the Effect clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 4, 10, 10))
      const a = yield* processThrottle
      const b = yield* processThrottle
      yield* a.check(openai, { tokens: 400 })
      yield* b.check(openai, { tokens: 400 })
      const rpm = yield* Effect.flip(a.check(openai))
      assert.strictEqual(rpm.limit, "requests-per-minute")
      assert.strictEqual(Duration.toMillis(rpm.retryAfter ?? Duration.zero), 30_000)
      yield* TestClock.adjust("30 seconds")
      const tpm = yield* Effect.flip(b.check(openai, { tokens: 800 }))
      assert.strictEqual(tpm.limit, "tokens-per-minute")
      yield* TestClock.adjust("30 seconds")
      yield* b.record(openai, 2_000)
      assert.strictEqual((yield* Effect.flip(a.check(openai))).limit, "tokens-per-minute")
    }))

  it.effect("refuses limits that are no positive whole numbers, and keys that are no provider names, when built", () =>
    Effect.gen(function*() {
      /** The option named by the `LlmConfigError` the build fails with. */
      const refused = (limits: ProviderThrottle.LimitTable) =>
        Effect.map(
          Effect.flip(Effect.scoped(Layer.build(
            RedisProviderThrottle.layer(limits, { prefix }).pipe(Layer.provide(RedisTest.layer(prefix)))
          ))),
          (error) => error._tag === "LlmConfigError" ? error.variable : error._tag
        )
      for (const requestsPerMinute of [0, -5, 0.5, Number.NaN]) {
        assert.strictEqual(
          yield* refused({ openai: { requestsPerMinute } }),
          "ProviderThrottle.limits.openai.requestsPerMinute"
        )
      }
      assert.strictEqual(
        yield* refused({ openai: { tokensPerMinute: -1 } }),
        "ProviderThrottle.limits.openai.tokensPerMinute"
      )
      assert.strictEqual(yield* refused({ OpenAI: { requestsPerMinute: 1 } }), "ProviderThrottle.limits.OpenAI")
    }))
})
