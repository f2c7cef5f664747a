/**
 * One `ProviderThrottle` serves every chain of a gateway: a limit on one of
 * its endpoints does not refuse a chain without it (a request naming only
 * `deepseek/deepseek-flash` under a limit on `ollama` is answered).
 */
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
})
