/**
 * A Redis outage in the log: the connection warns once when it loses Redis,
 * not once per reconnection attempt (one every 2 seconds at most, each with
 * its stack, for as long as Redis is down), and warns again at the next
 * outage once it got Redis back.
 */
import { SubjectId } from "@baton/core/Ids"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RedisServer from "@baton/testing/RedisServer"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { eventually, liveWait } from "../../core/test/utils/chain.ts"
import * as RedisTest from "./redisTest.ts"

describe.skipIf(!RedisTest.redisAvailable)("RedisConnection during an outage", () => {
  it.live(
    "a killed Redis is warned of once per outage, however long it stays down",
    () =>
      Effect.gen(function*() {
        const { layer: capture, warnings } = RedisTest.captureWarnings()
        const connectionWarnings = () => warnings.filter((warning) => warning.startsWith("Redis client"))
        const server = yield* RedisServer.start
        yield* Effect.gen(function*() {
          const context = yield* Layer.build(
            RedisTest.quotaFromConfig(server.url, RedisTest.uniquePrefix("outage-warnings"))
          )
          const quota = Context.get(context, QuotaLimiter.QuotaLimiter)
          const teacher = SubjectId.make("teacher-1")
          yield* server.kill
          // real time for the client to try reconnecting, several times (I/O, not time under test)
          yield* liveWait(4_000)
          assert.strictEqual(connectionWarnings().length, 1, JSON.stringify(warnings))
          yield* server.restart
          yield* eventually(quota.remaining(teacher).pipe(Effect.as(true), Effect.orElseSucceed(() => false)))
          yield* server.kill
          yield* liveWait(1_000)
          assert.strictEqual(connectionWarnings().length, 2, JSON.stringify(warnings))
        }).pipe(Effect.scoped, Effect.provide(capture))
      }).pipe(Effect.scoped),
    30_000
  )
})
