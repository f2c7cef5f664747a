/**
 * An `effect/sql` client for SQLite over Node's built-in `node:sqlite`
 * (Node 22.5+, stable in Node 24): no native add-on, no extra dependency.
 *
 * `@effect/sql-sqlite-node` has no release that loads with effect 4.1, so
 * Baton builds the client itself from the pieces `effect/sql` gives drivers:
 * a `Connection` that runs compiled SQL on one `DatabaseSync`, shared through
 * `SqlClient.makeSqliteAcquirers` (a semaphore, so a transaction owns the
 * connection until it ends), and the SQLite statement compiler. Everything
 * written with `SqlClient` (tagged templates, `sql.insert`, transactions,
 * `Migrator`) works on it as on PostgreSQL.
 *
 * Gotchas:
 * - `node:sqlite` is synchronous: each statement blocks the event loop while
 *   it runs. Keep statements small (the ledger writes batches in the
 *   background) and put heavy analytics on PostgreSQL.
 * - A file database is opened in WAL mode, so readers in other processes do
 *   not block the writer. A statement that meets another process's lock (a
 *   backup, several processes creating one new file) never waits inside
 *   SQLite, which would block the event loop: SQLite's busy timeout is 0,
 *   and a statement refused with "database is locked" is tried again every
 *   20 milliseconds on the effect `Clock`, for up to 5 seconds, then fails.
 *   Meanwhile the rest of the process runs (requests, their deadlines, a
 *   caller's `Effect.timeout`, which ends the wait); the statement holds the
 *   connection, so this client's other statements wait for it. The switch of
 *   a new file to WAL, which SQLite refuses while another connection writes
 *   to or reads the file, is tried again the same way.
 * - Integers beyond `Number.MAX_SAFE_INTEGER` make a read fail rather than
 *   lose precision.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlClient } from "effect/sql"
 * import * as SqliteClient from "@baton/sql/SqliteClient"
 *
 * const program = Effect.gen(function*() {
 *   const sql = yield* SqlClient.SqlClient
 *   return yield* sql`SELECT 1 AS one`
 * }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" })))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schedule, type Scope, Semaphore, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient, type SqlConnection, SqlError, Statement } from "effect/sql"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite"

/**
 * Where the database lives: a file path, or `:memory:`. A missing parent
 * directory of the file is created.
 *
 * @since 0.1.0
 */
export interface Config {
  readonly filename: string
}

const toError = (operation: string) => (cause: unknown): SqlError.SqlError =>
  new SqlError.SqlError({
    reason: SqlError.classifySqliteError(cause, {
      message: cause instanceof Error ? cause.message : `SQLite ${operation} failed`,
      operation
    })
  })

const toInput = (value: unknown): SQLInputValue => {
  if (value === null || value === undefined) return null
  if (typeof value === "boolean") return value ? 1 : 0
  if (value instanceof Date) return value.toISOString()
  if (
    typeof value === "number" || typeof value === "bigint" || typeof value === "string" ||
    value instanceof Uint8Array
  ) return value
  return JSON.stringify(value)
}

/** How long a statement meeting another connection's lock tries again before it fails with "database is locked". */
const BUSY_TIMEOUT_MS = 5000

/** How often a statement refused by another connection's lock is tried again. */
const BUSY_RETRY_MS = 20

/** `SQLITE_BUSY_SNAPSHOT`: a read transaction whose snapshot another connection outdated, refused for good. */
const BUSY_SNAPSHOT = 517

/**
 * SQLite's `SQLITE_BUSY` ("database is locked"), extended codes included, as
 * `node:sqlite` reports it, but for a stale snapshot (which trying again
 * cannot cure, and SQLite's own busy handler never waited for).
 */
const isBusy = (cause: unknown): boolean => {
  const code = typeof cause === "object" && cause !== null
    ? (cause as { readonly errcode?: unknown }).errcode
    : undefined
  return typeof code === "number" && (code & 0xff) === 5 && code !== BUSY_SNAPSHOT
}

/**
 * Runs `run` on a database SQLite refuses at once while another connection
 * holds its lock (its busy timeout is 0: SQLite's own wait would block the
 * event loop), and tries it again on the effect `Clock`, every
 * `BUSY_RETRY_MS`, for up to `BUSY_TIMEOUT_MS`: the wait can be interrupted
 * (a timeout, a deadline), and everything else in the process runs meanwhile.
 */
const whenUnlocked = <A>(operation: string, run: () => A): Effect.Effect<A, SqlError.SqlError> =>
  Effect.try({ try: run, catch: (cause) => cause }).pipe(
    Effect.retry({
      while: isBusy,
      schedule: Schedule.spaced(BUSY_RETRY_MS).pipe(Schedule.upTo({ duration: BUSY_TIMEOUT_MS }))
    }),
    Effect.mapError(toError(operation))
  )

const openDatabase = (filename: string): Effect.Effect<DatabaseSync, SqlError.SqlError, Scope.Scope> =>
  Effect.tap(
    Effect.acquireRelease(
      Effect.try({
        try: () => {
          if (filename !== ":memory:") mkdirSync(dirname(filename), { recursive: true })
          // no busy timeout: a statement meeting another connection's lock is refused at once (see `whenUnlocked`)
          return new DatabaseSync(filename, { timeout: 0 })
        },
        catch: toError("open")
      }),
      (db) =>
        Effect.sync(() => {
          db.close()
        })
    ),
    (db) =>
      filename === ":memory:" ? Effect.void : whenUnlocked("open", () => {
        db.exec("PRAGMA journal_mode = WAL")
      })
  )

const makeConnection = (db: DatabaseSync): SqlConnection.Connection => {
  const cache = new Map<string, StatementSync>()
  const prepare = (sql: string): StatementSync => {
    const cached = cache.get(sql)
    if (cached !== undefined) return cached
    const statement = db.prepare(sql)
    cache.set(sql, statement)
    return statement
  }
  const rows = (sql: string, params: ReadonlyArray<unknown>) =>
    whenUnlocked("execute", () => prepare(sql).all(...params.map(toInput)))
  const values = (sql: string, params: ReadonlyArray<unknown>) =>
    whenUnlocked("execute", () => {
      const statement = db.prepare(sql)
      statement.setReturnArrays(true)
      return statement.all(...params.map(toInput)) as unknown as ReadonlyArray<ReadonlyArray<unknown>>
    })
  const execute: SqlConnection.Connection["execute"] = (sql, params, transformRows) =>
    transformRows === undefined ? rows(sql, params) : Effect.map(rows(sql, params), transformRows)
  return {
    execute,
    executeRaw: rows,
    executeStream: (sql, params, transformRows) => Stream.fromIterableEffect(execute(sql, params, transformRows)),
    executeValues: values,
    executeValuesUnprepared: values,
    executeUnprepared: execute
  }
}

/**
 * A client on one database connection, closed with the scope.
 *
 * @since 0.1.0
 */
export const make = (
  config: Config
): Effect.Effect<SqlClient.SqlClient, SqlError.SqlError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const db = yield* openDatabase(config.filename)
    const connection = makeConnection(db)
    const acquirers = SqlClient.makeSqliteAcquirers({
      connection: Effect.succeed(connection),
      semaphore: yield* Semaphore.make(1),
      isTransaction: () => db.isTransaction
    })
    return yield* SqlClient.make({
      ...acquirers,
      compiler: Statement.makeCompilerSqlite(),
      driver: "sqlite-node-builtin",
      spanAttributes: [["db.system.name", "sqlite"]]
    })
  })

/**
 * A layer providing `SqlClient` over a SQLite database.
 *
 * @since 0.1.0
 */
export const layer = (config: Config): Layer.Layer<SqlClient.SqlClient, SqlError.SqlError> =>
  Layer.effectContext(Effect.map(make(config), (client) => Context.make(SqlClient.SqlClient, client))).pipe(
    Layer.provide(Reactivity.layer)
  )
