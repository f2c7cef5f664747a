/**
 * The request log's database sink: every `LlmRequestLog` record as a row of
 * `<prefix>request_log`, in the same database as the usage ledger.
 *
 * Like the ledger, the sink only enqueues (until its scope closes); a background writer inserts in
 * batches, flushes when the scope closes, and a crash loses at most the last
 * `flushInterval` (default 1 second) of records. A failing database never
 * reaches the request: batches are retried, then dropped and counted
 * (`baton_sink_failures_total`, `baton_sink_rows_dropped_total`).
 *
 * A record given after the scope closed (a request still running when the
 * layers were torn down) is inserted by the recording fiber, within
 * `closeTimeout`. Over `SqlDatabase.layerUrl`, whose client closes with the
 * same scope, it is inserted on a client opened for it alone; over a client
 * from elsewhere (`PgClient.layer`), or an in-memory SQLite database, only
 * while that client is open, else it is dropped, counted and logged.
 *
 * Combine it with the JSON-lines sink through `RequestLog.layer`:
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as RequestLog from "@baton/core/RequestLog"
 * import * as SqlDatabase from "@baton/sql/SqlDatabase"
 * import * as SqlRequestLog from "@baton/sql/SqlRequestLog"
 *
 * const Logs = RequestLog.layer([RequestLog.jsonSink(), SqlRequestLog.sink()]).pipe(
 *   Layer.provide(SqlDatabase.layerUrl("sqlite:baton.db"))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as BatchWriter from "@baton/core/BatchWriter"
import type { LlmConfigError } from "@baton/core/LlmError"
import type * as RequestLog from "@baton/core/RequestLog"
import { Array as Arr, Effect, type Scope } from "effect"
import { type Migrator, SqlClient, type SqlError } from "effect/sql"
import * as BatonSchema from "./BatonSchema.ts"
import { driverName } from "./internal/driver.ts"
import { withClient } from "./internal/reopen.ts"
import { storable } from "./internal/storable.ts"

/**
 * Table and batching options.
 *
 * @since 0.1.0
 */
export interface Options extends BatonSchema.Options, Omit<BatchWriter.Options, "name"> {}

const toColumns = (record: RequestLog.LlmRequestLog) => ({
  id: record.id,
  request_id: record.requestId,
  attempt: record.attempt,
  ts: record.timestamp,
  provider: record.provider,
  model: record.model,
  prompt_hash: record.promptHash,
  subject_id: record.subjectId,
  tags: JSON.stringify(record.tags),
  role: record.role,
  outcome: record.outcome,
  latency_ms: record.latencyMs,
  usage_reported: record.usageReported ? 1 : 0,
  usage_estimated: record.usageEstimated ? 1 : 0,
  prompt_tokens: record.promptTokens,
  completion_tokens: record.completionTokens,
  cached_prompt_tokens: record.cachedPromptTokens,
  reasoning_tokens: record.reasoningTokens,
  total_tokens: record.totalTokens,
  cost_nano_usd: record.costNanoUsd,
  cost_usd: record.costUsd,
  finish_reason: record.finishReason,
  error_tag: record.errorTag,
  error_message: record.errorMessage,
  prompt: record.prompt ?? null
})

/**
 * Runs the migrations and starts the sink's background writer. Batching
 * options `BatchWriter.checkOptions` refuses, and a `tablePrefix` that is no
 * plain name (`BatonSchema.checkOptions`), fail it first, with an
 * `LlmConfigError` naming `SqlRequestLog.<option>`.
 *
 * @since 0.1.0
 */
export const sink = (
  options: Options = {}
): Effect.Effect<
  RequestLog.Sink,
  LlmConfigError | Migrator.MigrationError | SqlError.SqlError,
  SqlClient.SqlClient | Scope.Scope
> =>
  Effect.gen(function*() {
    yield* BatchWriter.checkOptions("SqlRequestLog", options)
    const table = (yield* BatonSchema.checkOptions("SqlRequestLog", options)).requestLog
    const sql = yield* SqlClient.SqlClient
    yield* BatonSchema.migrate(options)
    const write = yield* withClient(sql)
    const writer = yield* BatchWriter.make(
      (records: Arr.NonEmptyReadonlyArray<RequestLog.LlmRequestLog>) =>
        Effect.asVoid(write((sql) =>
          // a batch written again (its first insert committed, the answer lost) adds nothing: its ids are in
          sql`INSERT INTO ${sql(table)} ${sql.insert(Arr.map(records, (record) => storable(toColumns(record))))}
            ON CONFLICT (id) DO NOTHING`
        )),
      { ...options, name: `request-log:sql:${driverName(sql)}` }
    )
    return { name: `sql:${driverName(sql)}`, write: writer.offer }
  })
