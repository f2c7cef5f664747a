/**
 * Gemini answers a key it does not accept with HTTP 400 `INVALID_ARGUMENT`
 * and a `google.rpc.ErrorInfo` detail whose `reason` is `API_KEY_INVALID`
 * or `API_KEY_EXPIRED`: that is `ProviderAuthenticationFailed` (never
 * retried, counted against the circuit, the chain falls back), not an
 * `InvalidRequest`. Any other 400 stays what it was. Through `LlmManager`,
 * plain and streamed, over real HTTP from a server that sends exactly the
 * given body, the mock server's OpenAI behind it.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"

const apiKey = Redacted.make("sk-test-key")

const invalidArgument = (message: string, details: ReadonlyArray<unknown>) => ({
  error: { code: 400, message, status: "INVALID_ARGUMENT", details }
})

const errorInfo = (reason: string) => ({
  "@type": "type.googleapis.com/google.rpc.ErrorInfo",
  reason,
  domain: "googleapis.com",
  metadata: { service: "generativelanguage.googleapis.com" }
})

/** Gemini at `baseUrl`, answering 400 with `body`, then the mock server's OpenAI; two retries allowed. */
const generate = (body: unknown, generateVia: "stream" | "generate") =>
  Effect.gen(function*() {
    const server = yield* RawServer.start({ status: 400, body, events: [] })
    const mock = yield* MockProviderServer.MockProviderServer
    const llm = yield* LlmManager.make({
      providers: [
        Gemini.layer({ apiKey, baseUrl: server.url }),
        OpenAi.layer({ apiKey, baseUrl: mock.baseUrl("openai") })
      ],
      policy: FallbackPolicy.make({ maxRetries: 2, retryBaseDelayMs: 1, generateVia }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
    const result = yield* llm.generate({ prompt: "hi" })
    assert.strictEqual(String(result.provider), "openai")
    return result.attempts
  })

const rejectedKeys = [
  ["API_KEY_INVALID", "API key not valid. Please pass a valid API key."],
  ["API_KEY_EXPIRED", "API key expired. Please renew the API key."]
] as const

describe("Gemini's 400 for a rejected key", () => {
  for (const [reason, message] of rejectedKeys) {
    for (const via of ["generate", "stream"] as const) {
      it.live(`${reason} (generateVia: ${via}) is ProviderAuthenticationFailed: not retried, the chain falls back`, () =>
        Effect.gen(function*() {
          const attempts = yield* generate(invalidArgument(message, [errorInfo(reason)]), via)
          assert.deepStrictEqual(attempts.map((a) => [String(a.provider), a.error?._tag]), [
            ["gemini", "ProviderAuthenticationFailed"],
            ["openai", undefined]
          ])
          const error = attempts[0]?.error
          if (error?._tag !== "ProviderAuthenticationFailed") return
          assert.strictEqual(error.status, 400)
          assert.include(error.message, message)
          assert.include(error.message, "check the API key")
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }
  }

  it.live("another 400 INVALID_ARGUMENT, even with an ErrorInfo, stays InvalidRequest", () =>
    Effect.gen(function*() {
      const body = invalidArgument("Invalid value at 'generation_config.temperature'", [
        errorInfo("INVALID_TEMPERATURE"),
        { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "temperature" }] }
      ])
      const attempts = yield* generate(body, "generate")
      assert.deepStrictEqual(attempts.map((a) => [String(a.provider), a.error?._tag]), [
        ["gemini", "InvalidRequest"],
        ["openai", undefined]
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
