import { SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { afterAll, assert, describe, it, layer } from "@effect/vitest"
import { DateTime, Effect, Exit, Layer } from "effect"
import { Redis } from "effect/persistence"
import { freshSubject, limiter, quotaBehaviour, setTime } from "../../core/test/QuotaLimiterBehaviour.ts"
import { eventually, liveWait } from "../../core/test/utils/chain.ts"
import * as RedisQuotaStore from "../src/RedisQuotaStore.ts"
import * as RedisTest from "./redisTest.ts"

const prefix = RedisTest.uniquePrefix("quota")
const Store = RedisQuotaStore.layerStore({ prefix }).pipe(Layer.provideMerge(RedisTest.layer(prefix)))

describe.skipIf(!RedisTest.redisAvailable)("RedisQuotaStore", () => {
  afterAll(() => RedisTest.deleteKeys(prefix))

  layer(Store)("behaviour", quotaBehaviour)

  layer(Store)("keys", (it) => {
    it.effect("encodes hostile subject ids and expires each key an hour after local midnight", () =>
      Effect.gen(function*() {
        yield* setTime("2026-11-01T16:00:00Z")
        const quota = yield* limiter({ timeZone: "America/New_York" })
        const hostile = SubjectId.make(`x:{tag}* DEL *${crypto.randomUUID()}`) // control characters are refused at the door
        const lookalike = SubjectId.make(hostile.replace("x:", "x"))
        yield* quota.reserve(hostile)
        yield* quota.reserve(hostile)
        yield* quota.reserve(lookalike)
        const key = RedisQuotaStore.keyOf(prefix, { subjectId: hostile, day: "2026-11-01" })
        assert.match(key.slice(prefix.length), /^2026-11-01:[A-Za-z0-9_-]+$/)
        const { client } = yield* NodeRedis.NodeRedis
        const [units, ttl] = yield* Effect.promise(() => Promise.all([client.hGet(key, "units"), client.pTTL(key)]))
        assert.strictEqual(units, "2")
        const untilMidnight = DateTime.toEpochMillis(DateTime.makeUnsafe("2026-11-02T05:00:00Z")) -
          DateTime.toEpochMillis(DateTime.makeUnsafe("2026-11-01T16:00:00Z"))
        // the grace: a process whose clock runs ahead must not expire the day for the others
        const hour = 3_600_000
        assert.isAtMost(ttl, untilMidnight + hour)
        assert.isAbove(ttl, untilMidnight + hour - 60_000)
      }))

    it.effect("ids that differ only in a lone surrogate keep their own counters; ordinary ids keep their keys", () =>
      Effect.gen(function*() {
        yield* setTime("2026-05-10T10:00:00Z")
        const quota = yield* limiter()
        // `SubjectId` refuses a lone surrogate; one cast past it still gets a counter of its own (UTF-8 would turn
        // each lone surrogate into U+FFFD, and all three into one counter)
        assert.throws(() => SubjectId.make("t-\uD800"))
        const high = "t-\uD800" as SubjectId
        const low = "t-\uDC00" as SubjectId
        const replacement = SubjectId.make("t-\uFFFD")
        yield* quota.reserve(high)
        yield* quota.reserve(high)
        yield* quota.reserve(high)
        assert.strictEqual((yield* Effect.flip(quota.reserve(high)))._tag, "RateLimitExceeded")
        assert.strictEqual((yield* quota.remaining(low)).remaining, 3)
        assert.strictEqual((yield* quota.remaining(replacement)).remaining, 3)
        yield* quota.reserve(low)
        assert.strictEqual((yield* quota.remaining(low)).used, 1)
        assert.strictEqual((yield* quota.remaining(high)).used, 3)
        // an id without lone surrogates keeps the key it always had (base64url of its UTF-8): counters survive an upgrade
        const keys = ["teacher-42", "élève-7", "t-\uFFFD", "t-\u{1F600}"].map((id) =>
          RedisQuotaStore.keyOf("p:", { subjectId: SubjectId.make(id), day: "2026-05-10" })
        )
        assert.deepStrictEqual(keys, [
          "p:2026-05-10:dGVhY2hlci00Mg",
          "p:2026-05-10:w6lsw6h2ZS03",
          "p:2026-05-10:dC3vv70",
          "p:2026-05-10:dC3wn5iA"
        ])
      }))

    it.effect("a process whose clock runs ahead neither expires nor shortens the others' counter of the day", () =>
      Effect.gen(function*() {
        const subject = freshSubject("skew")
        const key = RedisQuotaStore.keyOf(prefix, { subjectId: subject, day: "2026-05-10" })
        const { client } = yield* NodeRedis.NodeRedis
        // this process: 21:59:50 UTC, two units of three spent
        yield* setTime("2026-05-10T21:59:50Z")
        const quota = yield* limiter()
        yield* quota.reserve(subject)
        yield* quota.reserve(subject)
        // another process, its clock two hours ahead: for it, midnight is 1 ms away
        yield* setTime("2026-05-10T23:59:59.999Z")
        const ahead = yield* limiter()
        yield* ahead.reserve(subject)
        yield* liveWait(50)
        // back here, the day has two hours to go and its limit is spent
        yield* setTime("2026-05-10T21:59:51Z")
        assert.strictEqual((yield* quota.remaining(subject)).used, 3)
        assert.strictEqual((yield* Effect.flip(quota.reserve(subject)))._tag, "RateLimitExceeded")
        const ttl = yield* Effect.promise(() => client.pTTL(key))
        assert.isAtLeast(ttl, 2 * 3_600_000, "the counter outlives this process's midnight")
      }))
  })

  layer(Store)("fields", (it) => {
    it.effect("reserving and refunding or committing all day leaves at most one field per unit held", () =>
      Effect.gen(function*() {
        yield* setTime("2026-05-10T10:00:00Z")
        const quota = yield* limiter({ dailyLimit: 5 })
        const subject = freshSubject("churn")
        const key = RedisQuotaStore.keyOf(prefix, { subjectId: subject, day: "2026-05-10" })
        const { client } = yield* NodeRedis.NodeRedis
        // a client that starts and cancels requests, or a provider that fails: each reservation is refunded
        for (let i = 0; i < 300; i++) {
          const exit = yield* Effect.exit(quota.withQuota(subject, 1, () => Effect.fail("provider failed")))
          assert.isTrue(Exit.isFailure(exit))
        }
        for (let i = 0; i < 300; i++) {
          yield* Effect.exit(quota.withQuota(subject, 1, () => Effect.succeed("served")))
        }
        assert.strictEqual((yield* quota.remaining(subject)).used, 5)
        const fields = yield* Effect.promise(() => client.hKeys(key))
        // units (tokens and cost only once charged) and the five committed reservations
        assert.isAtMost(fields.length, 3 + 5)
      }))

    it.effect("a refund repeated after a lost reply refunds once and leaves no field", () =>
      Effect.gen(function*() {
        const store = yield* QuotaLimiter.QuotaStore
        const { client } = yield* NodeRedis.NodeRedis
        const key = { subjectId: freshSubject("twice"), day: "2026-05-10" }
        const reserve = Effect.flatMap(
          Effect.suspend(() => store.reserve({ key, units: 2, limits: { daily: 10 }, expiresInMillis: 60_000 })),
          (outcome) =>
            outcome._tag === "Reserved" && outcome.reservation !== undefined
              ? Effect.succeed(outcome.reservation)
              : Effect.die(`not reserved: ${JSON.stringify(outcome)}`)
        )
        const kept = yield* reserve
        const refunded = yield* reserve
        yield* store.refund({ key, units: 2, reservation: refunded })
        yield* store.refund({ key, units: 2, reservation: refunded })
        assert.strictEqual((yield* store.usage(key)).units, 2)
        const fields = yield* Effect.promise(() => client.hKeys(RedisQuotaStore.keyOf(prefix, key)))
        assert.sameMembers(fields, [`r:${kept}`, "units"])
      }))
  })

  it.live("a reservation whose reply never came is undone: run after its undo, it spends nothing", () =>
    Effect.gen(function*() {
      const redis = yield* Redis.Redis
      const { client } = yield* NodeRedis.NodeRedis
      // the first reservation reaches no Redis yet and its reply is lost: it is kept here, to run late
      const lost: Array<{ readonly id: string; readonly run: Effect.Effect<unknown, Redis.RedisError> }> = []
      const lossy: Redis.Redis["Service"] = {
        ...redis,
        eval: (script) => {
          const run = redis.eval(script)
          return (...params) =>
            params.length === 7 && lost.length === 0
              ? Effect.suspend(() => {
                lost.push({ id: String(params[6]), run: run(...params) })
                return Effect.fail(new Redis.RedisError({ cause: new Error("reply lost") }))
              })
              : run(...params)
        }
      }
      const store = yield* Effect.provideService(RedisQuotaStore.makeStore({ prefix }), Redis.Redis, lossy)
      const quota = yield* Effect.provideService(limiter(), QuotaLimiter.QuotaStore, store)
      const subject = freshSubject("late")
      const day = DateTime.formatIsoDate(yield* DateTime.now)
      const key = RedisQuotaStore.keyOf(prefix, { subjectId: subject, day })
      assert.strictEqual((yield* Effect.flip(quota.reserve(subject)))._tag, "QuotaStoreUnavailable")
      const [late] = lost
      if (late === undefined) return assert.fail("the reservation was not sent")
      const { id, run } = late
      // the undo runs in the background and marks the reservation
      yield* eventually(Effect.map(Effect.promise(() => client.hGet(key, `r:${id}`)), (mark) => mark === "x"))
      assert.deepStrictEqual(yield* run, [4, 0, 0, 0])
      assert.strictEqual((yield* quota.remaining(subject)).used, 0)
      // the mark stays, so the reservation does nothing however late it runs
      assert.strictEqual(yield* Effect.promise(() => client.hGet(key, `r:${id}`)), "x")
      assert.deepStrictEqual(yield* run, [4, 0, 0, 0])
    }).pipe(Effect.provide(RedisTest.layer(prefix), { local: true }), Effect.scoped))

  it.effect("fails closed, or open when configured, once Redis is gone", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const closed = yield* limiter()
      const open = yield* limiter({ failOpen: true })
      const { client } = yield* NodeRedis.NodeRedis
      const subject = freshSubject("gone")
      yield* closed.reserve(subject)
      client.destroy()
      const error = yield* Effect.flip(closed.withQuota(subject, 1, () => Effect.void))
      assert.strictEqual(error._tag, "QuotaStoreUnavailable")
      assert.include(error.message, "Redis")
      assert.strictEqual((yield* Effect.flip(closed.remaining(subject)))._tag, "QuotaStoreUnavailable")
      assert.strictEqual(yield* open.withQuota(subject, 1, () => Effect.succeed("served")), "served")
    }).pipe(Effect.provide(Store, { local: true })))

  it.live("layerConfig reads REDIS_URL and the limits from LlmConfig", () =>
    Effect.gen(function*() {
      const quota = yield* QuotaLimiter.QuotaLimiter
      const subject = freshSubject("config")
      assert.strictEqual((yield* quota.reserve(subject)).limit, 7)
      yield* (yield* quota.reserve(subject)).refund
      assert.strictEqual((yield* quota.remaining(subject)).used, 1)
    }).pipe(Effect.provide(
      RedisQuotaStore.layerConfig({ prefix }).pipe(Layer.provide(LlmConfig.layerFromRecord({
        DEEPSEEK_API_KEY: "sk-test",
        GEMINI_API_KEY: "g-test",
        AI_DAILY_LIMIT_PER_TEACHER: "7",
        REDIS_URL: RedisTest.redisUrl
      })))
    )))

  it.effect("layerConfig names REDIS_URL when it is missing or unreachable", () =>
    Effect.gen(function*() {
      const build = (variables: Record<string, string>) =>
        Effect.flip(Effect.provide(
          QuotaLimiter.QuotaLimiter.use(() => Effect.void),
          RedisQuotaStore.layerConfig().pipe(Layer.provide(LlmConfig.layerFromRecord({
            DEEPSEEK_API_KEY: "sk-test",
            GEMINI_API_KEY: "g-test",
            ...variables
          })))
        ))
      const missing = yield* build({})
      assert.strictEqual(missing._tag, "LlmConfigError")
      assert.include(missing.message, "REDIS_URL")
      const unreachable = yield* build({ REDIS_URL: "redis://127.0.0.1:1" })
      assert.strictEqual(unreachable._tag, "QuotaStoreUnavailable")
      assert.include(unreachable.message, "REDIS_URL")
    }))
})
