import { afterAll, assert, describe, it } from "@effect/vitest"
import { Array as Arr, DateTime, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import { stories } from "../../core/test/RequestLog.fixtures.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"
import { dropTablesAfterAll, postgresAvailable, postgresUrl } from "./postgres.ts"
import { undoMigrations } from "./undoMigrations.ts"
import { ledgerSuite } from "./UsageLedger.suite.ts"

const options = { flushInterval: "1 hour" } as const

const memoryStores = new Map<string, UsageLedger.Store>()
ledgerSuite("memory", (prefix) =>
  Effect.gen(function*() {
    const store = memoryStores.get(prefix) ?? (yield* UsageLedger.makeMemoryStore)
    memoryStores.set(prefix, store)
    return yield* UsageLedger.make(store, options)
  }))

const openSql = (url: string) => (prefix: string) =>
  Effect.flatMap(
    Layer.build(SqlDatabase.layerUrl(url)),
    (context) => SqlUsageLedger.make({ ...options, tablePrefix: prefix }).pipe(Effect.provideContext(context))
  )

/** A batch written again (a retry after its first insert committed and the answer was lost) adds nothing. */
const oncePerAttempt = (name: string, url: string, remember: (prefix: string) => void = () => {}) => {
  it.effect(`${name}: a batch appended again after a lost commit counts once`, () =>
    Effect.gen(function*() {
      const prefix = `once_${process.pid}_${Date.now().toString(36)}_`
      remember(prefix)
      yield* BatonSchema.migrate({ tablePrefix: prefix })
      const store = yield* SqlUsageLedger.makeStore({ tablePrefix: prefix })
      const s = yield* stories
      // the rows of the fixtures' billed attempts, ended at `hour` on 2026-03-07 (each built anew: ids of its own)
      const rowsAt = (hour: number) => {
        const when = DateTime.makeUnsafe(Date.UTC(2026, 2, 7, hour))
        const rows = [...s.success, ...s.fallback].flatMap((r) => UsageLedger.toEntry(r, when, "UTC") ?? [])
        return Arr.isArrayNonEmpty(rows) ? Effect.succeed(rows) : Effect.die("the fixtures bill no attempt")
      }
      const rows = yield* rowsAt(12)
      yield* store.append(rows)
      yield* store.append(rows)
      const day = UsageLedger.Day.make("2026-03-07")
      const attempts = store.dailyTotals(day, day).pipe(Effect.map((totals) => totals.map((t) => t.attempts)))
      assert.deepStrictEqual(yield* attempts, [rows.length])
      // a caller that reuses its request ids: the later attempts count too
      yield* store.append(yield* rowsAt(13))
      assert.deepStrictEqual(yield* attempts, [2 * rows.length])

      // a table written twice before migration 4: it keeps one row per recorded attempt, and 7 keeps those rows
      const names = BatonSchema.tables({ tablePrefix: prefix })
      const sql = yield* SqlClient.SqlClient
      // the migrator runs what comes after the last one it ran
      yield* undoMigrations(prefix, 3)
      yield* sql`INSERT INTO ${sql(names.usage)} SELECT * FROM ${sql(names.usage)}`
      assert.deepStrictEqual(yield* attempts, [4 * rows.length])
      yield* BatonSchema.migrate({ tablePrefix: prefix })
      assert.deepStrictEqual(yield* attempts, [2 * rows.length])
      // beside those rows, with no id, a batch of rows with ids written again adds nothing
      const since = yield* rowsAt(14)
      yield* store.append(since)
      yield* store.append(since)
      assert.deepStrictEqual(yield* attempts, [3 * rows.length])
    }).pipe(Effect.provide(SqlDatabase.layerUrl(url))))
}

const dir = mkdtempSync(join(tmpdir(), "baton-ledger-"))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})
ledgerSuite("sqlite", openSql(`sqlite:${join(dir, "usage.db")}`))
describe("sqlite store", () => {
  oncePerAttempt("sqlite", `sqlite:${join(dir, "usage.db")}`)
})

describe.skipIf(!postgresAvailable)("postgres", () => {
  const remember = dropTablesAfterAll()
  ledgerSuite("postgres", (prefix) => {
    remember(prefix)
    return openSql(postgresUrl)(prefix)
  })
  oncePerAttempt("postgres", postgresUrl, remember)
})
