import { assert, describe, it, layer } from "@effect/vitest"
import { DateTime, Effect, Exit, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { SubjectId } from "../src/Ids.ts"
import * as LlmConfig from "../src/LlmConfig.ts"
import { QuotaStoreUnavailable, RateLimitExceeded } from "../src/LlmError.ts"
import * as QuotaLimiter from "../src/QuotaLimiter.ts"
import { freshSubject, limiter, quotaBehaviour, setTime } from "./QuotaLimiterBehaviour.ts"

layer(QuotaLimiter.layerStoreMemory)("QuotaLimiter (memory store)", quotaBehaviour)

const down = new QuotaStoreUnavailable({ message: "connection refused" })

/** A store whose every call fails, as Redis does when it is unreachable. */
const unreachable = Layer.succeed(
  QuotaLimiter.QuotaStore,
  QuotaLimiter.QuotaStore.of({
    reserve: () => Effect.fail(down),
    refund: () => Effect.fail(down),
    charge: () => Effect.fail(down),
    usage: () => Effect.fail(down)
  })
)

describe("QuotaLimiter", () => {
  it.effect("the memory store drops a day's counters once the day is over", () =>
    Effect.gen(function*() {
      const store = yield* QuotaLimiter.makeStoreMemory
      const quota = yield* limiter().pipe(Effect.provideService(QuotaLimiter.QuotaStore, store))
      yield* setTime("2026-05-10T23:00:00Z")
      yield* Effect.forEach(["a", "b", "c"], (name) => quota.reserve(freshSubject(name)))
      assert.strictEqual(yield* store.size, 3)
      yield* setTime("2026-05-11T00:00:00Z")
      yield* quota.reserve(freshSubject("d"))
      assert.strictEqual(yield* store.size, 1)
    }))

  it.effect("reads its limits from LlmConfig", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T14:00:00Z")
      const quota = yield* QuotaLimiter.QuotaLimiter
      const subject = freshSubject("config")
      const first = yield* quota.reserve(subject)
      assert.strictEqual(first.limit, 2)
      assert.strictEqual(DateTime.formatIso(first.resetsAt), "2026-05-10T15:00:00.000Z")
      const error = yield* Effect.flip(quota.checkRequestSize(6))
      assert.strictEqual(error._tag === "TooManyQuestions" ? error.max : error._tag, 5)
    }).pipe(Effect.provide(
      QuotaLimiter.layerMemory().pipe(Layer.provide(LlmConfig.layerFromRecord({
        DEEPSEEK_API_KEY: "sk-test",
        GEMINI_API_KEY: "g-test",
        AI_DAILY_LIMIT_PER_TEACHER: "2",
        AI_MAX_QUESTIONS_PER_REQUEST: "5",
        AI_QUOTA_TIMEZONE: "Asia/Tokyo"
      })))
    )))

  it.effect("rejects options that cannot work, naming what to fix", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Partial<QuotaLimiter.Options>, string]> = [
        [{ dailyLimit: 0 }, "AI_DAILY_LIMIT_PER_TEACHER"],
        [{ maxQuestionsPerRequest: 1.5 }, "AI_MAX_QUESTIONS_PER_REQUEST"],
        [{ dailyTokenBudget: -1 }, "QuotaLimiter.dailyTokenBudget"],
        [{ timeZone: "Mars/Olympus" }, "AI_QUOTA_TIMEZONE"]
      ]
      for (const [options, variable] of cases) {
        const error = yield* Effect.flip(limiter(options).pipe(Effect.provide(QuotaLimiter.layerStoreMemory)))
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, variable)
        assert.include(error.message, variable)
      }
    }))

  it.effect("questions and units that are not a positive integer are typed errors saying why, never defects", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter().pipe(Effect.provide(QuotaLimiter.layerStoreMemory))
      const subject = freshSubject("bad-units")
      // why, as a request's metadata.units is refused
      const range = "Expected a value between 1 and 9007199254740991"
      const finite = "Expected a finite number"
      const cases = [
        [Number.NaN, finite],
        [-1, range],
        [0, range],
        [1.5, "Expected an integer"],
        [21.5, "Expected an integer"],
        [Number.POSITIVE_INFINITY, finite],
        [1e20, range], // a whole number, out of range: not "must be a positive integer"
        [1e300, range]
      ] as const
      for (const [value, why] of cases) {
        const size = yield* Effect.flip(quota.checkRequestSize(value))
        assert.deepStrictEqual([size._tag, size._tag === "InvalidOptions" ? size.field : ""], [
          "InvalidOptions",
          "questions"
        ])
        assert.include(size.message, `questions: ${why}, got ${String(value)}`)
        const reserved = yield* Effect.flip(quota.reserve(subject, value))
        assert.deepStrictEqual([reserved._tag, reserved._tag === "InvalidOptions" ? reserved.field : ""], [
          "InvalidOptions",
          "units"
        ])
        let ran = false
        const spent = yield* Effect.flip(quota.withQuota(subject, value, () => Effect.sync(() => (ran = true))))
        assert.strictEqual(spent._tag, "InvalidOptions")
        assert.include(spent.message, `units: ${why}, got ${String(value)}`)
        assert.isFalse(ran)
      }
      assert.strictEqual((yield* quota.remaining(subject)).used, 0)
    }))

  it.effect("an override that is not a positive integer is refused under failOpen too: no store is down", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      // 0 meant as "blocked": failing open would let the subject through unlimited
      const subject = freshSubject("blocked")
      const quota = yield* limiter({
        failOpen: true,
        overrides: QuotaLimiter.overridesFromRecord({ [subject]: { daily: 0 } })
      }).pipe(Effect.provide(QuotaLimiter.layerStoreMemory))
      for (let i = 0; i < 3; i++) {
        const refused = yield* Effect.flip(quota.withQuota(subject, 1, () => Effect.void))
        assert.strictEqual(refused._tag, "QuotaStoreUnavailable")
        assert.include(refused.message, "QuotaLimiter.overrides.daily: must be a positive integer, got 0")
        assert.strictEqual((yield* Effect.flip(quota.remaining(subject)))._tag, "QuotaStoreUnavailable")
      }
    }))

  it.effect("an override that is not a positive integer, or a lookup that fails, is a typed error", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const subject = freshSubject("override")
      const cases: ReadonlyArray<readonly [Partial<QuotaLimiter.Limits>, string]> = [
        [{ daily: 2.5 }, "QuotaLimiter.overrides.daily"],
        [{ daily: Number.NaN }, "QuotaLimiter.overrides.daily"],
        [{ daily: -1 }, "QuotaLimiter.overrides.daily"],
        [{ dailyTokens: 0.5 }, "QuotaLimiter.overrides.dailyTokens"],
        [{ dailyCostNanoUsd: Number.POSITIVE_INFINITY }, "QuotaLimiter.overrides.dailyCostNanoUsd"]
      ]
      for (const [override, field] of cases) {
        const quota = yield* limiter({ overrides: QuotaLimiter.overridesFromRecord({ [subject]: override }) }).pipe(
          Effect.provide(QuotaLimiter.layerStoreMemory)
        )
        for (let i = 0; i < 4; i++) {
          // the operator's data is wrong, not the caller's request: the server's fault, as a lookup that fails
          const error = yield* Effect.flip(quota.reserve(subject))
          assert.strictEqual(error._tag, "QuotaStoreUnavailable")
          assert.include(error.message, `${field}: must be a positive integer`)
        }
        assert.strictEqual((yield* Effect.flip(quota.remaining(subject)))._tag, "QuotaStoreUnavailable")
      }
      const lookupDown = yield* limiter({ overrides: () => Effect.fail(down) }).pipe(
        Effect.provide(QuotaLimiter.layerStoreMemory)
      )
      assert.strictEqual(
        (yield* Effect.flip(lookupDown.withQuota(subject, 1, () => Effect.void)))._tag,
        "QuotaStoreUnavailable"
      )
    }))

  it.effect("an override looked up by an effect that has to run (a store, not a record) applies as one from a record", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const subject = freshSubject("looked-up")
      const record = QuotaLimiter.overridesFromRecord({ [subject]: { daily: 2 } })
      const quota = yield* limiter({ overrides: (id) => Effect.andThen(Effect.yieldNow, record(id)) }).pipe(
        Effect.provide(QuotaLimiter.layerStoreMemory)
      )
      assert.strictEqual((yield* quota.reserve(subject)).limit, 2)
      yield* quota.reserve(subject)
      const refused = yield* Effect.flip(quota.reserve(subject))
      assert.deepStrictEqual([refused._tag, refused._tag === "RateLimitExceeded" ? refused.limit : -1], [
        "RateLimitExceeded",
        2
      ])
    }))

  it.effect("an override lookup answering with no Option (from untyped code) is a defect of the reservation, not a throw", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      // what a JavaScript caller could pass: the value must be an Option
      const overrides = (() => Effect.succeed(undefined)) as unknown as QuotaLimiter.Options["overrides"]
      const quota = yield* limiter({ overrides }).pipe(Effect.provide(QuotaLimiter.layerStoreMemory))
      // built without a throw (a caller's `try` would otherwise see one), failing as a defect when run
      let reserve: ReturnType<typeof quota.reserve> = Effect.die("not built")
      assert.doesNotThrow(() => (reserve = quota.reserve(freshSubject("untyped"))))
      const exit = yield* Effect.exit(reserve)
      assert.isTrue(Exit.hasDies(exit))
    }))

  it.effect("fails closed when the store is unreachable", () =>
    Effect.gen(function*() {
      const quota = yield* limiter().pipe(Effect.provide(unreachable))
      const subject = SubjectId.make("teacher-1")
      let ran = false
      const error = yield* Effect.flip(quota.withQuota(subject, 1, () => Effect.sync(() => (ran = true))))
      assert.strictEqual(error._tag, "QuotaStoreUnavailable")
      assert.isFalse(ran)
      assert.strictEqual((yield* Effect.flip(quota.remaining(subject)))._tag, "QuotaStoreUnavailable")
    }))

  it.effect("fails open when configured, and never fails a commit or a refund", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter({ failOpen: true, dailyTokenBudget: 10 }).pipe(Effect.provide(unreachable))
      const subject = SubjectId.make("teacher-1")
      const value = yield* quota.withQuota(subject, 1, (reservation) => Effect.succeed(reservation.remaining))
      assert.strictEqual(value, 3)
      const reservation = yield* quota.reserve(subject)
      yield* reservation.commit()
      assert.strictEqual((yield* quota.remaining(subject)).remaining, 3)
    }))

  it.effect("an outage under failOpen warns once per 10 seconds, counting the requests let through meanwhile", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
      })
      const quota = yield* limiter({ failOpen: true }).pipe(Effect.provide(unreachable))
      const requests = (n: number) =>
        Effect.forEach(
          Array.from({ length: n }, (_, i) => SubjectId.make(`teacher-${i}`)),
          (subject) => quota.withQuota(subject, 1, () => Effect.void)
        ).pipe(Effect.provide(Logger.layer([capture])))
      yield* requests(50)
      assert.deepStrictEqual(warnings, ["quota store unavailable; failing open"])
      yield* TestClock.adjust("10 seconds")
      yield* requests(1)
      assert.deepStrictEqual(warnings.slice(1), [
        "quota store unavailable; failing open (49 more since the last warning)"
      ])
    }))

  it.effect("fails open when the overrides' lookup is down too: the request runs and nothing is held", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter({ failOpen: true, overrides: () => Effect.fail(down) }).pipe(
        Effect.provide(QuotaLimiter.layerStoreMemory)
      )
      const subject = SubjectId.make("teacher-1")
      const value = yield* quota.withQuota(subject, 1, (reservation) => Effect.succeed(reservation.remaining))
      assert.strictEqual(value, 3)
      assert.deepStrictEqual(
        [(yield* quota.remaining(subject)).used, (yield* quota.remaining(subject)).limit],
        [0, 3]
      )
    }))

  it.effect("a refund the store cannot take is logged, not raised", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const store = yield* QuotaLimiter.makeStoreMemory
      const flaky = QuotaLimiter.QuotaStore.of({ ...store, refund: () => Effect.fail(down) })
      const quota = yield* limiter().pipe(Effect.provideService(QuotaLimiter.QuotaStore, flaky))
      const subject = SubjectId.make("teacher-1")
      const exit = yield* Effect.exit(quota.withQuota(subject, 1, () => Effect.fail("boom")))
      assert.deepStrictEqual(exit, Exit.fail("boom"))
      assert.strictEqual((yield* quota.remaining(subject)).used, 1)
    }))
})

describe("QuotaLimiter.rateLimitHeaders", () => {
  const now = DateTime.makeUnsafe("2026-05-10T22:00:00.250Z")
  const resetsAt = DateTime.makeUnsafe("2026-05-11T00:00:00Z")
  const subjectId = SubjectId.make("teacher-1")

  it("turns a status into RateLimit headers, seconds rounded up", () => {
    assert.deepStrictEqual(
      QuotaLimiter.rateLimitHeaders({ subjectId, limit: 100, used: 40, remaining: 60, resetsAt }, now),
      { "RateLimit-Limit": "100", "RateLimit-Remaining": "60", "RateLimit-Reset": "7200" }
    )
  })

  it("adds Retry-After to a refusal", () => {
    const error = new RateLimitExceeded({ subjectId, limit: 100, used: 100, remaining: 0, resetsAt })
    assert.deepStrictEqual(QuotaLimiter.rateLimitHeaders(error, now), {
      "RateLimit-Limit": "100",
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": "7200",
      "Retry-After": "7200"
    })
  })

  it("a budget refusal keeps RateLimit-* in units: no limit, nothing remaining until the reset", () => {
    const error = new RateLimitExceeded({
      subjectId,
      limit: 1_000_000,
      used: 1_000_200,
      remaining: 0,
      resetsAt,
      budget: "tokens"
    })
    assert.deepStrictEqual(QuotaLimiter.rateLimitHeaders(error, now), {
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": "7200",
      "Retry-After": "7200"
    })
  })

  it("never reports a negative reset", () => {
    const late = DateTime.makeUnsafe("2026-05-11T00:00:05Z")
    const headers = QuotaLimiter.rateLimitHeaders({ subjectId, limit: 1, used: 0, remaining: 1, resetsAt }, late)
    assert.strictEqual(headers["RateLimit-Reset"], "0")
  })
})
