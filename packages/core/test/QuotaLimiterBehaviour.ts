/**
 * The behaviour every `QuotaStore` must give the limiter, as one suite run
 * against the memory store here and against Redis in `@baton/redis`.
 *
 * Each test uses fresh subject ids, so a store shared by the whole suite (one
 * Redis connection, one key prefix) never leaks counts between tests. Time is
 * the `TestClock`, set to the instants under test.
 */
import { assert, type Vitest } from "@effect/vitest"
import { DateTime, Deferred, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { SubjectId } from "../src/Ids.ts"
import * as QuotaLimiter from "../src/QuotaLimiter.ts"
import * as TokenUsage from "../src/TokenUsage.ts"

/** A subject id no other test (or test run) uses. */
export const freshSubject = (name: string): SubjectId => SubjectId.make(`${name}-${crypto.randomUUID()}`)

/** Sets the `TestClock` to an ISO instant. */
export const setTime = (iso: string) => TestClock.setTime(DateTime.toEpochMillis(DateTime.makeUnsafe(iso)))

/** A limiter over the current store: 20 questions per request, 3 units a day in UTC unless overridden. */
export const limiter = (options: Partial<QuotaLimiter.Options> = {}) =>
  QuotaLimiter.make({ maxQuestionsPerRequest: 20, dailyLimit: 3, timeZone: "UTC", ...options })

const iso = (utc: DateTime.Utc) => DateTime.formatIso(utc)

const usage = (tokens: number, costNanoUsd: number) =>
  TokenUsage.make({ promptTokens: tokens - 1, completionTokens: 1 }, costNanoUsd, "model")

const exhaust = (quota: QuotaLimiter.Service, subject: SubjectId) =>
  Effect.gen(function*() {
    for (;;) {
      const result = yield* Effect.result(quota.reserve(subject))
      if (result._tag === "Failure") return result.failure
    }
  })

const resetsAtLocalMidnight = (zone: string, start: string, stillRefused: string, reset: string, hours: number) =>
  Effect.gen(function*() {
    const quota = yield* limiter({ timeZone: zone })
    const subject = freshSubject("zone")
    yield* setTime(start)
    const refused = yield* exhaust(quota, subject)
    assert.strictEqual(refused._tag, "RateLimitExceeded")
    if (refused._tag !== "RateLimitExceeded") return
    assert.strictEqual(iso(refused.resetsAt), reset)
    assert.strictEqual(
      DateTime.toEpochMillis(refused.resetsAt) - DateTime.toEpochMillis(DateTime.makeUnsafe(start)),
      hours * 3_600_000
    )
    yield* setTime(stillRefused)
    assert.strictEqual((yield* Effect.flip(quota.reserve(subject)))._tag, "RateLimitExceeded")
    yield* setTime(reset)
    const next = yield* quota.reserve(subject)
    assert.strictEqual(next.used, 1)
    assert.strictEqual(next.remaining, 2)
  })

/** The shared behaviour suite; `it` must provide a `QuotaStore`. */
export const quotaBehaviour = (it: Vitest.MethodsNonLive<QuotaLimiter.QuotaStore>) => {
  it.effect("grants up to the limit and refuses the next with the header fields", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter()
      const subject = freshSubject("teacher")
      const first = yield* quota.reserve(subject)
      const granted = [first, yield* quota.reserve(subject), yield* quota.reserve(subject)]
      assert.deepStrictEqual(granted.map((r) => [r.limit, r.used, r.remaining, r.units]), [
        [3, 1, 2, 1],
        [3, 2, 1, 1],
        [3, 3, 0, 1]
      ])
      assert.strictEqual(iso(first.resetsAt), "2026-05-11T00:00:00.000Z")
      const refused = yield* Effect.flip(quota.reserve(subject))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      if (refused._tag !== "RateLimitExceeded") return
      assert.strictEqual(refused.subjectId, subject)
      assert.strictEqual(refused.limit, 3)
      assert.strictEqual(refused.used, 3)
      assert.strictEqual(refused.remaining, 0)
      assert.isUndefined(refused.budget)
      assert.strictEqual(iso(refused.resetsAt), "2026-05-11T00:00:00.000Z")
      const status = yield* quota.remaining(subject)
      assert.deepStrictEqual([status.used, status.remaining], [3, 0])
    }))

  it.effect("charges several units at once and refuses what would cross the limit", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter()
      const subject = freshSubject("units")
      assert.strictEqual((yield* quota.reserve(subject, 2)).remaining, 1)
      const refused = yield* Effect.flip(quota.reserve(subject, 2))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      if (refused._tag !== "RateLimitExceeded") return
      assert.deepStrictEqual([refused.used, refused.remaining, refused.requested], [2, 1, 2])
      assert.include(refused.message, "(2 requested, 1 left)")
      assert.strictEqual((yield* quota.reserve(subject, 1)).remaining, 0)
    }))

  it.effect("remaining reads without reserving", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter()
      const subject = freshSubject("read")
      const before = yield* quota.remaining(subject)
      assert.deepStrictEqual([before.limit, before.used, before.remaining], [3, 0, 3])
      yield* quota.remaining(subject)
      assert.strictEqual((yield* quota.reserve(subject)).used, 1)
    }))

  it.effect("resets at midnight UTC", () =>
    resetsAtLocalMidnight(
      "UTC",
      "2026-05-10T00:00:00.000Z",
      "2026-05-10T23:59:59.999Z",
      "2026-05-11T00:00:00.000Z",
      24
    ))

  it.effect("resets at midnight in Asia/Tokyo (15:00 UTC)", () =>
    resetsAtLocalMidnight(
      "Asia/Tokyo",
      "2026-05-09T15:00:00.000Z",
      "2026-05-10T14:59:59.999Z",
      "2026-05-10T15:00:00.000Z",
      24
    ))

  it.effect("resets at midnight in America/New_York on the 23-hour day (2026-03-08)", () =>
    resetsAtLocalMidnight(
      "America/New_York",
      "2026-03-08T05:00:00.000Z",
      "2026-03-09T03:59:59.999Z",
      "2026-03-09T04:00:00.000Z",
      23
    ))

  it.effect("resets at midnight in America/New_York on the 25-hour day (2026-11-01)", () =>
    resetsAtLocalMidnight(
      "America/New_York",
      "2026-11-01T04:00:00.000Z",
      "2026-11-02T04:30:00.000Z",
      "2026-11-02T05:00:00.000Z",
      25
    ))

  it.effect("withQuota commits on success and refunds on failure and on a defect", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter()
      const subject = freshSubject("refund")
      const error = yield* Effect.flip(quota.withQuota(subject, 1, () => Effect.fail("provider down" as const)))
      assert.strictEqual(error, "provider down")
      assert.strictEqual((yield* quota.remaining(subject)).used, 0)
      yield* Effect.exit(quota.withQuota(subject, 2, () => Effect.die("bug")))
      assert.strictEqual((yield* quota.remaining(subject)).used, 0)
      const value = yield* quota.withQuota(subject, 1, (reservation) => Effect.succeed(reservation.remaining))
      assert.strictEqual(value, 2)
      assert.strictEqual((yield* quota.remaining(subject)).used, 1)
    }))

  it.effect("withQuota refunds when the request is interrupted", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter()
      const subject = freshSubject("interrupt")
      const started = yield* Deferred.make<boolean>()
      const fiber = yield* quota.withQuota(subject, 2, () =>
        Effect.andThen(Deferred.succeed(started, true), Effect.never))
        .pipe(Effect.forkChild)
      yield* Deferred.await(started)
      assert.strictEqual((yield* quota.remaining(subject)).used, 2)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual((yield* quota.remaining(subject)).used, 0)
    }))

  it.effect("withQuota does not reserve when the subject is out of quota", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter({ dailyLimit: 1 })
      const subject = freshSubject("out")
      yield* quota.withQuota(subject, 1, () => Effect.void)
      let ran = false
      const refused = yield* Effect.flip(quota.withQuota(subject, 1, () => Effect.sync(() => (ran = true))))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      assert.isFalse(ran)
      assert.strictEqual((yield* quota.remaining(subject)).used, 1)
    }))

  it.effect("commit and refund settle a reservation once", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter()
      const subject = freshSubject("once")
      const kept = yield* quota.reserve(subject)
      const dropped = yield* quota.reserve(subject)
      yield* dropped.refund
      yield* dropped.refund
      yield* dropped.commit()
      assert.strictEqual((yield* quota.remaining(subject)).used, 1)
      yield* kept.commit()
      yield* kept.refund
      assert.strictEqual((yield* quota.remaining(subject)).used, 1)
    }))

  it.effect("checks the per-request limit", () =>
    Effect.gen(function*() {
      const quota = yield* limiter({ maxQuestionsPerRequest: 20 })
      yield* quota.checkRequestSize(20)
      const error = yield* Effect.flip(quota.checkRequestSize(21))
      assert.strictEqual(error._tag, "TooManyQuestions")
      if (error._tag !== "TooManyQuestions") return
      assert.deepStrictEqual([error.requested, error.max], [21, 20])
    }))

  it.effect("applies per-subject overrides", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const premium = freshSubject("premium")
      const regular = freshSubject("regular")
      const quota = yield* limiter({ overrides: QuotaLimiter.overridesFromRecord({ [premium]: { daily: 5 } }) })
      const last = yield* Effect.forEach([1, 2, 3, 4, 5], () => quota.reserve(premium)).pipe(
        Effect.map((rs) => rs.at(-1))
      )
      assert.deepStrictEqual([last?.limit, last?.remaining], [5, 0])
      const refused = yield* Effect.flip(quota.reserve(premium))
      assert.strictEqual(refused._tag === "RateLimitExceeded" ? refused.limit : -1, 5)
      const regularRefused = yield* exhaust(quota, regular)
      assert.strictEqual(regularRefused._tag === "RateLimitExceeded" ? regularRefused.used : -1, 3)
    }))

  it.effect("charges the token budget with the usage at commit", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter({ dailyLimit: 100, dailyTokenBudget: 1_000 })
      const subject = freshSubject("tokens")
      yield* quota.withQuota(subject, 1, (reservation) => reservation.commit(usage(800, 0)))
      yield* quota.withQuota(subject, 1, (reservation) => reservation.commit(usage(300, 0)))
      const refused = yield* Effect.flip(quota.reserve(subject))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      if (refused._tag !== "RateLimitExceeded") return
      assert.deepStrictEqual([refused.budget, refused.limit, refused.used, refused.remaining], [
        "tokens",
        1_000,
        1_100,
        0
      ])
      assert.include(refused.message, "token budget")
      yield* setTime("2026-05-11T00:00:00Z")
      assert.strictEqual((yield* quota.reserve(subject)).used, 1)
    }))

  it.effect("charges the cost budget, and a refund charges nothing", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter({ dailyLimit: 100, dailyCostBudgetNanoUsd: 5_000_000 })
      const subject = freshSubject("cost")
      const failed = yield* quota.reserve(subject)
      yield* failed.refund
      yield* failed.commit(usage(10, 9_000_000))
      yield* quota.withQuota(subject, 1, (reservation) => reservation.commit(usage(10, 4_000_000)))
      yield* quota.reserve(subject)
      const spender = yield* quota.reserve(subject)
      yield* spender.commit(usage(10, 1_000_000))
      const refused = yield* Effect.flip(quota.reserve(subject))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      if (refused._tag !== "RateLimitExceeded") return
      assert.deepStrictEqual([refused.budget, refused.limit, refused.used], ["cost", 5_000_000, 5_000_000])
    }))

  it.effect("withQuota charges what was billed whether it commits or refunds", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter({ dailyLimit: 100, dailyTokenBudget: 1_000 })
      const subject = freshSubject("billed")
      const failed = yield* Effect.flip(quota.withQuota(subject, 1, (reservation) =>
        Effect.andThen(reservation.bill(usage(600, 0)), Effect.fail("provider down" as const))))
      assert.strictEqual(failed, "provider down")
      assert.strictEqual((yield* quota.remaining(subject)).used, 0)
      yield* quota.withQuota(subject, 2, (reservation) =>
        Effect.andThen(reservation.bill(usage(300, 0)), reservation.bill(usage(200, 0))))
      const refused = yield* Effect.flip(quota.reserve(subject))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      if (refused._tag !== "RateLimitExceeded") {
        return
      }
      assert.deepStrictEqual([refused.budget, refused.used], ["tokens", 1_100])
      assert.strictEqual((yield* quota.remaining(subject)).used, 2)
    }))

  it.effect("ignores usage when budgets are off", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const quota = yield* limiter({ dailyLimit: 3 })
      const subject = freshSubject("nobudget")
      yield* quota.withQuota(subject, 1, (reservation) => reservation.commit(usage(10_000_000, 10_000_000_000)))
      assert.strictEqual((yield* quota.reserve(subject)).remaining, 1)
    }))
}
