import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Schedule, Schema } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"

const Completion = Schema.Struct({ model: Schema.String, usage: Schema.Struct({ total_tokens: Schema.Int }) })

describe("Gateway.serve", () => {
  it.live("without a config file serves the environment's chain as `default` (memory quota, SQLite ledger)", () =>
    Effect.scoped(Effect.gen(function*() {
      const mock = yield* MockProviderServer.start()
      const port = 20_000 + Math.floor(Math.random() * 20_000)
      const url = `http://127.0.0.1:${port}`
      const environment = {
        LLM_PRIMARY_PROVIDER: "deepseek",
        LLM_FALLBACK_PROVIDER: "gemini",
        DEEPSEEK_API_KEY: "sk-ds",
        GEMINI_API_KEY: "sk-gm",
        DEEPSEEK_BASE_URL: mock.baseUrl("deepseek"),
        GEMINI_BASE_URL: mock.baseUrl("gemini"),
        LLM_USAGE_STORE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), "baton-gateway-")), "usage.sqlite")}`,
        BATON_GATEWAY_KEYS: `teacher-42:${GatewayConfig.hashKey("gw-key")}`
      }
      const server = yield* Gateway.serve({ port }).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(environment))),
        Effect.forkChild
      )
      yield* Effect.tryPromise(() => fetch(`${url}/healthz`)).pipe(
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 50 })))
      )
      const answer = yield* Effect.promise(() =>
        fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: "Bearer gw-key", "content-type": "application/json" },
          body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "hi" }] })
        }).then(async (response) => ({ status: response.status, json: await response.json() }))
      )
      assert.strictEqual(answer.status, 200)
      const completion = Schema.decodeUnknownSync(Completion)(answer.json)
      assert.strictEqual(completion.model, "deepseek/deepseek-flash")
      assert.isAbove(completion.usage.total_tokens, 0)
      yield* Fiber.interrupt(server)
    })))
})
