/**
 * Tables as an earlier migration left them, for the tests of a migration
 * over tables made before it.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import * as BatonSchema from "../src/BatonSchema.ts"

/**
 * Undoes, on the tables of `prefix`, the migrations after `last` (3 or
 * later), keeping the rows and the columns those migrations did not add, so
 * that the next `BatonSchema.migrate` runs them again.
 */
export const undoMigrations = (prefix: string, last: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const names = BatonSchema.tables({ tablePrefix: prefix })
    // 7 put a unique index on each row's id where 4 (usage) and 5 (request log) had one on request, attempt, end
    for (const [table, attemptIndexFrom] of [[names.usage, 4], [names.requestLog, 5]] as const) {
      if (last < 7) {
        yield* sql`DROP INDEX ${sql(`${table}_id`)}`
        yield* sql`ALTER TABLE ${sql(table)} DROP COLUMN id`
        if (last >= attemptIndexFrom) {
          yield* sql`CREATE UNIQUE INDEX ${sql(`${table}_attempt`)} ON ${sql(table)} (request_id, attempt, ts)`
        }
      }
      if (last < 6) yield* sql`ALTER TABLE ${sql(table)} DROP COLUMN usage_estimated`
    }
    yield* sql`DELETE FROM ${sql(names.migrations)} WHERE migration_id > ${last}`
  })
