import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { existsSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlDatabase from "../src/SqlDatabase.ts"

describe("SqlDatabase", () => {
  it.live("creates the missing directories of an SQLite file", () =>
    Effect.gen(function*() {
      const root = join(tmpdir(), `baton-sqlite-${process.pid}-${Date.now()}`)
      const file = join(root, "nested", "dir", "usage.sqlite")
      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ one: number }>`SELECT 1 AS one`).pipe(
        Effect.provide(SqlDatabase.layerUrl(`sqlite:${file}`))
      )
      assert.deepStrictEqual(rows, [{ one: 1 }])
      assert.isTrue(existsSync(file))
      rmSync(root, { recursive: true, force: true })
    }))

  it.live("names the URL when a database cannot be opened", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
          Effect.provide(SqlDatabase.layerUrl("sqlite:/dev/null/cannot/be.sqlite"))
        )
      )
      assert.strictEqual(error._tag, "DatabaseError")
      assert.include(error.message, "sqlite:/dev/null/cannot/be.sqlite")
    }))

  it.live("rejects an unsupported URL with the supported forms", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
          Effect.provide(SqlDatabase.layerUrl("mysql://root@127.0.0.1/test"))
        )
      )
      assert.include(error.message, "sqlite:<path>")
    }))
})
