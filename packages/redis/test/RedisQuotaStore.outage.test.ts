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
import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { connect, createServer } from "node:net"
import { Bench, eventually, manager, stats } from "../../core/test/utils/chain.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

const sparePort = Effect.promise(() =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => {
        resolve(typeof address === "object" && address !== null ? address.port : 0)
      })
    })
  })
)

/** A redis-server on a spare port, without persistence, stopped by its pid when the scope closes. */
const ownRedis = Effect.gen(function*() {
  const port = yield* sparePort
  const child = yield* Effect.acquireRelease(
    Effect.sync((): ChildProcess =>
      spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], { stdio: "ignore" })
    ),
    (child) => Effect.sync(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid))
  )
  return { url: `redis://127.0.0.1:${port}`, port, child }
})

/** True once something accepts connections on `port`. */
const accepts = (port: number) =>
  Effect.promise(() =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1")
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => {
        resolve(false)
      })
    })
  )

const teacher = SubjectId.make("teacher-outage")
const asTeacher = { prompt: "Name a planet.", metadata: { subjectId: teacher } }

describe.skipIf(!RedisTest.redisAvailable)("RedisQuotaStore outage through the manager", () => {
  for (const failOpen of [false, true]) {
    it.live(
      `Redis dies between two requests: ${failOpen ? "served (failOpen)" : "QuotaStoreUnavailable"}`,
      () =>
        Effect.gen(function*() {
          const redis = yield* ownRedis
          yield* eventually(accepts(redis.port))
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

          if (redis.child.pid !== undefined) process.kill(redis.child.pid)
          yield* eventually(Effect.sync(() => redis.child.exitCode !== null || redis.child.signalCode !== null))

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
