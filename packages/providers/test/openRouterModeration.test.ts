/**
 * OpenRouter answers a prompt its moderation flagged with HTTP 403 and an
 * error whose `metadata` is a `ModerationErrorMetadata` (`reasons`, the
 * categories flagged, and `flagged_input`). That is `ContentFiltered` (stage
 * `prompt`): one attempt, not sent to the next provider, not counted against
 * the circuit. Any other 403 stays `ProviderAuthenticationFailed`, even when
 * its message speaks of flagging: the decision rests on `metadata.reasons`.
 * Through `LlmManager`, plain and streamed, over real HTTP from a server that
 * sends exactly the given body, the mock server's OpenAI behind it.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

const apiKey = Redacted.make("sk-test-key")

const flagged = {
  error: {
    code: 403,
    message: "openai/gpt-4o requires moderation on OpenRouter. Your input was flagged for \"violence\"",
    metadata: {
      reasons: ["violence"],
      flagged_input: "...",
      provider_name: "OpenAI",
      model_slug: "openai/gpt-4o"
    }
  }
}

/** OpenRouter at a server answering 403 with `body`, then the mock server's OpenAI; two retries allowed. */
const chain = (body: unknown, generateVia: "stream" | "generate") =>
  Effect.gen(function*() {
    const server = yield* RawServer.start({ status: 403, body, events: [] })
    const mock = yield* MockProviderServer.MockProviderServer
    const llm = yield* LlmManager.make({
      providers: [
        OpenAiCompatible.layer({ name: "openrouter", baseUrl: server.url, model: "openai/gpt-4o", apiKey }),
        OpenAi.layer({ apiKey, baseUrl: mock.baseUrl("openai") })
      ],
      policy: FallbackPolicy.make({ maxRetries: 2, retryBaseDelayMs: 1, generateVia }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
    return { llm, mock }
  })

describe("OpenRouter's 403 for a flagged prompt", () => {
  for (const via of ["generate", "stream"] as const) {
    it.live(`(generateVia: ${via}) is ContentFiltered, stage prompt: one attempt, not sent to the next provider`, () =>
      Effect.gen(function*() {
        const { llm, mock } = yield* chain(flagged, via)
        const failure = yield* Effect.flip(llm.generate({ prompt: "hi" }))
        assert.strictEqual(failure._tag, "AllProvidersFailed")
        const attempts = failure._tag === "AllProvidersFailed" ? failure.attempts : []
        assert.deepStrictEqual(attempts.map((a) => [String(a.provider), a.error?._tag]), [
          ["openrouter", "ContentFiltered"]
        ])
        const error = attempts[0]?.error
        assert.strictEqual(error?._tag === "ContentFiltered" ? error.stage : undefined, "prompt")
        assert.include(error?.message ?? "", "flagged")
        assert.notInclude(error?.message ?? "", "check the API key")
        assert.strictEqual((yield* mock.stats("openai")).requests, 0)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  const otherForbidden = [
    ["a key without access", { error: { code: 403, message: "Key disabled" } }],
    ["a message about flagging, without metadata.reasons", {
      error: { code: 403, message: "Your input was flagged", metadata: { provider_name: "OpenAI" } }
    }]
  ] as const
  for (const [name, body] of otherForbidden) {
    it.live(`any other 403 (${name}) stays ProviderAuthenticationFailed and falls back`, () =>
      Effect.gen(function*() {
        const { llm } = yield* chain(body, "generate")
        const result = yield* llm.generate({ prompt: "hi" })
        assert.deepStrictEqual(result.attempts.map((a) => [String(a.provider), a.error?._tag]), [
          ["openrouter", "ProviderAuthenticationFailed"],
          ["openai", undefined]
        ])
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
