import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Fiber, Layer, Metric, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as LlmMetrics from "../src/LlmMetrics.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { at, defined, stories } from "./RequestLog.fixtures.ts"

const day = (text: string) => UsageLedger.Day.make(text)
const isDay = Schema.is(UsageLedger.Day)

describe("UsageLedger", () => {
  it.effect("toEntry: a row for billed attempts whatever the outcome, none for attempts that consumed nothing", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const when = DateTime.makeUnsafe(Date.UTC(2026, 2, 7, 23, 30))
      const entries = [...s.success, ...s.fallback, ...s.cancelled, ...s.skipped].map((r) =>
        UsageLedger.toEntry(r, when, "UTC")
      )
      assert.deepStrictEqual(entries.map((e) => e?.outcome), ["success", "error", "success", "cancelled", undefined])
      assert.strictEqual(defined(at(entries, 1)).costNanoUsd, s.fallback[0].usage?.costNanoUsd)
      // each row has an id of its own, the same attempt's row built again too
      const ids = [...entries, UsageLedger.toEntry(s.success[0], when, "UTC")].flatMap((e) => e?.id ?? [])
      assert.strictEqual(new Set(ids).size, 5)
      // days are cut at the ledger zone's midnight
      assert.strictEqual(defined(UsageLedger.toEntry(s.success[0], when, "Asia/Tokyo")).day, "2026-03-08")
      assert.strictEqual(defined(UsageLedger.toEntry(s.success[0], when, "America/New_York")).day, "2026-03-07")
    }))

  it.effect("Day rejects anything but YYYY-MM-DD", () =>
    Effect.sync(() => {
      assert.isTrue(isDay("2026-03-07"))
      assert.isFalse(isDay("2026-13-07"))
      assert.isFalse(isDay("07/03/2026"))
    }))

  it.effect("Day refuses a day the calendar does not have, leap years counted", () =>
    Effect.sync(() => {
      for (const text of ["2026-01-31", "2026-04-30", "2024-02-29", "2000-02-29"]) assert.isTrue(isDay(text), text)
      for (const text of ["2026-02-30", "2026-04-31", "2025-02-29", "1900-02-29", "2026-02-31"]) {
        assert.isFalse(isDay(text), text)
      }
      const refused = Schema.decodeUnknownExit(UsageLedger.Day)("2026-02-30")
      assert.isTrue(Exit.isFailure(refused))
      assert.include(String(refused), "2026-02 has 28 days")
    }))

  it.effect("an unknown time zone fails the ledger's build, naming the option, before any request", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(UsageLedger.layerMemory({ timeZone: "Europe/Olso" })).pipe(Effect.scoped)
      )
      assert.deepStrictEqual([error._tag, error.variable], ["LlmConfigError", "UsageLedger.timeZone"])
      assert.include(error.message, "Europe/Olso")
    }))

  it.effect("record does not write; the background fiber flushes every flushInterval", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const store = yield* UsageLedger.makeMemoryStore
      const ledger = yield* UsageLedger.make(store, { flushInterval: "5 seconds" })
      yield* Effect.forEach(s.success, ledger.record, { discard: true })
      const range = store.dailyTotals(day("1970-01-01"), day("1970-01-01"))
      assert.deepStrictEqual(yield* range, [])
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* range)[0]?.attempts, 1)
    }))

  it.effect("while the store is down its rows wait for it, and are written once it is back (within maxOutage)", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const memory = yield* UsageLedger.makeMemoryStore
      let down = true
      const flaky: UsageLedger.Store = {
        ...memory,
        name: "flaky-test",
        append: (rows) =>
          down
            ? Effect.fail(new UsageLedger.UsageLedgerError({ store: "flaky-test", message: "down" }))
            : memory.append(rows)
      }
      const dropped = Metric.value(
        Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink: "usage-ledger:flaky-test" })
      )
      const before = (yield* dropped).count
      const ledger = yield* UsageLedger.make(flaky, { flushInterval: "1 second", retries: 1, maxOutage: "30 seconds" })
      yield* Effect.forEach([...s.success, ...s.fallback], ledger.record, { discard: true })
      yield* TestClock.adjust("20 seconds")
      down = false
      yield* TestClock.adjust("2 seconds")
      const rows = yield* memory.dailyTotals(day("1970-01-01"), day("1970-01-01"))
      assert.strictEqual(rows[0]?.attempts, 3)
      assert.strictEqual((yield* dropped).count - before, 0)
    }))

  it.effect("a store down longer than maxOutage: its rows are dropped and counted", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const failing: UsageLedger.Store = {
        ...(yield* UsageLedger.makeMemoryStore),
        name: "down-test",
        append: () => Effect.fail(new UsageLedger.UsageLedgerError({ store: "down-test", message: "down" }))
      }
      const dropped = Metric.value(
        Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink: "usage-ledger:down-test" })
      )
      const before = (yield* dropped).count
      const ledger = yield* UsageLedger.make(failing, { flushInterval: "1 second", retries: 1, maxOutage: "5 seconds" })
      yield* Effect.forEach([...s.success, ...s.fallback], ledger.record, { discard: true })
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual((yield* dropped).count - before, 0)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* dropped).count - before, 3)
    }))

  it.effect("a query's timeout ends it while the store is slow to append; the rows are appended once, in the background", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const memory = yield* UsageLedger.makeMemoryStore
      let appends = 0
      // a table locked by another session: an append waits a minute
      const locked: UsageLedger.Store = {
        ...memory,
        name: "locked-test",
        append: (rows) =>
          Effect.sleep("1 minute").pipe(
            Effect.andThen(Effect.sync(() => appends++)),
            Effect.andThen(memory.append(rows))
          )
      }
      // a scope of its own, closed once the test passed: a failed test does not wait for the close
      const scope = yield* Scope.make()
      const ledger = yield* Scope.provide(UsageLedger.make(locked, { flushInterval: "1 hour" }), scope)
      yield* Effect.forEach([...s.success, ...s.fallback], ledger.record, { discard: true })
      // detached: were the query to wait for the append, the failed test would not wait for it too
      const query = yield* Effect.forkDetach(
        Effect.flip(Effect.timeout(ledger.usageBySubject(day("1970-01-01")), "2 seconds"))
      )
      yield* TestClock.adjust("2 seconds")
      assert.isDefined(query.pollUnsafe(), "the query still waits for the append after its timeout")
      assert.strictEqual((yield* Fiber.join(query))._tag, "TimeoutError")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(appends, 1)
      const rows = yield* ledger.dailyTotals(day("1970-01-01"), day("1970-01-01"))
      assert.strictEqual(rows[0]?.attempts, 3)
      assert.strictEqual(appends, 1)
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a failing store never fails record; its rows are retried, dropped and counted", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const failing: UsageLedger.Store = {
        ...(yield* UsageLedger.makeMemoryStore),
        name: "failing-test",
        append: () => Effect.fail(new UsageLedger.UsageLedgerError({ store: "failing-test", message: "down" }))
      }
      const dropped = Metric.value(
        Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink: "usage-ledger:failing-test" })
      )
      const before = (yield* dropped).count
      const scope = yield* Scope.make()
      const ledger = yield* Scope.provide(UsageLedger.make(failing, { flushInterval: "1 hour", retries: 2 }), scope)
      yield* Effect.forEach([...s.success, ...s.fallback], ledger.record, { discard: true })
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("1 second") // the retry backoff
      yield* Fiber.join(closing)
      assert.strictEqual((yield* dropped).count - before, 3)
    }))
})
