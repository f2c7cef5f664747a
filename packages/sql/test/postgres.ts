/**
 * Whether the PostgreSQL of `DATABASE_URL` (default
 * `postgres://postgres@127.0.0.1:5432/test`) answers. With `CI=true` a
 * missing server fails the run loudly; otherwise its suites are skipped with
 * a visible warning.
 */
import { reachable } from "@baton/testing/TcpProbe"
import { afterAll } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import * as BatonSchema from "../src/BatonSchema.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"

export const postgresUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

export const postgresAvailable = await reachable(postgresUrl, 5432)

if (!postgresAvailable) {
  if (process.env["CI"] === "true") {
    throw new Error(`PostgreSQL is required in CI but ${new URL(postgresUrl).host} does not answer (DATABASE_URL)`)
  }
  console.warn(`SKIPPING PostgreSQL suites: nothing answers at ${new URL(postgresUrl).host} (set DATABASE_URL)`)
}

/**
 * Drops from the PostgreSQL of `postgresUrl`, after all the tests of the
 * calling suite, the Baton tables (usage, request log, migrations) of every
 * prefix given to the function it returns.
 */
export const dropTablesAfterAll = (): (prefix: string) => void => {
  const prefixes: Array<string> = []
  afterAll(() =>
    Effect.runPromise(
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        for (const prefix of prefixes) {
          const names = BatonSchema.tables({ tablePrefix: prefix })
          for (const table of [names.usage, names.requestLog, names.migrations]) {
            yield* sql`DROP TABLE IF EXISTS ${sql(table)}`
          }
        }
      }).pipe(Effect.provide(SqlDatabase.layerUrl(postgresUrl)))
    )
  )
  return (prefix) => {
    prefixes.push(prefix)
  }
}
