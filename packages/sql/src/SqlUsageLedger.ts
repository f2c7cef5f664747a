/**
 * The usage ledger in a SQL database: SQLite (embedded, the CLI and demo
 * default) or PostgreSQL (shared by many processes), one implementation
 * through `effect/sql`'s `SqlClient`.
 *
 * {@link layer} needs a `SqlClient`; {@link layerUrl} picks the driver from a
 * URL (`sqlite:path`, `file:path`, `sqlite::memory:`, `postgres://...`, see
 * `SqlDatabase`); {@link layerFromConfig} reads `LLM_USAGE_STORE_URL` from
 * `LlmConfig`, and counts days in the quota zone (`AI_QUOTA_TIMEZONE`).
 * Building the layer runs the migrations (`BatonSchema`).
 *
 * Rows are appended in batches by the core ledger's background writer
 * (`UsageLedger.make`): `record` never waits for the database (but after the
 * layer's scope closed, when it writes its row itself), a failing
 * database never fails a request (rows are retried, then dropped and
 * counted), rows are flushed when the layer's scope closes, and a crash loses
 * at most the last `flushInterval` (default 1 second) of rows. Aggregates
 * are computed by the database with `SUM` over integer nano-USD, so they
 * equal the sum of the rows exactly.
 *
 * Queries append the rows waiting first. A query that has not answered
 * within `queryTimeout` (default `UsageLedger.defaultQueryTimeout`, 10
 * seconds), that append included, fails with a `UsageLedgerError`, as does a
 * database that refuses it; its caller's own `Effect.timeout` or
 * interruption ends it sooner. Either ends it even while the append waits
 * for the database (a table locked by another session, a server that stopped
 * answering), and the append goes on in the background. On SQLite a file
 * another process holds locked is waited for on the effect `Clock`, never
 * inside SQLite (see `SqliteClient`): the process, its requests and their
 * deadlines run on meanwhile.
 *
 * A row recorded after the layer closed: {@link layerUrl} and
 * {@link layerFromConfig} close their client with the layer, and open one
 * for that row alone, closed after it (within `closeTimeout`); so does
 * {@link layer} over `SqlDatabase.layerUrl`. Over a client from elsewhere
 * (`PgClient.layer`), or an in-memory SQLite database (`sqlite::memory:`, gone
 * with its client), such a row is written only while that client is open,
 * else dropped, counted and logged.
 *
 * Closing the layer over a PostgreSQL that stopped answering takes
 * `closeTimeout` for the ledger, then up to 5 seconds more for the client of
 * {@link layerUrl}: `@effect/sql-pg` releases its pool once the statement cut
 * off at `closeTimeout` is cancelled, and waits that long for the server.
 * A query waiting then holds its connection too, though its caller no
 * longer waits for it: measured, a layer closed mid-query (`queryTimeout`
 * 2 seconds) took 6.7 seconds, the query's bound and those 5 seconds.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as UsageLedger from "@baton/core/UsageLedger"
 * import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
 *
 * const program = UsageLedger.UsageLedger.use((ledger) =>
 *   ledger.usageBySubject(UsageLedger.Day.make("2026-03-07"))
 * ).pipe(Effect.provide(SqlUsageLedger.layerUrl("sqlite:baton-usage.db")))
 * ```
 *
 * @since 0.1.0
 */
import { ProviderName, type SubjectId } from "@baton/core/Ids"
import { LlmConfig } from "@baton/core/LlmConfig"
import type { LlmConfigError } from "@baton/core/LlmError"
import * as TokenUsage from "@baton/core/TokenUsage"
import * as UsageLedger from "@baton/core/UsageLedger"
import { Array as Arr, Effect, Layer, Option, Redacted, Schema, type Scope } from "effect"
import { type Migrator, SqlClient, type SqlError } from "effect/sql"
import * as BatonSchema from "./BatonSchema.ts"
import { driverName } from "./internal/driver.ts"
import { withClient } from "./internal/reopen.ts"
import { storable } from "./internal/storable.ts"
import * as SqlDatabase from "./SqlDatabase.ts"

/**
 * Table and batching options.
 *
 * @since 0.1.0
 */
export interface Options extends BatonSchema.Options, UsageLedger.Options {}

type Row = Readonly<Record<string, unknown>>

const storeError = (error: SqlError.SqlError | SqlDatabase.DatabaseError | UsageLedger.UsageLedgerError) =>
  error._tag === "UsageLedgerError"
    ? error
    : new UsageLedger.UsageLedgerError({ store: "sql", message: `usage ledger query failed: ${error.message}` })

const integer = (row: Row, column: string): Effect.Effect<number, UsageLedger.UsageLedgerError> => {
  const raw = row[column]
  const value = raw === null || raw === undefined ? 0 : Number(raw)
  return Number.isSafeInteger(value) ? Effect.succeed(value) : Effect.fail(
    new UsageLedger.UsageLedgerError({
      store: "sql",
      message: `column ${column} holds ${String(raw)}, not an exact integer; aggregate a shorter range`
    })
  )
}

const readTotals = (row: Row): Effect.Effect<UsageLedger.UsageTotals, UsageLedger.UsageLedgerError> =>
  Effect.map(
    Effect.all({
      requests: integer(row, "requests"),
      attempts: integer(row, "attempts"),
      promptTokens: integer(row, "prompt_tokens"),
      completionTokens: integer(row, "completion_tokens"),
      cachedPromptTokens: integer(row, "cached_prompt_tokens"),
      reasoningTokens: integer(row, "reasoning_tokens"),
      totalTokens: integer(row, "total_tokens"),
      costNanoUsd: integer(row, "cost_nano_usd")
    }),
    (totals) => ({ ...totals, costUsd: TokenUsage.nanoUsdToUsd(totals.costNanoUsd) })
  )

/** A grouping column read back through its schema (a brand is checked, never assumed). */
const key = <A>(schema: Schema.Codec<A, unknown>, row: Row, column: string) =>
  Schema.decodeUnknownEffect(schema)(row[column]).pipe(
    Effect.mapError((error) =>
      new UsageLedger.UsageLedgerError({ store: "sql", message: `column ${column}: ${error.message}` })
    )
  )

/**
 * A stored subject, checked by the rule its row was written under: a release before `SubjectId` refused white
 * space at an end stored such ids, and a day holding one must still read (not a `UsageLedgerError` for every query
 * of that day). No control character, no lone surrogate, as every release required.
 */
const storedIdText = /^[^\p{Cc}\uD800-\uDFFF]*$/u

const SubjectOrNull = Schema.NullOr(
  Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(256), Schema.isPattern(storedIdText)).pipe(
    Schema.brand("SubjectId")
  )
)

const byKey = <A>(key: (a: A) => string | null) => (a: A, b: A) => (key(a) ?? "").localeCompare(key(b) ?? "")

const toColumns = (entry: UsageLedger.UsageEntry) => ({
  id: entry.id,
  request_id: entry.requestId,
  attempt: entry.attempt,
  ts: entry.timestamp,
  day: entry.day,
  subject_id: entry.subjectId,
  provider: entry.provider,
  model: entry.model,
  outcome: entry.outcome,
  prompt_tokens: entry.promptTokens,
  completion_tokens: entry.completionTokens,
  cached_prompt_tokens: entry.cachedPromptTokens,
  reasoning_tokens: entry.reasoningTokens,
  total_tokens: entry.totalTokens,
  cost_nano_usd: entry.costNanoUsd,
  usage_estimated: entry.usageEstimated === true ? 1 : 0
})

/**
 * A ledger store over the current `SqlClient`, in the given tables (the
 * migrations must have run). Once the client of `SqlDatabase.layerUrl` is
 * closed, `append` writes on a client opened for the batch.
 *
 * @since 0.1.0
 */
export const makeStore = (
  options: BatonSchema.Options = {}
): Effect.Effect<UsageLedger.Store, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const write = yield* withClient(sql)
    const tableName = BatonSchema.tables(options).usage
    const table = sql(tableName)
    const sums = sql`COUNT(DISTINCT request_id) AS requests, COUNT(*) AS attempts,
      SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens,
      SUM(cached_prompt_tokens) AS cached_prompt_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
      SUM(total_tokens) AS total_tokens, SUM(cost_nano_usd) AS cost_nano_usd`
    const range = (from: UsageLedger.Day, to: UsageLedger.Day, subjectId: SubjectId | undefined) =>
      sql.and([
        sql`day >= ${from}`,
        sql`day <= ${to}`,
        ...(subjectId === undefined ? [] : [sql`subject_id = ${subjectId}`])
      ])
    const query = <A>(
      statement: Effect.Effect<ReadonlyArray<Row>, SqlError.SqlError>,
      decode: (row: Row) => Effect.Effect<A, UsageLedger.UsageLedgerError>
    ) => statement.pipe(Effect.flatMap((rows) => Effect.forEach(rows, decode)), Effect.mapError(storeError))

    return {
      name: `sql:${driverName(sql)}`,
      append: (rows: Arr.NonEmptyReadonlyArray<UsageLedger.UsageEntry>) =>
        write((sql) =>
          // a batch written again (its first insert committed, the answer lost) adds nothing: its ids are in
          sql`INSERT INTO ${sql(tableName)} ${sql.insert(Arr.map(rows, (row) => storable(toColumns(row))))}
            ON CONFLICT (id) DO NOTHING`
        ).pipe(
          Effect.asVoid,
          Effect.mapError(storeError)
        ),
      usageBySubject: (day) =>
        query(
          sql`SELECT subject_id, ${sums} FROM ${table} WHERE day = ${day} GROUP BY subject_id`,
          (row) =>
            Effect.map(
              Effect.zip(key(SubjectOrNull, row, "subject_id"), readTotals(row)),
              ([subjectId, totals]) => ({ day, subjectId, ...totals })
            )
        ).pipe(Effect.map((rows) => rows.toSorted(byKey((row) => row.subjectId)))),
      usageByProvider: (from, to, filter) =>
        query(
          sql`SELECT provider, ${sums} FROM ${table} WHERE ${range(from, to, filter?.subjectId)} GROUP BY provider`,
          (row) =>
            Effect.map(
              Effect.zip(key(ProviderName, row, "provider"), readTotals(row)),
              ([provider, totals]) => ({ provider, ...totals })
            )
        ).pipe(Effect.map((rows) => rows.toSorted(byKey((row) => row.provider)))),
      dailyTotals: (from, to, filter) =>
        query(
          sql`SELECT day, ${sums} FROM ${table} WHERE ${range(from, to, filter?.subjectId)} GROUP BY day`,
          (row) =>
            Effect.map(
              Effect.zip(key(UsageLedger.Day, row, "day"), readTotals(row)),
              ([day, totals]) => ({ day, ...totals })
            )
        ).pipe(Effect.map((rows) => rows.toSorted(byKey((row) => row.day))))
    }
  })

/**
 * The options checked before any database is used: `UsageLedger.checkOptions`'s, and
 * the `tablePrefix` (`BatonSchema.checkOptions`, naming `SqlUsageLedger.tablePrefix`).
 */
const checkOptions = (options: Options): Effect.Effect<void, LlmConfigError> =>
  Effect.andThen(UsageLedger.checkOptions(options), BatonSchema.checkOptions("SqlUsageLedger", options))

/**
 * Checks the options (`UsageLedger.checkOptions`: an unknown `timeZone`, a
 * bad `queryTimeout` or batching option is an `LlmConfigError`; so is a
 * `tablePrefix` that is no plain name, naming `SqlUsageLedger.tablePrefix`),
 * runs the migrations, then builds a ledger over the current `SqlClient`.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<
  UsageLedger.Service,
  Migrator.MigrationError | SqlError.SqlError | LlmConfigError,
  SqlClient.SqlClient | Scope.Scope
> =>
  Effect.gen(function*() {
    yield* checkOptions(options)
    yield* BatonSchema.migrate(options)
    return yield* UsageLedger.make(yield* makeStore(options), options)
  })

/**
 * The ledger over the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  UsageLedger.UsageLedger,
  Migrator.MigrationError | SqlError.SqlError | LlmConfigError,
  SqlClient.SqlClient
> => Layer.effect(UsageLedger.UsageLedger, make(options))

/**
 * The ledger in the database a URL names. Options {@link make} refuses (an
 * unknown `timeZone`, a `tablePrefix` that is no plain name) are an
 * `LlmConfigError`, before the database is opened; what the database fails
 * with is a `DatabaseError`.
 *
 * @since 0.1.0
 */
export const layerUrl = (
  url: string | Redacted.Redacted,
  options: Options = {}
): Layer.Layer<UsageLedger.UsageLedger, SqlDatabase.DatabaseError | LlmConfigError> =>
  Layer.unwrap(
    Effect.as(
      checkOptions(options),
      SqlDatabase.withDatabaseError(layer(options), url).pipe(Layer.provide(SqlDatabase.layerUrl(url)))
    )
  )

/**
 * The ledger in `LLM_USAGE_STORE_URL`, else in `fallbackUrl` (the CLI passes
 * an SQLite file), else in memory. A `LLM_USAGE_STORE_URL` no database takes
 * (`LlmConfig.databaseUrl`) fails `LlmConfig` itself, with an
 * `LlmConfigError` naming the variable.
 *
 * Its days are those of the quota zone (`AI_QUOTA_TIMEZONE`, default UTC)
 * unless `options.timeZone` names another: a subject's "today" in the ledger
 * is the day its daily quota counts (an attempt's row is dated when it
 * ends: a request running across midnight is the next day's in the ledger,
 * the day before's in the quota).
 *
 * @since 0.1.0
 */
export const layerFromConfig = (
  options: Options & { readonly fallbackUrl?: string | undefined } = {}
): Layer.Layer<UsageLedger.UsageLedger, SqlDatabase.DatabaseError | LlmConfigError, LlmConfig> =>
  Layer.unwrap(LlmConfig.useSync((settings): Layer.Layer<
    UsageLedger.UsageLedger,
    SqlDatabase.DatabaseError | LlmConfigError
  > => {
    const url = Option.orElse(
      settings.usageStoreUrl,
      () => Option.map(Option.fromUndefinedOr(options.fallbackUrl), Redacted.make)
    )
    const withZone = { ...options, timeZone: options.timeZone ?? settings.quotaTimeZone }
    return Option.isSome(url) ? layerUrl(url.value, withZone) : UsageLedger.layerMemory(withZone)
  }))
