/**
 * One `ProviderThrottle` serves every chain of a gateway: a limit on one of
 * its endpoints does not refuse a chain without it (a request naming only
 * `deepseek/deepseek-flash` under a limit on `ollama` is answered), nor does
 * any chain's manager warn about it; a limit on a provider the config has
 * not is warned about once, when the gateway starts.
 */
import * as ProviderThrottle from "@baton/core/ProviderThrottle"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
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

  it.live("a limit on a provider the config has not is warned about once, at the start; one on its endpoint never", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
      })
      const gateway = Fixture.gatewayBeside(
        (mock) => ({ ollama: { baseUrl: mock.baseUrl("openai"), models: ["llama3"] } }),
        { OLLAMA_API_KEY: "sk-provider-ollama-secret" }
      ).pipe(
        Layer.provide(ProviderThrottle.layerMemory({
          ollama: { requestsPerMinute: 5 },
          mistrall: { requestsPerMinute: 5 }
        })),
        Layer.provide(Logger.layer([capture])),
        Layer.provideMerge(MockProviderServer.layer())
      )
      yield* Effect.gen(function*() {
        const { url } = yield* Fixture.setup
        for (const model of ["deepseek/deepseek-flash", "ollama/llama3", "deepseek/deepseek-flash,ollama/llama3"]) {
          const [first, ...fallbacks] = model.split(",")
          const answer = yield* Fixture.post(url, {
            model: first,
            ...(fallbacks.length === 0 ? {} : { fallbacks }),
            messages: [{ role: "user", content: "Say hello" }]
          })
          assert.strictEqual(answer.status, 200, answer.text)
        }
      }).pipe(Effect.provide(gateway))
      const limits = warnings.filter((warning) => warning.includes("ProviderThrottle.limits"))
      assert.strictEqual(limits.length, 1, limits.join("\n"))
      assert.include(limits[0], "\"mistrall\"")
      assert.notInclude(limits[0], "\"ollama\"")
    }))
})
