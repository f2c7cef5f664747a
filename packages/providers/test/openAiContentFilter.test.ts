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
 * A refusal keeps the model's words in `ContentFiltered.refusal` (the
 * streamed pieces joined), scrubbed and cut, and out of the error's message
 * and the request log; a filter's stop without one carries none.
 *
 * Through `LlmManager` and through the adapter alone, over real HTTP from a
 * server that sends exactly the given reply, the mock server's Anthropic
 * behind it.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmProvider from "@baton/core/LlmProvider"
import type { ProviderError } from "@baton/core/ProviderError"
import * as RequestLog from "@baton/core/RequestLog"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
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

const refusal = "I'm sorry, I can't help with that."

/** A refusal streamed over several chunks, then a finish chunk with `stop`, then the usage. */
const refusalEvents = [
  chunk({ role: "assistant", content: null, refusal: "" }),
  chunk({ refusal: "I'm sorry, " }),
  chunk({ refusal: "I can't " }),
  chunk({ refusal: "help with that." }),
  chunk({}, "stop"),
  { object: "chat.completion.chunk", choices: [], usage },
  "[DONE]"
]

/** The same refusal not streamed. */
const refusalBody = {
  choices: [{
    index: 0,
    finish_reason: "stop",
    message: { role: "assistant", content: null, refusal }
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

/** A call through the manager: `generate`, or a whole `stream`. */
type ManagerCall = (llm: LlmManager.Service) => Effect.Effect<unknown, LlmManager.StreamError>

const generate: ManagerCall = (llm) => llm.generate({ prompt: "hi" })

/**
 * The call fails after one OpenAI attempt, with nothing sent to Anthropic and
 * the model's refusal nowhere in its message; the attempt's error.
 */
const refusedOnce = (reply: RawServer.Reply, generateVia: "stream" | "generate", call: ManagerCall = generate) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start(reply)
    const { llm, mock } = yield* chain(server.url, generateVia)
    const failure = yield* Effect.flip(call(llm))
    assert.strictEqual(failure._tag, "AllProvidersFailed")
    assert.notInclude(failure.message, "help with that")
    const attempts = failure._tag === "AllProvidersFailed" ? failure.attempts : []
    assert.deepStrictEqual(attempts.map((a) => [String(a.provider), a.error?._tag]), [["openai", "ContentFiltered"]])
    assert.strictEqual((yield* mock.stats("anthropic")).requests, 0)
    return attempts[0]?.error
  })

/** A `ContentFiltered` of the answer, with its usage and, when the model declined, its words. */
const assertFilteredAnswer = (error: ProviderError | undefined, refused?: string) => {
  assert.strictEqual(error?._tag, "ContentFiltered")
  if (error?._tag !== "ContentFiltered") return
  assert.strictEqual(error.stage, "response")
  assert.strictEqual(error.usage?.totalTokens, 318)
  assert.strictEqual(error.refusal, refused)
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
        assertFilteredAnswer(error, refusal)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.live("a refusal through LlmManager.stream: ContentFiltered with the refusal's pieces joined", () =>
    Effect.gen(function*() {
      const error = yield* refusedOnce(
        { body: refusalBody, events: refusalEvents },
        "stream",
        (llm) => Stream.runDrain(llm.stream({ prompt: "hi" }))
      )
      assertFilteredAnswer(error, refusal)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  for (const via of ["stream", "generate"] as const) {
    it.live(`a refusal (generateVia: ${via}): the request log's errorMessage does not hold its text`, () =>
      Effect.gen(function*() {
        const error = yield* refusedOnce({ body: refusalBody, events: refusalEvents }, via)
        assertFilteredAnswer(error, refusal)
        const records = yield* (yield* RequestLog.RequestLogMemory).records
        assert.deepStrictEqual(records.map((r) => r.errorTag), ["ContentFiltered"])
        assert.strictEqual(records[0]?.errorMessage, "openai refused to answer")
        assert.notInclude(JSON.stringify(records), "help with that")
      }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory())), Effect.scoped))
  }

  it.live("the adapter's plain reply: a long refusal is scrubbed of the key, then cut to 2,000 characters", () =>
    Effect.gen(function*() {
      const long = `Not with ${Redacted.value(apiKey)}: ${"no ".repeat(1000)}`
      const message = { role: "assistant", content: null, refusal: long }
      const server = yield* RawServer.start({ body: { ...refusalBody, choices: [{ index: 0, message }] }, events: [] })
      const error = yield* LlmProvider.generate({ prompt: "hi" }).pipe(
        Effect.provide(OpenAi.layer({ apiKey, baseUrl: server.url })),
        Effect.flip
      )
      assert.strictEqual(error._tag, "ContentFiltered")
      const kept = error._tag === "ContentFiltered" ? error.refusal ?? "" : ""
      assert.isTrue(kept.startsWith("Not with [redacted]: no no "), kept.slice(0, 40))
      assert.notInclude(kept, Redacted.value(apiKey))
      assert.match(kept, /^.{2000}\.\.\.\[\d+ more characters\]$/s)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("the adapter's stream: a refusal, then finish_reason stop, fails with ContentFiltered", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({ body: refusalBody, events: refusalEvents })
      const error = yield* Stream.runCollect(LlmProvider.stream({ prompt: "hi" })).pipe(
        Effect.provide(OpenAi.layer({ apiKey, baseUrl: server.url })),
        Effect.flip
      )
      assert.strictEqual(error._tag, "ContentFiltered")
      if (error._tag === "ContentFiltered") assertFilteredAnswer(error, refusal)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
