/**
 * Text PostgreSQL cannot store (a NUL in a provider's error message) never
 * costs the other rows of its batch, through the path a user takes:
 * `LlmManager` writing to the SQL request log and usage ledger. Subject ids
 * with control characters are refused before any call.
 */
import * as MockFault from "@baton/testing/MockFault"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { SqlClient } from "effect/sql"
import * as LlmMetrics from "../../core/src/LlmMetrics.ts"
import * as RequestLog from "../../core/src/RequestLog.ts"
import { Bench, inject, manager } from "../../core/test/utils/chain.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlRequestLog from "../src/SqlRequestLog.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"
import { postgresAvailable, postgresUrl } from "./postgres.ts"

const prefix = `bad${process.pid}_${Date.now().toString(36)}_`
const tables = BatonSchema.tables({ tablePrefix: prefix })
const database = SqlDatabase.layerUrl(postgresUrl)

const Sinks = Layer.mergeAll(
  RequestLog.layer([SqlRequestLog.sink({ tablePrefix: prefix, flushInterval: "1 hour" })]),
  SqlUsageLedger.layer({ tablePrefix: prefix, flushInterval: "1 hour" })
).pipe(Layer.provide(database))

const count = (table: string) =>
  SqlClient.SqlClient.use((sql) => sql<{ readonly n: string }>`SELECT count(*) AS n FROM ${sql(table)}`).pipe(
    Effect.map((rows) => Number(rows[0]?.n)),
    Effect.provide(database)
  )

describe.skipIf(!postgresAvailable)("bad text on PostgreSQL through LlmManager", () => {
  afterAll(() =>
    Effect.runPromise(
      SqlClient.SqlClient.use((sql) =>
        Effect.forEach(
          [tables.usage, tables.requestLog, tables.migrations],
          (table) => sql`DROP TABLE IF EXISTS ${sql(table)}`,
          { discard: true }
        )
      ).pipe(Effect.provide(database))
    )
  )

  it.live("a NUL in a provider's error message costs no row of its batch", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const llm = yield* manager({ chain: ["openai", "anthropic"] })
        yield* inject("openai", MockFault.status(503, { message: "down\u0000 for maintenance" }))
        for (let i = 0; i < 10; i++) {
          yield* llm.generate({ prompt: "One question about Mars", metadata: { subjectId: `teacher-${i}` } })
        }
      }).pipe(Effect.provide(Sinks))
      // ten requests, eleven attempts (the first failed over)
      assert.strictEqual(yield* count(tables.requestLog), 11)
      const ledger = yield* SqlClient.SqlClient.use((sql) =>
        sql<{ readonly n: string }>`SELECT count(*) AS n FROM ${sql(tables.usage)}`
      ).pipe(Effect.provide(database))
      // the ledger keeps billed attempts: the ten answers (the 503 billed nothing)
      assert.strictEqual(Number(ledger[0]?.n), 10)
      const message = yield* SqlClient.SqlClient.use((sql) =>
        sql<{ readonly m: string }>`SELECT error_message AS m FROM ${
          sql(tables.requestLog)
        } WHERE error_tag IS NOT NULL`
      ).pipe(Effect.provide(database))
      assert.include(message[0]?.m, "for maintenance")
    }).pipe(Effect.provide(Bench)))

  it.live("a row PostgreSQL refuses is dropped alone and counted; the rest of its batch is written", () =>
    Effect.gen(function*() {
      const run = (subjects: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const llm = yield* manager({ chain: ["openai"] })
          for (const subjectId of subjects) yield* llm.generate({ prompt: "hi", metadata: { subjectId } })
        }).pipe(Effect.provide(Sinks))
      yield* run([])
      yield* SqlClient.SqlClient.use((sql) =>
        sql`ALTER TABLE ${sql(tables.requestLog)} ADD CONSTRAINT no_poison CHECK (subject_id <> 'poison')`
      ).pipe(Effect.provide(database))
      const before = yield* count(tables.requestLog)
      const dropped = Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink: "request-log:sql:pg" })
      const droppedBefore = (yield* Metric.value(dropped)).count
      yield* run(["a", "b", "c", "poison", "d", "e", "f", "g", "h", "i", "j"])
      assert.strictEqual((yield* count(tables.requestLog)) - before, 10)
      assert.strictEqual((yield* Metric.value(dropped)).count - droppedBefore, 1)
    }).pipe(Effect.provide(Bench)))

  it.live("a subject id with a control character is refused with a typed error naming it", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      for (const subjectId of ["teacher\u0000", "teacher\nINJECTED", "t\u001b[31m"]) {
        const error = yield* Effect.flip(llm.generate({ prompt: "hi", metadata: { subjectId } }))
        assert.strictEqual(error._tag, "InvalidOptions")
        assert.include(error.message, "subjectId")
        assert.notInclude(error.message, "\n")
        assert.notInclude(error.message, "\u0000")
      }
    }).pipe(Effect.provide(Bench)))
})
