/**
 * A client that leaves out `max_tokens` or `temperature` gets the
 * provider's own default, as it would calling the provider: the gateway
 * sends neither (not Baton's library defaults, 2000 tokens and 0.7), except
 * Anthropic's `max_tokens`, which its API requires (4096, documented in the
 * README). A client's own values are passed on.
 */
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fixture from "./fixture.ts"

const extra = { ANTHROPIC_API_KEY: "sk-ant-provider-secret", GEMINI_API_KEY: "g-secret" }

/** The fixture's gateway, with an Anthropic and a Gemini provider besides OpenAI and DeepSeek. */
const TestLayer = Fixture.gatewayBeside((mock) => ({
  anthropic: { baseUrl: mock.baseUrl("anthropic"), models: ["claude-haiku-4-5"] },
  gemini: { baseUrl: mock.baseUrl("gemini"), models: ["gemini-2.5-flash"] }
}), extra)

/** The body the mock received on `provider`'s route, after a 200 answer to `request`. */
const sent = (provider: MockProviderServer.MockProvider, request: Record<string, unknown>) =>
  Effect.map(Fixture.sent(provider, request), ({ body }) => body)

const generationConfig = (body: Record<string, unknown>) => body.generationConfig as Record<string, unknown>

layer(TestLayer, { excludeTestServices: true })("Gateway: fields a client leaves out", (it) => {
  it.effect("OpenAI: no max_completion_tokens, max_tokens or temperature when the client sent none", () =>
    Effect.gen(function*() {
      for (const stream of [false, true]) {
        const body = yield* sent("openai", { model: "openai/gpt-4o-mini", stream })
        assert.notProperty(body, "max_completion_tokens")
        assert.notProperty(body, "max_tokens")
        assert.notProperty(body, "temperature")
      }
    }))

  it.effect("OpenAI: the client's max_tokens, max_completion_tokens and temperature are passed on", () =>
    Effect.gen(function*() {
      const legacy = yield* sent("openai", { model: "openai/gpt-4o-mini", max_tokens: 123, temperature: 0.2 })
      assert.strictEqual(legacy.max_completion_tokens, 123)
      assert.strictEqual(legacy.temperature, 0.2)
      const current = yield* sent("openai", { model: "openai/gpt-4o-mini", max_completion_tokens: 77, temperature: 1 })
      assert.strictEqual(current.max_completion_tokens, 77)
      assert.strictEqual(current.temperature, 1)
    }))

  it.effect("null is an absent field: OpenAI gets neither", () =>
    Effect.gen(function*() {
      const body = yield* sent("openai", { model: "openai/gpt-4o-mini", max_tokens: null, temperature: null })
      assert.notProperty(body, "max_completion_tokens")
      assert.notProperty(body, "temperature")
    }))

  it.effect("DeepSeek: no max_tokens or temperature when the client sent none; its own when it did", () =>
    Effect.gen(function*() {
      const omitted = yield* sent("deepseek", { model: "deepseek/deepseek-flash" })
      assert.notProperty(omitted, "max_tokens")
      assert.notProperty(omitted, "temperature")
      const given = yield* sent("deepseek", { model: "deepseek/deepseek-flash", max_tokens: 300, temperature: 1.3 })
      assert.strictEqual(given.max_tokens, 300)
      assert.strictEqual(given.temperature, 1.3)
    }))

  it.effect("Gemini: no maxOutputTokens or temperature when the client sent none; its own when it did", () =>
    Effect.gen(function*() {
      const omitted = generationConfig(yield* sent("gemini", { model: "gemini/gemini-2.5-flash" }))
      assert.notProperty(omitted, "maxOutputTokens")
      assert.notProperty(omitted, "temperature")
      const given = generationConfig(
        yield* sent("gemini", { model: "gemini/gemini-2.5-flash", max_completion_tokens: 900, temperature: 0 })
      )
      assert.strictEqual(given.maxOutputTokens, 900)
      assert.strictEqual(given.temperature, 0)
    }))

  it.effect("Anthropic: the documented max_tokens 4096 and no temperature when the client sent none", () =>
    Effect.gen(function*() {
      for (const stream of [false, true]) {
        const body = yield* sent("anthropic", { model: "anthropic/claude-haiku-4-5", stream })
        assert.strictEqual(body.max_tokens, 4096)
        assert.notProperty(body, "temperature")
      }
    }))

  it.effect("Anthropic: the client's max_tokens and temperature are passed on", () =>
    Effect.gen(function*() {
      const body = yield* sent("anthropic", { model: "anthropic/claude-haiku-4-5", max_tokens: 64, temperature: 0.4 })
      assert.strictEqual(body.max_tokens, 64)
      assert.strictEqual(body.temperature, 0.4)
    }))
})
