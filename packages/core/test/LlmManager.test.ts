import * as Providers from "@baton/providers/Providers"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema, Stream } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"
import * as LlmManager from "../src/LlmManager.ts"
import { Bench, inject, manager, pick, stats } from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about photosynthesis." }

describe("LlmManager against the mock provider server", () => {
  it.live("serves a request from the primary in one attempt", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "openai")
      assert.include(result.content, "Mock answer from openai")
      assert.strictEqual(result.finishReason, "stop")
      assert.isAbove(result.usage.totalTokens, 0)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "outcome")), [
        ["openai", "primary", "success"]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 1)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  const failures: ReadonlyArray<readonly [string, MockFault.MockFault, string]> = [
    ["503", MockFault.status(503), "ProviderUnavailable"],
    ["429", MockFault.rateLimited(), "ProviderRateLimited"],
    ["spent account", MockFault.quotaExhausted, "ProviderQuotaExhausted"],
    ["401", MockFault.status(401), "ProviderAuthenticationFailed"],
    ["a 400 about the route", MockFault.status(400, { message: "this model does not take a seed" }), "InvalidRequest"],
    ["context length", MockFault.contextLengthExceeded, "ContextLengthExceeded"],
    ["an HTML page", MockFault.notJson, "MalformedResponse"],
    ["the wrong shape", MockFault.wrongShape, "MalformedResponse"],
    ["a reset connection", MockFault.resetBeforeHeaders, "ProviderConnectionFailed"],
    ["a cut stream", MockFault.cutStream, "ProviderConnectionFailed"],
    ["a malformed stream event", MockFault.malformedEvent, "MalformedResponse"]
  ]
  for (const [name, fault, tag] of failures) {
    it.live(`falls back when the primary fails with ${name}`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["openai", "anthropic"] })
        yield* inject("openai", fault, { times: 5 })
        const result = yield* llm.generate(prompt)
        assert.strictEqual(result.provider, "anthropic")
        assert.include(result.content, "Mock answer from anthropic")
        assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "outcome", "error")), [
          ["openai", "primary", "error", tag],
          ["anthropic", "fallback", "success", undefined]
        ])
      }).pipe(Effect.provide(Bench)))
  }

  it.live("retries a retryable failure on the same provider before falling back", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { maxRetries: 2 } })
      yield* inject("openai", MockFault.status(503), { times: 2 })
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "openai")
      assert.deepStrictEqual(result.attempts.map(pick("role", "outcome")), [
        ["primary", "error"],
        ["retry", "error"],
        ["retry", "success"]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 3)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.live("does not retry a non-retryable failure on the same provider", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { maxRetries: 3 } })
      yield* inject("openai", MockFault.status(401), { times: 5 })
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "anthropic")
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(Bench)))

  it.live("fails with every attempt listed when all providers fail", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic", "gemini"], policy: { maxRetries: 1 } })
      yield* inject("openai", MockFault.status(503), { times: 5 })
      yield* inject("anthropic", MockFault.status(401), { times: 5 })
      yield* inject("gemini", MockFault.status(500), { times: 5 })
      const error = yield* Effect.flip(llm.generate(prompt))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag !== "AllProvidersFailed") return
      assert.deepStrictEqual(error.attempts.map(pick("provider", "role", "outcome", "error")), [
        ["openai", "primary", "error", "ProviderUnavailable"],
        ["openai", "retry", "error", "ProviderUnavailable"],
        ["anthropic", "fallback", "error", "ProviderAuthenticationFailed"],
        ["gemini", "fallback", "error", "ProviderUnavailable"],
        ["gemini", "retry", "error", "ProviderUnavailable"]
      ])
      for (const attempt of error.attempts) assert.isAtLeast(attempt.latencyMs, 0)
      assert.include(error.message, "openai/gpt-4o-mini [primary] ProviderUnavailable")
      assert.include(error.message, "anthropic/claude-haiku-4-5 [fallback] ProviderAuthenticationFailed")
    }).pipe(Effect.provide(Bench)))

  it.live("does not fall back when the provider says the caller's own request is invalid", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.status(400, { message: "messages: the conversation is malformed" }))
      const error = yield* Effect.flip(llm.generate(prompt))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag !== "AllProvidersFailed") return
      assert.deepStrictEqual(error.attempts.map(pick("provider", "error")), [["openai", "InvalidRequest"]])
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.live("fails every call with GenerationDisabled before any network call", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], generationEnabled: false })
      const error = yield* Effect.flip(llm.generate(prompt))
      assert.strictEqual(error._tag, "GenerationDisabled")
      const streamed = yield* Effect.flip(Stream.runCollect(llm.stream(prompt)))
      assert.strictEqual(streamed._tag, "GenerationDisabled")
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.live("rejects invalid options with InvalidOptions before any network call", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const error = yield* Effect.flip(llm.generate({ ...prompt, options: { temperature: 5 } }))
      assert.strictEqual(error._tag, "InvalidOptions")
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.live("decodes structured output typed by the schema", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const Quiz = Schema.Struct({ answer: Schema.String })
      const result = yield* llm.generateStructured(prompt, Quiz)
      const answer: string = result.value.answer
      assert.isString(answer)
    }).pipe(Effect.provide(Bench)))

  it.live("is built from LlmConfig: the configured chain, policies and AI_GENERATION_ENABLED", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const config = (extra: Record<string, string>) =>
        LlmConfig.layerFromRecord({
          LLM_PRIMARY_PROVIDER: "openai",
          LLM_FALLBACK_PROVIDERS: "anthropic",
          OPENAI_API_KEY: "sk-openai",
          ANTHROPIC_API_KEY: "sk-anthropic",
          OPENAI_BASE_URL: server.baseUrl("openai"),
          ANTHROPIC_BASE_URL: server.baseUrl("anthropic"),
          LLM_MAX_RETRIES: "0",
          ...extra
        })
      const build = (extra: Record<string, string>) =>
        Effect.flatMap(
          Layer.build(
            LlmManager.layerConfig({
              openai: Providers.layerFromConfig("openai"),
              anthropic: Providers.layerFromConfig("anthropic")
            }).pipe(Layer.provide(LlmConfig.layerPricing), Layer.provideMerge(config(extra)))
          ),
          (context) => Effect.succeed(Context.get(context, LlmManager.LlmManager))
        )
      const llm = yield* build({})
      assert.deepStrictEqual(llm.providers.map(String), ["openai", "anthropic"])
      assert.strictEqual(llm.policy.maxRetries, 0)
      yield* inject("openai", MockFault.status(503))
      assert.strictEqual((yield* llm.generate(prompt)).provider, "anthropic")

      const disabled = yield* build({ AI_GENERATION_ENABLED: "false" })
      assert.strictEqual((yield* Effect.flip(disabled.generate(prompt)))._tag, "GenerationDisabled")

      const missing = yield* Effect.flip(Layer.build(
        LlmManager.layerConfig({ openai: Providers.layerFromConfig("openai") }).pipe(
          Layer.provide(LlmConfig.layerPricing),
          Layer.provideMerge(config({}))
        )
      ))
      assert.strictEqual(missing.variable, "LLM_FALLBACK_PROVIDERS")
    }).pipe(Effect.provide(Bench)))

  it.live("LlmManager.layer fails to build without providers", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(LlmManager.make<never, never>({ providers: [] })))
      assert.strictEqual(error._tag, "LlmConfigError")
    }))
})
