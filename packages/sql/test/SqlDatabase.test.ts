import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { existsSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"

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

  it("masks a password wherever a URL carries one", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["postgres://baton:s3cret@db:5432/baton", "postgres://baton:***@db:5432/baton"],
      ["postgres://baton:p@ss@db/baton", "postgres://baton:***@db/baton"],
      ["postgres://baton:pa/ss?x@db/baton", "postgres://baton:***@db/baton"],
      [
        "postgres://baton@db/baton?password=s3cret&sslmode=require",
        "postgres://baton@db/baton?password=***&sslmode=require"
      ],
      [
        "postgresql://db/baton?sslmode=require&sslpassword=s3cret",
        "postgresql://db/baton?sslmode=require&sslpassword=***"
      ],
      ["postgres://baton@db:5432/baton", "postgres://baton@db:5432/baton"],
      ["postgres://baton@db:5432/baton?password=p@ss", "postgres://baton@db:5432/baton?password=***"],
      ["postgres://baton:s3cret@db/baton?sslpassword=k@y", "postgres://baton:***@db/baton?sslpassword=***"],
      ["sqlite:.baton/usage.sqlite", "sqlite:.baton/usage.sqlite"]
    ]
    for (const [url, described] of cases) assert.strictEqual(SqlDatabase.describeUrl(url), described, url)
  })

  it.live("keeps a PostgreSQL password out of the ledger's error when the database cannot be reached", () =>
    Effect.gen(function*() {
      const urls = [
        "postgres://baton:canary-1@127.0.0.1:1/test",
        "postgres://baton@127.0.0.1:1/test?password=canary-2",
        "postgres://baton:can@ry-3@127.0.0.1:1/test"
      ]
      for (const url of urls) {
        // the ledger's migrations meet the closed port while its layer is built
        const error = yield* Effect.flip(Layer.build(SqlUsageLedger.layerUrl(url)).pipe(Effect.scoped))
        if (error._tag !== "DatabaseError") return assert.fail(error.message)
        assert.include(error.message, "127.0.0.1:1")
        assert.notMatch(`${error.message} ${error.url} ${JSON.stringify(error)}`, /canary|ry-3/, url)
      }
    }))

  it.live("keeps the password out of the ledger's error for a malformed URL, whatever separates the scheme", () =>
    Effect.gen(function*() {
      const urls = [
        "postgres:/baton:canary-1@db:5432/test",
        "postgresql:baton:canary-2@db/test",
        "postgres//baton:canary-3@db:5432/test",
        "postgres:///baton:canary-4@db/test",
        "baton:canary-5@db/test",
        "pg://baton:canary-6@db/test",
        "mysql:baton:p@ss:canary-7@db/test"
      ]
      for (const url of urls) {
        const error = yield* Effect.flip(Layer.build(SqlUsageLedger.layerUrl(url)).pipe(Effect.scoped))
        if (error._tag !== "DatabaseError") return assert.fail(error.message)
        assert.include(error.url, "@db", url)
        assert.notMatch(`${error.message} ${error.url} ${JSON.stringify(error)} ${String(error)}`, /canary|p@ss/, url)
      }
    }))

  it("masks the password of a URL without `://`", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["postgres:/baton:s3cret@db:5432/test", "postgres:/baton:***@db:5432/test"],
      ["postgres//baton:s3cret@db/test", "postgres//baton:***@db/test"],
      ["postgres:///baton:s3cret@db/test", "postgres:///baton:***@db/test"],
      // without slashes, a scheme reads as a user name: all from the first `:` is masked
      ["postgresql:baton:s3cret@db/test", "postgresql:***@db/test"],
      ["postgresql:baton:s3:cr/et@db/test", "postgresql:***@db/test"],
      ["postgres:s3cret@db/test", "postgres:***@db/test"],
      ["baton:s3cret@db/test", "baton:***@db/test"],
      ["postgres:/baton@db/test", "postgres:/baton@db/test"],
      ["sqlite:/data/usage.db", "sqlite:/data/usage.db"]
    ]
    for (const [url, described] of cases) assert.strictEqual(SqlDatabase.describeUrl(url), described, url)
  })

  it.live("refuses an unknown ledger time zone, a queryTimeout no duration reads, a table prefix that is no plain name, as LlmConfigError before it opens or migrates the database", () =>
    Effect.gen(function*() {
      const refusals = [
        [{ timeZone: "Europe/Olso" }, "UsageLedger.timeZone"],
        // Duration's units are spelt out: "10 secs" is no duration
        [{ queryTimeout: "10 secs" as Duration.Input }, "UsageLedger.queryTimeout"],
        // a table name is written into SQL: letters, digits and `_` only
        [{ tablePrefix: "baton-usage_" }, "SqlUsageLedger.tablePrefix"]
      ] as const
      for (const [options, variable] of refusals) {
        const root = join(tmpdir(), `baton-options-${process.pid}-${Date.now()}`)
        const file = join(root, "usage.sqlite")
        const error = yield* Effect.flip(
          Layer.build(SqlUsageLedger.layerUrl(`sqlite:${file}`, options)).pipe(Effect.scoped)
        )
        assert.deepStrictEqual([error._tag, "variable" in error ? error.variable : undefined], [
          "LlmConfigError",
          variable
        ])
        assert.isFalse(existsSync(file))
        // over a database in context: refused before the migrations create a table
        const tables = yield* Effect.gen(function*() {
          const refused = yield* Effect.flip(Layer.build(SqlUsageLedger.layer(options)))
          assert.strictEqual(refused._tag, "LlmConfigError")
          const sql = yield* SqlClient.SqlClient
          return yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`
        }).pipe(Effect.scoped, Effect.provide(SqlDatabase.layerUrl("sqlite::memory:")))
        assert.deepStrictEqual(tables, [])
        rmSync(root, { recursive: true, force: true })
      }
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
