/**
 * One `ProviderThrottle` serves every chain of a gateway: a limit on one of
 * its endpoints does not refuse a chain without it (a request naming only
 * `deepseek/deepseek-flash` under a limit on `ollama` is answered),
 * while a limit naming neither a hosted provider nor one of the gateway's
 * fails its start with an `LlmConfigError` naming it.
 */
import { LlmConfigError } from "@baton/core/LlmError"
import * as ProviderThrottle from "@baton/core/ProviderThrottle"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fixture from "./fixture.ts"

/** The fixture's gateway with an OpenAI-compatible endpoint `ollama` too, and a throttle limiting it. */
const withEndpoint = Fixture.gatewayBeside(
  (mock) => ({ ollama: { baseUrl: mock.baseUrl("openai"), models: ["llama3"] } }),
  { OLLAMA_API_KEY: "sk-provider-ollama-secret" }
).pipe(
  Layer.provide(ProviderThrottle.layerMemory({ ollama: { requestsPerMinute: 5 } })),
  Layer.provideMerge(MockProviderServer.layer())
)

describe("Gateway with a ProviderThrottle", () => {
  it.live("a limit on one of its endpoints leaves the chains without it served", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const answer = yield* Fixture.post(url, {
        model: "deepseek/deepseek-flash",
        messages: [{ role: "user", content: "Say hello" }]
      })
      assert.strictEqual(answer.status, 200, answer.text)
    }).pipe(Effect.provide(withEndpoint)))

  it.live("a limit naming no provider the gateway knows fails its start, naming it, with aliases or without", () =>
    Effect.gen(function*() {
      const throttle = ProviderThrottle.layerMemory({ mistral: { requestsPerMinute: 5 } })
      const withoutAliases = Fixture.gatewayOf((mock) =>
        Effect.succeed({ openai: { baseUrl: mock.baseUrl("openai"), models: ["gpt-4o-mini"] } })
      ).pipe(Layer.provide(throttle))
      for (const gateway of [Fixture.gatewayWithMock({ shared: throttle }), withoutAliases]) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(gateway)))
        assert.instanceOf(error, LlmConfigError)
        assert.strictEqual(error instanceof LlmConfigError && error.variable, "ProviderThrottle.limits.mistral")
      }
    }))
})
