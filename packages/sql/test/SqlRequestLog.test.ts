import { afterAll, assert, describe, it } from "@effect/vitest"
import { DateTime, type Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as RequestLog from "../../core/src/RequestLog.ts"
import { CANARY_KEY, defined, stories } from "../../core/test/RequestLog.fixtures.ts"
import { Bench, manager } from "../../core/test/utils/chain.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlRequestLog from "../src/SqlRequestLog.ts"
import { postgresAvailable, postgresUrl } from "./postgres.ts"

const prefix = `rl${process.pid}_${Date.now().toString(36)}_`
const tables = BatonSchema.tables({ tablePrefix: prefix })
const againPrefix = `${prefix}again_`
const againTables = BatonSchema.tables({ tablePrefix: againPrefix })

const suite = (name: string, url: string) => {
  it.effect(`${name}: one row per attempt, flushed on shutdown, same fields as the JSON record, no key`, () =>
    Effect.gen(function*() {
      const s = yield* stories
      const reports = [...s.success, ...s.fallback, ...s.cancelled, ...s.skipped]
      const database = SqlDatabase.layerUrl(url)
      // the log lives in its own scope: closing it flushes the queued rows
      yield* RequestLog.RequestLog.use((log) => Effect.forEach(reports, log.write, { discard: true })).pipe(
        Effect.provide(
          RequestLog.layer([SqlRequestLog.sink({ tablePrefix: prefix, flushInterval: "1 hour" })]).pipe(
            Layer.provide(database)
          )
        )
      )
      const rows = yield* SqlClient.SqlClient.use((sql) =>
        sql`SELECT * FROM ${sql(tables.requestLog)} ORDER BY request_id, attempt`
      ).pipe(Effect.provide(database))
      assert.strictEqual(rows.length, reports.length)
      const failed = defined(rows.find((row) => row["request_id"] === "req-fallback" && Number(row["attempt"]) === 1))
      assert.strictEqual(failed["error_tag"], "ProviderUnavailable")
      assert.strictEqual(Number(failed["cost_nano_usd"]), s.fallback[0].usage?.costNanoUsd)
      assert.strictEqual(failed["prompt"], null)
      const text = JSON.stringify(rows, (_key, value: unknown) => typeof value === "bigint" ? String(value) : value)
      assert.notInclude(text, CANARY_KEY)
      assert.notInclude(text, "secret-prompt-canary")
      const skipped = defined(rows.find((row) => row["request_id"] === "req-skipped"))
      assert.deepStrictEqual([skipped["outcome"], skipped["error_tag"], skipped["subject_id"]], [
        "skipped",
        "CircuitOpen",
        null
      ])
    }))

  it.effect(`${name}: records written again (a batch retried after a lost commit) add no row`, () =>
    Effect.gen(function*() {
      const s = yield* stories
      const records = [...s.success, ...s.fallback].map((r) => RequestLog.toRecord(r, DateTime.makeUnsafe(0)))
      const database = SqlDatabase.layerUrl(url)
      yield* Effect.scoped(
        Effect.flatMap(
          SqlRequestLog.sink({ tablePrefix: againPrefix, flushInterval: "1 hour" }),
          (sink) => Effect.forEach([...records, ...records], sink.write, { discard: true })
        )
      ).pipe(Effect.provide(database))
      const rows = yield* SqlClient.SqlClient.use((sql) => sql`SELECT request_id FROM ${sql(againTables.requestLog)}`)
        .pipe(Effect.provide(database))
      assert.strictEqual(rows.length, records.length)
    }))

  it.effect(`${name}: two requests under one caller-chosen request id, ending in the same millisecond, both have rows`, () =>
    Effect.gen(function*() {
      const database = SqlDatabase.layerUrl(url)
      const requestId = `req-reused-${name}`
      // the clock stands still: both attempts end in the same millisecond
      yield* Effect.gen(function*() {
        const llm = yield* manager({ chain: ["openai"] })
        for (const subjectId of ["teacher-a", "teacher-b"]) {
          yield* llm.generate({ prompt: "One question about Mars", metadata: { subjectId, requestId } })
        }
      }).pipe(
        Effect.scoped,
        Effect.provide(
          RequestLog.layer([SqlRequestLog.sink({ tablePrefix: prefix, flushInterval: "1 hour" })]).pipe(
            Layer.provide(database)
          )
        )
      )
      const rows = yield* SqlClient.SqlClient.use((sql) =>
        sql`SELECT subject_id FROM ${sql(tables.requestLog)} WHERE request_id = ${requestId} ORDER BY subject_id`
      ).pipe(Effect.provide(database))
      assert.deepStrictEqual(rows.map((row) => row["subject_id"]), ["teacher-a", "teacher-b"])
    }).pipe(Effect.provide(Bench)))

  it.effect(`${name}: a request's tags made through the manager are in its rows, as a JSON object`, () =>
    Effect.gen(function*() {
      const database = SqlDatabase.layerUrl(url)
      const tags = { feature: "quiz", tenant: `sql-${name}` }
      const result = yield* Effect.scoped(
        Effect.flatMap(
          manager({ chain: ["deepseek"] }),
          (llm) => llm.generate({ prompt: "Name a planet.", metadata: { tags } })
        ).pipe(
          Effect.provide(
            RequestLog.layer([SqlRequestLog.sink({ tablePrefix: prefix, flushInterval: "1 hour" })]).pipe(
              Layer.provide(database)
            )
          )
        )
      )
      const rows = yield* SqlClient.SqlClient.use((sql) =>
        sql`SELECT tags FROM ${sql(tables.requestLog)} WHERE request_id = ${result.requestId}`
      ).pipe(Effect.provide(database))
      assert.deepStrictEqual(rows.map((row) => JSON.parse(String(row["tags"])) as unknown), [tags])
    }).pipe(Effect.provide(Bench)))
}

describe("SqlRequestLog", () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-log-"))
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  suite("sqlite", `sqlite:${join(dir, "log.db")}`)

  it.effect("batching options that are not durations of 0 or more, a table prefix that is no plain name, fail the log's build, naming the option", () =>
    Effect.gen(function*() {
      const built = (options: SqlRequestLog.Options) =>
        Effect.flip(
          Layer.build(
            RequestLog.layer([SqlRequestLog.sink(options)]).pipe(
              Layer.provide(SqlDatabase.layerUrl(`sqlite:${join(dir, "refused.db")}`))
            )
          ).pipe(Effect.scoped)
        )
      const variable = (
        error: { readonly _tag: string }
      ) => [error._tag, "variable" in error ? error.variable : undefined]
      assert.deepStrictEqual(variable(yield* built({ writeTimeout: -1 })), [
        "LlmConfigError",
        "SqlRequestLog.writeTimeout"
      ])
      assert.deepStrictEqual(variable(yield* built({ flushInterval: "1 sec" as Duration.Input })), [
        "LlmConfigError",
        "SqlRequestLog.flushInterval"
      ])
      assert.deepStrictEqual(variable(yield* built({ tablePrefix: "my.log_" })), [
        "LlmConfigError",
        "SqlRequestLog.tablePrefix"
      ])
    }))
})

describe.skipIf(!postgresAvailable)("SqlRequestLog on PostgreSQL", () => {
  afterAll(() =>
    Effect.runPromise(
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        for (const table of [tables, againTables].flatMap((t) => [t.usage, t.requestLog, t.migrations])) {
          yield* sql`DROP TABLE IF EXISTS ${sql(table)}`
        }
      }).pipe(Effect.provide(SqlDatabase.layerUrl(postgresUrl)))
    )
  )
  suite("postgres", postgresUrl)
})
