/**
 * The throttle's warning damping through the path a user takes: requests
 * made through `LlmManager` (built from the environment) with
 * `RedisProviderThrottle` over `RedisConnection`, as the module's example
 * wires it, against a Redis of the test's own that it kills. Every check and
 * record fails then (the connection refuses commands at once while it
 * reconnects), the throttle lets every call through, and logs at most one
 * warning per 10 seconds of the Effect clock (`TestClock` here), saying how
 * many it kept quiet, not one per attempt.
 */
import * as RedisServer from "@baton/testing/RedisServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { Bench, liveWait, managerFromEnv, stats } from "../../core/test/utils/chain.ts"
import * as RedisConnection from "../src/RedisConnection.ts"
import * as RedisProviderThrottle from "../src/RedisProviderThrottle.ts"
import * as RedisTest from "./redisTest.ts"

const throttleWarning = "provider throttle store unavailable; letting the call through"

describe.skipIf(!RedisTest.redisAvailable)("Redis throttle outage through LlmManager: damped warnings", () => {
  it.effect(
    "killed Redis: 150 requests over 50 seconds log 5 warnings, one per 10 s window",
    () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 4, 10, 10))
        const warnings: Array<string> = []
        const capture = Logger.make(({ logLevel, message }) => {
          if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
        })
        const throttleWarnings = () => warnings.filter((warning) => warning.startsWith(throttleWarning))

        yield* Effect.gen(function*() {
          const server = yield* RedisServer.start
          const throttle = yield* Layer.build(
            RedisProviderThrottle.layer({ deepseek: { requestsPerMinute: 100_000 } }, {
              prefix: RedisTest.uniquePrefix("throttle-warnings")
            }).pipe(Layer.provide(RedisConnection.layer({ url: server.url })))
          )
          const llm = yield* Effect.provideContext(managerFromEnv({ LLM_MAX_RETRIES: "0" }), throttle)
          const generate = llm.generate({ prompt: "One question about Mars" })

          // Redis up: the throttle works and warns of nothing
          yield* generate
          assert.deepStrictEqual(throttleWarnings(), [])

          yield* server.kill
          // real time for the client to see its socket closed (I/O, not time under test)
          yield* liveWait(200)
          const before = (yield* stats("deepseek")).requests
          // three requests a second for 50 seconds of the Effect clock, each one failed command (a check of the
          // request bucket: with no token limit there is no token check nor record)
          for (let second = 0; second < 50; second++) {
            for (let i = 0; i < 3; i++) {
              const result = yield* generate
              assert.strictEqual(result.provider, "deepseek", "the throttle fails open")
            }
            yield* TestClock.adjust("1 second")
          }
          assert.strictEqual((yield* stats("deepseek")).requests - before, 150, "every call went through")
        }).pipe(Effect.scoped, Effect.provide(Logger.layer([capture])))

        // one warning at 0 s, 10 s, 20 s, 30 s and 40 s, not one per failed command (150)
        const logged = throttleWarnings()
        assert.strictEqual(logged.length, 5, logged.join("\n"))
        assert.strictEqual(logged[0], throttleWarning)
        // each later one counts the failures it kept quiet: 10 s of 3 requests but itself
        for (const warning of logged.slice(1)) {
          assert.strictEqual(warning, `${throttleWarning} (29 more since the last warning)`)
        }
      }).pipe(Effect.provide(Bench)),
    30_000
  )
})
