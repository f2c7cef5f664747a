/**
 * The usage-ledger suite every store must pass (memory, SQLite, PostgreSQL).
 *
 * `open(prefix)` opens a ledger on the store named by `prefix`: two ledgers
 * opened with the same prefix see the same rows, so a test can close one and
 * read what it left through another.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { TestClock } from "effect/testing"
import { ModelId, ProviderName } from "../../core/src/Ids.ts"
import type { AttemptReport } from "../../core/src/RequestLog.ts"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import {
  at,
  deepseek,
  flash,
  gemini,
  geminiFlash,
  report,
  request,
  stories,
  teacher1,
  teacher2,
  usage
} from "../../core/test/RequestLog.fixtures.ts"
import { Bench, manager } from "../../core/test/utils/chain.ts"

export type Open = (prefix: string) => Effect.Effect<UsageLedger.Service, unknown, Scope.Scope>

let counter = 0
const uniquePrefix = () => `t${process.pid}_${Date.now().toString(36)}_${counter++}_`

const day = (text: string) => UsageLedger.Day.make(text)

/** The totals of some reports, computed from the reports themselves. */
const expectedTotals = (reports: ReadonlyArray<AttemptReport>) => {
  const billed = reports.filter((r) => r.usage !== undefined && r.usage.totalTokens > 0)
  const sum = (f: (r: AttemptReport) => number | undefined) => billed.reduce((total, r) => total + (f(r) ?? 0), 0)
  const costNanoUsd = sum((r) => r.usage?.costNanoUsd)
  return {
    requests: new Set(billed.map((r) => r.request.requestId)).size,
    attempts: billed.length,
    promptTokens: sum((r) => r.usage?.promptTokens),
    completionTokens: sum((r) => r.usage?.completionTokens),
    cachedPromptTokens: sum((r) => r.usage?.cachedPromptTokens),
    reasoningTokens: sum((r) => r.usage?.reasoningTokens),
    totalTokens: sum((r) => r.usage?.totalTokens),
    costNanoUsd,
    costUsd: costNanoUsd / 1e9
  }
}

const recordAll = (ledger: UsageLedger.Service, reports: ReadonlyArray<AttemptReport>) =>
  Effect.forEach(reports, ledger.record, { discard: true })

/** Opens a ledger in its own scope, runs `f`, closes the scope (flushing). */
const withLedger = <A, E, R>(
  open: Open,
  prefix: string,
  f: (ledger: UsageLedger.Service) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ledger = yield* Scope.provide(open(prefix), scope)
    const result = yield* f(ledger)
    yield* Scope.close(scope, Exit.void)
    return result
  })

export const ledgerSuite = (name: string, open: Open) =>
  describe(name, () => {
    it.effect("rows for billed attempts (failed and cancelled too); aggregates equal the sum of rows", () =>
      Effect.gen(function*() {
        const s = yield* stories
        yield* TestClock.setTime(Date.UTC(2026, 2, 7, 23, 30))
        const day1 = [...s.success, ...s.fallback, ...s.skipped]
        const day2 = s.cancelled
        const prefix = uniquePrefix()
        const [bySubject1, bySubject2, byProvider, byProviderTeacher1, daily] = yield* withLedger(
          open,
          prefix,
          (ledger) =>
            Effect.gen(function*() {
              yield* recordAll(ledger, day1)
              yield* TestClock.setTime(Date.UTC(2026, 2, 8, 0, 30))
              yield* recordAll(ledger, day2)
              return yield* Effect.all([
                ledger.usageBySubject(day("2026-03-07")),
                ledger.usageBySubject(day("2026-03-08")),
                ledger.usageByProvider(day("2026-03-01"), day("2026-03-31")),
                ledger.usageByProvider(day("2026-03-01"), day("2026-03-31"), {
                  subjectId: teacher1
                }),
                ledger.dailyTotals(day("2026-03-07"), day("2026-03-08"))
              ])
            })
        )

        assert.deepStrictEqual(bySubject1, [
          { day: day("2026-03-07"), subjectId: teacher1, ...expectedTotals(s.success) },
          { day: day("2026-03-07"), subjectId: teacher2, ...expectedTotals(s.fallback) }
        ])
        // the failed primary attempt was billed: two rows for one request
        assert.deepStrictEqual([at(bySubject1, 1).requests, at(bySubject1, 1).attempts], [1, 2])
        assert.deepStrictEqual(bySubject2, [
          { day: day("2026-03-08"), subjectId: teacher1, ...expectedTotals(s.cancelled) }
        ])
        const all = [...day1, ...day2]
        assert.deepStrictEqual(byProvider, [
          { provider: deepseek, ...expectedTotals(all.filter((r) => r.attempt.provider === deepseek)) },
          { provider: gemini, ...expectedTotals(all.filter((r) => r.attempt.provider === gemini)) }
        ])
        assert.deepStrictEqual(byProviderTeacher1, [
          { provider: deepseek, ...expectedTotals([...s.success, ...s.cancelled]) }
        ])
        assert.deepStrictEqual(daily, [
          { day: day("2026-03-07"), ...expectedTotals(day1) },
          { day: day("2026-03-08"), ...expectedTotals(day2) }
        ])
        assert.strictEqual(
          daily.reduce((total, d) => total + d.costNanoUsd, 0),
          all.reduce((total, r) => total + (r.usage?.costNanoUsd ?? 0), 0)
        )
      }))

    it.effect("two requests under one caller-chosen request id, ending in the same millisecond, both count", () =>
      Effect.gen(function*() {
        // the clock stands still: both attempts end in the same millisecond
        yield* TestClock.setTime(Date.UTC(2026, 2, 7, 12))
        const bySubject = yield* withLedger(open, uniquePrefix(), (ledger) =>
          Effect.gen(function*() {
            const llm = yield* manager({ chain: ["openai"] }).pipe(
              Effect.provideService(UsageLedger.UsageLedger, ledger)
            )
            for (const subjectId of ["teacher-a", "teacher-b"]) {
              yield* llm.generate({ prompt: "One question about Mars", metadata: { subjectId, requestId: "req-1" } })
            }
            return yield* ledger.usageBySubject(day("2026-03-07"))
          }).pipe(Effect.scoped))
        assert.deepStrictEqual(bySubject.map((row) => [String(row.subjectId), row.requests, row.attempts]), [
          ["teacher-a", 1, 1],
          ["teacher-b", 1, 1]
        ])
      }).pipe(Effect.provide(Bench)))

    it.effect("rows still queued are flushed when the ledger shuts down", () =>
      Effect.gen(function*() {
        const s = yield* stories
        const prefix = uniquePrefix()
        // nothing is written before shutdown: the flush interval is an hour
        yield* withLedger(open, prefix, (ledger) => recordAll(ledger, [...s.success, ...s.fallback]))
        const totals = yield* withLedger(
          open,
          prefix,
          (ledger) => ledger.dailyTotals(day("1970-01-01"), day("1970-01-01"))
        )
        assert.deepStrictEqual(totals, [{ day: day("1970-01-01"), ...expectedTotals([...s.success, ...s.fallback]) }])
      }))

    it.effect("nothing is lost when 10,000 reports are recorded at concurrency 200", () =>
      Effect.gen(function*() {
        const models = [[deepseek, flash], [gemini, geminiFlash], [
          ProviderName.make("openai"),
          ModelId.make("gpt-5")
        ]] as const
        const reports = yield* Effect.forEach(Array.from({ length: 10_000 }, (_, i) => i), (i) =>
          Effect.map(request(`bulk-${i}`, `teacher-${i % 17}`), (req) => {
            const [provider, model] = at(models, i % 3)
            return report(
              req,
              1,
              { provider, model, role: "primary", outcome: i % 11 === 0 ? "error" : "success", latencyMs: i % 500 },
              usage(provider, model, 100 + (i % 997), 1 + (i % 389), i % 7)
            )
          }))
        const prefix = uniquePrefix()
        const [daily, bySubject] = yield* withLedger(open, prefix, (ledger) =>
          Effect.gen(function*() {
            yield* Effect.forEach(reports, ledger.record, { concurrency: 200, discard: true })
            return yield* Effect.all([
              ledger.dailyTotals(day("1970-01-01"), day("1970-01-01")),
              ledger.usageBySubject(day("1970-01-01"))
            ])
          }))
        assert.deepStrictEqual(daily, [{ day: day("1970-01-01"), ...expectedTotals(reports) }])
        assert.strictEqual(at(daily, 0).attempts, 10_000)
        assert.strictEqual(bySubject.length, 17)
        assert.strictEqual(bySubject.reduce((total, row) => total + row.costNanoUsd, 0), at(daily, 0).costNanoUsd)
      }), 60_000)
  })
