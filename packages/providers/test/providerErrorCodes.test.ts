/**
 * Errors a provider names by a code that its status or type alone does not
 * tell, through `LlmManager` with the mock server's Gemini behind OpenAI:
 * - OpenAI's 400 `invalid_prompt`, its usage policy flagging the prompt, is
 *   `ContentFiltered`: the prompt goes to no other provider (unless
 *   `fallbackOnContentFilter`); as `InvalidRequest` it went on to Gemini;
 * - an error event inside a 200 stream whose type says nothing (OpenAI's
 *   rate limit: type `tokens`, code `rate_limit_exceeded`) is read by its
 *   code, as the same error over plain HTTP is by its status 429.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"

const apiKey = Redacted.make("sk-test-key")

/** OpenAI at `baseUrl`, the mock's Gemini behind it; no retries. */
const manager = (baseUrl: string) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    return yield* LlmManager.make({
      providers: [OpenAi.layer({ apiKey, baseUrl }), Gemini.layer({ apiKey, baseUrl: mock.baseUrl("gemini") })],
      policy: FallbackPolicy.make({ maxRetries: 0 }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
  })

const flagged =
  "Invalid prompt: your prompt was flagged as potentially violating our usage policy. Please try again with a different prompt."

describe("provider errors read by their code", () => {
  it.effect("OpenAI's invalid_prompt is ContentFiltered, and the prompt is not sent to the fallback", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      yield* mock.inject("openai", MockFault.status(400, { message: flagged, errorCode: "invalid_prompt" }))
      const llm = yield* manager(mock.baseUrl("openai"))
      const error = yield* Effect.flip(llm.generate({ prompt: "something the policy flags" }))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag === "AllProvidersFailed") {
        assert.deepStrictEqual(error.attempts.map((attempt) => [String(attempt.provider), attempt.error?._tag]), [
          ["openai", "ContentFiltered"]
        ])
      }
      assert.strictEqual((yield* mock.stats("gemini")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.live("a rate-limit error event in a 200 stream, code rate_limit_exceeded, is ProviderRateLimited", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({
        body: {},
        events: [{
          error: {
            message: "Rate limit reached for gpt-4o-mini on tokens per min (TPM): Limit 200000, Used 199000.",
            type: "tokens",
            param: null,
            code: "rate_limit_exceeded"
          }
        }]
      })
      const llm = yield* manager(server.url)
      const result = yield* llm.generate({ prompt: "hi" })
      assert.deepStrictEqual(result.attempts.map((attempt) => [String(attempt.provider), attempt.error?._tag]), [
        ["openai", "ProviderRateLimited"],
        ["gemini", undefined]
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
