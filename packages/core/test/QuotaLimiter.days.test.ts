/**
 * The quota day against real zone rules: a day ends at the first instant of
 * the next local date, also where a skipped hour is the last one of a day
 * (America/Nuuk jumps from 23:00 to 00:00), on 23- and 25-hour days and at
 * offsets that are not whole hours. The limiter and the manager run on the
 * `TestClock`; the expected days come from `Intl`, not from `effect/DateTime`.
 */
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect } from "effect"
import { SubjectId } from "../src/Ids.ts"
import * as QuotaLimiter from "../src/QuotaLimiter.ts"
import { freshSubject, limiter, setTime } from "./QuotaLimiterBehaviour.ts"
import { Bench, managerWithQuota } from "./utils/chain.ts"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const iso = (utc: DateTime.Utc) => DateTime.formatIso(utc)

/** The local date of an instant, `YYYY-MM-DD`, straight from `Intl`. */
const localDate = (zone: string) => {
  const format = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
  return (millis: number) => format.format(millis)
}

const nextDate = (date: string) => new Date(Date.parse(date) + DAY).toISOString().slice(0, 10)

/**
 * What is wrong with `dayOf` at each instant from `from` to `to` in steps of
 * `step`: the day is not the local date, or `resetsAt` is not the first
 * instant of the next local date.
 */
const wrongDays = (zoneId: string, from: number, to: number, step: number): Array<string> => {
  const zone = DateTime.zoneMakeNamedUnsafe(zoneId)
  const dateAt = localDate(zoneId)
  const wrong: Array<string> = []
  for (let millis = from; millis <= to; millis += step) {
    const { day, expiresInMillis, resetsAt } = QuotaLimiter.dayOf(DateTime.makeUnsafe(millis), zone)
    const reset = DateTime.toEpochMillis(resetsAt)
    const today = dateAt(millis)
    const ok = day === today && reset > millis && expiresInMillis === reset - millis &&
      dateAt(reset - 1) === today && dateAt(reset) === nextDate(today)
    if (!ok) wrong.push(`${zoneId} at ${new Date(millis).toISOString()}: ${day}, resets at ${iso(resetsAt)}`)
  }
  return wrong
}

/** The first instant (to the minute) of each offset change in 2025: a day-by-day scan, then a bisection. */
const transitions2025 = (zone: string): Array<number> => {
  const format = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })
  const offset = (millis: number) => format.formatToParts(millis).find((part) => part.type === "timeZoneName")?.value
  const found: Array<number> = []
  const end = Date.UTC(2026, 0, 1)
  let before = offset(Date.UTC(2025, 0, 1))
  for (let day = Date.UTC(2025, 0, 1); day < end; day += DAY) {
    const after = offset(day + DAY)
    if (after !== before) {
      let [low, high] = [day, day + DAY]
      while (high - low > MINUTE) {
        const middle = low + Math.floor((high - low) / 2 / MINUTE) * MINUTE
        if (offset(middle) === before) low = middle
        else high = middle
      }
      found.push(high)
    }
    before = after
  }
  return found
}

const subject = SubjectId.make("teacher-nuuk")

describe("QuotaLimiter days", () => {
  it.effect("America/Nuuk: spent at 23:30 the day before the 23:00 jump, the quota resets at midnight and serves the next day", () =>
    Effect.gen(function*() {
      yield* setTime("2025-03-29T01:30:00Z") // 2025-03-28 23:30 -02
      const quota = yield* limiter({ dailyLimit: 2, timeZone: "America/Nuuk" })
      const teacher = freshSubject("nuuk")
      yield* quota.reserve(teacher)
      yield* quota.reserve(teacher)
      const refused = yield* Effect.flip(quota.reserve(teacher))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      if (refused._tag !== "RateLimitExceeded") return
      assert.strictEqual(iso(refused.resetsAt), "2025-03-29T02:00:00.000Z") // 2025-03-29 00:00 -02
      const now = DateTime.makeUnsafe("2025-03-29T01:30:00Z")
      assert.strictEqual(QuotaLimiter.rateLimitHeaders(refused, now)["Retry-After"], "1800")

      yield* setTime("2025-03-29T14:00:00Z") // 2025-03-29 12:00 -02
      const next = yield* quota.reserve(teacher)
      // 2025-03-30 00:00 -01: the instant the clocks jump from 23:00
      assert.deepStrictEqual([next.used, next.remaining, iso(next.resetsAt)], [1, 1, "2025-03-30T01:00:00.000Z"])
      yield* setTime("2025-03-30T00:59:59.999Z")
      assert.strictEqual((yield* quota.reserve(teacher)).used, 2)
      yield* setTime("2025-03-30T01:00:00.000Z")
      assert.strictEqual((yield* quota.reserve(teacher)).used, 1)
    }).pipe(Effect.provide(QuotaLimiter.layerStoreMemory)))

  it.effect("America/Nuuk through the manager: a teacher out of units at 23:30 is served the next local day", () =>
    Effect.gen(function*() {
      yield* setTime("2025-03-29T01:30:00Z")
      const { llm } = yield* managerWithQuota({ dailyLimit: 1, timeZone: "America/Nuuk" }, { chain: ["openai"] })
      const request = { prompt: "Write one quiz question about the moon.", metadata: { subjectId: subject } }
      yield* llm.generate(request)
      const refused = yield* Effect.flip(llm.generate(request))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      if (refused._tag !== "RateLimitExceeded") return
      assert.strictEqual(iso(refused.resetsAt), "2025-03-29T02:00:00.000Z")
      yield* setTime("2025-03-29T14:00:00Z")
      assert.strictEqual((yield* llm.generate(request)).provider, "openai")
    }).pipe(Effect.provide(Bench)))

  // Intl over every zone: about 5 s alone, longer while other suites load the machine
  it("in every IANA zone, around every offset change of 2025, a day ends at the first instant of the next date", () => {
    assert.deepStrictEqual(transitions2025("Europe/Paris").map((at) => new Date(at).toISOString()), [
      "2025-03-30T01:00:00.000Z",
      "2025-10-26T01:00:00.000Z"
    ])
    const wrong = Intl.supportedValuesOf("timeZone").flatMap((zone) =>
      transitions2025(zone).flatMap((at) => wrongDays(zone, at - 2 * DAY, at + DAY, 30 * MINUTE))
    )
    assert.deepStrictEqual(wrong.slice(0, 10), [])
  }, 60_000)

  it("a skipped midnight (Africa/Cairo jumps from 00:00 to 01:00 on 2025-04-25): the day starts when the clocks jump", () => {
    const cairo = DateTime.zoneMakeNamedUnsafe("Africa/Cairo")
    const { resetsAt } = QuotaLimiter.dayOf(DateTime.makeUnsafe("2025-04-24T12:00:00Z"), cairo)
    assert.strictEqual(iso(resetsAt), "2025-04-24T22:00:00.000Z") // 00:00 +02, shown as 01:00 +03
    assert.deepStrictEqual(wrongDays("Africa/Cairo", Date.UTC(2025, 3, 23), Date.UTC(2025, 3, 26), 15 * MINUTE), [])
  })

  it("offsets of half and quarter hours: the day ends at local midnight", () => {
    const resets = (zone: string, now: string) =>
      iso(QuotaLimiter.dayOf(DateTime.makeUnsafe(now), DateTime.zoneMakeNamedUnsafe(zone)).resetsAt)
    assert.deepStrictEqual(
      [
        resets("Asia/Kolkata", "2025-06-01T12:00:00Z"),
        resets("Asia/Kathmandu", "2025-06-01T12:00:00Z"),
        resets("Pacific/Chatham", "2025-06-01T06:00:00Z"),
        resets("Australia/Lord_Howe", "2025-06-01T06:00:00Z"),
        // the 25-hour day of Pacific/Chatham (+13:45 to +12:45) and the 24.5-hour one of Australia/Lord_Howe (+11 to +10:30)
        resets("Pacific/Chatham", "2025-04-05T10:15:00Z"),
        resets("Australia/Lord_Howe", "2025-04-05T13:00:00Z")
      ],
      [
        "2025-06-01T18:30:00.000Z",
        "2025-06-01T18:15:00.000Z",
        "2025-06-01T11:15:00.000Z",
        "2025-06-01T13:30:00.000Z",
        "2025-04-06T11:15:00.000Z",
        "2025-04-06T13:30:00.000Z"
      ]
    )
    const wrong = ["Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham", "Australia/Lord_Howe"].flatMap((zone) => [
      ...wrongDays(zone, Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 3), 15 * MINUTE),
      ...transitions2025(zone).flatMap((at) => wrongDays(zone, at - 2 * DAY, at + DAY, 15 * MINUTE))
    ])
    assert.deepStrictEqual(wrong, [])
  })
})
