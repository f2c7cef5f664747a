/**
 * What the database of a usage ledger URL holds, read without writing
 * anything: an SQLite file is read read-only (never the WAL switch and
 * migrations of the ledger's client, which would create or change it), a
 * PostgreSQL database is asked for the ledger's tables where its queries
 * would find them (the connection's `search_path`). `usage`, which reads a
 * ledger only, and `check`, which writes nothing, judge a database by it.
 *
 * @internal
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as BatonSchema from "@baton/sql/BatonSchema"
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import { Effect, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { accessSync, closeSync, constants, existsSync, openSync, readSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { pathToFileURL } from "node:url"

/** `sqlite:.baton/usage.sqlite`: where the ledger is when `LLM_USAGE_STORE_URL` is not set. @internal */
export const defaultUrl = "sqlite:.baton/usage.sqlite"

/** The ledger's URL: `LLM_USAGE_STORE_URL`, else {@link defaultUrl}. @internal */
export const urlOf = (settings: LlmConfig.Settings): string =>
  Option.match(settings.usageStoreUrl, { onNone: () => defaultUrl, onSome: Redacted.value })

/**
 * What a ledger URL's database holds: no file (an SQLite file not there),
 * something no ledger can be in (not a file, not an SQLite database), or a
 * database lacking `missing` of the ledger's tables (`emptyFile`: a 0-byte
 * file, which SQLite takes for a new database; `unmigrated`: one the
 * migrations of `generate` and `serve` set up from nothing).
 *
 * @internal
 */
export type Contents =
  | { readonly _tag: "NoFile"; readonly file: string }
  | { readonly _tag: "Unusable"; readonly why: string }
  | {
    readonly _tag: "Tables"
    readonly missing: ReadonlyArray<string>
    readonly emptyFile: boolean
    readonly unmigrated: boolean
  }

/** Whether a ledger URL is an SQLite database in memory (`sqlite::memory:`): a new, empty one each run. @internal */
export const inMemory = (url: string): boolean => {
  const database = LlmConfig.databaseUrl(url)
  return database?._tag === "Sqlite" && database.filename === ":memory:"
}

/** The SQLite file of a ledger URL (`sqlite:path`, `file:path`) as `SqlDatabase.layerUrl` reads it; none in memory or on PostgreSQL. */
const sqliteFile = (url: string): string | undefined => {
  const database = LlmConfig.databaseUrl(url)
  return database?._tag === "Sqlite" && !inMemory(url) ? database.filename : undefined
}

/** Baton's tables, by the prefix the CLI uses. */
const names = BatonSchema.tables()

/** The tables that make a database a usage ledger: its rows, and the record of the migrations that made them. */
const ledgerTables = [names.usage, names.migrations]

/**
 * What a database holds of the ledger by the tables `present` says yes to and
 * the number of migrations `recorded`. It is `unmigrated` with no migration
 * recorded and none of the tables the migrations create: the migrator's
 * record may be there, empty, since the migrator creates it before the first
 * migration's transaction (an interrupted first run leaves just that).
 */
const tablesOf = (present: (table: string) => boolean, recorded: number): Contents => ({
  _tag: "Tables",
  missing: ledgerTables.filter((table) => !present(table)),
  emptyFile: false,
  unmigrated: recorded === 0 && !present(names.usage) && !present(names.requestLog)
})

/** The first 16 bytes of every SQLite database file. */
const sqliteHeader = Buffer.from("SQLite format 3\0", "latin1")

/** The first `length` bytes of `file`. */
const head = (file: string, length: number): Buffer => {
  const bytes = Buffer.alloc(length)
  const fd = openSync(file, "r")
  try {
    return bytes.subarray(0, readSync(fd, bytes, 0, length, 0))
  } finally {
    closeSync(fd)
  }
}

/**
 * A read-only connection to `file`. With no `-wal` file next to it (no
 * connection has it open in WAL mode, or the last one checkpointed and
 * removed it) everything is in the file itself, which is opened as immutable:
 * a read-only connection to a database in WAL mode would otherwise leave a
 * `-wal` and a `-shm` file next to someone else's database.
 */
const openReadOnly = (file: string): DatabaseSync => {
  if (existsSync(`${file}-wal`)) return new DatabaseSync(file, { readOnly: true, timeout: 5000 })
  const url = pathToFileURL(resolve(file))
  url.searchParams.set("immutable", "1")
  return new DatabaseSync(url, { readOnly: true })
}

/** What the SQLite `file` holds: its first bytes, then its tables on a read-only connection. */
const sqliteContents = (file: string): Contents => {
  if (!existsSync(file)) return { _tag: "NoFile", file }
  const stat = statSync(file)
  if (!stat.isFile()) return { _tag: "Unusable", why: "not a file" }
  if (stat.size === 0) return { _tag: "Tables", missing: ledgerTables, emptyFile: true, unmigrated: true }
  if (!head(file, sqliteHeader.length).equals(sqliteHeader)) return { _tag: "Unusable", why: "not an SQLite database" }
  const db = openReadOnly(file)
  try {
    const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
    const tables = new Set(rows.map((row) => row["name"]))
    const recorded = tables.has(names.migrations)
      ? Number(db.prepare(`SELECT count(*) AS n FROM "${names.migrations}"`).get()?.["n"])
      : 0
    return tablesOf((table) => tables.has(table), recorded)
  } finally {
    db.close()
  }
}

/** What the PostgreSQL database of `url` holds of the ledger, as the ledger's queries would find it. */
const postgresContents = (url: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const present = new Set<string>()
    for (const table of [names.usage, names.migrations, names.requestLog]) {
      const rows = yield* sql<{ readonly found: boolean }>`SELECT to_regclass(${table}) IS NOT NULL AS found`
      if (rows[0]?.found === true) present.add(table)
    }
    const recorded = present.has(names.migrations)
      ? Number((yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM ${sql(names.migrations)}`)[0]?.n)
      : 0
    return tablesOf((table) => present.has(table), recorded)
  }).pipe(
    Effect.provide(SqlDatabase.layerUrl(url)),
    Effect.mapError(SqlDatabase.toDatabaseError(url))
  )

/**
 * What the database of a ledger `url` holds, read only; a database that
 * cannot be reached or read fails as `generate` fails on it (a
 * `DatabaseError` whose message starts with the URL without password), as
 * does a URL no driver takes. A new in-memory SQLite database
 * (`sqlite::memory:`) is an empty ledger.
 *
 * @internal
 */
export const contentsOf = (url: string): Effect.Effect<Contents, SqlDatabase.DatabaseError> => {
  const file = sqliteFile(url)
  if (file !== undefined) {
    return Effect.try({
      try: () => sqliteContents(file),
      catch: (cause) =>
        new SqlDatabase.DatabaseError({
          url: SqlDatabase.describeUrl(url),
          message: `${file}: ${cause instanceof Error ? cause.message : String(cause)}`
        })
    })
  }
  return LlmConfig.databaseUrl(url)?._tag === "Postgres"
    ? postgresContents(url)
    // in memory (a new ledger), or a URL no driver takes, which the driver's layer refuses
    : Effect.as(Effect.scoped(Layer.build(SqlDatabase.layerUrl(url))), {
      _tag: "Tables",
      missing: [],
      emptyFile: false,
      unmigrated: false
    })
}

/**
 * Why the SQLite `file`, which is not there, could not be created by
 * `generate` and `serve`, found without writing: its client creates the
 * missing directories and the file under the nearest existing parent, which
 * must be a directory it can write to.
 *
 * @internal
 */
export const cannotCreate = (file: string): string | undefined => {
  let dir = dirname(resolve(file))
  while (!existsSync(dir)) dir = dirname(dir)
  try {
    if (statSync(dir).isDirectory()) {
      accessSync(dir, constants.W_OK)
      return
    }
  } catch {
    // not writable (EACCES, EROFS)
  }
  return `${dir} is not a writable directory`
}

/**
 * The error of a database that is not a ledger, `why`: named by its file, or
 * its URL without password.
 *
 * @internal
 */
export const notLedger = (url: string, why: string): SqlDatabase.DatabaseError =>
  new SqlDatabase.DatabaseError({
    url: SqlDatabase.describeUrl(url),
    message: `${sqliteFile(url) ?? SqlDatabase.describeUrl(url)} is not a Baton usage ledger (${why})`
  })

/** Why a database lacking the `missing` tables is not a ledger: `no baton_usage table, ...; not Baton's`. @internal */
export const missingTables = (missing: ReadonlyArray<string>): string =>
  `${missing.map((table) => `no ${table} table`).join(", ")}; not Baton's`
