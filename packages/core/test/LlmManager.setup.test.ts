/**
 * Set-up traps: each way of building a manager either works or fails at
 * build time with an `LlmConfigError` naming what to fix.
 */
import * as OpenAi from "@baton/providers/OpenAi"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmManager from "../src/LlmManager.ts"
import { Bench, eventually, inject, managerFromEnv, pick, stats } from "./utils/chain.ts"

const apiKey = Redacted.make("sk-test-key")
const prompt = { prompt: "Write one quiz question about tides." }

describe("LlmManager set-up", () => {
  it.effect("a provider layer given its own HttpClient keeps the first-byte limit", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* LlmManager.make({
        providers: [
          // as OpenAiCompatible's doc example does: the client is provided to the provider layer itself
          OpenAi.layer({ apiKey, baseUrl: server.baseUrl("openai") }).pipe(Layer.provide(NodeHttpClient.layerUndici))
        ],
        policy: FallbackPolicy.make({
          maxRetries: 0,
          limits: { firstByteMs: 1_000, firstTokenMs: 20_000, idleMs: 20_000, attemptMs: 30_000 }
        })
      })
      yield* inject("openai", MockFault.noResponse)
      const fiber = yield* Effect.forkChild(Effect.flip(llm.generate(prompt)))
      yield* eventually(Effect.map(stats("openai"), (s) => s.requests === 1))
      yield* TestClock.adjust(1_000)
      yield* TestClock.adjust(20_000)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag !== "AllProvidersFailed") return
      const timeout = error.attempts[0]?.error
      assert.strictEqual(timeout?._tag, "ProviderTimeout")
      if (timeout?._tag === "ProviderTimeout") assert.strictEqual(timeout.phase, "first-byte")
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager.layerConfig", () => {
  it.effect("LLM_PRIMARY_PROVIDER=gemini alone works: the default fallback is not gemini again", () =>
    Effect.gen(function*() {
      const llm = yield* managerFromEnv({ LLM_PRIMARY_PROVIDER: "gemini" })
      assert.deepStrictEqual(llm.providers.map(String), ["gemini"])
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "gemini")
    }).pipe(Effect.provide(Bench)))

  it.effect("takes a policy override on top of the configured policy", () =>
    Effect.gen(function*() {
      const llm = yield* managerFromEnv(
        { LLM_PRIMARY_PROVIDER: "openai", LLM_FALLBACK_PROVIDER: "anthropic", LLM_MAX_RETRIES: "0" },
        { policy: (configured) => ({ ...configured, generateVia: "generate" }) }
      )
      assert.strictEqual(llm.policy.generateVia, "generate")
      assert.strictEqual(llm.policy.maxRetries, 0)
      yield* inject("openai", MockFault.status(503))
      const result = yield* llm.generate(prompt)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome")), [
        ["openai", "error"],
        ["anthropic", "success"]
      ])
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager.layerConfig with LLM_CHAIN", () => {
  const models = (provider: "openai" | "deepseek") =>
    Effect.map(
      Effect.flatMap(MockProviderServer.MockProviderServer, (server) => server.received(provider)),
      (requests) => requests.map((request) => (request.body as { readonly model?: unknown }).model)
    )

  it.effect("one provider twice with two models: the first model fails, the second answers", () =>
    Effect.gen(function*() {
      const llm = yield* managerFromEnv({
        LLM_CHAIN: "deepseek/deepseek-chat, deepseek/deepseek-reasoner",
        LLM_MAX_RETRIES: "0"
      }, { circuitPolicy: { failureThreshold: 1, cooldownMs: 60_000 } })
      assert.deepStrictEqual(llm.providers.map(String), ["deepseek", "deepseek"])
      yield* inject("deepseek", MockFault.status(503))
      const result = yield* llm.generate(prompt)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "model", "outcome")), [
        ["deepseek", "deepseek-chat", "error"],
        ["deepseek", "deepseek-reasoner", "success"]
      ])
      assert.deepStrictEqual(yield* models("deepseek"), ["deepseek-chat", "deepseek-reasoner"])
      // one circuit per step: the first model's opened, the second's did not
      const deepseek = ProviderName.make("deepseek")
      assert.strictEqual((yield* llm.circuitState(deepseek))._tag, "Open")
      assert.strictEqual((yield* llm.circuitState(deepseek, ModelId.make("deepseek-reasoner")))._tag, "Closed")
    }).pipe(Effect.provide(Bench)))

  it.effect("two OpenAI-compatible endpoints: the first fails, the second answers", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* managerFromEnv({
        LLM_CHAIN: "local,backup-1/deepseek-flash",
        LLM_COMPAT_LOCAL_BASE_URL: server.baseUrl("openai"),
        LLM_COMPAT_LOCAL_MODEL: "llama3.2",
        LLM_COMPAT_LOCAL_API_KEY: "sk-local",
        LLM_COMPAT_BACKUP_1_BASE_URL: server.baseUrl("deepseek"),
        LLM_COMPAT_BACKUP_1_API_KEY: "sk-backup",
        LLM_MAX_RETRIES: "0"
      })
      assert.deepStrictEqual(llm.providers.map(String), ["local", "backup-1"])
      yield* inject("openai", MockFault.status(503))
      const result = yield* llm.generate(prompt)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "model", "outcome")), [
        ["local", "llama3.2", "error"],
        ["backup-1", "deepseek-flash", "success"]
      ])
      assert.deepStrictEqual(yield* models("openai"), ["llama3.2"])
      assert.deepStrictEqual(yield* models("deepseek"), ["deepseek-flash"])
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager.circuitState", () => {
  it.effect("fails with InvalidOptions, not a defect, for a provider that is not in the chain", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* LlmManager.make({ providers: [OpenAi.layer({ apiKey, baseUrl: server.baseUrl("openai") })] })
      assert.strictEqual((yield* llm.circuitState(ProviderName.make("openai")))._tag, "Closed")
      const error = yield* Effect.flip(llm.circuitState(ProviderName.make("gemini")))
      assert.strictEqual(error._tag, "InvalidOptions")
      assert.include(error.message, "not in the chain")
    }).pipe(Effect.provide(Bench)))
})
