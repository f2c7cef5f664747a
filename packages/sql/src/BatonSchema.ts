/**
 * Baton's tables and their migrations, for SQLite and PostgreSQL.
 *
 * Two tables, both named with a prefix (default `baton_`, so several
 * deployments or test runs can share a database):
 *
 * - `<prefix>usage`: one row per billed attempt (the usage ledger), unique by
 *   its `id` (`UsageEntry.id`, a UUID given when the row is built), so a batch
 *   written again after a lost commit adds nothing, while two attempts of one
 *   request id ending in the same millisecond (a caller reusing its request
 *   id) are two rows. Rows written before migration 7 have no id (null).
 *   Costs are integer nano-USD (`BIGINT` on PostgreSQL, SQLite's 64-bit
 *   `INTEGER`), so `SUM` is exact.
 * - `<prefix>request_log`: one row per attempt (the request log's database
 *   sink), unique by `id` (`LlmRequestLog.id`) as the usage rows are, never
 *   with a key; `prompt` only when prompts are logged; `tags` the request's
 *   tags as a JSON object (text, so both dialects read it).
 *
 * In both, `usage_estimated` is 1 when the row's token and cost columns are
 * Baton's estimate (`TokenUsage.estimated`: from the text and streamed
 * reasoning, where the provider did not report the usage whole), else 0
 * (an integer on both dialects, as `usage_reported`): `SUM(usage_estimated)`
 * counts the estimated rows of an aggregate.
 *
 * Migrations are recorded in `<prefix>migrations` by `effect/sql`'s
 * `Migrator` and run once each, at layer build: the usage ledger and the
 * request log both run them, and the second finds nothing to do.
 * Concurrent starts are safe: on PostgreSQL the migrator locks its table; on
 * SQLite its transaction begins `IMMEDIATE` (taking the write lock before it
 * reads what ran), so another process opening the same file waits for it
 * (trying again for up to 5 seconds, without blocking: see `SqliteClient`)
 * and then finds nothing to do.
 * Migration 7 drops the unique index the inserts of earlier Baton versions
 * name (`ON CONFLICT (request_id, attempt, ts)`): a process still running
 * one has its inserts refused from then on (its rows retried, then dropped
 * and counted), so upgrade every process writing to a database together.
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import type { LlmConfigError } from "@baton/core/LlmError"
import { Effect, Schema } from "effect"
import { Migrator, SqlClient, type SqlError } from "effect/sql"

/**
 * Where Baton's tables are.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Prefix of every table name (default `baton_`): letters, digits and `_`. */
  readonly tablePrefix?: string | undefined
}

/**
 * The table names for a prefix.
 *
 * @since 0.1.0
 */
export interface Tables {
  readonly usage: string
  readonly requestLog: string
  readonly migrations: string
}

/** A table prefix: written into SQL as part of a name, so a plain identifier. */
const TablePrefix = Schema.String.check(
  Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_]{0,40}$/, {
    message: "a table prefix is 1-41 letters, digits or '_', not starting with a digit, such as \"baton_\""
  })
)

const tablesOf = (prefix: string): Tables => ({
  usage: `${prefix}usage`,
  requestLog: `${prefix}request_log`,
  migrations: `${prefix}migrations`
})

/**
 * Checks the options before any database is opened, naming each as
 * `owner.option` (`SqlUsageLedger.tablePrefix`, `SqlRequestLog.tablePrefix`):
 * a `tablePrefix` that is not a plain identifier is an `LlmConfigError`.
 * Gives the tables.
 *
 * @since 0.1.0
 */
export const checkOptions = (owner: string, options: Options = {}): Effect.Effect<Tables, LlmConfigError> =>
  Effect.map(LlmConfig.option(TablePrefix, `${owner}.tablePrefix`, options.tablePrefix ?? "baton_"), tablesOf)

/**
 * The tables for options {@link checkOptions} takes; throws on any other
 * prefix (the stores check their options first).
 *
 * @since 0.1.0
 */
export const tables = (options: Options = {}): Tables =>
  tablesOf(Schema.decodeSync(TablePrefix)(options.tablePrefix ?? "baton_"))

const createUsage = (table: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const bigint = sql.onDialectOrElse({ pg: () => sql.literal("BIGINT"), orElse: () => sql.literal("INTEGER") })
    yield* sql`CREATE TABLE ${sql(table)} (
      request_id TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      ts TEXT NOT NULL,
      day TEXT NOT NULL,
      subject_id TEXT,
      provider TEXT NOT NULL,
      model TEXT NOT NULL,
      outcome TEXT NOT NULL,
      prompt_tokens ${bigint} NOT NULL,
      completion_tokens ${bigint} NOT NULL,
      cached_prompt_tokens ${bigint} NOT NULL,
      reasoning_tokens ${bigint} NOT NULL,
      total_tokens ${bigint} NOT NULL,
      cost_nano_usd ${bigint} NOT NULL
    )`
    yield* sql`CREATE INDEX ${sql(`${table}_day_subject`)} ON ${sql(table)} (day, subject_id)`
    yield* sql`CREATE INDEX ${sql(`${table}_request`)} ON ${sql(table)} (request_id)`
  })

const createRequestLog = (table: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const bigint = sql.onDialectOrElse({ pg: () => sql.literal("BIGINT"), orElse: () => sql.literal("INTEGER") })
    const real = sql.onDialectOrElse({ pg: () => sql.literal("DOUBLE PRECISION"), orElse: () => sql.literal("REAL") })
    yield* sql`CREATE TABLE ${sql(table)} (
      request_id TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      ts TEXT NOT NULL,
      provider TEXT NOT NULL,
      model TEXT NOT NULL,
      prompt_hash TEXT NOT NULL,
      subject_id TEXT,
      role TEXT NOT NULL,
      outcome TEXT NOT NULL,
      latency_ms ${real} NOT NULL,
      usage_reported INTEGER NOT NULL,
      prompt_tokens ${bigint} NOT NULL,
      completion_tokens ${bigint} NOT NULL,
      cached_prompt_tokens ${bigint} NOT NULL,
      reasoning_tokens ${bigint} NOT NULL,
      total_tokens ${bigint} NOT NULL,
      cost_nano_usd ${bigint} NOT NULL,
      cost_usd ${real} NOT NULL,
      finish_reason TEXT,
      error_tag TEXT,
      error_message TEXT,
      prompt TEXT
    )`
    yield* sql`CREATE INDEX ${sql(`${table}_request`)} ON ${sql(table)} (request_id)`
    yield* sql`CREATE INDEX ${sql(`${table}_subject_ts`)} ON ${sql(table)} (subject_id, ts)`
  })

/** The request's tags, as a JSON object in a text column (`{}` for rows written before). */
const addRequestLogTags = (table: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`ALTER TABLE ${sql(table)} ADD COLUMN tags TEXT NOT NULL DEFAULT '{}'`
  )

/**
 * One row per recorded attempt in `table` (`request_id`, `attempt` and its
 * end `ts`: a caller may reuse a request id, whose attempts then count
 * again): the rows a retried batch wrote twice (its first insert committed,
 * the answer lost) are dropped, keeping the first, then a unique index keeps
 * it so (until {@link oncePerRow}, which keeps rows apart by their own id).
 */
const oncePerAttempt = (table: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({
      pg: () =>
        sql`DELETE FROM ${sql(table)} a USING ${sql(table)} b
          WHERE a.request_id = b.request_id AND a.attempt = b.attempt AND a.ts = b.ts AND a.ctid > b.ctid`,
      orElse: () =>
        sql`DELETE FROM ${sql(table)} WHERE rowid NOT IN
          (SELECT MIN(rowid) FROM ${sql(table)} GROUP BY request_id, attempt, ts)`
    })
    yield* sql`CREATE UNIQUE INDEX ${sql(`${table}_attempt`)} ON ${sql(table)} (request_id, attempt, ts)`
  })

/**
 * Whether a row's token and cost columns are Baton's estimate
 * (`TokenUsage.estimated`): 1 when they are, else 0, as rows written
 * before are. An integer on both dialects, like `usage_reported`.
 */
const addUsageEstimated = (usage: string, requestLog: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const table of [usage, requestLog]) {
      yield* sql`ALTER TABLE ${sql(table)} ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0`
    }
  })

/**
 * Each row's own id (`UsageEntry.id`, `LlmRequestLog.id`) in `id`, unique: a
 * batch written again still adds nothing, and the unique index on request
 * id, attempt and end time goes, as it dropped the second of two attempts of
 * one request id (a caller's own, reused) ending in the same millisecond.
 * Rows written before keep a null id (nulls are never equal in a unique
 * index).
 */
const oncePerRow = (usage: string, requestLog: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const table of [usage, requestLog]) {
      yield* sql`ALTER TABLE ${sql(table)} ADD COLUMN id TEXT`
      yield* sql`CREATE UNIQUE INDEX ${sql(`${table}_id`)} ON ${sql(table)} (id)`
      yield* sql`DROP INDEX ${sql(`${table}_attempt`)}`
    }
  })

/**
 * Runs the pending migrations for the given tables.
 *
 * @since 0.1.0
 */
export const migrate = (
  options: Options = {}
): Effect.Effect<void, Migrator.MigrationError | SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const names = tables(options)
    const sql = yield* SqlClient.SqlClient
    // SQLite: the migrator reads the last migration run, then records the new ones. In a plain (deferred)
    // transaction, another process committing in between makes that write fail at once with SQLITE_BUSY
    // (not the conflict the migrator takes for "already running"); an immediate one takes the write lock
    // first, so a second process waits (tries it again, see SqliteClient), then finds nothing left to do.
    const begin = sql.onDialectOrElse({ sqlite: () => "BEGIN IMMEDIATE", orElse: () => undefined })
    yield* Migrator.make({})({
      table: names.migrations,
      loader: Migrator.fromRecord({
        "1_usage": createUsage(names.usage),
        "2_request_log": createRequestLog(names.requestLog),
        "3_request_log_tags": addRequestLogTags(names.requestLog),
        "4_usage_once_per_attempt": oncePerAttempt(names.usage),
        "5_request_log_once_per_attempt": oncePerAttempt(names.requestLog),
        "6_usage_estimated": addUsageEstimated(names.usage, names.requestLog),
        "7_row_id": oncePerRow(names.usage, names.requestLog)
      })
    }).pipe(Effect.provideService(SqlClient.BeginTransaction, begin))
  })
