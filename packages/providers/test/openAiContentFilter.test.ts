/**
 * An OpenAI-format answer the content filter stopped is `ContentFiltered`
 * (stage `response`, with the usage the provider billed), as the
 * `ErrorPolicy` table wants it: one attempt, not sent to the next provider.
 * Never a `MalformedResponse` (retried, billed again, sent elsewhere), never
 * an empty successful answer:
 *
 * - a plain reply with `finish_reason: "content_filter"` and no `content`
 *   (Azure OpenAI sends the message without it) or `content: null`;
 * - a stream whose refusal deltas are followed by a chunk with
 *   `finish_reason: "stop"`: the refusal holds, as it does in a plain reply.
 *
 * Through `LlmManager` and through the adapter alone, over real HTTP from a
 * server that sends exactly the given reply, the mock server's Anthropic
 * behind it.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmProvider from "@baton/core/LlmProvider"
import type { ProviderError } from "@baton/core/ProviderError"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as OpenAi from "../src/OpenAi.ts"

const apiKey = Redacted.make("sk-test-key")

const usage = { prompt_tokens: 302, completion_tokens: 16, total_tokens: 318 }

const filtered = (message: unknown) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  choices: [{ index: 0, finish_reason: "content_filter", message }],
  usage
})

const chunk = (delta: unknown, finishReason: string | null = null) => ({
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta, finish_reason: finishReason }],
  usage: null
})

/** A refusal streamed, then a finish chunk with `stop`, then the usage. */
const refusalEvents = [
  chunk({ role: "assistant", content: null, refusal: "" }),
  chunk({ refusal: "I'm sorry, " }),
  chunk({ refusal: "I can't help with that." }),
  chunk({}, "stop"),
  { object: "chat.completion.chunk", choices: [], usage },
  "[DONE]"
]

/** The same refusal not streamed. */
const refusalBody = {
  choices: [{
    index: 0,
    finish_reason: "stop",
    message: { role: "assistant", content: null, refusal: "I'm sorry, I can't help with that." }
  }],
  usage
}

/** OpenAI at `baseUrl`, the mock server's Anthropic behind it; two retries allowed. */
const chain = (baseUrl: string, generateVia: "stream" | "generate") =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const llm = yield* LlmManager.make({
      providers: [
        OpenAi.layer({ apiKey, baseUrl }),
        Anthropic.layer({ apiKey, baseUrl: mock.baseUrl("anthropic") })
      ],
      policy: FallbackPolicy.make({ maxRetries: 2, retryBaseDelayMs: 1, generateVia }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
    return { llm, mock }
  })

/** `generate` fails after one OpenAI attempt, with nothing sent to Anthropic; the attempt's error. */
const refusedOnce = (reply: RawServer.Reply, generateVia: "stream" | "generate") =>
  Effect.gen(function*() {
    const server = yield* RawServer.start(reply)
    const { llm, mock } = yield* chain(server.url, generateVia)
    const failure = yield* Effect.flip(llm.generate({ prompt: "hi" }))
    assert.strictEqual(failure._tag, "AllProvidersFailed")
    const attempts = failure._tag === "AllProvidersFailed" ? failure.attempts : []
    assert.deepStrictEqual(attempts.map((a) => [String(a.provider), a.error?._tag]), [["openai", "ContentFiltered"]])
    assert.strictEqual((yield* mock.stats("anthropic")).requests, 0)
    return attempts[0]?.error
  })

const assertFilteredAnswer = (error: ProviderError | undefined) => {
  assert.strictEqual(error?._tag, "ContentFiltered")
  if (error?._tag !== "ContentFiltered") return
  assert.strictEqual(error.stage, "response")
  assert.strictEqual(error.usage?.totalTokens, 318)
}

describe("OpenAI: an answer the content filter stopped", () => {
  const withoutContent = [
    ["no content", { role: "assistant" }],
    ["content: null", { role: "assistant", content: null, refusal: null }]
  ] as const
  for (const [name, message] of withoutContent) {
    it.live(`plain reply, finish_reason content_filter with ${name}: ContentFiltered with its usage, one attempt`, () =>
      Effect.gen(function*() {
        const error = yield* refusedOnce({ body: filtered(message), events: [] }, "generate")
        assertFilteredAnswer(error)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  for (const via of ["stream", "generate"] as const) {
    it.live(`a refusal, then finish_reason stop (generateVia: ${via}): ContentFiltered with its usage, one attempt`, () =>
      Effect.gen(function*() {
        const error = yield* refusedOnce({ body: refusalBody, events: refusalEvents }, via)
        assertFilteredAnswer(error)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.live("the adapter's stream: a refusal, then finish_reason stop, fails with ContentFiltered", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({ body: refusalBody, events: refusalEvents })
      const error = yield* Stream.runCollect(LlmProvider.stream({ prompt: "hi" })).pipe(
        Effect.provide(OpenAi.layer({ apiKey, baseUrl: server.url })),
        Effect.flip
      )
      assert.strictEqual(error._tag, "ContentFiltered")
      if (error._tag === "ContentFiltered") assertFilteredAnswer(error)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
