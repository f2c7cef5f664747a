/**
 * `LLM_USAGE_STORE_URL` in the quiz service as it is assembled (`Stack`,
 * from the environment): a value no database takes stops the service at
 * startup with an `LlmConfigError` naming the variable; a PostgreSQL URL
 * puts the ledger rows of the quizzes its `LlmManager` generates in that
 * database (one created for this file, with Baton's default tables).
 */
import * as LlmManager from "@baton/core/LlmManager"
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { reachable } from "@baton/testing/TcpProbe"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Stack } from "../src/QuizService.ts"

const postgresUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"
const postgresAvailable = await reachable(postgresUrl, 5432)
if (!postgresAvailable && process.env["CI"] === "true") {
  throw new Error(`PostgreSQL is required in CI but ${new URL(postgresUrl).host} does not answer (DATABASE_URL)`)
}

const databaseName = `quiz_store_url_${process.pid}_${Date.now().toString(36)}`
const storeUrl = (() => {
  const url = new URL(postgresUrl)
  url.pathname = `/${databaseName}`
  return url.toString()
})()

const dir = mkdtempSync(join(tmpdir(), "quiz-store-url-"))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

const onServer = <A>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(SqlClient.SqlClient.use(f).pipe(Effect.provide(SqlDatabase.layerUrl(postgresUrl))))

/** The service's stack from the environment `env`, its providers on the mock server. */
const stackFromEnv = (env: Record<string, string>) =>
  Effect.map(
    Effect.service(MockProviderServer.MockProviderServer),
    (server) =>
      Stack.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({
        env: {
          DEEPSEEK_API_KEY: "mock-deepseek-key",
          GEMINI_API_KEY: "mock-gemini-key",
          DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
          GEMINI_BASE_URL: server.baseUrl("gemini"),
          LLM_MAX_RETRIES: "0",
          QUIZ_REQUEST_LOG: join(dir, "requests.log"),
          ...env
        }
      }))))
  )

const Mock = MockProviderServer.layer()

describe("quiz service: LLM_USAGE_STORE_URL", () => {
  it.effect("a value no database takes stops the service at startup, naming the variable", () =>
    Effect.gen(function*() {
      const stack = yield* stackFromEnv({ LLM_USAGE_STORE_URL: "mysql://quiz:S3CRET@db.example/quiz" })
      const error = yield* Effect.flip(Layer.build(stack).pipe(Effect.scoped))
      assert.strictEqual(error._tag, "LlmConfigError")
      if (error._tag !== "LlmConfigError") return
      assert.strictEqual(error.variable, "LLM_USAGE_STORE_URL")
      assert.include(error.message, "LLM_USAGE_STORE_URL")
      assert.notInclude(error.message, "S3CRET")
    }).pipe(Effect.provide(Mock)))
})

describe.skipIf(!postgresAvailable)("quiz service: LLM_USAGE_STORE_URL naming a PostgreSQL database", () => {
  beforeAll(() => onServer((sql) => sql`CREATE DATABASE ${sql(databaseName)}`))
  afterAll(() => onServer((sql) => sql`DROP DATABASE IF EXISTS ${sql(databaseName)} WITH (FORCE)`))

  it.live("the ledger rows of the requests its manager serves land in that database", () =>
    Effect.gen(function*() {
      const stack = yield* stackFromEnv({ LLM_USAGE_STORE_URL: storeUrl })
      const teachers = ["mr-chen", "ms-okafor", "mr-chen"]
      const requestIds = yield* Effect.gen(function*() {
        const llm = Context.get(yield* Layer.build(stack), LlmManager.LlmManager)
        const results = yield* Effect.forEach(
          teachers,
          (subjectId) => llm.generate({ prompt: "One question about photosynthesis", metadata: { subjectId } })
        )
        return results.map((result) => String(result.requestId)).sort()
        // the service stops: its ledger writes what is left
      }).pipe(Effect.scoped)
      const rows = yield* SqlClient.SqlClient.use((sql) =>
        sql<{ readonly request_id: string; readonly subject_id: string }>`
          SELECT request_id, subject_id FROM baton_usage ORDER BY request_id`
      ).pipe(Effect.provide(SqlDatabase.layerUrl(storeUrl)))
      assert.deepStrictEqual(rows.map((row) => row.request_id), requestIds)
      assert.deepStrictEqual(rows.map((row) => row.subject_id).sort(), [...teachers].sort())
    }).pipe(Effect.provide(Mock)), 30_000)
})
