/**
 * The prompt text a request log keeps (`logPrompts`) is cut to its limit
 * without splitting a character: a cut between the two halves of a
 * surrogate pair (an emoji) would leave a lone surrogate, which SQL drivers
 * store as U+FFFD and JSON encoders escape as invalid Unicode.
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

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

describe("LlmManager logged prompt", () => {
  it.live("is cut before a character that straddles the limit, never inside it", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      const Manager = LlmManager.layerConfig({ deepseek: Providers.layerFromConfig("deepseek") }).pipe(
        Layer.provideMerge(RequestLog.layerMemory({ logPrompts: true, promptMaxChars: 22 })),
        Layer.provide([UsageLedger.layerMemory(), LlmConfig.layerPricing, NodeHttpClient.layerUndici]),
        Layer.provide(LlmConfig.layerFromRecord({
          DEEPSEEK_API_KEY: "sk-test-key",
          DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
          LLM_FALLBACK_PROVIDER: "none"
        }))
      )
      // "user: Quiz on 🦉 and " is 21 characters: the bee's two halves are the 22nd and the 23rd
      const records = yield* LlmManager.LlmManager.use((manager) =>
        manager.generate({ prompt: "Quiz on 🦉 and 🐝 and more" })
      ).pipe(
        Effect.andThen(RequestLog.RequestLogMemory.use((memory) => memory.records)),
        Effect.provide(Manager)
      )
      const prompt = records[0]?.prompt ?? ""
      assert.notMatch(prompt, loneSurrogate)
      assert.strictEqual(prompt, "user: Quiz on 🦉 and ...[11 more characters]")
    }).pipe(Effect.scoped))
})
