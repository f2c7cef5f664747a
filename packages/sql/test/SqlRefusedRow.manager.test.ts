/**
 * BatchWriter's isolation rule through the path a user takes: requests made
 * through `LlmManager` (built from the environment, as an application builds
 * it), their rows written by the SQL usage ledger and the SQL request log to
 * the machine's PostgreSQL. When PostgreSQL refuses one row of a batch on
 * its own (the sink up), that row alone is dropped, counted and warned of
 * naming its sink; every other row of the batch lands.
 *
 * The refusal is one a deployment meets: the operator tied the Baton tables
 * to the application's own table of teachers with a foreign key, and one
 * request names a subject that table does not hold (a teacher deleted, an id
 * mistyped). PostgreSQL refuses the whole `INSERT` of the batch for that row.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Array as Arr, Effect, Layer, Logger, Metric } from "effect"
import { SqlClient } from "effect/sql"
import * as LlmMetrics from "../../core/src/LlmMetrics.ts"
import * as RequestLog from "../../core/src/RequestLog.ts"
import { Bench, managerFromEnv } from "../../core/test/utils/chain.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlRequestLog from "../src/SqlRequestLog.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"
import { dropTablesAfterAll, postgresAvailable, postgresUrl } from "./postgres.ts"

const prefix = `refused${process.pid}_${Date.now().toString(36)}_`
const tables = BatonSchema.tables({ tablePrefix: prefix })
const teachers = `${prefix}teachers`
const database = SqlDatabase.layerUrl(postgresUrl)
const dropTables = dropTablesAfterAll()
dropTables(prefix)

const sql = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  SqlClient.SqlClient.use(f).pipe(Effect.provide(database))

/**
 * The ledger and the request log as an application wires them to PostgreSQL
 * (batches flushed only when asked, or at close, so that every row of the
 * test is in one batch).
 */
const Sinks = Layer.mergeAll(
  RequestLog.layer([SqlRequestLog.sink({ tablePrefix: prefix, flushInterval: "1 hour" })]),
  SqlUsageLedger.layer({ tablePrefix: prefix, flushInterval: "1 hour" })
).pipe(Layer.provide(database))

const sinks = ["usage-ledger:sql:pg", "request-log:sql:pg"] as const

const droppedBy = (sink: string) =>
  Effect.map(Metric.value(Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink })), (value) => value.count)

/** The subject ids of a table's rows, sorted. */
const subjects = (table: string) =>
  sql((sql) => sql<{ readonly subject_id: string }>`SELECT subject_id FROM ${sql(table)} ORDER BY subject_id`).pipe(
    Effect.map((rows) => rows.map((row) => row.subject_id))
  )

describe.skipIf(!postgresAvailable)("a row PostgreSQL refuses, through LlmManager", () => {
  afterAll(() => Effect.runPromise(sql((sql) => sql`DROP TABLE IF EXISTS ${sql(teachers)} CASCADE`)))

  it.live(
    "costs only itself: the other rows of its batch land in the ledger and the request log",
    () =>
      Effect.gen(function*() {
        const known = Arr.makeBy(10, (i) => `teacher-${String(i).padStart(2, "0")}`)
        // the Baton tables (migrations run by the sinks), then the operator's foreign keys to its teachers
        yield* Layer.build(Sinks).pipe(Effect.scoped)
        yield* sql((sql) =>
          Effect.gen(function*() {
            yield* sql`CREATE TABLE ${sql(teachers)} (id TEXT PRIMARY KEY)`
            yield* sql`INSERT INTO ${sql(teachers)} ${sql.insert(Arr.map(known, (id) => ({ id })))}`
            for (const table of [tables.usage, tables.requestLog]) {
              yield* sql`ALTER TABLE ${sql(table)} ADD CONSTRAINT ${sql(`${table}_teacher`)}
              FOREIGN KEY (subject_id) REFERENCES ${sql(teachers)} (id)`
            }
          })
        )
        const droppedBefore = yield* Effect.forEach(sinks, droppedBy)

        const warnings: Array<string> = []
        const capture = Logger.make(({ logLevel, message }) => {
          if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
        })
        // the unknown teacher among the others, away from the batch's first, middle and last rows
        const order = [...known.slice(0, 3), "teacher-deleted", ...known.slice(3)]
        const results = yield* Effect.gen(function*() {
          const llm = yield* managerFromEnv({ LLM_MAX_RETRIES: "0" })
          return yield* Effect.forEach(
            order,
            (subjectId) => llm.generate({ prompt: "One question about Mars", metadata: { subjectId } })
          )
          // closing the sinks flushes the one batch
        }).pipe(Effect.scoped, Effect.provide(Sinks), Effect.provide(Logger.layer([capture])))

        // the writes never fail the requests
        assert.strictEqual(results.length, 11)
        assert.isTrue(results.every((result) => result.attempts.length === 1))
        // the ten known teachers' rows all landed, in both tables; the refused row did not
        assert.deepStrictEqual(yield* subjects(tables.usage), known)
        assert.deepStrictEqual(yield* subjects(tables.requestLog), known)
        // the refused row is dropped and counted, once per sink
        const droppedAfter = yield* Effect.forEach(sinks, droppedBy)
        assert.deepStrictEqual(Arr.zipWith(droppedAfter, droppedBefore, (after, before) => after - before), [1, 1])
        // and reported: one warning naming each sink
        for (const sink of sinks) {
          const named = warnings.filter((warning) => warning.includes(`"${sink}"`))
          assert.strictEqual(named.length, 1, sink)
          assert.include(named[0], "dropped 1 rows (the sink refused them, written alone)")
        }
      }).pipe(Effect.provide(Bench)),
    30_000
  )
})
