/**
 * `hold` keeps a provider's requests unanswered, though received, until the
 * test releases them; then each is answered as it would have been (its
 * fault included), and the requests after the release are not held.
 * `reset` releases them too.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as LiveWait from "../src/LiveWait.ts"
import * as MockFault from "../src/MockFault.ts"
import * as MockProviderServer from "../src/MockProviderServer.ts"
import { ask } from "./helpers.ts"

layer(MockProviderServer.layer(), { excludeTestServices: true })("MockProviderServer.hold", (it) => {
  it.effect("a held request is received, unanswered until released, then answered with its fault", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      yield* server.reset
      yield* server.inject("openai", MockFault.status(503))
      const release = yield* server.hold("openai")
      const held = yield* Effect.forkChild(ask(server, "openai"))
      yield* LiveWait.eventually(Effect.map(server.received("openai"), (requests) => requests.length === 1))
      // another provider is not held
      assert.strictEqual((yield* ask(server, "deepseek")).status, 200)
      assert.isUndefined(held.pollUnsafe())
      assert.strictEqual((yield* server.stats("openai")).completed, 0)
      yield* release
      assert.strictEqual((yield* Fiber.join(held)).status, 503)
      assert.strictEqual((yield* ask(server, "openai")).status, 200)
    }))

  it.effect("reset releases the held requests", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      yield* server.reset
      yield* server.hold("gemini")
      const held = yield* Effect.forkChild(ask(server, "gemini"))
      yield* LiveWait.eventually(Effect.map(server.received("gemini"), (requests) => requests.length === 1))
      yield* server.reset
      assert.strictEqual((yield* Fiber.join(held)).status, 200)
    }))
})
