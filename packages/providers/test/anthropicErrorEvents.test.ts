/**
 * An Anthropic stream `error` event is the same failure as the HTTP status
 * Anthropic sends its type with: `billing_error` (402) is
 * `ProviderQuotaExhausted`, `request_too_large` (413) an `InvalidRequest`
 * with status 413; neither is retried on the same provider, and the chain
 * falls back. Through `LlmManager`, over real HTTP from a server that sends
 * exactly the given reply, the mock server's OpenAI behind it.
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

const errorOf = (type: string, message: string) => ({ type: "error", error: { type, message } })

const billingError = errorOf("billing_error", "Billing issue on this account")
const tooLarge = errorOf("request_too_large", "Request exceeds the maximum allowed number of bytes.")

/** Anthropic answering `reply`, OpenAI behind it: the attempts (provider, error tag) and the first error's status. */
const attempts = (reply: RawServer.Reply) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start(reply)
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
    const error = result.attempts[0]?.error
    return {
      tags: result.attempts.map((a) => [String(a.provider), a.error?._tag]),
      status: error !== undefined && "status" in error ? error.status : undefined
    }
  }).pipe(Effect.provide(Bench), Effect.scoped)

describe("Anthropic's stream error events", () => {
  it.live("billing_error is ProviderQuotaExhausted: not retried, the chain falls back", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* attempts({ body: {}, events: [billingError] }), {
        tags: [["anthropic", "ProviderQuotaExhausted"], ["openai", undefined]],
        status: 402
      })
    }))

  it.live("request_too_large is InvalidRequest 413, as its HTTP 413: not retried, the chain falls back", () =>
    Effect.gen(function*() {
      const expected = { tags: [["anthropic", "InvalidRequest"], ["openai", undefined]], status: 413 }
      assert.deepStrictEqual(yield* attempts({ body: {}, events: [tooLarge] }), expected)
      assert.deepStrictEqual(yield* attempts({ status: 413, body: tooLarge, events: [] }), expected)
    }))

  it.live("not_found_error, permission_error and timeout_error are what their HTTP 404, 403 and 504 are", () =>
    Effect.gen(function*() {
      for (
        const [type, status] of [["not_found_error", 404], ["permission_error", 403], ["timeout_error", 504]] as const
      ) {
        const error = errorOf(type, `a ${type}`)
        const overHttp = yield* attempts({ status, body: error, events: [] })
        assert.strictEqual(overHttp.status, status, type)
        assert.deepStrictEqual(yield* attempts({ body: {}, events: [error] }), overHttp, type)
      }
    }))
})
