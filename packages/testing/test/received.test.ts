import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as MockProviderServer from "../src/MockProviderServer.ts"
import { ask } from "./helpers.ts"

layer(MockProviderServer.layer(), { excludeTestServices: true })("MockProviderServer.received", (it) => {
  it.effect("lists each request with its path, query, parsed body and headers, never credentials", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      yield* server.reset
      yield* ask(server, "anthropic", { prompt: "first", system: "Be brief." })
      yield* ask(server, "gemini", { prompt: "second", stream: true })
      const all = yield* server.received()
      assert.deepStrictEqual(all.map((r) => r.provider), ["anthropic", "gemini"])
      const [anthropic, gemini] = all
      assert.strictEqual(anthropic?.path, "/anthropic/v1/messages")
      assert.strictEqual((anthropic?.body as { system?: unknown }).system, "Be brief.")
      assert.strictEqual(anthropic?.headers["anthropic-version"], "2023-06-01")
      assert.strictEqual(gemini?.query["alt"], "sse")
      const text = JSON.stringify(all)
      for (const secret of ["x-api-key", "x-goog-api-key", "authorization"]) assert.notInclude(text, secret)
      assert.deepStrictEqual((yield* server.received("gemini")).map((r) => r.path), [gemini?.path])
      yield* server.reset
      assert.deepStrictEqual(yield* server.received(), [])
    }))
})
