/**
 * An Anthropic stream `error` event of type `billing_error` is the same
 * failure as Anthropic's HTTP 402 `billing_error`: `ProviderQuotaExhausted`,
 * never retried on the same provider, and the chain falls back. Through
 * `LlmManager`, over real HTTP from a server that sends exactly the given
 * events, the mock server's OpenAI behind it.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as OpenAi from "../src/OpenAi.ts"

const apiKey = Redacted.make("sk-test-key")

const billingError = { type: "error", error: { type: "billing_error", message: "Billing issue on this account" } }

describe("Anthropic's billing_error stream event", () => {
  it.live("is ProviderQuotaExhausted: not retried, the chain falls back", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({ body: {}, events: [billingError] })
      const mock = yield* MockProviderServer.MockProviderServer
      const llm = yield* LlmManager.make({
        providers: [
          Anthropic.layer({ apiKey, baseUrl: server.url }),
          OpenAi.layer({ apiKey, baseUrl: mock.baseUrl("openai") })
        ],
        policy: FallbackPolicy.make({ maxRetries: 2, retryBaseDelayMs: 1, generateVia: "stream" }),
        circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
        generationEnabled: true
      })
      const result = yield* llm.generate({ prompt: "hi" })
      assert.strictEqual(String(result.provider), "openai")
      assert.deepStrictEqual(result.attempts.map((a) => [String(a.provider), a.error?._tag]), [
        ["anthropic", "ProviderQuotaExhausted"],
        ["openai", undefined]
      ])
      const error = result.attempts[0]?.error
      assert.strictEqual(error?._tag === "ProviderQuotaExhausted" ? error.status : undefined, 402)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
