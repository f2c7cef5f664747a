/**
 * Two gateways over one mock server, each with its own connections (as two
 * processes would have), sharing what replicas share in production: the
 * Redis quota, circuit and throttle stores and one PostgreSQL ledger
 * (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`; every
 * test has its own table prefix and drops its tables at the end).
 */
import { SubjectId } from "@baton/core/Ids"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as RedisCircuitBreaker from "@baton/redis/RedisCircuitBreaker"
import * as RedisProviderThrottle from "@baton/redis/RedisProviderThrottle"
import * as RedisQuotaStore from "@baton/redis/RedisQuotaStore"
import * as BatonSchema from "@baton/sql/BatonSchema"
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import * as Fixture from "./fixture.ts"

const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"
const postgresUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

/** One Redis client per replica (the layer is built once per replica). */
const redis = NodeRedis.layer({ url: redisUrl })

const unique = () => randomUUID().replace(/-/g, "").slice(0, 12)

const hello = JSON.stringify({ model: "fast", messages: [{ role: "user", content: "Say hello" }] })

const post = (url: string, key = Fixture.clientKey) =>
  Effect.promise(() =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: hello
    }).then(async (response) => ({ status: response.status, text: await response.text() }))
  )

/** Two gateways over `mock`, each built on its own (own connections, own memory). */
const replicas = (mock: MockProviderServer.MockProviderServer["Service"], options: Fixture.Options) =>
  Effect.gen(function*() {
    const replica = Layer.build(
      Fixture.gateway(options).pipe(Layer.provide(Layer.succeed(MockProviderServer.MockProviderServer, mock)))
    )
    const contexts = [yield* replica, yield* replica]
    const urls = contexts.map((context) =>
      HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
    )
    assert.notStrictEqual(urls[0], urls[1])
    return { contexts, urls: urls as [string, string] }
  })

/** Drops the tables of `tablePrefix` when the test's scope closes (after the replicas flushed). */
const dropTablesAtEnd = (tablePrefix: string) =>
  Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const names = BatonSchema.tables({ tablePrefix })
      for (const table of [names.usage, names.requestLog, names.migrations]) {
        yield* sql`DROP TABLE IF EXISTS ${sql(table)}`
      }
    }).pipe(Effect.provide(SqlDatabase.layerUrl(postgresUrl)), Effect.orDie)
  )

describe("Gateway replicas", () => {
  it.live("sharing Redis and one PostgreSQL ledger: exactly the daily limit, a ledger equal to the mock's billing", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      const tablePrefix = `gw_${unique()}_`
      yield* dropTablesAtEnd(tablePrefix)
      const { contexts, urls } = yield* replicas(mock, {
        quotaStore: RedisQuotaStore.layerStore({ prefix: `baton-test:gateway:${unique()}:` }).pipe(
          Layer.provide(redis)
        ),
        ledger: SqlUsageLedger.layerUrl(postgresUrl, { tablePrefix })
      })

      const answers = yield* Effect.forEach(
        Array.from({ length: 12 }, (_, i) => urls[i % 2] ?? ""),
        (url) => post(url, Fixture.limitedKey),
        { concurrency: "unbounded" }
      )
      const statuses = answers.map((answer) => answer.status)
      assert.strictEqual(statuses.filter((status) => status === 200).length, Fixture.limitedDaily)
      assert.strictEqual(statuses.filter((status) => status === 429).length, 12 - Fixture.limitedDaily)

      const billed = yield* mock.stats("openai")
      assert.strictEqual(billed.requests, Fixture.limitedDaily)
      const ledgers = contexts.map((context) => Context.get(context, UsageLedger.UsageLedger))
      yield* Effect.forEach(ledgers, (ledger) => ledger.flush, { discard: true })
      const today = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      // one ledger: both replicas read the same rows
      const [rows, seenByOther] = yield* Effect.forEach(ledgers, (ledger) => ledger.usageBySubject(today))
      assert.deepStrictEqual(seenByOther, rows)
      assert.deepStrictEqual(
        rows?.map((row) => ({
          subject: row.subjectId,
          requests: row.requests,
          promptTokens: row.promptTokens,
          completionTokens: row.completionTokens
        })),
        [{
          subject: SubjectId.make("teacher-3"),
          requests: Fixture.limitedDaily,
          promptTokens: billed.promptTokens,
          completionTokens: billed.completionTokens
        }]
      )
    })))

  it.live("a circuit opened through one replica is open on the other: it skips the provider without calling it", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      const { urls } = yield* replicas(mock, {
        shared: RedisCircuitBreaker.layer({ prefix: `baton-test:gateway-circuit:${unique()}:` }).pipe(
          Layer.provide(redis)
        ),
        environment: { LLM_CIRCUIT_FAILURE_THRESHOLD: "2", LLM_CIRCUIT_COOLDOWN_MS: "600000" }
      })
      yield* mock.inject("openai", MockFault.status(503), { times: 100 })
      for (const url of [urls[0], urls[0], urls[1], urls[1]]) {
        const answer = yield* post(url)
        assert.strictEqual(answer.status, 200, answer.text)
        assert.match(answer.text, /"model":"deepseek\/deepseek-flash"/)
      }
      // two failures through the first replica opened the circuit; the second never called openai
      assert.strictEqual((yield* mock.received("openai")).length, 2)
      assert.strictEqual((yield* mock.received("deepseek")).length, 4)
    })))

  it.live("a provider's throttle is shared: the other replica spills over once the budget is spent", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      const { urls } = yield* replicas(mock, {
        // two requests a minute: the bucket refills one every 30 s, far longer than the test
        shared: RedisProviderThrottle.layer({ openai: { requestsPerMinute: 2 } }, {
          prefix: `baton-test:gateway-throttle:${unique()}:`
        }).pipe(Layer.provide(redis))
      })
      const models = yield* Effect.forEach([urls[0], urls[0], urls[1]], (url) =>
        Effect.map(post(url), (answer) => {
          assert.strictEqual(answer.status, 200, answer.text)
          return /"model":"([^"]+)"/.exec(answer.text)?.[1]
        }))
      assert.deepStrictEqual(models, ["openai/gpt-4o-mini", "openai/gpt-4o-mini", "deepseek/deepseek-flash"])
      assert.strictEqual((yield* mock.received("openai")).length, 2)
    })))
})
