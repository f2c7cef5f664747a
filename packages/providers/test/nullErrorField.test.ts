/**
 * A chunk or a body carrying `"error": null` carries no error: some servers
 * send the field on every chunk, null while all is well. Such a stream is
 * read as its answer, not as an error event (`ProviderUnavailable`, retried,
 * then the chain falls back). Over the chat-completions wire (an
 * OpenAI-compatible server) and Gemini's, streamed and not. Through
 * `LlmManager`, over real HTTP from a server that sends exactly the given
 * reply, the mock server's OpenAI behind it as the fallback.
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
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"
import type * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-test-key")

const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }

const chatChunk = (content: string, finish_reason: string | null = null) => ({
  choices: [{ index: 0, delta: { content }, finish_reason }],
  error: null
})

/** Chat completions: every chunk and the body carry `error: null`. */
const chat: RawServer.Reply = {
  body: {
    choices: [{ index: 0, message: { role: "assistant", content: "Hello" }, finish_reason: "stop" }],
    usage,
    error: null
  },
  events: [chatChunk("Hel"), chatChunk("lo", "stop"), { choices: [], usage, error: null }, "[DONE]"]
}

const geminiChunk = (text: string, finishReason?: string) => ({
  candidates: [{ content: { role: "model", parts: [{ text }] }, index: 0, ...(finishReason ? { finishReason } : {}) }],
  usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 },
  error: null
})

/** Gemini: every chunk and the body carry `error: null`. */
const gemini: RawServer.Reply = {
  body: geminiChunk("Hello", "STOP"),
  events: [geminiChunk("Hel"), geminiChunk("lo", "STOP")]
}

const wires: ReadonlyArray<readonly [string, Manager.Primary, RawServer.Reply]> = [
  [
    "chat completions",
    (baseUrl) => OpenAiCompatible.layer({ name: "local-llm", baseUrl, model: "llama", apiKey }),
    chat
  ],
  ["gemini", (baseUrl) => Gemini.layer({ apiKey, baseUrl }), gemini]
]

describe("\"error\": null", () => {
  for (const [wire, primary, reply] of wires) {
    for (const via of ["stream", "generate"] as const) {
      it.live(`${wire} (generateVia: ${via}): no error, the answer is served`, () =>
        Effect.gen(function*() {
          const server = yield* RawServer.start(reply)
          const mock = yield* MockProviderServer.MockProviderServer
          const llm = yield* LlmManager.make({
            providers: [primary(server.url), OpenAi.layer({ apiKey, baseUrl: mock.baseUrl("openai") })],
            policy: FallbackPolicy.make({ maxRetries: 0, generateVia: via }),
            circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
            generationEnabled: true
          })
          const result = yield* llm.generate({ prompt: "hi" })
          assert.deepStrictEqual(result.attempts.map((a) => a.error?._tag), [undefined])
          assert.notStrictEqual(String(result.provider), "openai")
          assert.strictEqual(result.content, "Hello")
          assert.strictEqual(result.finishReason, "stop")
          assert.strictEqual(result.usage.totalTokens, 5)
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }
  }
})
