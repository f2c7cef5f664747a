import * as LlmConfig from "@baton/core/LlmConfig"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as Pricing from "@baton/core/Pricing"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"
import * as Providers from "../src/Providers.ts"

const Base = Layer.mergeAll(MockProviderServer.layer(), NodeHttpClient.layerUndici, Pricing.layerDefault)

/** The configuration a deployment would have, pointed at the mock server. */
const configFor = (server: MockProviderServer.MockProviderServer["Service"], extra: Record<string, string> = {}) =>
  LlmConfig.layerFromRecord({
    LLM_PRIMARY_PROVIDER: "anthropic",
    LLM_FALLBACK_PROVIDERS: "gemini,openai,deepseek",
    DEEPSEEK_API_KEY: "sk-d",
    GEMINI_API_KEY: "g-k",
    OPENAI_API_KEY: "sk-o",
    ANTHROPIC_API_KEY: "sk-a",
    DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
    GEMINI_BASE_URL: server.baseUrl("gemini"),
    OPENAI_BASE_URL: server.baseUrl("openai"),
    ANTHROPIC_BASE_URL: server.baseUrl("anthropic"),
    ...extra
  })

describe("Providers", () => {
  layer(Base, { excludeTestServices: true })((it) => {
    it.effect("builds every provider of the configured chain and each answers", () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        const config = configFor(server)
        const settings = yield* LlmConfig.LlmConfig.useSync((s) => s).pipe(Effect.provide(config))
        for (const kind of settings.chain) {
          const viaLayer = yield* LlmProvider.generate({ prompt: "Hi" }).pipe(
            Effect.provide(Providers.layerFromConfig(kind).pipe(Layer.provide(config)))
          )
          assert.strictEqual<string>(viaLayer.provider, kind)
          assert.strictEqual(viaLayer.model, settings.providers[kind].model)
          const service = yield* Providers.make(kind).pipe(Effect.provide(config))
          assert.strictEqual<string>(service.name, kind)
        }
      }))

    it.effect("uses LLM_ATTEMPT_TIMEOUT_MS as the attempt limit", () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        yield* server.inject("deepseek", MockFault.noResponse)
        const error = yield* LlmProvider.generate({ prompt: "Hi" }).pipe(
          Effect.provide(
            DeepSeek.layerConfig.pipe(Layer.provide(configFor(server, { LLM_ATTEMPT_TIMEOUT_MS: "200" })))
          ),
          Effect.flip
        )
        assert.strictEqual(error._tag, "ProviderTimeout")
        if (error._tag === "ProviderTimeout") assert.strictEqual(error.timeoutMs, 200)
      }))

    it.effect("fails with an LlmConfigError naming the key variable when the key is absent", () =>
      Effect.gen(function*() {
        const config = LlmConfig.layerFromRecord({
          LLM_PRIMARY_PROVIDER: "gemini",
          LLM_FALLBACK_PROVIDER: "none",
          GEMINI_API_KEY: "g-k"
        })
        const error = yield* Layer.build(DeepSeek.layerConfig.pipe(Layer.provide(config))).pipe(
          Effect.scoped,
          Effect.flip
        )
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, "DEEPSEEK_API_KEY")
        assert.include(error.message, "DEEPSEEK_API_KEY")
      }))

    it.effect("rejects invalid options with an LlmConfigError naming the option", () =>
      Effect.gen(function*() {
        const apiKey = Redacted.make("k")
        const cases = [
          [DeepSeek.make({ apiKey, timeoutMs: 0 }), "timeoutMs"],
          [DeepSeek.make({ apiKey, maxBodyBytes: 1.5 }), "maxBodyBytes"],
          [
            OpenAiCompatible.make({ name: "local", baseUrl: "http://localhost:1/v1", model: "m", maxEventBytes: -1 }),
            "maxEventBytes"
          ],
          [DeepSeek.make({ apiKey, model: "  " }), "model"],
          [DeepSeek.make({ apiKey, baseUrl: "not a url" }), "baseUrl"],
          [OpenAiCompatible.make({ name: "Bad Name", baseUrl: "http://localhost:1/v1", model: "m" }), "name"]
        ] as const
        for (const [make, option] of cases) {
          const error = yield* Effect.flip(make)
          assert.strictEqual(error.variable, option)
        }
      }))

    it.effect("limitsFromConfig carries the attempt limit and the size caps of the environment", () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        const settings = yield* LlmConfig.LlmConfig.useSync((s) => s).pipe(
          Effect.provide(configFor(server, { LLM_ATTEMPT_TIMEOUT_MS: "200", LLM_MAX_BODY_BYTES: "1024" }))
        )
        assert.deepStrictEqual(Providers.limitsFromConfig(settings), {
          timeoutMs: 200,
          maxBodyBytes: 1024,
          maxEventBytes: undefined
        })
        yield* server.inject("deepseek", MockFault.oversized(4096))
        const error = yield* LlmProvider.generate({ prompt: "Hi", options: { maxTokens: 4096 } }).pipe(
          Effect.provide(
            DeepSeek.layer({
              apiKey: Redacted.make("k"),
              baseUrl: server.baseUrl("deepseek"),
              ...Providers.limitsFromConfig(settings)
            })
          ),
          Effect.flip
        )
        assert.strictEqual(error._tag, "MalformedResponse")
      }))

    it.effect("OpenAiCompatible.layerConfig outside a chain step fails naming LLM_CHAIN", () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        const error = yield* Layer.build(OpenAiCompatible.layerConfig.pipe(Layer.provide(configFor(server)))).pipe(
          Effect.scoped,
          Effect.flip
        )
        assert.strictEqual(error.variable, "LLM_CHAIN")
      }))

    it.effect("an OpenAI-compatible endpoint without a key sends no Authorization header", () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        const error = yield* LlmProvider.generate({ prompt: "Hi" }).pipe(
          Effect.provide(
            OpenAiCompatible.layer({ name: "ollama", baseUrl: server.baseUrl("openai"), model: "llama3.2" })
          ),
          Effect.flip
        )
        assert.strictEqual(error._tag, "ProviderAuthenticationFailed")
      }))
  })
})
