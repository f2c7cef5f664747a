import * as LlmConfig from "@baton/core/LlmConfig"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as RedisCircuitBreaker from "../src/RedisCircuitBreaker.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"

const withUrl = (url: string) =>
  LlmConfig.layerFromRecord({ DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "g", REDIS_URL: url })

describe("RedisConnection", () => {
  it.effect("a malformed REDIS_URL is an LlmConfigError naming REDIS_URL when a store layer is built", () =>
    Effect.gen(function*() {
      for (const url of ["not a url", "http://127.0.0.1:6379", "redis://127.0.0.1:notaport"]) {
        const quota = yield* Effect.flip(Layer.build(RedisQuotaStore.layerConfig().pipe(Layer.provide(withUrl(url)))))
        assert.strictEqual(quota._tag, "LlmConfigError", url)
        const circuit = yield* Effect.flip(
          Layer.build(RedisCircuitBreaker.layerConfig.pipe(Layer.provide(withUrl(url))))
        )
        assert.strictEqual(circuit.variable, "REDIS_URL", url)
      }
    }))
})
