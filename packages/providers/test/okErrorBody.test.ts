/**
 * OpenRouter sends errors with HTTP 200 once it has accepted a request: as
 * an SSE `data:` event, as the whole body of a plain reply, or as a JSON
 * body where a stream was asked for. All three are the error the body
 * names, mapped alike (`{"error":{"code":402,...}}` is
 * `ProviderQuotaExhausted`: never retried, the chain falls back), never a
 * `MalformedResponse` (retried, and counted as a broken reply). vLLM's flat
 * error body (`{"object":"error","message":...,"code":400}`, no `error`
 * field) is read so too: the error the same body sent with HTTP 400 is.
 * Through `LlmManager`, over real HTTP from a server that sends exactly the
 * given reply, the mock server's OpenAI behind it.
 */
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-test-key")

/** An OpenAI-compatible endpoint named `name`, the mock server's OpenAI behind it; two retries allowed. */
const endpoint = (name: string, model: string) => (server: RawServer.RawServer, generateVia: "stream" | "generate") =>
  Manager.withMockFallback((baseUrl) => OpenAiCompatible.layer({ name, baseUrl, model, apiKey }))(
    server.url,
    { maxRetries: 2, retryBaseDelayMs: 1, generateVia }
  )

/** How a 200 carries an error body: as an SSE data event, as a plain reply, as a JSON body instead of a stream. */
const carried = (body: unknown): ReadonlyArray<readonly [string, "stream" | "generate", RawServer.Reply]> => [
  ["as an SSE data event", "stream", { body: {}, events: [body] }],
  ["as the body of a plain reply", "generate", { body, events: [] }],
  ["as a JSON body instead of a stream", "stream", { body, events: [], streamAs: "body" }]
]

const noCredits = {
  error: { code: 402, message: "Insufficient credits. Add more using https://openrouter.ai/credits", metadata: {} }
}

describe("an error sent with HTTP 200 (OpenRouter)", () => {
  for (const [name, via, reply] of carried(noCredits)) {
    it.live(`${name} (generateVia: ${via}) is the error it names: ProviderQuotaExhausted, not retried`, () =>
      Effect.gen(function*() {
        const llm = yield* endpoint("openrouter", "openai/gpt-4o")(yield* RawServer.start(reply), via)
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

/** vLLM's error body: flat, no `error` field (its `ErrorResponse`), `code` the status as a number. */
const flatError = (message: string) => ({ object: "error", message, type: "BadRequestError", param: null, code: 400 })

const flatErrors = [
  ["ContextLengthExceeded", "This model's maximum context length is 4096 tokens. However, you requested 9000 tokens"],
  ["InvalidRequest", "max_tokens must be at least 1, got -3."]
] as const

describe("vLLM's flat error body sent with HTTP 200", () => {
  for (const [tag, message] of flatErrors) {
    for (const [name, via, reply] of carried(flatError(message))) {
      it.live(`${name} (generateVia: ${via}) is the error a 400 with it is: ${tag}, one request, its message`, () =>
        Effect.gen(function*() {
          const llm = yield* endpoint("vllm", "llama")(yield* RawServer.start(reply), via)
          const result = yield* llm.generate({ prompt: "hi" })
          assert.deepStrictEqual(result.attempts.map((a) => [String(a.provider), a.error?._tag]), [
            ["vllm", tag],
            ["openai", undefined]
          ])
          assert.include(result.attempts[0]?.error?.message ?? "", message)
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }
  }
})
