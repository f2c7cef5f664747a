/**
 * How a store's writer reaches the database of `SqlDatabase.layerUrl` after
 * that layer closed its client. The layer provides {@link Reopen} next to its
 * `SqlClient`; a writer built over that client runs its statements through
 * {@link withClient}: on the layer's client while it is open, then on a
 * client opened for the one statement and closed after it (a row recorded by
 * a request that ended after the layers were torn down). A client from
 * elsewhere (`PgClient.layer`, `SqliteClient.layer`) has no `Reopen`: once it
 * is closed, statements fail.
 */
import { Context, Effect, Option, type Scope } from "effect"
import type { SqlClient } from "effect/sql"
import type { DatabaseError } from "../SqlDatabase.ts"

/** The client of a `SqlDatabase.layerUrl`, whether it is closed, and how to open another on the same database. */
export class Reopen extends Context.Service<Reopen, {
  readonly client: SqlClient.SqlClient
  readonly isClosed: () => boolean
  readonly open: Effect.Effect<SqlClient.SqlClient, DatabaseError, Scope.Scope>
}>()("@baton/sql/internal/Reopen") {}

/** Runs statements on a client: `sql` while its layer is open, a client opened for them once it closed. */
export type WithClient = <A, E>(
  statement: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>
) => Effect.Effect<A, E | DatabaseError>

/**
 * How to run a write over `sql`: on `sql` itself, unless the `Reopen` in
 * context is for `sql` and says it was closed.
 */
export const withClient = (sql: SqlClient.SqlClient): Effect.Effect<WithClient> =>
  Effect.map(Effect.serviceOption(Reopen), (reopen): WithClient => {
    const own = Option.filter(reopen, (service) => service.client === sql)
    if (Option.isNone(own)) return (statement) => statement(sql)
    const { isClosed, open } = own.value
    return (statement) =>
      Effect.suspend(() => isClosed() ? Effect.scoped(Effect.flatMap(open, statement)) : statement(sql))
  })
