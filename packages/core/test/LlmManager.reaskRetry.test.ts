/**
 * A structured re-ask that fails with a retryable error, through
 * `LlmManager.generateStructured` over the mock server: the backoff retry
 * sends the same re-ask again (the model's answer and the decode error
 * kept), and the re-asks a provider gets are `structuredOutputRetries` in
 * all, retries included, not as many again per retry. The usage is each
 * paid call's once, as the server billed them.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Bench, inject, manager, pick, runDriven, stats } from "./utils/chain.ts"

const Answer = Schema.Struct({ a: Schema.Number })

/** What each request openai received said last: its number of messages and its last message's text. */
const openAiRequests = Effect.map(
  Effect.flatMap(MockProviderServer.MockProviderServer, (server) => server.received("openai")),
  (requests) =>
    requests.map((request) => {
      const messages = (request.body as { readonly messages: ReadonlyArray<{ readonly content: string }> }).messages
      return [messages.length, messages.at(-1)?.content] as const
    })
)

describe("LlmManager.generateStructured: a re-ask that fails and is retried", () => {
  it.effect("is sent again as it was, and no further re-ask is granted", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 1, retryBaseDelayMs: 10, structuredOutputRetries: 1 }
      })
      yield* inject("openai", MockFault.content("{\"a\":\"x\"}")) // does not match the schema
      yield* inject("openai", MockFault.status(503)) // the re-ask fails
      yield* inject("openai", MockFault.content("{\"a\":\"y\"}")) // the retried re-ask does not match either
      yield* inject("anthropic", MockFault.content("{\"a\":1}"))
      const result = yield* runDriven(llm.generateStructured({ prompt: "give json" }, Answer), 5)
      assert.deepStrictEqual(result.value, { a: 1 })
      const sent = yield* openAiRequests
      assert.deepStrictEqual(sent.map(([count]) => count), [1, 3, 3])
      // the retry is the re-ask itself: the same decode error in its last message
      assert.strictEqual(sent[2]?.[1], sent[1]?.[1])
      assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "outcome", "error")), [
        ["openai", "primary", "error", "StructuredOutputInvalid"],
        ["openai", "retry", "error", "ProviderUnavailable"],
        ["openai", "retry", "error", "StructuredOutputInvalid"],
        ["anthropic", "fallback", "success", undefined]
      ])
      // openai's two answers and anthropic's, each summed once (the 503 bills nothing)
      const [openai, anthropic] = [yield* stats("openai"), yield* stats("anthropic")]
      assert.deepStrictEqual([result.usage.promptTokens, result.usage.completionTokens], [
        openai.promptTokens + anthropic.promptTokens,
        openai.completionTokens + anthropic.completionTokens
      ])
    }).pipe(Effect.provide(Bench)))
})
