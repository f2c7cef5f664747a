/**
 * Usage Baton estimated from the text (the provider reported none) stays
 * marked in the database: the ledger row and the request-log row keep
 * `usage_estimated` (1 when estimated, 0 when billed), on SQLite and
 * PostgreSQL, and the migration adding it runs on tables made before it.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Array as Arr, DateTime, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { AttemptReport } from "../../core/src/RequestLog.ts"
import * as RequestLog from "../../core/src/RequestLog.ts"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import { deepseek, flash, report, request, usage } from "../../core/test/RequestLog.fixtures.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlRequestLog from "../src/SqlRequestLog.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"
import { dropTablesAfterAll, postgresAvailable, postgresUrl } from "./postgres.ts"
import { undoMigrations } from "./undoMigrations.ts"

let counter = 0
const uniquePrefix = () => `est${process.pid}_${Date.now().toString(36)}_${counter++}_`

/** One attempt the provider billed, one whose usage Baton estimated. */
const reports = Effect.gen(function*() {
  const attempt = { provider: deepseek, model: flash, role: "primary", outcome: "success", latencyMs: 50 } as const
  const billed = report(yield* request("req-billed", "teacher-1"), 1, attempt, usage(deepseek, flash, 400, 100))
  const estimated = report(yield* request("req-estimated", "teacher-1"), 1, attempt, {
    ...usage(deepseek, flash, 300, 80),
    estimated: true
  })
  return [billed, estimated] as const
})

const entries = (all: ReadonlyArray<AttemptReport>) => {
  const when = DateTime.makeUnsafe(Date.UTC(2026, 2, 7, 12))
  const rows = all.flatMap((r) => UsageLedger.toEntry(r, when, "UTC") ?? [])
  return Arr.isArrayNonEmpty(rows) ? Effect.succeed(rows) : Effect.die("the reports bill no attempt")
}

/** `request_id` and `usage_estimated` of every row of `table`, by request id. */
const flags = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      sql<{ request_id: string; usage_estimated: unknown }>`SELECT request_id, usage_estimated FROM ${
        sql(table)
      } ORDER BY request_id`,
      (rows) => rows.map((row) => [row.request_id, Number(row.usage_estimated)] as const)
    ))

const suite = (name: string, url: string, remember: (prefix: string) => void) => {
  const database = SqlDatabase.layerUrl(url)
  const fresh = () => {
    const prefix = uniquePrefix()
    remember(prefix)
    return { prefix, names: BatonSchema.tables({ tablePrefix: prefix }) }
  }

  it.effect(`${name}: a ledger row keeps whether its usage was estimated`, () =>
    Effect.gen(function*() {
      const { names, prefix } = fresh()
      yield* BatonSchema.migrate({ tablePrefix: prefix })
      const store = yield* SqlUsageLedger.makeStore({ tablePrefix: prefix })
      const rows = yield* entries(yield* reports)
      assert.deepStrictEqual(rows.map((row) => row.usageEstimated === true), [false, true])
      yield* store.append(rows)
      assert.deepStrictEqual(yield* flags(names.usage), [["req-billed", 0], ["req-estimated", 1]])
    }).pipe(Effect.provide(database)))

  it.effect(`${name}: a request-log row keeps whether its usage was estimated`, () =>
    Effect.gen(function*() {
      const { names, prefix } = fresh()
      const all = yield* reports
      yield* RequestLog.RequestLog.use((log) => Effect.forEach(all, log.write, { discard: true })).pipe(
        Effect.provide(
          RequestLog.layer([SqlRequestLog.sink({ tablePrefix: prefix, flushInterval: "1 hour" })]).pipe(
            Layer.provide(database)
          )
        )
      )
      assert.deepStrictEqual(
        yield* flags(names.requestLog).pipe(Effect.provide(database)),
        [["req-billed", 0], ["req-estimated", 1]]
      )
    }))

  it.effect(`${name}: the migration adds the flag to tables made by the earlier ones; their rows are not estimated`, () =>
    Effect.gen(function*() {
      const { names, prefix } = fresh()
      const sql = yield* SqlClient.SqlClient
      yield* BatonSchema.migrate({ tablePrefix: prefix })
      // back to the tables of the earlier migrations, the last one run being 5
      yield* undoMigrations(prefix, 5)
      const [billed, estimated] = yield* reports
      // a row written before the migration, in the columns those tables had
      const [old] = yield* entries([billed])
      yield* sql`INSERT INTO ${sql(names.usage)} ${
        sql.insert({
          request_id: old.requestId,
          attempt: old.attempt,
          ts: old.timestamp,
          day: old.day,
          subject_id: old.subjectId,
          provider: old.provider,
          model: old.model,
          outcome: old.outcome,
          prompt_tokens: old.promptTokens,
          completion_tokens: old.completionTokens,
          cached_prompt_tokens: old.cachedPromptTokens,
          reasoning_tokens: old.reasoningTokens,
          total_tokens: old.totalTokens,
          cost_nano_usd: old.costNanoUsd
        })
      }`

      yield* BatonSchema.migrate({ tablePrefix: prefix })
      const store = yield* SqlUsageLedger.makeStore({ tablePrefix: prefix })
      yield* store.append(yield* entries([estimated]))
      assert.deepStrictEqual(yield* flags(names.usage), [["req-billed", 0], ["req-estimated", 1]])
      assert.deepStrictEqual(yield* flags(names.requestLog), [])
      // run once: a later start finds nothing to do
      yield* BatonSchema.migrate({ tablePrefix: prefix })
      const ids = yield* sql<{ migration_id: unknown }>`SELECT migration_id FROM ${sql(names.migrations)}`
      assert.strictEqual(ids.length, new Set(ids.map((row) => Number(row.migration_id))).size)
      assert.isTrue(ids.some((row) => Number(row.migration_id) === 6))
    }).pipe(Effect.provide(database)))
}

describe("estimated usage on SQLite", () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-estimated-"))
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  suite("sqlite", `sqlite:${join(dir, "usage.db")}`, () => {})
})

describe.skipIf(!postgresAvailable)("estimated usage on PostgreSQL", () => {
  suite("postgres", postgresUrl, dropTablesAfterAll())
})
