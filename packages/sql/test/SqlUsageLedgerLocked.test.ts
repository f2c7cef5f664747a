/**
 * A usage-ledger query while another PostgreSQL session holds the ledger's
 * table locked (a maintenance job's `LOCK TABLE`, a long migration): reads
 * pass, the insert that a query flushes first waits. The query's caller
 * decides how long it waits.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Latch, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import { stories } from "../../core/test/RequestLog.fixtures.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"
import { dropTablesAfterAll, postgresAvailable, postgresUrl } from "./postgres.ts"

const allDays = [UsageLedger.Day.make("2000-01-01"), UsageLedger.Day.make("2999-12-31")] as const

/**
 * Holds `table` in EXCLUSIVE mode on a connection of its own until `release`
 * opens (10 seconds at most); opens `locked` once it holds it.
 */
const holdLock = (table: string, locked: Latch.Latch, release: Latch.Latch) =>
  SqlClient.SqlClient.use((sql) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql`LOCK TABLE ${sql(table)} IN EXCLUSIVE MODE`
      yield* locked.open
      yield* Effect.ignore(Effect.timeout(release.await, "10 seconds"))
    }))
  ).pipe(Effect.provide(SqlDatabase.layerUrl(postgresUrl)))

describe.skipIf(!postgresAvailable)("SqlUsageLedger on a PostgreSQL table another session locked", () => {
  const remember = dropTablesAfterAll()

  it.live("a query's Effect.timeout ends it with a TimeoutError, an interruption ends it; the waiting rows are written once the lock is released", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const prefix = `locked_${process.pid}_${Date.now().toString(36)}_`
      remember(prefix)
      const scope = yield* Scope.make()
      const ledger = Context.get(
        yield* Layer.buildWithScope(
          SqlUsageLedger.layerUrl(postgresUrl, { tablePrefix: prefix, flushInterval: "1 hour" }),
          scope
        ),
        UsageLedger.UsageLedger
      )
      yield* ledger.record(s.success[0])
      yield* ledger.flush
      const locked = yield* Latch.make()
      const release = yield* Latch.make()
      const holder = yield* Effect.forkChild(
        holdLock(BatonSchema.tables({ tablePrefix: prefix }).usage, locked, release)
      )
      yield* locked.await
      yield* ledger.record(s.fallback[1])
      const outcome = yield* Effect.exit(Effect.timeout(ledger.dailyTotals(...allDays), "1 second"))
      // the holder lets go on its own after 10 seconds: a query that waited for the lock ends after it did
      const lockedAfterTimeout = holder.pollUnsafe() === undefined
      // an HTTP handler whose client went away interrupts its query
      yield* ledger.record(s.cancelled[0])
      const query = yield* Effect.forkChild(ledger.usageBySubject(allDays[0]))
      yield* Effect.sleep("200 millis")
      yield* Fiber.interrupt(query)
      const lockedAfterInterrupt = holder.pollUnsafe() === undefined
      yield* release.open
      yield* Fiber.join(holder)
      assert.isTrue(lockedAfterTimeout, "the query waited for the lock, past its timeout")
      assert.strictEqual((yield* Effect.flip(outcome))._tag, "TimeoutError")
      assert.isTrue(lockedAfterInterrupt, "the interrupted query waited for the lock")
      // the inserts the queries started went on, and are not repeated
      const totals = yield* ledger.dailyTotals(...allDays)
      assert.deepStrictEqual(totals.map((row) => row.attempts), [3])
      yield* Scope.close(scope, Exit.void)
      const rows = yield* SqlClient.SqlClient.use((sql) =>
        sql`SELECT request_id FROM ${sql(BatonSchema.tables({ tablePrefix: prefix }).usage)}`
      ).pipe(Effect.provide(SqlDatabase.layerUrl(postgresUrl)))
      assert.strictEqual(rows.length, 3)
    }))
})
