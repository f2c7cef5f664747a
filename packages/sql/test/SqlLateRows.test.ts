/**
 * Rows recorded after the layer closed (a request still running when the
 * app tears its layers down) with stores that own their database client:
 * `SqlUsageLedger.layerUrl` and `layerFromConfig`, and `SqlRequestLog.sink`
 * over `SqlDatabase.layerUrl`. The client closes with the layer; the row is
 * written all the same, not dropped.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, Metric, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as LlmConfig from "../../core/src/LlmConfig.ts"
import * as LlmMetrics from "../../core/src/LlmMetrics.ts"
import * as RequestLog from "../../core/src/RequestLog.ts"
import type { AttemptReport } from "../../core/src/RequestLog.ts"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import { stories } from "../../core/test/RequestLog.fixtures.ts"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqliteClient from "../src/SqliteClient.ts"
import * as SqlRequestLog from "../src/SqlRequestLog.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"
import { dropTablesAfterAll, postgresAvailable, postgresUrl } from "./postgres.ts"

const dir = mkdtempSync(join(tmpdir(), "baton-late-"))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

let counter = 0
const uniquePrefix = () => `late_${process.pid}_${Date.now().toString(36)}_${counter++}_`

/** The rows dropped so far by the SQL sinks. */
const dropped = Effect.map(
  Effect.forEach(
    ["usage-ledger", "request-log"].flatMap((sink) => [`${sink}:sql:sqlite-node-builtin`, `${sink}:sql:pg`]),
    (sink) => Metric.value(Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink }))
  ),
  (values) => values.reduce((sum, value) => sum + value.count, 0)
)

/** The request ids in a table of the database of `url`. */
const requestIds = (url: string, table: string) =>
  SqlClient.SqlClient.use((sql) => sql<{ request_id: string }>`SELECT request_id FROM ${sql(table)}`).pipe(
    Effect.map((rows) => rows.map((row) => row.request_id).sort()),
    Effect.provide(SqlDatabase.layerUrl(url))
  )

/**
 * Builds `layer` in a scope, records `before` through `write`, closes the
 * scope, then records `after`: as a request that ends once its layer closed.
 */
const writeAcrossClose = <S, E>(
  layer: Layer.Layer<S, E>,
  write: (service: Context.Context<S>, report: AttemptReport) => Effect.Effect<void>,
  before: AttemptReport,
  after: AttemptReport
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    yield* write(context, before)
    yield* Scope.close(scope, Exit.void)
    yield* write(context, after)
  })

const record = (context: Context.Context<UsageLedger.UsageLedger>, report: AttemptReport) =>
  Context.get(context, UsageLedger.UsageLedger).record(report)

const log = (context: Context.Context<RequestLog.RequestLog>, report: AttemptReport) =>
  Context.get(context, RequestLog.RequestLog).write(report)

/**
 * One case: the sink `layer` builds over the database of `url` records a row
 * before its scope closed and one after; both land in its `table`, none dropped.
 */
const lateRow = <S, E>(
  title: string,
  url: (prefix: string) => string,
  remember: (prefix: string) => void,
  layer: (url: string, prefix: string) => Layer.Layer<S, E>,
  write: (service: Context.Context<S>, report: AttemptReport) => Effect.Effect<void>,
  table: (tables: ReturnType<typeof BatonSchema.tables>) => string
) => {
  it.live(title, () =>
    Effect.gen(function*() {
      const s = yield* stories
      const prefix = uniquePrefix()
      remember(prefix)
      const before = yield* dropped
      yield* writeAcrossClose(layer(url(prefix), prefix), write, s.success[0], s.cancelled[0])
      assert.deepStrictEqual(yield* requestIds(url(prefix), table(BatonSchema.tables({ tablePrefix: prefix }))), [
        "req-cancelled",
        "req-success"
      ])
      assert.strictEqual((yield* dropped) - before, 0)
    }))
}

const suite = (name: string, url: (prefix: string) => string, remember: (prefix: string) => void) => {
  lateRow(
    `${name}: SqlUsageLedger.layerUrl writes a row recorded after the layer closed`,
    url,
    remember,
    (url, prefix) => SqlUsageLedger.layerUrl(url, { tablePrefix: prefix, flushInterval: "1 hour" }),
    record,
    (tables) => tables.usage
  )
  lateRow(
    `${name}: SqlUsageLedger.layerFromConfig writes a row recorded after the layer closed`,
    url,
    remember,
    (url, prefix) =>
      SqlUsageLedger.layerFromConfig({ tablePrefix: prefix, flushInterval: "1 hour" }).pipe(
        Layer.provide(LlmConfig.layerFromRecord({
          DEEPSEEK_API_KEY: "sk-deepseek",
          GEMINI_API_KEY: "g-key",
          LLM_USAGE_STORE_URL: url
        }))
      ),
    record,
    (tables) => tables.usage
  )
  lateRow(
    `${name}: SqlRequestLog.sink over SqlDatabase.layerUrl writes a record given after the layer closed`,
    url,
    remember,
    (url, prefix) =>
      RequestLog.layer([SqlRequestLog.sink({ tablePrefix: prefix, flushInterval: "1 hour" })]).pipe(
        Layer.provide(SqlDatabase.layerUrl(url))
      ),
    log,
    (tables) => tables.requestLog
  )
}

describe("a row recorded after the layer closed", () => {
  suite("sqlite", (prefix) => `sqlite:${join(dir, `${prefix}.db`)}`, () => {})

  it.live("over a client from elsewhere, or an in-memory SQLite database, it is dropped, counted and logged", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
      })
      const before = yield* dropped
      const file = join(dir, "elsewhere.db")
      const ledgers: ReadonlyArray<Layer.Layer<UsageLedger.UsageLedger, unknown>> = [
        SqlUsageLedger.layer({ flushInterval: "1 hour" }).pipe(Layer.provide(SqliteClient.layer({ filename: file }))),
        SqlUsageLedger.layerUrl("sqlite::memory:", { flushInterval: "1 hour" })
      ]
      for (const ledger of ledgers) {
        yield* writeAcrossClose(ledger, record, s.success[0], s.cancelled[0]).pipe(
          Effect.provide(Logger.layer([capture]))
        )
      }
      assert.deepStrictEqual(yield* requestIds(`sqlite:${file}`, "baton_usage"), ["req-success"])
      assert.strictEqual((yield* dropped) - before, 2)
      assert.strictEqual(warnings.length, 2)
      for (const warning of warnings) {
        assert.include(warning, "given after it closed")
        assert.include(warning, "only counted")
      }
    }))

  describe.skipIf(!postgresAvailable)("postgres", () => {
    suite("postgres", () => postgresUrl, dropTablesAfterAll())
  })
})
