/**
 * `baton check` through the bin: it opens the stores `generate` and `serve`
 * open (the usage ledger, Redis) and refuses what they refuse, with their
 * message and exit code, while it writes nothing: a ledger `generate` would
 * create is reported as reachable, not created.
 */
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import * as NodeProcess from "@baton/testing/NodeProcess"
import * as TcpProbe from "@baton/testing/TcpProbe"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { createHash, randomUUID } from "node:crypto"
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"

const baton = fileURLToPath(new URL("../bin/baton.js", import.meta.url))

const run = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  NodeProcess.run(baton, args, { cwd: NodeProcess.freshDir("baton-check-"), env })

/** One provider with its key (never called: check without `--ping` calls nothing). */
const chain = { DEEPSEEK_API_KEY: "sk-test", LLM_FALLBACK_PROVIDER: "none" }

/** `serve` without `--config` needs client keys. */
const gatewayKeys = { BATON_GATEWAY_KEYS: `t:${createHash("sha256").update("k").digest("hex")}` }

/** The `baton:` lines a command printed. */
const batonLines = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("baton: "))

const postgresUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
const postgresAvailable = await TcpProbe.reachable(postgresUrl, 5432)
const redisAvailable = await TcpProbe.reachable("redis://127.0.0.1:6379", 6379)

/** Runs statements on the PostgreSQL database of `url`. */
const onPostgres = <A, E>(url: string, statements: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.flatMap(SqlClient.SqlClient, statements).pipe(Effect.provide(SqlDatabase.layerUrl(url))))

/** The URL of a new, empty PostgreSQL database, and a function dropping it. */
const emptyPostgres = async () => {
  const name = `baton_check_${randomUUID().replaceAll("-", "")}`
  await onPostgres(postgresUrl, (sql) => sql.unsafe(`CREATE DATABASE ${name}`))
  const url = new URL(postgresUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () => onPostgres(postgresUrl, (sql) => sql.unsafe(`DROP DATABASE ${name} WITH (FORCE)`))
  }
}

/** The tables of the PostgreSQL database of `url`. */
const tablesOf = (url: string) =>
  onPostgres(
    url,
    (sql) => sql<{ readonly name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`
  )

describe("baton check opens the stores generate and serve open", () => {
  it("an unreachable PostgreSQL ledger fails check as it fails generate: the same line, exit 2", async () => {
    const env = { ...chain, LLM_USAGE_STORE_URL: "postgres://u:S3CRET-pw@127.0.0.1:1/db" }
    const [checked, generated] = await Promise.all([run(["check"], env), run(["generate", "hi"], env)])
    assert.strictEqual(generated.code, 2, generated.stderr)
    assert.strictEqual(checked.code, 2, `${checked.stdout}${checked.stderr}`)
    assert.notInclude(checked.stdout, "Configuration OK")
    assert.deepStrictEqual(batonLines(checked.stderr), batonLines(generated.stderr))
    assert.match(checked.stderr, /^baton: LLM_USAGE_STORE_URL: postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db: /m)
    assert.notInclude(checked.stderr, "S3CRET")
  })

  it("an unreachable Redis fails check as it fails serve: the same line, exit 2", async () => {
    const env = { ...chain, ...gatewayKeys, REDIS_URL: "redis://127.0.0.1:1" }
    const [checked, served] = await Promise.all([run(["check"], env), run(["serve", "--port", "0"], env)])
    assert.strictEqual(served.code, 2, served.stderr)
    assert.strictEqual(checked.code, 2, `${checked.stdout}${checked.stderr}`)
    assert.notInclude(checked.stdout, "Configuration OK")
    assert.deepStrictEqual(batonLines(checked.stderr), batonLines(served.stderr))
    assert.match(checked.stderr, /^baton: REDIS_URL: cannot connect to Redis: /m)
  })

  it.skipIf(!redisAvailable)("a reachable Redis passes", async () => {
    const ran = await run(["check"], { ...chain, REDIS_URL: "redis://127.0.0.1:6379" })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.match(ran.stdout, /quota store +Redis \(REDIS_URL\)/)
  })

  it.skipIf(!postgresAvailable)(
    "an empty PostgreSQL database is reachable and will be set up: check creates nothing",
    async () => {
      const database = await emptyPostgres()
      try {
        const ran = await run(["check"], { ...chain, LLM_USAGE_STORE_URL: database.url })
        assert.strictEqual(ran.code, 0, ran.stderr)
        assert.match(ran.stdout, /usage ledger +postgres:\/\/.*: no ledger yet; generate and serve create its tables/)
        assert.deepStrictEqual(await tablesOf(database.url), [])
      } finally {
        await database.drop()
      }
    }
  )

  it.skipIf(!postgresAvailable)("a PostgreSQL ledger passes, its URL shown without its password", async () => {
    const database = await emptyPostgres()
    try {
      await Effect.runPromise(Effect.scoped(Layer.build(SqlUsageLedger.layerUrl(database.url))))
      const url = new URL(database.url)
      url.username = "postgres"
      url.password = "S3CRET-pw"
      const ran = await run(["check"], { ...chain, LLM_USAGE_STORE_URL: url.toString() })
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.match(
        ran.stdout,
        /usage ledger +postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/baton_check_\w+: a Baton usage ledger/
      )
      assert.notInclude(ran.stdout, "S3CRET")
    } finally {
      await database.drop()
    }
  })

  it("an SQLite ledger not there yet is reported, not created; a file that is no SQLite database fails", async () => {
    const dir = NodeProcess.freshDir("baton-check-")
    const file = join(dir, "sub", "usage.sqlite")
    const missing = await run(["check"], { ...chain, LLM_USAGE_STORE_URL: `sqlite:${file}` })
    assert.strictEqual(missing.code, 0, missing.stderr)
    assert.match(missing.stdout, /usage ledger +sqlite:.*usage\.sqlite: not there yet; generate and serve create it/)
    assert.isFalse(existsSync(join(dir, "sub")))
    const notes = join(dir, "notes.txt")
    writeFileSync(notes, "not a database\n".repeat(10))
    const env = { ...chain, LLM_USAGE_STORE_URL: `sqlite:${notes}` }
    const ran = await run(["check"], env)
    assert.strictEqual(ran.code, 2, `${ran.stdout}${ran.stderr}`)
    assert.match(
      ran.stderr,
      /^baton: LLM_USAGE_STORE_URL: .*notes\.txt is not a Baton usage ledger \(not an SQLite database\)/m
    )
  })
  it("a key pasted into LLM_USAGE_STORE_URL is [redacted] in check's ledger line and in its error", async () => {
    const key = "sk-CANARY-1234567"
    const urls = [
      `sqlite:${key}.sqlite`,
      `postgres://${key}@127.0.0.1:1/db`,
      `postgres://u@127.0.0.1:1/db?options=${key}`
    ]
    await Promise.all(urls.map(async (url) => {
      const ran = await run(["check"], { ...chain, DEEPSEEK_API_KEY: key, LLM_USAGE_STORE_URL: url })
      assert.include(ran.stdout + ran.stderr, "[redacted]", url)
      assert.notInclude(ran.stdout + ran.stderr, "CANARY", url)
    }))
  })

  it.skipIf(!postgresAvailable)(
    "a PostgreSQL database with an empty record of migrations and no ledger table is one generate sets up",
    async () => {
      const database = await emptyPostgres()
      try {
        // what an interrupted first migration leaves: the migrator creates its table outside the migrations' transaction
        await onPostgres(database.url, (sql) =>
          sql.unsafe(
            "CREATE TABLE baton_migrations (migration_id integer PRIMARY KEY, " +
              "created_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL)"
          ))
        const ran = await run(["check"], { ...chain, LLM_USAGE_STORE_URL: database.url })
        assert.strictEqual(ran.code, 0, ran.stderr)
        assert.match(ran.stdout, /usage ledger +postgres:\/\/.*: no ledger yet; generate and serve create its tables/)
        // a migration recorded without its table is what generate fails on
        await onPostgres(
          database.url,
          (sql) => sql.unsafe("INSERT INTO baton_migrations (migration_id, name) VALUES (1, 'usage')")
        )
        const recorded = await run(["check"], { ...chain, LLM_USAGE_STORE_URL: database.url })
        assert.strictEqual(recorded.code, 2, recorded.stdout)
        assert.match(recorded.stderr, /is not a Baton usage ledger \(no baton_usage table; not Baton's\)/)
      } finally {
        await database.drop()
      }
    }
  )

  it("an SQLite file with an empty record of migrations and no ledger table is one generate sets up", async () => {
    const file = join(NodeProcess.freshDir("baton-check-"), "usage.sqlite")
    const db = new DatabaseSync(file)
    db.exec(
      "CREATE TABLE baton_migrations (migration_id integer PRIMARY KEY NOT NULL, " +
        "created_at datetime NOT NULL DEFAULT current_timestamp, name varchar(255) NOT NULL)"
    )
    db.close()
    const ran = await run(["check"], { ...chain, LLM_USAGE_STORE_URL: `sqlite:${file}` })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.match(
      ran.stdout,
      /usage ledger +sqlite:.*usage\.sqlite: no ledger yet; generate and serve create its tables/
    )
  })

  it("an SQLite ledger where generate cannot create it fails check, exit 2", async () => {
    const dir = NodeProcess.freshDir("baton-check-")
    writeFileSync(join(dir, "afile"), "")
    // a file where its directory would be: generate fails (EEXIST, mkdir)
    const ran = await run(["check"], { ...chain, LLM_USAGE_STORE_URL: `sqlite:${join(dir, "afile", "x.sqlite")}` })
    assert.strictEqual(ran.code, 2, `${ran.stdout}${ran.stderr}`)
    assert.notInclude(ran.stdout, "Configuration OK")
    assert.match(
      ran.stderr,
      /^baton: LLM_USAGE_STORE_URL: sqlite:.*afile\/x\.sqlite: cannot create it: .*afile is not a writable directory$/m
    )
  })
  it("an in-memory SQLite ledger is said to be a new, empty one each run", async () => {
    const ran = await run(["check"], { ...chain, LLM_USAGE_STORE_URL: "sqlite::memory:" })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.match(ran.stdout, /usage ledger +sqlite::memory:: a new, empty ledger each run$/m)
  })
})
