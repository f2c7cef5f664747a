import * as CircuitPolicy from "@baton/core/CircuitPolicy"
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import { ProviderUnavailable } from "@baton/core/ProviderError"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as RedisCircuitBreaker from "../src/RedisCircuitBreaker.ts"
import * as RedisTest from "./redisTest.ts"

const prefix = RedisTest.uniquePrefix("circuit")
const provider = ProviderName.make("openai")
const model = ModelId.make("gpt-4o-mini")
const key = CircuitPolicy.key(provider, model)
const policy: CircuitPolicy.CircuitPolicy = { failureThreshold: 2, cooldownMs: 60_000 }

/** A breaker as one process's manager builds it, on its own connection to the shared Redis store. */
const processBreaker = Effect.gen(function*() {
  const store = yield* Layer.build(RedisCircuitBreaker.layer({ prefix }).pipe(Layer.provide(RedisTest.layer(prefix))))
  return yield* CircuitPolicy.makeCircuits(policy).pipe(Effect.provideContext(store))
})

const failing = Effect.fail(new ProviderUnavailable({ provider, model, status: 503, message: "down" }))

describe.skipIf(!RedisTest.redisAvailable)("RedisCircuitBreaker", () => {
  it.live("shares one circuit between processes: one trips it, the other skips the provider", () =>
    Effect.gen(function*() {
      const first = yield* processBreaker
      const second = yield* processBreaker
      for (let i = 0; i < policy.failureThreshold; i++) {
        yield* Effect.flip(first.execute(failing, key))
      }
      const state = yield* second.state(key)
      assert.strictEqual(state._tag, "Open")
      let ran = false
      const rejected = yield* Effect.flip(second.execute(
        Effect.sync(() => {
          ran = true
        }),
        key
      ))
      assert.strictEqual(rejected.reason._tag, "CircuitOpen")
      assert.isFalse(ran)
    }))

  it.live("layerConfig names REDIS_URL when it is missing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(RedisCircuitBreaker.layerConfig.pipe(
        Layer.provide(LlmConfig.layerFromRecord({ DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "g" }))
      )))
      assert.strictEqual(error.variable, "REDIS_URL")
    }))

  it.live("layerConfig connects to REDIS_URL", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(RedisCircuitBreaker.layerConfig.pipe(
        Layer.provide(LlmConfig.layerFromRecord({
          DEEPSEEK_API_KEY: "k",
          GEMINI_API_KEY: "g",
          REDIS_URL: RedisTest.redisUrl
        }))
      ))
      const breaker = yield* CircuitPolicy.makeCircuits(policy).pipe(Effect.provideContext(context))
      const state = yield* breaker.state(`${key}:${crypto.randomUUID()}`)
      assert.strictEqual(state._tag, "Closed")
    }))
})
