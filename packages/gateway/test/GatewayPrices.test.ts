/**
 * `LLM_PRICES` under a gateway with a config file (`serve` reads the
 * environment without its chain): it may price the config's own providers
 * and the hosted ones; any other name fails the start, naming `LLM_PRICES`
 * (the gateway bills under its config's providers alone: those prices would
 * never bill), an endpoint the environment declares but the config does not
 * use included.
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import { LlmConfigError } from "@baton/core/LlmError"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import * as Fixture from "./fixture.ts"

const row = { default: { input: 1, output: 2 } }

/** A gateway whose config file adds the OpenAI-compatible `local`, over the environment without its chain. */
const gatewayPricing = (prices: unknown, environment: Record<string, string> = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const file = Fixture.configFile(mock)
    const config = yield* GatewayConfig.parse(
      JSON.stringify({
        ...file,
        providers: {
          ...file.providers,
          local: { baseUrl: mock.baseUrl("openai"), models: ["gpt-4o-mini"], apiKeyEnv: "LOCAL_KEY_PROD" }
        }
      }),
      "json"
    )
    return Gateway.layer(config, { port: 0 })
  })).pipe(
    Layer.provideMerge(Fixture.services({ llmConfig: LlmConfig.layerWithoutChain })),
    Layer.provide(
      ConfigProvider.layer(
        ConfigProvider.fromUnknown({ ...Fixture.environment, ...environment, LLM_PRICES: JSON.stringify(prices) })
      )
    ),
    Layer.provideMerge(MockProviderServer.layer())
  )

describe("Gateway: LLM_PRICES with a config file", () => {
  it.live("prices the config's own provider; any other fails the start naming LLM_PRICES", () =>
    Effect.gen(function*() {
      const started = yield* Effect.scoped(Effect.as(Layer.build(gatewayPricing({ local: row, openai: row })), true))
      assert.isTrue(started)
      // `ollama` is declared by the environment, but the gateway calls only its config's providers
      const declared = { LLM_COMPAT_OLLAMA_BASE_URL: "http://127.0.0.1:11434/v1" }
      for (const provider of ["lcoal", "Local", "ollama"]) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(gatewayPricing({ [provider]: row }, declared))))
        assert.instanceOf(error, LlmConfigError, provider)
        if (error instanceof LlmConfigError) {
          assert.strictEqual(error.variable, "LLM_PRICES")
          assert.include(error.message, `"${provider}"`)
          assert.include(error.message, "local")
        }
      }
    }))

  it.live("a provider key pasted as a priced provider is [redacted], one the config's apiKeyEnv names included", () =>
    Effect.gen(function*() {
      const cases = [
        ["OPENAI_API_KEY", "sk-CANARY-openai-1234567"],
        ["LOCAL_KEY_PROD", "sk-CANARY-local-7654321"]
      ] as const
      for (const [variable, key] of cases) {
        const error = yield* Effect.flip(
          Effect.scoped(Layer.build(gatewayPricing({ [key]: row }, { [variable]: key })))
        )
        assert.instanceOf(error, LlmConfigError, variable)
        if (error instanceof LlmConfigError) {
          assert.strictEqual(error.variable, "LLM_PRICES")
          assert.include(error.message, "[redacted]", variable)
          assert.notInclude(error.message, key.slice(0, 8), variable)
        }
      }
    }))

  it.live("Gateway.serve: a config key pasted into LLM_PRICES is [redacted] in the environment's error", () =>
    Effect.gen(function*() {
      const key = "sk-CANARY-local-7654321"
      const environment = ConfigProvider.layer(ConfigProvider.fromUnknown({
        LOCAL_KEY_PROD: key,
        LLM_PRICES: JSON.stringify({ local: { models: { [key]: { input: "free", output: 1 } } } })
      }))
      const config = yield* GatewayConfig.parse(
        JSON.stringify({
          providers: { local: { baseUrl: "http://127.0.0.1:1/v1", models: ["llama3"], apiKeyEnv: "LOCAL_KEY_PROD" } },
          keys: []
        }),
        "json"
      ).pipe(Effect.provide(environment))
      const error = yield* Effect.flip(
        Gateway.serve({ config, port: 0 }).pipe(Effect.provide(environment), Effect.timeout("10 seconds"))
      )
      assert.instanceOf(error, LlmConfigError)
      if (error instanceof LlmConfigError) {
        assert.strictEqual(error.variable, "LLM_PRICES")
        assert.include(error.message, "[redacted]")
        assert.notInclude(error.message, key.slice(0, 8))
      }
    }))
})
