import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as TcpProbe from "@baton/testing/TcpProbe"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Schedule, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"

const Completion = Schema.Struct({ model: Schema.String, usage: Schema.Struct({ total_tokens: Schema.Int }) })

const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

/**
 * `Gateway.serve` on a spare port with `environment` (and `config`, when given), until the test's scope
 * closes; resolves once it answers, fails at once if it stopped (a cold start
 * under a loaded machine may take seconds).
 */
const serveOn = (environment: Record<string, string>, config?: GatewayConfig.GatewayConfig) =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(TcpProbe.sparePort)
    const url = `http://127.0.0.1:${port}`
    const serving = yield* Gateway.serve({ port, config }).pipe(
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(environment))),
      Effect.forkScoped
    )
    const ready = Effect.tryPromise(() => fetch(`${url}/healthz`)).pipe(
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 300 })))
    )
    yield* Effect.raceFirst(ready, Fiber.join(serving))
    return url
  })

const ask = (url: string, key: string) =>
  Effect.promise(() =>
    fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "hi" }] })
    }).then(async (response) => ({ status: response.status, json: await response.json() }))
  )

const sqliteUrl = () => `sqlite:${join(mkdtempSync(join(tmpdir(), "baton-gateway-")), "usage.sqlite")}`

/** No config file: the chain deepseek -> gemini on `mock`, a fresh SQLite ledger, `subject`'s key `gw-key`. */
const environmentOf = (mock: MockProviderServer.MockProviderServer["Service"], subject: string) => ({
  LLM_PRIMARY_PROVIDER: "deepseek",
  LLM_FALLBACK_PROVIDER: "gemini",
  DEEPSEEK_API_KEY: "sk-ds",
  GEMINI_API_KEY: "sk-gm",
  DEEPSEEK_BASE_URL: mock.baseUrl("deepseek"),
  GEMINI_BASE_URL: mock.baseUrl("gemini"),
  LLM_USAGE_STORE_URL: sqliteUrl(),
  BATON_GATEWAY_KEYS: `${subject}:${GatewayConfig.hashKey("gw-key")}`
})

describe("Gateway.serve", () => {
  it.live("without a config file serves the environment's chain as `default` (memory quota, SQLite ledger)", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      const answer = yield* ask(yield* serveOn(environmentOf(mock, "teacher-42")), "gw-key")
      assert.strictEqual(answer.status, 200)
      const completion = Schema.decodeUnknownSync(Completion)(answer.json)
      assert.strictEqual(completion.model, "deepseek/deepseek-flash")
      assert.isAbove(completion.usage.total_tokens, 0)
    })))

  it.live("without a config file follows LLM_CHAIN: one provider with two models, then an OpenAI-compatible endpoint", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      // LLM_CHAIN replaces the primary and fallback variables (setting both is a configuration error)
      const environment = Object.fromEntries(
        Object.entries(environmentOf(mock, "teacher-chain")).filter(([name]) => !name.endsWith("_PROVIDER"))
      )
      const url = yield* serveOn({
        ...environment,
        LLM_CHAIN: "deepseek/deepseek-chat,deepseek/deepseek-reasoner,local/gpt-4o-mini",
        LLM_COMPAT_LOCAL_BASE_URL: mock.baseUrl("openai"),
        LLM_COMPAT_LOCAL_API_KEY: "sk-local",
        LLM_MAX_RETRIES: "0"
      })
      yield* mock.inject("deepseek", MockFault.status(503), { times: 2 })
      const answer = yield* ask(url, "gw-key")
      assert.strictEqual(answer.status, 200, JSON.stringify(answer.json))
      assert.strictEqual(Schema.decodeUnknownSync(Completion)(answer.json).model, "local/gpt-4o-mini")
      const models = (yield* mock.received("deepseek")).map((request) => (request.body as { model?: unknown }).model)
      assert.deepStrictEqual(models, ["deepseek-chat", "deepseek-reasoner"])
      assert.strictEqual((yield* mock.received("openai")).length, 1)
    })))

  it.live("with a config file, a hosted provider the file gives no baseUrl is called at its <NAME>_BASE_URL", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      // a proxy in front of the provider (here the mock): the public endpoint must not be called instead
      const environment = { DEEPSEEK_API_KEY: "sk-ds", DEEPSEEK_BASE_URL: mock.baseUrl("deepseek") }
      const config = yield* GatewayConfig.parse(
        JSON.stringify({
          providers: { deepseek: { models: ["deepseek-flash"] } },
          models: { default: ["deepseek/deepseek-flash"] },
          keys: [{ sha256: GatewayConfig.hashKey("gw-key"), subject: "teacher-file" }]
        }),
        "json"
      ).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(environment))))
      const url = yield* serveOn(environment, config)
      const answer = yield* ask(url, "gw-key")
      assert.strictEqual(answer.status, 200, JSON.stringify(answer.json))
      assert.strictEqual(Schema.decodeUnknownSync(Completion)(answer.json).model, "deepseek/deepseek-flash")
      assert.strictEqual((yield* mock.received("deepseek")).length, 1)
    })))

  it.live("with REDIS_URL two serve processes share the subject's daily limit exactly", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      // a subject of its own: the daily count lives in the shared Redis
      const subject = `teacher-${randomUUID()}`
      const replica = () =>
        serveOn({ ...environmentOf(mock, subject), REDIS_URL: redisUrl, AI_DAILY_LIMIT_PER_TEACHER: "3" })
      const urls = [yield* replica(), yield* replica()]
      const answers = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => urls[i % 2] ?? ""),
        (url) => ask(url, "gw-key")
      )
      assert.deepStrictEqual(answers.map((answer) => answer.status), [200, 200, 200, 429, 429, 429, 429, 429])
      assert.strictEqual((yield* mock.stats("deepseek")).requests, 3)
    })))
})
