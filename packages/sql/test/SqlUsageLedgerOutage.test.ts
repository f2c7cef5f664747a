/**
 * A PostgreSQL usage ledger whose table goes away twice (an operator's
 * migration renaming it, a restore): each outage that outlasts `maxOutage`
 * drops its rows, and each is warned of, at most once every 10 seconds of
 * the Effect clock, not once per ledger. The test owns the clock
 * (`TestClock`), stepped while the writes' real I/O happens.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import { stories } from "../../core/test/RequestLog.fixtures.ts"
import { runDriven } from "../../core/test/utils/chain.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"
import { dropTablesAfterAll, postgresAvailable, postgresUrl } from "./postgres.ts"

const prefix = `outage_${process.pid}_${Date.now().toString(36)}_`
const usage = BatonSchema.tables({ tablePrefix: prefix }).usage
const hidden = `${prefix}hidden`

const sql = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  SqlClient.SqlClient.use(f).pipe(Effect.provide(SqlDatabase.layerUrl(postgresUrl)))

describe.skipIf(!postgresAvailable)("SqlUsageLedger on PostgreSQL, its table gone twice past maxOutage", () => {
  dropTablesAfterAll()(prefix)

  it.effect("each outage's dropped rows are warned of, once per 10 seconds at most", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 4, 10, 10))
      const s = yield* stories
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
      })
      yield* Effect.gen(function*() {
        const scope = yield* Scope.make()
        const ledger = Context.get(
          yield* Layer.buildWithScope(
            SqlUsageLedger.layerUrl(postgresUrl, {
              tablePrefix: prefix,
              flushInterval: "1 hour",
              maxOutage: "2 seconds",
              retries: 1
            }),
            scope
          ),
          UsageLedger.UsageLedger
        )
        // the clock stepped while the flush's writes (and its retries' waits) run
        const flush = runDriven(ledger.flush, 50)
        /** The table hidden while `reports` are recorded and flushed, then again past maxOutage. */
        const outage = (reports: ReadonlyArray<Parameters<typeof ledger.record>[0]>) =>
          Effect.gen(function*() {
            yield* sql((sql) => sql`ALTER TABLE ${sql(usage)} RENAME TO ${sql(hidden)}`)
            for (const report of reports) yield* ledger.record(report)
            yield* flush
            yield* TestClock.adjust("3 seconds")
            yield* flush
            yield* sql((sql) => sql`ALTER TABLE ${sql(hidden)} RENAME TO ${sql(usage)}`)
          })

        yield* outage(s.fallback)
        assert.strictEqual(warnings.length, 1)
        assert.include(
          warnings[0],
          "Baton sink \"usage-ledger:sql:pg\" dropped 2 rows (the sink is down for longer than maxOutage)"
        )
        // back: a row is written
        yield* ledger.record(s.success[0])
        yield* flush
        yield* TestClock.adjust("10 seconds")
        yield* outage([s.cancelled[0], ...s.fallback])
        assert.strictEqual(warnings.length, 2, "the second outage is warned of too")
        assert.include(
          warnings[1],
          "Baton sink \"usage-ledger:sql:pg\" dropped 3 rows (the sink is down for longer than maxOutage)"
        )
        yield* Scope.close(scope, Exit.void)
        const rows = yield* sql((sql) => sql<{ readonly request_id: string }>`SELECT request_id FROM ${sql(usage)}`)
        assert.deepStrictEqual(rows.map((row) => row.request_id), ["req-success"])
      }).pipe(Effect.provide(Logger.layer([capture])))
    }))
})
