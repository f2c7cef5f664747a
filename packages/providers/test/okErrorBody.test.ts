/**
 * OpenRouter sends errors with HTTP 200 once it has accepted a request: as
 * an SSE `data:` event, as the whole body of a plain reply, or as a JSON
 * body where a stream was asked for. All three are the error the body
 * names, mapped alike (`{"error":{"code":402,...}}` is
 * `ProviderQuotaExhausted`: never retried, the chain falls back), never a
 * `MalformedResponse` (retried, and counted as a broken reply). Through
 * `LlmManager`, over real HTTP from a server that sends exactly the given
 * reply, the mock server's OpenAI behind it.
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

const noCredits = {
  error: { code: 402, message: "Insufficient credits. Add more using https://openrouter.ai/credits", metadata: {} }
}

const replies: ReadonlyArray<readonly [string, "stream" | "generate", RawServer.Reply]> = [
  ["as an SSE data event", "stream", { body: {}, events: [noCredits] }],
  ["as the body of a plain reply", "generate", { body: noCredits, events: [] }],
  ["as a JSON body instead of a stream", "stream", { body: noCredits, events: [], streamAs: "body" }]
]

describe("an error sent with HTTP 200 (OpenRouter)", () => {
  for (const [name, via, reply] of replies) {
    it.live(`${name} (generateVia: ${via}) is the error it names: ProviderQuotaExhausted, not retried`, () =>
      Effect.gen(function*() {
        const server = yield* RawServer.start(reply)
        const mock = yield* MockProviderServer.MockProviderServer
        const llm = yield* LlmManager.make({
          providers: [
            OpenAiCompatible.layer({ name: "openrouter", baseUrl: server.url, model: "openai/gpt-4o", apiKey }),
            OpenAi.layer({ apiKey, baseUrl: mock.baseUrl("openai") })
          ],
          policy: FallbackPolicy.make({ maxRetries: 2, retryBaseDelayMs: 1, generateVia: via }),
          circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
          generationEnabled: true
        })
        const result = yield* llm.generate({ prompt: "hi" })
        assert.deepStrictEqual(result.attempts.map((a) => [String(a.provider), a.error?._tag]), [
          ["openrouter", "ProviderQuotaExhausted"],
          ["openai", undefined]
        ])
        const error = result.attempts[0]?.error
        assert.strictEqual(error?._tag === "ProviderQuotaExhausted" ? error.status : undefined, 402)
        assert.include(error?.message ?? "", "Insufficient credits")
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
