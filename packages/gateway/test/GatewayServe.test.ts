import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Schedule, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"

const Completion = Schema.Struct({ model: Schema.String, usage: Schema.Struct({ total_tokens: Schema.Int }) })

const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

/** `Gateway.serve` on a random port with `environment`, until the test's scope closes; resolves once it answers. */
const serveOn = (environment: Record<string, string>) =>
  Effect.gen(function*() {
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    const url = `http://127.0.0.1:${port}`
    yield* Gateway.serve({ port }).pipe(
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(environment))),
      Effect.forkScoped
    )
    yield* Effect.tryPromise(() => fetch(`${url}/healthz`)).pipe(
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 50 })))
    )
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

describe("Gateway.serve", () => {
  it.live("without a config file serves the environment's chain as `default` (memory quota, SQLite ledger)", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      const environment = {
        LLM_PRIMARY_PROVIDER: "deepseek",
        LLM_FALLBACK_PROVIDER: "gemini",
        DEEPSEEK_API_KEY: "sk-ds",
        GEMINI_API_KEY: "sk-gm",
        DEEPSEEK_BASE_URL: mock.baseUrl("deepseek"),
        GEMINI_BASE_URL: mock.baseUrl("gemini"),
        LLM_USAGE_STORE_URL: sqliteUrl(),
        BATON_GATEWAY_KEYS: `teacher-42:${GatewayConfig.hashKey("gw-key")}`
      }
      const answer = yield* ask(yield* serveOn(environment), "gw-key")
      assert.strictEqual(answer.status, 200)
      const completion = Schema.decodeUnknownSync(Completion)(answer.json)
      assert.strictEqual(completion.model, "deepseek/deepseek-flash")
      assert.isAbove(completion.usage.total_tokens, 0)
    })))

  it.live("with REDIS_URL two serve processes share the subject's daily limit exactly", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      const environment = () => ({
        LLM_PRIMARY_PROVIDER: "deepseek",
        LLM_FALLBACK_PROVIDER: "gemini",
        DEEPSEEK_API_KEY: "sk-ds",
        GEMINI_API_KEY: "sk-gm",
        DEEPSEEK_BASE_URL: mock.baseUrl("deepseek"),
        GEMINI_BASE_URL: mock.baseUrl("gemini"),
        REDIS_URL: redisUrl,
        AI_DAILY_LIMIT_PER_TEACHER: "3",
        LLM_USAGE_STORE_URL: sqliteUrl(),
        // a subject of its own: the daily count lives in the shared Redis
        BATON_GATEWAY_KEYS: `teacher-${randomUUID()}:${GatewayConfig.hashKey("gw-key")}`
      })
      const shared = environment()
      const urls = [yield* serveOn(shared), yield* serveOn({ ...shared, LLM_USAGE_STORE_URL: sqliteUrl() })]
      const answers = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => urls[i % 2] ?? ""),
        (url) => ask(url, "gw-key")
      )
      assert.deepStrictEqual(answers.map((answer) => answer.status), [200, 200, 200, 429, 429, 429, 429, 429])
      assert.strictEqual((yield* mock.stats("deepseek")).requests, 3)
    })))
})
