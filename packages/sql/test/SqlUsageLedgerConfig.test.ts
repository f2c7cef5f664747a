/**
 * `SqlUsageLedger.layerFromConfig`: the ledger's days are the quota's days
 * (`AI_QUOTA_TIMEZONE`), whichever store the configuration picks.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as LlmConfig from "../../core/src/LlmConfig.ts"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import { stories, teacher1 } from "../../core/test/RequestLog.fixtures.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"

const keys = { DEEPSEEK_API_KEY: "sk-deepseek", GEMINI_API_KEY: "g-key" }

/** 12:00 UTC on 7 March 2026: already 02:00 on 8 March in Kiritimati (UTC+14). */
const noonUtc = Date.UTC(2026, 2, 7, 12)

const day = (text: string) => UsageLedger.Day.make(text)

/** Records the success story at noon UTC (the clock set before the ledger is built), then the subjects' usage on both candidate days. */
const recordAtNoonUtc = Effect.gen(function*() {
  const s = yield* stories
  const ledger = yield* UsageLedger.UsageLedger
  yield* Effect.forEach(s.success, ledger.record, { discard: true })
  const subjects = (on: string) =>
    Effect.map(ledger.usageBySubject(day(on)), (rows) => rows.map((row) => [row.subjectId, row.attempts]))
  return { utcDay: yield* subjects("2026-03-07"), zoneDay: yield* subjects("2026-03-08") }
})

const configured = (variables: Record<string, string>, options: SqlUsageLedger.Options = {}) =>
  Layer.unwrap(
    Effect.as(
      TestClock.setTime(noonUtc),
      SqlUsageLedger.layerFromConfig({ ...options, flushInterval: "1 hour" }).pipe(
        Layer.provide(LlmConfig.layerFromRecord({ ...keys, ...variables }))
      )
    )
  )

describe("SqlUsageLedger.layerFromConfig", () => {
  for (
    const [store, variables] of [
      ["SQLite", { LLM_USAGE_STORE_URL: "sqlite::memory:" }],
      ["memory (no store URL)", {}]
    ] as const
  ) {
    it.effect(`${store}: an attempt is on the day of AI_QUOTA_TIMEZONE, as quotas count it`, () =>
      Effect.gen(function*() {
        const { utcDay, zoneDay } = yield* recordAtNoonUtc.pipe(
          Effect.provide(configured({ ...variables, AI_QUOTA_TIMEZONE: "Pacific/Kiritimati" }))
        )
        assert.deepStrictEqual(utcDay, [])
        assert.deepStrictEqual(zoneDay, [[teacher1, 1]])
      }))

    it.effect(`${store}: an explicit timeZone wins over AI_QUOTA_TIMEZONE`, () =>
      Effect.gen(function*() {
        const { utcDay, zoneDay } = yield* recordAtNoonUtc.pipe(
          Effect.provide(configured({ ...variables, AI_QUOTA_TIMEZONE: "Pacific/Kiritimati" }, { timeZone: "UTC" }))
        )
        assert.deepStrictEqual(utcDay, [[teacher1, 1]])
        assert.deepStrictEqual(zoneDay, [])
      }))
  }

  it.effect("a store URL no database takes is an LlmConfigError naming LLM_USAGE_STORE_URL, without its password", () =>
    Effect.gen(function*() {
      for (const url of ["mysql://u:S3CRET@h/db", "not a url"]) {
        const error = yield* Effect.flip(
          Layer.build(configured({ LLM_USAGE_STORE_URL: url })).pipe(Effect.scoped)
        )
        assert.strictEqual(error._tag, "LlmConfigError", url)
        if (error._tag !== "LlmConfigError") return
        assert.strictEqual(error.variable, "LLM_USAGE_STORE_URL")
        assert.include(error.message, "LLM_USAGE_STORE_URL")
        assert.notInclude(error.message, "S3CRET")
      }
    }))

  it.effect("without AI_QUOTA_TIMEZONE the days are UTC days", () =>
    Effect.gen(function*() {
      const settings = yield* LlmConfig.LlmConfig.pipe(Effect.provide(LlmConfig.layerFromRecord(keys)))
      assert.strictEqual(settings.quotaTimeZone, "UTC")
      const { utcDay, zoneDay } = yield* recordAtNoonUtc.pipe(
        Effect.provide(configured({ LLM_USAGE_STORE_URL: "sqlite::memory:" }))
      )
      assert.deepStrictEqual(utcDay, [[teacher1, 1]])
      assert.deepStrictEqual(zoneDay, [])
    }))
})
