/**
 * How much undo work a Redis outage costs, and that it stays sound.
 *
 * Each test runs its own Redis on a spare port and kills or pauses it by pid.
 * The store sits, as a user may wire it, over a `Redis` of their own (here one
 * that counts the scripts the store runs on it) over `RedisConnection`.
 *
 * - A reservation refused because the client is offline never left the
 *   process: nothing may be undone for it, neither while Redis is down nor
 *   when it comes back (with or without `failOpen`).
 * - A reservation that timed out may have reached Redis and run later: it
 *   must still be undone, but the undos of an outage are one stream with
 *   backoff, not one retrying fiber per failed request.
 *
 * Real time: the command timeout (200 ms) and the waits below only let I/O
 * happen; the assertions count commands and units, never durations.
 */
import { type SubjectId } from "@baton/core/Ids"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RedisServer from "@baton/testing/RedisServer"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { Redis } from "effect/persistence"
import { createClient } from "redis"
import { freshSubject } from "../../core/test/QuotaLimiterBehaviour.ts"
import { eventually, liveWait } from "../../core/test/utils/chain.ts"
import * as RedisConnection from "../src/RedisConnection.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

const requests = 20
const timeout = "200 millis"

/** Scripts the store ran on the `Redis` it was given: reservations (7 parameters) and the rest (undos). */
interface Counts {
  reserves: number
  undos: number
}

/** A user's own `Redis` between the store and the connection: the same, counting the scripts it runs. */
const counted = (counts: Counts) =>
  Layer.effect(
    Redis.Redis,
    Effect.map(Effect.service(Redis.Redis), (redis): Redis.Redis["Service"] => ({
      ...redis,
      eval: (script) => {
        const run = redis.eval(script)
        return (...params) =>
          Effect.suspend(() => {
            if (params.length === 7) counts.reserves++
            else counts.undos++
            return run(...params)
          })
      }
    }))
  )

const stack = (url: string, counts: Counts, options: RedisQuotaStore.Options = {}) =>
  RedisQuotaStore.layerStore({ prefix: "baton-undo:", timeout, ...options }).pipe(
    Layer.provide(counted(counts)),
    Layer.provideMerge(RedisConnection.layer({ url, commandTimeout: timeout }))
  )

const limiter = (context: Context.Context<QuotaLimiter.QuotaStore>, failOpen: boolean) =>
  QuotaLimiter.make({ maxQuestionsPerRequest: 5, dailyLimit: 1_000, timeZone: "UTC", failOpen }).pipe(
    Effect.provideContext(context)
  )

/** `requests` generations at once for `subject`, each spending one unit. */
const burst = (quota: QuotaLimiter.Service, subject: SubjectId) =>
  Effect.forEach(
    Array.from({ length: requests }),
    () => Effect.exit(quota.withQuota(subject, 1, () => Effect.succeed("served"))),
    { concurrency: "unbounded" }
  )

/** How many times the server at `url` ran (or refused) `command`, from `INFO commandstats`. */
const commandCount = (url: string, command: string) =>
  Effect.promise(async () => {
    const client = createClient({ url, socket: { reconnectStrategy: false } })
    client.on("error", () => {})
    await client.connect()
    try {
      const stats = await client.info("commandstats")
      const line = stats.split("\n").find((row) => row.startsWith(`cmdstat_${command}:`)) ?? ""
      const field = (name: string) => Number(new RegExp(`[:,]${name}=(\\d+)`).exec(line)?.[1] ?? 0)
      return field("calls") + field("rejected_calls")
    } finally {
      client.destroy()
    }
  })

/** A fresh Redis, and a quota over the counting stack on it, for a fresh subject named after `name`. */
const setUp = (name: string, failOpen: boolean, options?: RedisQuotaStore.Options) =>
  Effect.gen(function*() {
    const server = yield* RedisServer.start
    const counts: Counts = { reserves: 0, undos: 0 }
    const context = yield* Layer.build(stack(server.url, counts, options))
    const quota = yield* limiter(context, failOpen)
    return { server, counts, context, quota, subject: freshSubject(name) }
  })

/**
 * {@link setUp}, failing closed, after one failed request for the subject:
 * its refund loads the undo script, so that every later undo is one EVALSHA.
 */
const afterRefund = (name: string, options?: RedisQuotaStore.Options) =>
  Effect.tap(
    setUp(name, false, options),
    ({ quota, subject }) => Effect.exit(quota.withQuota(subject, 1, () => Effect.fail("no")))
  )

/**
 * Pauses the server (resumed when the scope closes, if not before) and sends
 * a burst, all refused. `sent`: the reservations the burst attempted (all
 * but the one request made before it). `undosRun` reads how many scripts
 * the server has run since the pause, less those reservations.
 */
const burstWhilePaused = ({ counts, quota, server, subject }: Effect.Success<ReturnType<typeof setUp>>) =>
  Effect.gen(function*() {
    const scriptsBefore = yield* commandCount(server.url, "evalsha")
    yield* server.pause
    yield* Effect.addFinalizer(() => server.resume)
    const exits = yield* burst(quota, subject)
    assert.isTrue(exits.every(Exit.isFailure), "refused while Redis is paused")
    const sent = counts.reserves - 1
    const undosRun = Effect.map(commandCount(server.url, "evalsha"), (scripts) => scripts - scriptsBefore - sent)
    return { sent, undosRun }
  })

const used = (quota: QuotaLimiter.Service, subject: SubjectId) =>
  // right after an outage the connection may still be in its quiet window: report -1 then
  quota.remaining(subject).pipe(Effect.map((status) => status.used), Effect.orElseSucceed(() => -1))

describe.skipIf(!RedisTest.redisAvailable)("RedisQuotaStore undo during an outage", () => {
  for (const failOpen of [false, true]) {
    it.live(
      `reservations refused while the client is offline schedule no undo (${failOpen ? "failOpen" : "fail closed"})`,
      () =>
        Effect.gen(function*() {
          const { context, counts, quota, server, subject } = yield* setUp("offline", failOpen)
          yield* quota.withQuota(subject, 1, () => Effect.void)
          assert.deepStrictEqual(counts, { reserves: 1, undos: 0 })

          yield* server.kill
          const { client } = Context.get(context, NodeRedis.NodeRedis)
          yield* eventually(Effect.sync(() => !client.isReady))
          const exits = yield* burst(quota, subject)
          if (failOpen) {
            assert.isTrue(exits.every(Exit.isSuccess), "served without Redis")
          } else {
            assert.isTrue(exits.every(Exit.isFailure), "refused without Redis")
            assert.include(String(exits[0]), "QuotaStoreUnavailable")
          }
          assert.strictEqual(counts.reserves, 1 + requests, "each request tried to reserve once")
          // long enough for several rounds of any retry of an undo
          yield* liveWait(1_500)
          assert.strictEqual(counts.undos, 0, "no undo for a command that never left the process")

          yield* server.restart
          yield* eventually(Effect.sync(() => client.isReady), 10_000)
          yield* liveWait(1_000)
          assert.strictEqual(counts.undos, 0, "no undo once Redis is back either")
          assert.strictEqual(yield* commandCount(server.url, "evalsha"), 0, "the new server ran no script")
        }).pipe(Effect.scoped),
      30_000
    )
  }

  it.live(
    "reservations that timed out on a paused Redis: undone after it resumes, one undo stream with backoff meanwhile",
    () =>
      Effect.gen(function*() {
        const setup = yield* afterRefund("paused")
        const { counts, quota, server, subject } = setup
        assert.strictEqual(yield* used(quota, subject), 0)
        assert.deepStrictEqual(counts, { reserves: 1, undos: 1 })

        const { sent, undosRun } = yield* burstWhilePaused(setup)
        assert.isAbove(sent, 0)
        yield* liveWait(2_000)
        const undosWhilePaused = counts.undos - 1
        assert.isBelow(undosWhilePaused, sent, "fewer undo attempts during the pause than reservations to undo")

        yield* server.resume
        // the reservations written before the pause run now; each must be undone
        yield* eventually(Effect.map(used(quota, subject), (n) => n === 0), 15_000)
        const undos = yield* undosRun
        assert.isAtLeast(undos, sent, "each reservation undone")
        assert.isBelow(undos, 2 * sent, "about one undo per reservation, not one per retry")
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "at most maxPendingUndos undos wait: the rest are dropped and their late reservations stay charged",
    () =>
      Effect.gen(function*() {
        const kept = 5
        const setup = yield* afterRefund("bounded", { maxPendingUndos: kept })
        const { quota, server, subject } = setup

        const { sent, undosRun } = yield* burstWhilePaused(setup)
        assert.isAbove(sent, kept)
        yield* liveWait(1_000)
        yield* server.resume

        yield* eventually(Effect.map(used(quota, subject), (n) => n === sent - kept), 15_000)
        const undos = yield* undosRun
        assert.isAtLeast(undos, kept)
        assert.isBelow(undos, sent, "only the kept undos ran")
        yield* liveWait(1_000)
        assert.strictEqual(yield* used(quota, subject), sent - kept, "the dropped ones stay charged")
      }).pipe(Effect.scoped),
    30_000
  )
})
