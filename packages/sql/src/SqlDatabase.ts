/**
 * Picks the `effect/sql` driver from a database URL, for the usage ledger
 * and the request log's database sink.
 *
 * | URL | driver |
 * | --- | --- |
 * | `sqlite:path/to/usage.db`, `file:path/to/usage.db` | SQLite file (`SqliteClient`, `node:sqlite`) |
 * | `sqlite::memory:` | SQLite in memory (tests) |
 * | `postgres://user@host:5432/db`, `postgresql://...` | PostgreSQL (`@effect/sql-pg`) |
 *
 * Anything else fails with a `DatabaseError` naming the scheme and the
 * accepted ones. URLs are handled as `Redacted` values: a password in a
 * PostgreSQL URL never reaches an error message or a log.
 *
 * @since 0.1.0
 */
import { databaseUrl, databaseUrlForms } from "@baton/core/LlmConfig"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { Reopen } from "./internal/reopen.ts"
import * as SqliteClient from "./SqliteClient.ts"

/**
 * The database named by a URL could not be used: an unknown scheme, a
 * connection failure, a failed migration.
 *
 * @since 0.1.0
 */
export class DatabaseError extends Schema.TaggedError<DatabaseError>()("DatabaseError", {
  /** The URL without credentials. */
  url: Schema.String,
  message: Schema.String
}) {}

/** A query parameter that may carry a credential (`password`, `sslpassword`, a token or key), with its `=`. */
const secretParameter = /([?&][^=&#]*(?:pass|secret|token|key)[^=&#]*=)[^&#]*/gi

/** A scheme and the slashes after it (`postgres://`, `postgres:/`, `postgres//`): the user name comes next. */
const schemeWithSlashes = /^[a-z][a-z\d+.-]*(?::\/+|\/{2,})/i

/**
 * `text` with everything between the user name's `:` and the last `@`
 * masked (a raw `@`, `/` or `?` in a password included), whatever separates
 * the scheme. Without slashes after it (`postgresql:user:pass@db`) a scheme
 * cannot be told from a user name (`postgres:pass@db`): everything from the
 * first `:` is masked.
 */
const withoutPassword = (text: string): string => {
  const at = text.lastIndexOf("@")
  const colon = text.indexOf(":", schemeWithSlashes.exec(text)?.[0].length ?? 0)
  return colon < 0 || colon > at ? text : `${text.slice(0, colon)}:***${text.slice(at)}`
}

/**
 * A URL with any password replaced, for messages: the password after the
 * user name (up to the URL's last `@`, so a raw `@` in it is masked too),
 * also in a URL the module refuses (`postgres:/user:pass@db`,
 * `postgresql:user:pass@db`), and query parameters that may carry one
 * (`?password=`, `sslpassword`, tokens and keys).
 *
 * @example
 * ```ts
 * import * as SqlDatabase from "@baton/sql/SqlDatabase"
 *
 * SqlDatabase.describeUrl("postgres://baton:s3cret@db:5432/baton?password=x")
 * // "postgres://baton:***@db:5432/baton?password=***"
 * ```
 *
 * @since 0.1.0
 */
export const describeUrl = (url: string | Redacted.Redacted): string =>
  // the query first: an `@` in a password there is not the user part's end
  withoutPassword((typeof url === "string" ? url : Redacted.value(url)).replace(secretParameter, "$1***"))

/**
 * Maps any failure of building a database layer to a `DatabaseError` for
 * `url`.
 *
 * @since 0.1.0
 */
export const toDatabaseError =
  (url: string | Redacted.Redacted) => (error: { readonly _tag: string; readonly message: string }): DatabaseError =>
    error instanceof DatabaseError ?
      error :
      new DatabaseError({ url: describeUrl(url), message: `${describeUrl(url)}: ${error._tag}: ${error.message}` })

/**
 * A layer whose build failures become `DatabaseError`s for `url`.
 *
 * @since 0.1.0
 */
export const withDatabaseError = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  self: Layer.Layer<A, E, R>,
  url: string | Redacted.Redacted
): Layer.Layer<A, DatabaseError, R> =>
  Layer.catch(self, (error) => Layer.unwrap(Effect.fail(toDatabaseError(url)(error))))

/**
 * The client of `open()`, closed with the layer, and what a store's writer
 * needs to reach the database once it is closed: another `open()`.
 */
const reopenable = (
  open: () => Layer.Layer<SqlClient.SqlClient, DatabaseError>
): Layer.Layer<SqlClient.SqlClient, DatabaseError> =>
  Layer.effectContext(Effect.gen(function*() {
    const context = yield* Layer.build(open())
    let closed = false
    // added after the client's finalizer, so run before it: no statement starts on a closing client
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
      })
    )
    return Context.add(context, Reopen, {
      client: Context.get(context, SqlClient.SqlClient),
      isClosed: () => closed,
      open: Effect.map(Layer.build(open()), Context.get(SqlClient.SqlClient))
    })
  }))

const parseUrl = Option.liftThrowable((text: string) => new URL(text))
const decode = Option.liftThrowable(decodeURIComponent)

/** A part of a URL's authority or path, percent-decoded; undefined when empty or not decodable. */
const decoded = (text: string): string | undefined => text === "" ? undefined : Option.getOrUndefined(decode(text))

/** A port as `@effect/sql-pg` takes it (an integer from 1 to 65535); undefined otherwise. */
const portOf = (text: string): number | undefined => {
  const port = text === "" ? Number.NaN : Number(text)
  return Number.isInteger(port) && port >= 1 && port <= 65_535 ? port : undefined
}

/**
 * The server, port, database and user a PostgreSQL URL names, read as
 * `@effect/sql-pg` reads them (the last of its query parameters `host`,
 * `port`, `dbname` and `user` over the URL's own parts), for `PgClient`
 * beside the URL: its spans (`server.address`, `server.port`,
 * `db.namespace`) come from these options alone, and from the URL alone said
 * `localhost` and `postgres` whatever it named. The password stays in the
 * URL; a part that does not parse is left out, and the driver fails on the
 * URL.
 */
const pgTarget = (text: string) =>
  Option.match(parseUrl(text), {
    onNone: () => ({}),
    onSome: ({ hostname, pathname, port, searchParams, username }) => {
      /** The last value of a query parameter, over `part` (the URL's own) when it is given at all. */
      const either = (name: string, part: () => string | undefined) => {
        const value = searchParams.getAll(name).at(-1)
        return value === undefined ? part() : value || undefined
      }
      return {
        host: either("host", () =>
          hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : decoded(hostname)),
        port: portOf(searchParams.getAll("port").at(-1) ?? port),
        database: either("dbname", () =>
          decoded(pathname.replace(/^\//, ""))),
        username: either("user", () => decoded(username))
      }
    }
  })

/**
 * A `SqlClient` for the database a URL names, closed with the layer. The
 * URLs it opens are those `LlmConfig.databaseUrl` takes, the rule
 * `LLM_USAGE_STORE_URL` is checked by; any other fails with a
 * `DatabaseError`. The spans of a PostgreSQL client name the URL's server,
 * port and database (`server.address`, `server.port`, `db.namespace`),
 * never its password.
 *
 * The usage ledger and the request log's database sink built over it
 * (`SqlUsageLedger.layer`, `SqlRequestLog.sink`) write a row recorded after
 * the layer closed (a request still running when the app tore its layers
 * down) on a client opened for that row and closed after it, within the
 * writer's `closeTimeout`. An in-memory SQLite database (`sqlite::memory:`)
 * is gone with its client: such a row is dropped, counted and logged.
 *
 * @since 0.1.0
 */
export const layerUrl = (url: string | Redacted.Redacted): Layer.Layer<SqlClient.SqlClient, DatabaseError> => {
  const text = typeof url === "string" ? url : Redacted.value(url)
  const database = databaseUrl(text)
  if (database === undefined) {
    return Layer.unwrap(Effect.fail(
      new DatabaseError({ url: describeUrl(url), message: `unsupported database URL; use ${databaseUrlForms}` })
    ))
  }
  return database._tag === "Sqlite"
    ? reopenable(() => withDatabaseError(SqliteClient.layer({ filename: database.filename }), url))
    : reopenable(() => withDatabaseError(PgClient.layer({ ...pgTarget(text), url: Redacted.make(text) }), url))
}
