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
