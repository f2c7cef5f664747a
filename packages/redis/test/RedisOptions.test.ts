/**
 * The bounds given to the Redis layers in code are checked when the layer is
 * built: a value that is not a duration (`"5 secs"`), a negative one, `NaN`
 * or a zero command bound (every command would time out, so every quota
 * check, circuit record and throttle would count Redis as down) fails the
 * build with an `LlmConfigError` naming the option it was given as, not a
 * Defect and not a store that never answers. `maxPendingUndos` that is not a
 * positive whole number (0 would drop every refund Redis cannot take at
 * once) is refused the same way.
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import * as RedisCircuitBreaker from "../src/RedisCircuitBreaker.ts"
import * as RedisConnection from "../src/RedisConnection.ts"
import * as RedisProviderThrottle from "../src/RedisProviderThrottle.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import { redisAvailable, redisUrl } from "./redisTest.ts"

const refused: ReadonlyArray<Duration.Input> = ["5 secs" as Duration.Input, -1, Number.NaN, 0, "-2 seconds"]

const settings = LlmConfig.layerFromRecord({ DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "g", REDIS_URL: redisUrl })

/** The variable named by the error `layer` fails its build with. */
const named = <A, E extends { readonly _tag: string }>(layer: Layer.Layer<A, E>) =>
  Effect.map(Effect.flip(Effect.scoped(Layer.build(layer))), (error) => [
    error._tag,
    "variable" in error ? error.variable : undefined
  ])

describe.skipIf(!redisAvailable)("Redis layers' bounds", () => {
  it.effect("each bound refused names the option it was given as", () =>
    Effect.gen(function*() {
      const connection = RedisConnection.layer({ url: redisUrl })
      for (const value of refused) {
        for (const option of ["commandTimeout", "connectTimeout"] as const) {
          assert.deepStrictEqual(yield* named(RedisConnection.layer({ url: redisUrl, [option]: value })), [
            "LlmConfigError",
            `RedisConnection.${option}`
          ])
        }
        assert.deepStrictEqual(
          yield* named(RedisCircuitBreaker.layer({ commandTimeout: value }).pipe(Layer.provide(connection))),
          ["LlmConfigError", "RedisCircuitBreaker.commandTimeout"]
        )
        assert.deepStrictEqual(
          yield* named(RedisProviderThrottle.layer({}, { commandTimeout: value }).pipe(Layer.provide(connection))),
          ["LlmConfigError", "RedisProviderThrottle.commandTimeout"]
        )
        assert.deepStrictEqual(
          yield* named(RedisQuotaStore.layerConfig({ timeout: value }).pipe(Layer.provide(settings))),
          ["LlmConfigError", "RedisQuotaStore.timeout"]
        )
        assert.deepStrictEqual(
          yield* named(RedisQuotaStore.layerStore({ timeout: value }).pipe(Layer.provide(connection))),
          ["LlmConfigError", "RedisQuotaStore.timeout"]
        )
      }
      // node-redis hands connectTimeout to a Node timer: past 2^31 - 1 ms it fires at once, and no connection is made
      for (const connectTimeout of [Duration.infinity, "30 days", { seconds: Number.NaN }] as const) {
        assert.deepStrictEqual(yield* named(RedisConnection.layer({ url: redisUrl, connectTimeout })), [
          "LlmConfigError",
          "RedisConnection.connectTimeout"
        ])
      }
      for (const closeTimeout of [-1, Number.NaN, "1 sec" as Duration.Input]) {
        assert.deepStrictEqual(yield* named(RedisConnection.layer({ url: redisUrl, closeTimeout })), [
          "LlmConfigError",
          "RedisConnection.closeTimeout"
        ])
      }
      for (const maxPendingUndos of [0, -1, 1.5, Number.NaN]) {
        assert.deepStrictEqual(
          yield* named(RedisQuotaStore.layerStore({ maxPendingUndos }).pipe(Layer.provide(connection))),
          ["LlmConfigError", "RedisQuotaStore.maxPendingUndos"]
        )
      }
    }))

  it.effect("a closeTimeout of 0 and Duration.infinity as a command's bound are taken", () =>
    Effect.scoped(Effect.asVoid(Layer.build(
      RedisQuotaStore.layerStore({ timeout: "2 seconds" }).pipe(
        Layer.provide(RedisConnection.layer({ url: redisUrl, closeTimeout: 0, commandTimeout: Duration.infinity }))
      )
    ))))
})
