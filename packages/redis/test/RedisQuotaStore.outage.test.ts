/**
 * A Redis outage on the manager path: a Redis server of this test's own (a
 * spare port, stopped by its pid) dies between two requests; the next
 * request is refused with a typed `QuotaStoreUnavailable` before any
 * provider call (or served with `failOpen`), and nothing dies.
 *
 * Real time: the store's command timeout runs on the live clock here (it is
 * what detects the outage); the bound below (200 ms) only needs to be shorter
 * than the test timeout.
 */
import { SubjectId } from "@baton/core/Ids"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RedisServer from "@baton/testing/RedisServer"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { Bench, manager, stats } from "../../core/test/utils/chain.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

const teacher = SubjectId.make("teacher-outage")
const asTeacher = { prompt: "Name a planet.", metadata: { subjectId: teacher } }

describe.skipIf(!RedisTest.redisAvailable)("RedisQuotaStore outage through the manager", () => {
  for (const failOpen of [false, true]) {
    it.live(
      `Redis dies between two requests: ${failOpen ? "served (failOpen)" : "QuotaStoreUnavailable"}`,
      () =>
        Effect.gen(function*() {
          const redis = yield* RedisServer.start
          const connected = yield* Layer.build(
            RedisQuotaStore.layerStore({ prefix: "baton-outage:", timeout: "200 millis" }).pipe(
              Layer.provideMerge(NodeRedis.layer({ url: redis.url }))
            )
          )
          // node-redis's close() waits for a reconnect that never comes: destroy the client instead
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              Context.get(connected, NodeRedis.NodeRedis).client.destroy()
            })
          )
          const quota = yield* QuotaLimiter.make({
            maxQuestionsPerRequest: 5,
            dailyLimit: 10,
            dailyTokenBudget: 1_000_000,
            timeZone: "UTC",
            failOpen
          }).pipe(Effect.provideContext(connected))
          const llm = yield* manager({ chain: ["openai"] }).pipe(
            Effect.provideService(QuotaLimiter.QuotaLimiter, quota)
          )
          assert.strictEqual((yield* quota.remaining(teacher)).used, 0)
          yield* llm.generate(asTeacher)
          assert.strictEqual((yield* quota.remaining(teacher)).used, 1)

          yield* redis.kill

          const exit = yield* Effect.exit(llm.generate(asTeacher))
          if (failOpen) {
            assert.isTrue(Exit.isSuccess(exit))
            assert.strictEqual((yield* stats("openai")).requests, 2)
          } else {
            assert.isFalse(Exit.hasDies(exit))
            const error = yield* Effect.flip(llm.generate(asTeacher))
            assert.strictEqual(error._tag, "QuotaStoreUnavailable")
            assert.strictEqual((yield* stats("openai")).requests, 1)
          }
        }).pipe(Effect.provide(Bench)),
      20_000
    )
  }
})
