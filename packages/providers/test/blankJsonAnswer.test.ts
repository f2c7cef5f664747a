/**
 * DeepSeek's JSON mode replaces JSON it failed to produce with spaces: the
 * answer is blank with `finish_reason: "stop"`. A blank answer to a request
 * for JSON (`responseFormat: "json"`, like structured output) is no answer:
 * a retryable `MalformedResponse` carrying the usage billed, on the plain
 * path and on the streamed one. A JSON-mode stream holds back the
 * whitespace it starts with until text follows it, so a blank answer fails
 * before any delta reached the caller and the manager simply retries (or
 * falls back). Over real HTTP: the mock server scripts the blank answer, a
 * raw server sends exact stream events.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { StreamPart } from "@baton/core/GenerationResult"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as RequestLog from "@baton/core/RequestLog"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Json from "../src/internal/json.ts"

const apiKey = Redacted.make("sk-test-key")

const blank = "     "

const json = { responseFormat: "json" } as const

const prompt = "Give me a number"

/** A manager over DeepSeek on the mock server, one retry after 10 ms. */
const deepSeekManager = (generateVia: "stream" | "generate") =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    return yield* LlmManager.make({
      providers: [DeepSeek.layer({ apiKey, baseUrl: mock.baseUrl("deepseek") })],
      policy: FallbackPolicy.make({ maxRetries: 1, retryBaseDelayMs: 10, generateVia }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
  })

/** The next DeepSeek answer is blank. */
const blankOnce = Effect.flatMap(
  MockProviderServer.MockProviderServer,
  (mock) => mock.inject("deepseek", MockFault.content(blank))
)

const isJson = (text: string) => {
  assert.isTrue(Json.isObject(Json.parse(text)), `not a JSON object: ${text}`)
}

const Logged = Layer.merge(Bench, RequestLog.layerMemory())

/** The request log's records as `[outcome, errorTag]`. */
const logged = Effect.map(
  Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records),
  (records) => records.map((record) => [record.outcome, record.errorTag])
)

const retried = [["error", "MalformedResponse"], ["success", null]]

const textOf = (parts: ReadonlyArray<StreamPart>): string =>
  parts.map((part) => part._tag === "TextDelta" ? part.text : "").join("")

describe("a blank answer to a JSON request", () => {
  for (const generateVia of ["stream", "generate"] as const) {
    it.live(`through LlmManager (generateVia ${generateVia}): a blank answer is retried, the good one returned`, () =>
      Effect.gen(function*() {
        const llm = yield* deepSeekManager(generateVia)
        yield* blankOnce
        const result = yield* llm.generate({ prompt, options: json })
        isJson(result.content)
        assert.deepStrictEqual(result.attempts.map((attempt) => [attempt.outcome, attempt.error?._tag]), [
          ["error", "MalformedResponse"],
          ["success", undefined]
        ])
        assert.include(result.attempts[0]?.error?.message, "blank")
        assert.deepStrictEqual(yield* logged, retried)
        const mock = yield* MockProviderServer.MockProviderServer
        assert.strictEqual((yield* mock.stats("deepseek")).requests, 2)
      }).pipe(Effect.provide(Logged), Effect.scoped))
  }

  it.live("through LlmManager.stream: the caller gets none of the blank answer, only the good one", () =>
    Effect.gen(function*() {
      const llm = yield* deepSeekManager("stream")
      yield* blankOnce
      const parts = yield* Stream.runCollect(llm.stream({ prompt, options: json }))
      isJson(textOf(parts))
      assert.isFalse(parts.some((part) => part._tag === "Restart"))
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      if (finish?._tag === "Finish") {
        assert.isFalse(finish.rescued)
        assert.deepStrictEqual(finish.attempts?.map((attempt) => attempt.outcome), ["error", "success"])
      }
      assert.deepStrictEqual(yield* logged, retried)
    }).pipe(Effect.provide(Logged), Effect.scoped))

  it.live("the blank answer's usage is billed on its failed attempt", () =>
    Effect.gen(function*() {
      const llm = yield* deepSeekManager("generate")
      yield* blankOnce
      const result = yield* llm.generate({ prompt, options: json })
      const error = result.attempts[0]?.error
      assert.strictEqual(error?._tag, "MalformedResponse")
      if (error?._tag === "MalformedResponse") assert.isAbove(error.usage?.promptTokens ?? 0, 0)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a blank answer in text mode is still an answer", () =>
    Effect.gen(function*() {
      const llm = yield* deepSeekManager("generate")
      yield* blankOnce
      const result = yield* llm.generate({ prompt })
      assert.strictEqual(result.content, blank)
      assert.strictEqual(result.attempts.length, 1)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a JSON-mode tool call with no text is an answer", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const provider = yield* DeepSeek.make({ apiKey, baseUrl: mock.baseUrl("deepseek") })
      const request = yield* LlmRequest.make({
        prompt,
        options: json,
        tools: [{ name: "lookup", description: "Looks up", parameters: { type: "object", properties: {} } }]
      })
      const result = yield* provider.generate(request)
      assert.strictEqual(result.finishReason, "tool_calls")
      assert.strictEqual(result.toolCalls?.[0]?.name, "lookup")
      const parts = yield* Stream.runCollect(provider.stream(request))
      assert.strictEqual(parts.at(-1)?._tag, "Finish")
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("the blank continuation of a prefill holding JSON is an answer (a rescued stream's end)", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const provider = yield* DeepSeek.make({ apiKey, baseUrl: mock.baseUrl("deepseek") })
      const request = yield* LlmRequest.make({
        prompt: [{ role: "user", content: prompt }, { role: "assistant", content: "{\"answer\":42}" }],
        options: json
      })
      yield* mock.inject("deepseek", MockFault.content(blank), { times: 2 })
      assert.strictEqual((yield* provider.generate(request)).content, blank)
      const parts = yield* Stream.runCollect(provider.stream(request))
      assert.strictEqual(textOf(parts), blank)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  /** The chat-completions chunks of a stream whose text deltas are `texts`. */
  const chunks = (texts: ReadonlyArray<string>) => [
    ...texts.map((content) => ({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })),
    { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
    { choices: [], usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 } },
    "[DONE]"
  ]

  /** Streams `request` from a DeepSeek provider over a raw server sending `texts`. */
  const streamedOver = (texts: ReadonlyArray<string>, input: LlmRequest.Input) =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({ body: {}, events: chunks(texts) })
      const provider = yield* DeepSeek.make({ apiKey, baseUrl: server.url })
      return yield* Effect.result(Stream.runCollect(provider.stream(yield* LlmRequest.make(input))))
    }).pipe(Effect.provide(Bench), Effect.scoped)

  it.live("streamed alone: whitespace deltas only is a MalformedResponse with the usage, no text emitted", () =>
    Effect.gen(function*() {
      const result = yield* streamedOver(["  ", "\n", "  "], { prompt, options: json })
      const error = result._tag === "Failure" ? result.failure : assert.fail("the stream succeeded")
      assert.strictEqual(error._tag, "MalformedResponse")
      assert.include(error.message, "blank")
      if (error._tag === "MalformedResponse") assert.strictEqual(error.usage?.promptTokens, 9)
    }))

  it.live("streamed alone: leading whitespace is held back, then sent with the JSON, the text exact", () =>
    Effect.gen(function*() {
      const result = yield* streamedOver([" ", "\n", "{\"a\":", " 1}", " "], { prompt, options: json })
      assert.strictEqual(result._tag, "Success")
      if (result._tag === "Success") {
        const deltas = result.success.flatMap((part) => part._tag === "TextDelta" ? [part.text] : [])
        assert.deepStrictEqual(deltas, [" \n{\"a\":", " 1}", " "])
        assert.strictEqual(result.success.at(-1)?._tag, "Finish")
      }
    }))

  it.live("streamed alone in text mode: whitespace deltas go out as they come", () =>
    Effect.gen(function*() {
      const result = yield* streamedOver([" ", "\n"], { prompt })
      assert.strictEqual(result._tag, "Success")
      if (result._tag === "Success") {
        assert.deepStrictEqual(result.success.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []), [
          " ",
          "\n"
        ])
      }
    }))
})
