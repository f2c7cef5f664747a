/**
 * DeepSeek continues a final assistant message (prefix completion) only on
 * its beta endpoint: on its stable one the layer says it has no prefill, so
 * `LlmManager` restarts a cut stream rather than asking for a continuation
 * the endpoint may not honour.
 */
import * as Pricing from "@baton/core/Pricing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"

const prefillOf = (options: Omit<DeepSeek.Options, "apiKey">) =>
  DeepSeek.make({ apiKey: Redacted.make("sk-test"), ...options }).pipe(
    Effect.map((provider) => provider.capabilities.assistantPrefill),
    Effect.provide(Layer.mergeAll(ProviderHttpClient.layer, Pricing.layerDefault))
  )

describe("DeepSeek prefix completion", () => {
  it.effect("off on the default base URL and api.deepseek.com outside /beta; on under /beta and on other hosts", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* prefillOf({}))
      for (
        const baseUrl of ["https://api.deepseek.com", "https://API.DeepSeek.com/v1", "https://api.deepseek.com/betas"]
      ) {
        assert.isFalse(yield* prefillOf({ baseUrl }), baseUrl)
      }
      for (
        const baseUrl of [
          "https://api.deepseek.com/beta",
          "https://api.deepseek.com/beta/",
          "http://127.0.0.1:8080/deepseek"
        ]
      ) {
        assert.isTrue(yield* prefillOf({ baseUrl }), baseUrl)
      }
      // the caller's word wins
      assert.isTrue(yield* prefillOf({ assistantPrefill: true }))
      assert.isFalse(yield* prefillOf({ baseUrl: "https://api.deepseek.com/beta", assistantPrefill: false }))
    }))
})
