/**
 * `QUIZ_ADMIN_KEY` as an operator writes it: a value of only spaces leaves
 * the admin API disabled (403), as an empty one does, and spaces around a
 * key (a `.env` line) are not part of it, since HTTP trims the header a
 * client sends. Asked over HTTP, as a client asks it.
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import * as QuizService from "../src/QuizService.ts"

/** The service on a free port with `QUIZ_ADMIN_KEY` set to `key`; its URL. */
const serviceWith = (key: string) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const env = {
      DEEPSEEK_API_KEY: "mock-deepseek-key",
      GEMINI_API_KEY: "mock-gemini-key",
      DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
      GEMINI_BASE_URL: server.baseUrl("gemini"),
      QUIZ_ADMIN_KEY: key
    }
    const service = QuizService.layer({ port: 0, host: "127.0.0.1" }).pipe(
      Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
    )
    const context = yield* Layer.build(service)
    return HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
  })

const usageStatus = (url: string, key: string) =>
  Effect.promise(() => fetch(`${url}/v1/usage`, { headers: { "x-admin-key": key } }).then((reply) => reply.status))

describe("quiz service: QUIZ_ADMIN_KEY", () => {
  it.live("a key of only spaces leaves the admin API disabled (403)", () =>
    Effect.gen(function*() {
      const url = yield* serviceWith("   ")
      assert.strictEqual(yield* usageStatus(url, "   "), 403)
    }).pipe(Effect.scoped, Effect.provide(MockProviderServer.layer())))

  it.live("spaces around a key are not part of it", () =>
    Effect.gen(function*() {
      const url = yield* serviceWith("  admin-key-1 ")
      assert.strictEqual(yield* usageStatus(url, "admin-key-1"), 200)
      assert.strictEqual(yield* usageStatus(url, "admin-key-2"), 401)
    }).pipe(Effect.scoped, Effect.provide(MockProviderServer.layer())))
})
