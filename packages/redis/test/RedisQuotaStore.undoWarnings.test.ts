/**
 * The warning of undos that keep failing, during a long Redis outage: the
 * undo fiber retries with its own backoff (half a second, doubled up to 30
 * seconds), but warns by the one damped rule of the library, at most once
 * per 10 seconds of the Effect clock (`TestClock` here), counting the failed
 * tries it kept quiet, as every other store warning does.
 *
 * The test runs its own Redis on a spare port and kills it by pid; the
 * connection then refuses every command at once while it reconnects.
 */
import { SubjectId } from "@baton/core/Ids"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RedisServer from "@baton/testing/RedisServer"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Effect, Exit, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { eventually, liveWait } from "../../core/test/utils/chain.ts"
import * as RedisConnection from "../src/RedisConnection.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

describe.skipIf(!RedisTest.redisAvailable)("RedisQuotaStore undos failing through an outage: damped warnings", () => {
  it.effect(
    "a refund that waits 65 seconds for a killed Redis is warned of at most once per 10 s, the quiet tries counted",
    () =>
      Effect.gen(function*() {
        const warnings: Array<{ readonly at: number; readonly message: string }> = []
        const capture = Logger.make(({ date, logLevel, message }) => {
          const text = Array.isArray(message) ? String(message[0]) : String(message)
          if (logLevel === "Warn" && text.includes("undos wait for Redis")) {
            warnings.push({ at: date.getTime(), message: text })
          }
        })

        yield* Effect.gen(function*() {
          const server = yield* RedisServer.start
          const context = yield* Layer.build(
            RedisQuotaStore.layerStore({ prefix: RedisTest.uniquePrefix("undo-warnings") }).pipe(
              Layer.provideMerge(RedisConnection.layer({ url: server.url }))
            )
          )
          const { client } = Context.get(context, NodeRedis.NodeRedis)
          const quota = yield* QuotaLimiter.make({ maxQuestionsPerRequest: 5, dailyLimit: 100, timeZone: "UTC" }).pipe(
            Effect.provideContext(context)
          )
          const start = yield* Clock.currentTimeMillis

          // the unit is reserved, then Redis dies and the request fails: its refund joins the pending undos
          const exit = yield* Effect.exit(quota.withQuota(SubjectId.make("teacher-1"), 1, () =>
            server.kill.pipe(
              Effect.andThen(eventually(Effect.sync(() => !client.isReady))),
              Effect.andThen(Effect.fail("provider failed"))
            )))
          assert.isTrue(Exit.isFailure(exit))

          // 65 seconds of the Effect clock, with real time after each step for the undo's command to fail
          for (let second = 0; second < 130; second++) {
            yield* TestClock.adjust("500 millis")
            yield* liveWait(5)
          }

          // tries at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 and 61.5 s: warned at 0.5, then 15.5 for the three quiet ones
          // and itself, 31.5 and 61.5
          assert.deepStrictEqual(
            warnings.map(({ at }) => at - start),
            [500, 15_500, 31_500, 61_500],
            JSON.stringify(warnings)
          )
          assert.notInclude(warnings[0]?.message, "since the last warning")
          assert.include(warnings[1]?.message, "(3 more failed tries since the last warning)")
          assert.notInclude(warnings[2]?.message, "since the last warning")
        }).pipe(Effect.scoped, Effect.provide(Logger.layer([capture])))
      }),
    30_000
  )
})
