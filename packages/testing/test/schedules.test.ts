import { assert, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as MockFault from "../src/MockFault.ts"
import * as MockProviderServer from "../src/MockProviderServer.ts"
import { ask, pick } from "./helpers.ts"

type Server = MockProviderServer.MockProviderServer["Service"]

const fresh = Effect.gen(function*() {
  const server = yield* MockProviderServer.MockProviderServer
  yield* server.reset
  return server
})

const statuses = (server: Server, provider: MockProviderServer.MockProvider, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.map(ask(server, provider), (res) => res.status))

const sleep = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

layer(MockProviderServer.layer(), { excludeTestServices: true })("MockProviderServer schedules and stats", (it) => {
  it.effect("times: the next n calls, then healthy; default is one call", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      yield* server.inject("openai", MockFault.status(503), { times: 2 })
      assert.deepStrictEqual(yield* statuses(server, "openai", 3), [503, 503, 200])
      yield* server.inject("openai", MockFault.status(500))
      assert.deepStrictEqual(yield* statuses(server, "openai", 2), [500, 200])
    }))

  it.effect("injections queue in order and are per provider", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      yield* server.inject("gemini", MockFault.status(503), { times: 2 })
      yield* server.inject("gemini", MockFault.rateLimited())
      assert.deepStrictEqual(yield* statuses(server, "openai", 1), [200])
      assert.deepStrictEqual(yield* statuses(server, "gemini", 4), [503, 503, 429, 200])
    }))

  it.effect("forMs: every call inside the window, healthy after it", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      yield* server.inject("anthropic", MockFault.status(529), { forMs: 250 })
      yield* server.inject("anthropic", MockFault.status(500))
      assert.deepStrictEqual(yield* statuses(server, "anthropic", 3), [529, 529, 529])
      yield* sleep(300)
      assert.deepStrictEqual(yield* statuses(server, "anthropic", 2), [500, 200])
    }))

  it.effect("reset clears faults, usage settings and counters", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      yield* server.inject("deepseek", MockFault.status(500), { times: 5 })
      yield* server.setUsage("deepseek", { cachedPromptTokens: 3 })
      yield* statuses(server, "deepseek", 1)
      yield* server.reset
      assert.deepStrictEqual(yield* server.stats("deepseek"), {
        requests: 0,
        completed: 0,
        cancelled: 0,
        stalled: 0,
        promptTokens: 0,
        completionTokens: 0,
        cachedPromptTokens: 0,
        reasoningTokens: 0
      })
      assert.deepStrictEqual(yield* statuses(server, "deepseek", 1), [200])
      assert.strictEqual((yield* server.stats("deepseek")).cachedPromptTokens, 0)
    }))

  it.effect("stats count requests, completed responses and billed tokens like the reported usage", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      yield* server.setUsage("openai", { cachedPromptTokens: 2, reasoningTokens: 7 })
      yield* server.inject("openai", MockFault.status(503))
      yield* ask(server, "openai", { prompt: "first" })
      const plain: unknown = JSON.parse((yield* ask(server, "openai", { prompt: "second question here" })).text)
      yield* ask(server, "openai", { prompt: "third", stream: true })
      const stats = yield* server.stats("openai")
      assert.strictEqual(stats.requests, 3)
      assert.strictEqual(stats.completed, 3)
      assert.strictEqual(stats.cancelled, 0)
      // The 503 bills nothing; the two replies bill what they reported.
      const streamPrompt = Math.ceil("third".length / 4)
      const streamCompletion = Math.ceil("Mock answer from openai: third".length / 4) + 7
      assert.strictEqual(stats.promptTokens, Number(pick(plain, "usage", "prompt_tokens")) + streamPrompt)
      assert.strictEqual(stats.completionTokens, Number(pick(plain, "usage", "completion_tokens")) + streamCompletion)
      assert.strictEqual(stats.cachedPromptTokens, 2 + Math.min(2, streamPrompt))
      assert.strictEqual(stats.reasoningTokens, 14)
    }))
})

it.live("probability draws from the seed: same seed, same sequence", () =>
  Effect.gen(function*() {
    const run = (seed: number) =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* MockProviderServer.start({ seed })
        yield* server.inject("openai", MockFault.status(500), { probability: 0.5 })
        return yield* statuses(server, "openai", 24)
      }))
    const first = yield* run(7)
    assert.deepStrictEqual(yield* run(7), first)
    assert.includeMembers(first, [200, 500])
    assert.notDeepEqual(yield* run(8), first)
  }))

it.live("start fails with MockServerStartError when the port is taken", () =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* MockProviderServer.start()
    const port = Number(new URL(server.url).port)
    const error = yield* Effect.flip(MockProviderServer.start({ port }))
    assert.strictEqual(error._tag, "MockServerStartError")
    assert.include(error.message, "EADDRINUSE")
  })))

it.live("the server stops when its scope closes", () =>
  Effect.gen(function*() {
    const url = yield* Effect.scoped(Effect.map(MockProviderServer.start(), (server) => server.baseUrl("openai")))
    const failed = yield* Effect.promise(() =>
      fetch(`${url}/chat/completions`, { method: "POST" }).then(() => false, () => true)
    )
    assert.isTrue(failed)
  }))
