/**
 * `hold` keeps a provider's requests unanswered, though received, until its
 * scope closes; then each is answered as it would have been (its fault
 * included), and the requests after the release are not held. Holds stack:
 * a request is answered once every hold on when it came is released.
 * `reset` releases them too.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import * as LiveWait from "../src/LiveWait.ts"
import * as MockFault from "../src/MockFault.ts"
import * as MockProviderServer from "../src/MockProviderServer.ts"
import { ask } from "./helpers.ts"

/** Waits until `provider` received `count` requests. */
const received = (
  server: MockProviderServer.MockProviderServer["Service"],
  provider: MockProviderServer.MockProvider,
  count: number
) => LiveWait.eventually(Effect.map(server.received(provider), (requests) => requests.length === count))

layer(MockProviderServer.layer(), { excludeTestServices: true })("MockProviderServer.hold", (it) => {
  it.effect("a held request is received, unanswered until released, then answered with its fault", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      yield* server.reset
      yield* server.inject("openai", MockFault.status(503))
      const held = yield* Effect.scoped(Effect.gen(function*() {
        yield* server.hold("openai")
        const held = yield* Effect.forkChild(ask(server, "openai"))
        yield* received(server, "openai", 1)
        // another provider is not held
        assert.strictEqual((yield* ask(server, "deepseek")).status, 200)
        assert.isUndefined(held.pollUnsafe())
        assert.strictEqual((yield* server.stats("openai")).completed, 0)
        return held
      }))
      assert.strictEqual((yield* Fiber.join(held)).status, 503)
      assert.strictEqual((yield* ask(server, "openai")).status, 200)
    }))

  it.effect("holds stack: one released leaves its requests held until the other is", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      yield* server.reset
      const outer = yield* Scope.make()
      yield* Scope.provide(server.hold("anthropic"), outer)
      const first = yield* Effect.scoped(Effect.gen(function*() {
        yield* server.hold("anthropic")
        const first = yield* Effect.forkChild(ask(server, "anthropic"))
        yield* received(server, "anthropic", 1)
        return first
      }))
      // the inner hold released: a request after it is held by the outer one too; by the time it is received,
      // the first, were it released, would have been answered at once
      const second = yield* Effect.forkChild(ask(server, "anthropic"))
      yield* received(server, "anthropic", 2)
      assert.deepInclude(yield* server.stats("anthropic"), { completed: 0, cancelled: 0 })
      assert.isUndefined(first.pollUnsafe())
      yield* Scope.close(outer, Exit.void)
      assert.strictEqual((yield* Fiber.join(first)).status, 200)
      assert.strictEqual((yield* Fiber.join(second)).status, 200)
    }))

  it.effect("reset releases the held requests", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      yield* server.reset
      yield* Effect.scoped(Effect.gen(function*() {
        yield* server.hold("gemini")
        const held = yield* Effect.forkChild(ask(server, "gemini"))
        yield* received(server, "gemini", 1)
        yield* server.reset
        // still in the hold's scope: reset released it
        assert.strictEqual((yield* Fiber.join(held)).status, 200)
      }))
    }))
})
