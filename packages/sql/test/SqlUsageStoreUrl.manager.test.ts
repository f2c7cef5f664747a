/**
 * `LLM_USAGE_STORE_URL` through the path a user takes: the environment read
 * by `LlmConfig.layer` (a `ConfigProvider` over an environment map, as the
 * process environment is read), `SqlUsageLedger.layerFromConfig` and
 * `LlmManager.layerConfig` built together, as the quiz service and the
 * gateway build them.
 *
 * - A value no database takes fails the build with an `LlmConfigError`
 *   naming the variable, and never shows its password.
 * - A PostgreSQL URL puts the ledger rows of the requests made through the
 *   manager in the database it names: a database of its own, created for
 *   this file (not the one of `DATABASE_URL`), with Baton's default tables.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import * as LlmConfig from "../../core/src/LlmConfig.ts"
import * as LlmManager from "../../core/src/LlmManager.ts"
import * as UsageLedger from "../../core/src/UsageLedger.ts"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Providers from "../../providers/src/Providers.ts"
import * as MockProviderServer from "../../testing/src/MockProviderServer.ts"
import * as SqlDatabase from "../src/SqlDatabase.ts"
import * as SqlUsageLedger from "../src/SqlUsageLedger.ts"
import { postgresAvailable, postgresUrl } from "./postgres.ts"

/** A database of this file's own on the test server, and its URL. */
const databaseName = `baton_store_url_${process.pid}_${Date.now().toString(36)}`
const storeUrl = (() => {
  const url = new URL(postgresUrl)
  url.pathname = `/${databaseName}`
  return url.toString()
})()

const onServer = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(SqlClient.SqlClient.use(f).pipe(Effect.provide(SqlDatabase.layerUrl(postgresUrl))))

/**
 * The stack an application builds from its environment `env` (with the
 * provider keys and the mock server's base URLs added): the configuration,
 * the ledger it names, and the manager over the configured chain.
 */
const stackFromEnv = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const environment: Record<string, string> = { LLM_MAX_RETRIES: "0" }
    for (const kind of ["deepseek", "gemini"] as const) {
      environment[`${kind.toUpperCase()}_API_KEY`] = `sk-${kind}`
      environment[`${kind.toUpperCase()}_BASE_URL`] = server.baseUrl(kind)
    }
    return LlmManager.layerConfig(Providers.layersFromConfig).pipe(
      Layer.provideMerge(SqlUsageLedger.layerFromConfig()),
      Layer.provide(LlmConfig.layerPricing),
      Layer.provideMerge(LlmConfig.layer),
      Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { ...environment, ...env } })))
    )
  })

describe("LLM_USAGE_STORE_URL through LlmManager built from the environment", () => {
  it.effect("a value no database takes is an LlmConfigError naming the variable, without its password", () =>
    Effect.gen(function*() {
      for (const url of ["mysql://x", "mysql://u:S3CRET@db.example/app", "not a url"]) {
        const stack = yield* stackFromEnv({ LLM_USAGE_STORE_URL: url })
        const error = yield* Effect.flip(Layer.build(stack).pipe(Effect.scoped))
        assert.strictEqual(error._tag, "LlmConfigError", url)
        if (error._tag !== "LlmConfigError") return
        assert.strictEqual(error.variable, "LLM_USAGE_STORE_URL", url)
        assert.include(error.message, "LLM_USAGE_STORE_URL", url)
        assert.notInclude(error.message, "S3CRET", url)
      }
    }).pipe(Effect.provide(Bench)))
})

describe.skipIf(!postgresAvailable)("LLM_USAGE_STORE_URL naming a PostgreSQL database", () => {
  beforeAll(() => onServer((sql) => sql`CREATE DATABASE ${sql(databaseName)}`))
  afterAll(() => onServer((sql) => sql`DROP DATABASE IF EXISTS ${sql(databaseName)} WITH (FORCE)`))

  it.effect("the rows of requests made through the manager land in that database", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 2, 7, 12))
      const stack = yield* stackFromEnv({ LLM_USAGE_STORE_URL: storeUrl })
      const subjects = ["teacher-a", "teacher-b", "teacher-a"]
      const { byLedger, requestIds } = yield* Effect.gen(function*() {
        const context = yield* Layer.build(stack)
        const llm = Context.get(context, LlmManager.LlmManager)
        const results = yield* Effect.forEach(
          subjects,
          (subjectId) => llm.generate({ prompt: "One question about Mars", metadata: { subjectId } })
        )
        const ledger = Context.get(context, UsageLedger.UsageLedger)
        const byLedger = yield* ledger.usageBySubject(UsageLedger.Day.make("2026-03-07"))
        return { byLedger, requestIds: results.map((result) => String(result.requestId)).sort() }
      }).pipe(Effect.scoped)

      // the ledger answers from its store
      assert.deepStrictEqual(byLedger.map((row) => [String(row.subjectId), row.requests]), [
        ["teacher-a", 2],
        ["teacher-b", 1]
      ])
      // and that store is the database the variable names: one row per request, in Baton's default table
      const rows = yield* SqlClient.SqlClient.use((sql) =>
        sql<{ readonly request_id: string; readonly subject_id: string; readonly provider: string }>`
          SELECT request_id, subject_id, provider FROM baton_usage ORDER BY request_id`
      ).pipe(Effect.provide(SqlDatabase.layerUrl(storeUrl)))
      assert.deepStrictEqual(rows.map((row) => row.request_id), requestIds)
      assert.deepStrictEqual(rows.map((row) => row.subject_id).sort(), [...subjects].sort())
      assert.isTrue(rows.every((row) => row.provider === "deepseek"))
    }).pipe(Effect.provide(Bench)), 30_000)
})
