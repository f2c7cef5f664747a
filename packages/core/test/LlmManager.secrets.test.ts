/**
 * The whole stack, built from configuration, never lets a key out: not in
 * the JSON request log, the app's logs, the errors (messages, JSON, pretty
 * causes) or any span attribute, even when a provider echoes the key back.
 */
import * as Providers from "@baton/providers/Providers"
import * as LeakCheck from "@baton/testing/LeakCheck"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, Stream } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"
import * as LlmManager from "../src/LlmManager.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"

const deepseekKey = "sk-canary-deepseek-5b1e9c"
const geminiKey = "AIzaCanaryGeminiKey0123456789abcdef"

describe("LlmManager secrets", () => {
  it.live("a canary key never appears in logs, errors or spans", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      const check = LeakCheck.make()
      const records: Array<string> = []
      const requestLog = RequestLog.jsonSink(Logger.make((options) => {
        records.push(JSON.stringify(options.message))
      }))
      const Config = LlmConfig.layerFromRecord({
        DEEPSEEK_API_KEY: deepseekKey,
        GEMINI_API_KEY: geminiKey,
        DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
        GEMINI_BASE_URL: server.baseUrl("gemini"),
        LLM_MAX_RETRIES: "0"
      })
      const Manager = LlmManager.layerConfig({
        deepseek: Providers.layerFromConfig("deepseek"),
        gemini: Providers.layerFromConfig("gemini")
      }).pipe(
        Layer.provide(Layer.unwrap(Effect.map(RequestLog.optionsFromConfig, (o) => RequestLog.layer([requestLog], o)))),
        Layer.provide([UsageLedger.layerMemory(), LlmConfig.layerPricing, NodeHttpClient.layerUndici]),
        Layer.provide(Config)
      )
      const errors = yield* Effect.gen(function*() {
        const manager = yield* LlmManager.LlmManager
        yield* server.inject(
          "deepseek",
          MockFault.status(401, { message: `Incorrect API key provided: ${deepseekKey}` })
        )
        yield* server.inject("gemini", MockFault.status(400, { message: `API key not valid: ${geminiKey}` }))
        const failed = yield* Effect.flip(manager.generate({ prompt: "Hello", metadata: { subjectId: "teacher-1" } }))
        yield* Effect.logError("generation failed", failed)
        const ok = yield* manager.generate({ prompt: "Hello again" })
        yield* Effect.logInfo("generated", ok)
        // cut after text reached the caller: a StreamInterrupted listing both attempts, gemini's with its 403
        yield* server.inject("deepseek", MockFault.cutStreamAfter(2))
        yield* server.inject("gemini", MockFault.status(403, { message: `Permission denied for ${geminiKey}` }))
        const cut = yield* Effect.flip(Stream.runDrain(manager.stream({ prompt: "Tell me a long story" })))
        yield* Effect.logWarning("stream failed", cut)
        return [failed, cut]
      }).pipe(Effect.withSpan("secrets.test"), Effect.provide(Manager), check.capture)
      check.addErrors(errors)
      assert.strictEqual(errors[0]?._tag, "AllProvidersFailed")
      const cut = errors[1]
      assert.strictEqual(cut?._tag, "StreamInterrupted")
      if (cut?._tag === "StreamInterrupted") {
        assert.deepStrictEqual(cut.attempts?.map((a): Array<string | undefined> => [a.provider, a.error?._tag]), [
          ["deepseek", "ProviderConnectionFailed"],
          ["gemini", "ProviderAuthenticationFailed"]
        ])
      }
      assert.isAbove(records.length, 2, "request log records captured")
      assert.isAbove(check.counts().spans, 2)
      const seen = [...check.texts(), ...records].join("\n")
      for (const key of [deepseekKey, geminiKey]) {
        assert.notInclude(seen, key)
        assert.notInclude(seen, key.slice(4, -2))
      }
      assert.notInclude(records.join("\n"), "Hello again", "no prompt text in the request log by default")
    }).pipe(Effect.scoped))
})

describe("LlmManager keys from secret files", () => {
  it.live("a key with a trailing newline (a mounted secret file) is sent without it: the call succeeds", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      const Manager = LlmManager.layerConfig({
        deepseek: Providers.layerFromConfig("deepseek"),
        gemini: Providers.layerFromConfig("gemini")
      }).pipe(
        Layer.provide([UsageLedger.layerMemory(), LlmConfig.layerPricing, NodeHttpClient.layerUndici]),
        Layer.provide(LlmConfig.layerFromRecord({
          DEEPSEEK_API_KEY: `${deepseekKey}\n`,
          GEMINI_API_KEY: `${geminiKey}\r\n`,
          DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
          GEMINI_BASE_URL: server.baseUrl("gemini"),
          LLM_MAX_RETRIES: "0"
        }))
      )
      const result = yield* LlmManager.LlmManager.use((manager) => manager.generate({ prompt: "Hello" })).pipe(
        Effect.provide(Manager)
      )
      assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.outcome]), [["deepseek", "success"]])
    }).pipe(Effect.scoped))
})

describe("LlmManager OpenAI-compatible keys", () => {
  it.live("an OpenAI-compatible endpoint's key is scrubbed from the request log like a hosted provider's", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      // not key-shaped: only the configured value can catch it
      const compatKey = "local-canary-7f3a9c21d4"
      const records: Array<string> = []
      const requestLog = RequestLog.jsonSink(Logger.make((options) => {
        records.push(JSON.stringify(options.message))
      }))
      const Manager = LlmManager.layerConfig(Providers.layersFromConfig).pipe(
        Layer.provide(Layer.unwrap(Effect.map(RequestLog.optionsFromConfig, (o) => RequestLog.layer([requestLog], o)))),
        Layer.provide([UsageLedger.layerMemory(), LlmConfig.layerPricing, NodeHttpClient.layerUndici]),
        Layer.provide(LlmConfig.layerFromRecord({
          LLM_CHAIN: "backup/deepseek-flash,local/llama3.2",
          // a shared proxy in front of both endpoints echoes the other endpoint's key
          LLM_COMPAT_BACKUP_BASE_URL: server.baseUrl("deepseek"),
          LLM_COMPAT_BACKUP_API_KEY: deepseekKey,
          LLM_COMPAT_LOCAL_BASE_URL: server.baseUrl("openai"),
          LLM_COMPAT_LOCAL_API_KEY: compatKey,
          LLM_LOG_PROMPTS: "true",
          LLM_MAX_RETRIES: "0"
        }))
      )
      yield* Effect.gen(function*() {
        const manager = yield* LlmManager.LlmManager
        yield* server.inject("deepseek", MockFault.status(503, { message: `upstream refused key ${compatKey}` }))
        const result = yield* manager.generate({ prompt: `Is ${compatKey} a valid key?` })
        assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.outcome]), [
          ["backup", "error"],
          ["local", "success"]
        ])
      }).pipe(Effect.provide(Manager))
      assert.strictEqual(records.length, 2)
      const seen = records.join("\n")
      assert.include(seen, "[redacted]")
      assert.notInclude(seen, compatKey)
      assert.notInclude(seen, compatKey.slice(2, -2))
    }).pipe(Effect.scoped))
})
