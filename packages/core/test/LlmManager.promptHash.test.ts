/**
 * The prompt hash of the request log tells conversations apart: one whose
 * text holds what used to separate messages does not share the hash of the
 * conversation those separators stood for.
 */
import * as Providers from "@baton/providers/Providers"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"
import * as LlmManager from "../src/LlmManager.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"

describe("LlmManager prompt hash", () => {
  it.live("two different conversations get two different hashes in the request log", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      const Manager = LlmManager.layerConfig({ deepseek: Providers.layerFromConfig("deepseek") }).pipe(
        Layer.provideMerge(RequestLog.layerMemory()),
        Layer.provide([UsageLedger.layerMemory(), LlmConfig.layerPricing, NodeHttpClient.layerUndici]),
        Layer.provide(LlmConfig.layerFromRecord({
          DEEPSEEK_API_KEY: "sk-test-key",
          DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
          LLM_FALLBACK_PROVIDER: "none"
        }))
      )
      const records = yield* Effect.gen(function*() {
        const manager = yield* LlmManager.LlmManager
        yield* manager.generate({ prompt: "A\u0001assistant\u0000B" })
        yield* manager.generate({ prompt: [{ role: "user", content: "A" }, { role: "assistant", content: "B" }] })
        yield* manager.generate({ prompt: [{ role: "user", content: "A" }, { role: "assistant", content: "B" }] })
        return yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
      }).pipe(Effect.provide(Manager))
      assert.deepStrictEqual(records.map((record) => record.outcome), ["success", "success", "success"])
      const [single, pair, again] = records.map((record) => record.promptHash)
      assert.notStrictEqual(single, pair)
      assert.strictEqual(pair, again)
    }).pipe(Effect.scoped))
})
