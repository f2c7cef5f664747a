/**
 * `baton usage` over a PostgreSQL ledger whose table another session holds
 * (`LOCK TABLE ... IN ACCESS EXCLUSIVE MODE`, as `VACUUM FULL` or a long
 * migration takes it): the report's query waits up to the command's bound,
 * a minute, longer than a service's (`UsageLedger.defaultQueryTimeout`),
 * then the command ends with exit 3 and one line naming
 * `LLM_USAGE_STORE_URL`. Run in-process, as Usage.test.ts runs it, on the
 * TestClock.
 */
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import { reachable } from "@baton/testing/TcpProbe"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Latch, Layer } from "effect"
import { Command } from "effect/cli"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import * as Usage from "../src/Usage.ts"

const postgresUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
const postgresAvailable = await reachable(postgresUrl, 5432)
if (!postgresAvailable && process.env["CI"] === "true") {
  throw new Error(`PostgreSQL is required in CI but ${new URL(postgresUrl).host} does not answer (DATABASE_URL)`)
}

/** Runs `statements` on a client of its own to the PostgreSQL at `url`. */
const onPostgres = <A, E>(url: string, statements: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.flatMap(SqlClient.SqlClient, statements).pipe(Effect.provide(SqlDatabase.layerUrl(url)))

/** A new database holding an empty ledger, dropped with the scope; its URL. */
const ledgerDatabase = Effect.acquireRelease(
  Effect.gen(function*() {
    const name = `baton_cli_stall_${process.pid}_${Date.now()}`
    yield* onPostgres(postgresUrl, (sql) => sql`CREATE DATABASE ${sql(name)}`)
    const url = new URL(postgresUrl)
    url.pathname = `/${name}`
    yield* Effect.scoped(Layer.build(SqlUsageLedger.layerUrl(url.href)))
    return { name, url: url.href }
  }),
  ({ name }) => Effect.orDie(onPostgres(postgresUrl, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`))
)

/** Holds `baton_usage` of `url` locked, reads refused too, until `release` opens; opens `locked` once it does. */
const holdLock = (url: string, locked: Latch.Latch, release: Latch.Latch) =>
  onPostgres(url, (sql) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql`LOCK TABLE baton_usage IN ACCESS EXCLUSIVE MODE`
      yield* locked.open
      yield* release.await
    })))

/** What `baton usage args` printed on stderr and the exit code it set, under a `ConfigProvider` of `env`. */
const usage = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.gen(function*() {
    const stderr: Array<string> = []
    process.exitCode = undefined
    vi.spyOn(process.stdout, "write").mockImplementation(() => true)
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => stderr.push(String(chunk)) > 0)
    yield* Command.runWith(Usage.command, { version: "0.1.0" })(args).pipe(
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))),
      Effect.provide(NodeServices.layer)
    )
    vi.restoreAllMocks()
    return { stderr: stderr.join(""), code: process.exitCode }
  })

describe.skipIf(!postgresAvailable)("baton usage over a ledger table another session holds", () => {
  const exitCode = process.exitCode
  afterEach(() => {
    vi.restoreAllMocks()
    process.exitCode = exitCode
  })

  it.effect("waits a minute for its query, then exits 3 naming LLM_USAGE_STORE_URL", () =>
    Effect.gen(function*() {
      const { url } = yield* ledgerDatabase
      const locked = yield* Latch.make()
      const release = yield* Latch.make()
      yield* Effect.forkScoped(holdLock(url, locked, release))
      yield* locked.await
      const running = yield* Effect.forkChild(
        usage(["--by", "provider", "--day", "2026-01-01"], { LLM_USAGE_STORE_URL: url })
      )
      // a second at a time, real time passing between, until the command ends (two minutes of the clock at most)
      let second = 0
      for (; second < 120 && running.pollUnsafe() === undefined; second++) {
        yield* TestClock.withLive(Effect.sleep(20))
        yield* TestClock.adjust(1_000)
      }
      yield* release.open
      const ran = running.pollUnsafe()
      assert.isDefined(ran, "still running after two minutes of the clock")
      const { code, stderr } = yield* Fiber.join(running)
      assert.strictEqual(code, 3, stderr)
      assert.strictEqual(stderr, "baton: LLM_USAGE_STORE_URL: the usage ledger did not answer within 1m\n")
      assert.isAtLeast(second, 60, "gave up before a minute")
    }).pipe(Effect.scoped), 60_000)
})
