/**
 * OpenAI's o3, o4-mini and gpt-5 reasoning models reject `stop` (a 400
 * `unsupported_parameter`): the adapter sends them none, as it sends no
 * temperature to the models that take only their default, and cuts their
 * answers at the stop sequences itself, generated and streamed, alone and
 * through `LlmManager`; other models (o3-mini among them) still get the
 * request's stop sequences and their answers as sent. Over real HTTP against
 * the mock server, which records the bodies it received and ignores `stop`
 * (its answer text is set with `MockFault.content`).
 */
import type { StreamPart } from "@baton/core/GenerationResult"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as RequestLog from "@baton/core/RequestLog"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema, Stream } from "effect"
import { Bench, eventually } from "../../core/test/utils/chain.ts"
import * as Json from "../src/internal/json.ts"
import { rejectsStop } from "../src/internal/openAi.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-test-key")

const stop = ["END"]

/** The body of the last request the mock server's OpenAI received. */
const lastBody = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const body = (yield* mock.received("openai")).at(-1)?.body
  return Json.isObject(body) ? body : assert.fail("no JSON body received")
})

/** Generates with stop sequences on an OpenAI provider whose model is `model`, returning the body it sent. */
const sentBy = (model: string) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const provider = yield* OpenAi.make({ apiKey, baseUrl: mock.baseUrl("openai"), model })
    const result = yield* provider.generate(yield* LlmRequest.make({ prompt: "Hi", options: { stop } }))
    assert.include(result.content, "Mock answer from openai")
    return yield* lastBody
  }).pipe(Effect.provide(Bench), Effect.scoped)

describe("OpenAI stop sequences", () => {
  it("the models that reject stop", () => {
    const rejecting = [
      "o3",
      "o3-2025-04-16",
      "o3-pro",
      "o4-mini",
      "o4-mini-2025-04-16",
      "ft:o4-mini-2025-04-16:org::id",
      "gpt-5",
      "gpt-5-mini",
      "gpt-5-nano",
      "gpt-5-2025-08-07",
      "ft:gpt-5-mini:org::id",
      "gpt-5.1",
      "gpt-5.2",
      "gpt-5.4-mini",
      "gpt-5.6-luna"
    ]
    const accepting = [
      "gpt-4o-mini",
      "gpt-4.1",
      "o1",
      "o3-mini",
      "o3-mini-2025-01-31",
      "gpt-5-chat-latest",
      "gpt-5.1-chat-latest",
      "o30",
      "gpt-6-sol"
    ]
    for (const model of rejecting) assert.isTrue(rejectsStop(model), model)
    for (const model of accepting) assert.isFalse(rejectsStop(model), model)
  })

  for (const model of ["o3", "o4-mini", "gpt-5"]) {
    it.live(`${model} is sent no stop, and answers`, () =>
      Effect.gen(function*() {
        const body = yield* sentBy(model)
        assert.strictEqual(body.model, model)
        assert.notProperty(body, "stop")
      }))
  }

  for (const model of ["gpt-4o-mini", "o3-mini"]) {
    it.live(`${model} is still sent the stop sequences`, () =>
      Effect.gen(function*() {
        const body = yield* sentBy(model)
        assert.deepStrictEqual(body.stop, stop)
      }))
  }

  it.live("through LlmManager, a request naming o4-mini on a gpt-4o-mini provider is sent no stop", () =>
    Effect.gen(function*() {
      const llm = yield* Manager.openAi((yield* MockProviderServer.MockProviderServer).baseUrl("openai"))
      const result = yield* llm.generate({ prompt: "Hi", options: { model: "o4-mini", stop } })
      assert.deepStrictEqual([String(result.provider), String(result.model)], ["openai", "o4-mini"])
      const body = yield* lastBody
      assert.notProperty(body, "stop")
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

/** A prompt the mock's answer repeats, with a stop sequence ("STOP HERE") in it. */
const breakPrompt = "Before STOP HERE after more"

/** The text deltas of a stream's parts, one entry each. */
const textsOf = (parts: ReadonlyArray<StreamPart>): ReadonlyArray<string> =>
  parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : [])

/** The `Finish` of a stream's parts. */
const finishOf = (parts: ReadonlyArray<StreamPart>) => {
  const finish = parts.at(-1)
  return finish?._tag === "Finish" ? finish : assert.fail("the stream did not end with its Finish")
}

/** The output tokens the mock billed since `before`, its stats then. */
const billedSince = (before: MockProviderServer.MockStats) =>
  Effect.map(
    Effect.flatMap(MockProviderServer.MockProviderServer, (mock) => mock.stats("openai")),
    (after) => after.completionTokens - before.completionTokens
  )

/**
 * `model` on its own asked with `stop`, the mock answering `answer`:
 * generated, then streamed, with the output tokens the mock billed each.
 */
const cutBy = (model: string, answer: string, stop: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const provider = yield* OpenAi.make({ apiKey, baseUrl: mock.baseUrl("openai"), model })
    const request = yield* LlmRequest.make({ prompt: "Hi", options: { stop: [...stop] } })
    const start = yield* mock.stats("openai")
    yield* mock.inject("openai", MockFault.content(answer))
    const generated = yield* provider.generate(request)
    const generatedBilled = yield* billedSince(start)
    const sent = yield* lastBody
    const between = yield* mock.stats("openai")
    yield* mock.inject("openai", MockFault.content(answer))
    const parts = yield* Stream.runCollect(provider.stream(request))
    return { generated, generatedBilled, sent, parts, streamedBilled: yield* billedSince(between) }
  }).pipe(Effect.provide(Bench), Effect.scoped)

describe("OpenAI stop sequences applied by Baton", () => {
  it.live("gpt-5: the answer is cut before the stop sequence, finish stop, billed the usage in the chunks read", () =>
    Effect.gen(function*() {
      const out = yield* cutBy("gpt-5", "First paragraph.\n\nSecond paragraph, long.", ["\n\n"])
      assert.notProperty(out.sent, "stop")
      assert.strictEqual(out.generated.content, "First paragraph.")
      assert.strictEqual(out.generated.finishReason, "stop")
      assert.strictEqual(out.generated.usage.completionTokens, out.generatedBilled)
      assert.isUndefined(out.generated.usage.estimated)
      assert.strictEqual(textsOf(out.parts).join(""), "First paragraph.")
      const finish = finishOf(out.parts)
      assert.strictEqual(finish.finishReason, "stop")
      // the mock sends the whole answer in one chunk: the rest of it, read for its usage, holds the provider's own
      assert.strictEqual(finish.usage.completionTokens, out.streamedBilled)
      assert.isUndefined(finish.usage.estimated)
    }))

  it.live("a stop sequence split across two deltas: only what could start it is held back, none of it sent", () =>
    Effect.gen(function*() {
      // the mock streams "Before", " STOP", " HERE", " after"
      const out = yield* cutBy("o4-mini", "Before STOP HERE after", ["STOP HERE"])
      assert.strictEqual(out.generated.content, "Before ")
      assert.deepStrictEqual(textsOf(out.parts), ["Before", " "])
      assert.strictEqual(finishOf(out.parts).finishReason, "stop")
    }))

  it.live("a stop sequence at the very start: an empty answer", () =>
    Effect.gen(function*() {
      const out = yield* cutBy("gpt-5-mini", "END of the answer", ["END"])
      assert.strictEqual(out.generated.content, "")
      assert.strictEqual(out.generated.finishReason, "stop")
      assert.deepStrictEqual(textsOf(out.parts), [])
      assert.strictEqual(finishOf(out.parts).finishReason, "stop")
    }))

  it.live("no stop sequence in the answer: the answer whole, a tail that began one sent at the end", () =>
    Effect.gen(function*() {
      const out = yield* cutBy("gpt-5.1", "A plain answer", ["answer!", "XYZ"])
      assert.strictEqual(out.generated.content, "A plain answer")
      assert.deepStrictEqual(textsOf(out.parts), ["A", " plain", " ", "answer"])
      assert.strictEqual(finishOf(out.parts).finishReason, "stop")
    }))

  it.live("two stop sequences: the earliest in the answer wins, whichever is listed first", () =>
    Effect.gen(function*() {
      const out = yield* cutBy("o3", "one two three four five", ["four", "two"])
      assert.strictEqual(out.generated.content, "one ")
      assert.strictEqual(textsOf(out.parts).join(""), "one ")
    }))

  it.live("one stop sequence inside another: the one that ends first, generated or streamed alike", () =>
    Effect.gen(function*() {
      // the mock streams "Ask", " the", " user", ":", " now": "the user:" starts first, "user" ends first
      const out = yield* cutBy("o3", "Ask the user: now", ["the user:", "user"])
      assert.strictEqual(out.generated.content, "Ask the ")
      assert.strictEqual(textsOf(out.parts).join(""), "Ask the ")
    }))

  it.live("a plain answer cut before its tool calls is sent without them", () =>
    Effect.gen(function*() {
      const reply = {
        choices: [{
          index: 0,
          message: {
            role: "assistant",
            content: "I'll check.\n\nCalling the tool.",
            tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup", arguments: "{}" } }]
          },
          finish_reason: "tool_calls"
        }],
        usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 }
      }
      const server = yield* RawServer.start({ body: reply, events: [] })
      const provider = yield* OpenAi.make({ apiKey, baseUrl: server.url, model: "gpt-5" })
      const result = yield* provider.generate(yield* LlmRequest.make({ prompt: "Hi", options: { stop: ["\n\n"] } }))
      assert.deepStrictEqual([result.content, result.finishReason, result.toolCalls], [
        "I'll check.",
        "stop",
        undefined
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("gpt-4o-mini is sent stop and its answer is as it came (the mock ignores stop)", () =>
    Effect.gen(function*() {
      const out = yield* cutBy("gpt-4o-mini", "one two three", ["two"])
      assert.deepStrictEqual(out.sent.stop, ["two"])
      assert.strictEqual(out.generated.content, "one two three")
      assert.strictEqual(textsOf(out.parts).join(""), "one two three")
    }))

  it.live("a streamed tool call comes after the text held back in case it began a stop sequence", () =>
    Effect.gen(function*() {
      const chunk = (delta: object, finish: string | null = null) => ({
        id: "chatcmpl-1",
        model: "gpt-5",
        choices: [{ index: 0, delta, finish_reason: finish }]
      })
      const call = { index: 0, id: "call_1", type: "function", function: { name: "lookup", arguments: "{}" } }
      const server = yield* RawServer.start({
        body: {},
        events: [
          chunk({ role: "assistant", content: "Hello\n" }),
          chunk({ tool_calls: [call] }),
          chunk({}, "tool_calls"),
          "[DONE]"
        ]
      })
      const provider = yield* OpenAi.make({ apiKey, baseUrl: server.url, model: "gpt-5" })
      const request = yield* LlmRequest.make({ prompt: "Hi", options: { stop: ["\n\n"] } })
      const parts = yield* Stream.runCollect(provider.stream(request))
      assert.deepStrictEqual(parts.map((part) => part._tag === "TextDelta" ? part.text : part._tag), [
        "Hello",
        "\n",
        "ToolCallDelta",
        "Finish"
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a stream cut at a stop sequence ends with its text: no tool call of the event that held the stop", () =>
    Effect.gen(function*() {
      const call = { index: 0, id: "call_1", type: "function", function: { name: "lookup", arguments: "{}" } }
      const delta = { role: "assistant", content: "Hi\n\nthere", tool_calls: [call] }
      const server = yield* RawServer.start({
        body: {},
        events: [
          { id: "chatcmpl-1", model: "gpt-5", choices: [{ index: 0, delta, finish_reason: "tool_calls" }] },
          "[DONE]"
        ]
      })
      const provider = yield* OpenAi.make({ apiKey, baseUrl: server.url, model: "gpt-5" })
      const request = yield* LlmRequest.make({ prompt: "Hi", options: { stop: ["\n\n"] } })
      const parts = yield* Stream.runCollect(provider.stream(request))
      assert.deepStrictEqual(parts.map((part) => part._tag === "TextDelta" ? part.text : part._tag), ["Hi", "Finish"])
      assert.deepStrictEqual([finishOf(parts).finishReason, finishOf(parts).toolCalls], ["stop", undefined])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a stream broken after its stop sequence: the answer stands, finish stop, billed the estimate", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const provider = yield* OpenAi.make({ apiKey, baseUrl: mock.baseUrl("openai"), model: "gpt-5" })
      // the mock answers "Mock answer from openai: Before STOP HERE after more", and breaks after " after"
      yield* mock.inject("openai", MockFault.cutStreamAfter(8))
      const request = yield* LlmRequest.make({ prompt: breakPrompt, options: { stop: ["STOP HERE"] } })
      const parts = yield* Stream.runCollect(provider.stream(request))
      assert.strictEqual(textsOf(parts).join(""), "Mock answer from openai: Before ")
      const finish = finishOf(parts)
      assert.strictEqual(finish.finishReason, "stop")
      assert.isTrue(finish.usage.estimated)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("generateStructured: the answer is cut before it is decoded", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const provider = yield* OpenAi.make({ apiKey, baseUrl: mock.baseUrl("openai"), model: "gpt-5" })
      yield* mock.inject("openai", MockFault.content("{\"answer\":\"yes\"}\n\nThat is my answer."))
      const request = yield* LlmRequest.make({ prompt: "Yes?", options: { stop: ["\n\n"] } })
      const result = yield* provider.generateStructured(request, Schema.Struct({ answer: Schema.String }))
      assert.deepStrictEqual(result.value, { answer: "yes" })
    }).pipe(Effect.provide(Bench), Effect.scoped))

  describe("through LlmManager, a request naming o4-mini", () => {
    const answer = "Before STOP HERE after more"
    const options = { model: "o4-mini", stop: ["STOP HERE"] }

    it.live("generate (streamed underneath) is cut", () =>
      Effect.gen(function*() {
        const mock = yield* MockProviderServer.MockProviderServer
        const llm = yield* Manager.openAi(mock.baseUrl("openai"))
        yield* mock.inject("openai", MockFault.content(answer))
        const result = yield* llm.generate({ prompt: "Hi", options })
        const body = yield* lastBody
        assert.strictEqual(body.stream, true)
        assert.notProperty(body, "stop")
        assert.deepStrictEqual([result.content, result.finishReason], ["Before ", "stop"])
        assert.deepStrictEqual(result.attempts.map((attempt) => attempt.outcome), ["success"])
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live("stream is cut, and a break after the cut is no break", () =>
      Effect.gen(function*() {
        const mock = yield* MockProviderServer.MockProviderServer
        const llm = yield* Manager.openAi(mock.baseUrl("openai"))
        yield* mock.inject("openai", MockFault.content(answer))
        const whole = yield* Stream.runCollect(llm.stream({ prompt: "Hi", options }))
        assert.deepStrictEqual(textsOf(whole), ["Before", " "])
        assert.strictEqual(finishOf(whole).finishReason, "stop")
        yield* mock.inject("openai", MockFault.cutStreamAfter(8))
        const broken = yield* Stream.runCollect(llm.stream({ prompt: breakPrompt, options }))
        assert.strictEqual(textsOf(broken).join(""), "Mock answer from openai: Before ")
        assert.strictEqual(finishOf(broken).finishReason, "stop")
        assert.isTrue(finishOf(broken).usage.estimated)
        assert.strictEqual((yield* mock.stats("openai")).requests, 2)
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live("a caller that stops before the Finish of a cut answer still has the attempt billed", () =>
      Effect.gen(function*() {
        const mock = yield* MockProviderServer.MockProviderServer
        const llm = yield* Manager.openAi(mock.baseUrl("openai"))
        // the first event, "AB", brings the text before the stop and the cut: "A" and the Finish come in one
        // batch, long before the provider's usage; the caller takes the text and stops
        yield* mock.inject("openai", MockFault.slowTokens(60, { content: "AB CD EF GH" }))
        const taken = yield* Stream.runCollect(
          Stream.take(llm.stream({ prompt: "Hi", options: { model: "o4-mini", stop: ["B"] } }), 1)
        )
        assert.deepStrictEqual(textsOf(taken), ["A"])
        const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
        const record = records.at(-1)
        assert.deepStrictEqual([record?.outcome, record?.usageEstimated], ["cancelled", true])
        assert.isAbove(record?.completionTokens ?? 0, 0)
      }).pipe(Effect.provide(Bench), Effect.provide(RequestLog.layerMemory()), Effect.scoped))

    it.live("a stream finishes as its stop sequence ends: the rest of a slow answer is not awaited", () =>
      Effect.gen(function*() {
        const mock = yield* MockProviderServer.MockProviderServer
        // the stop ends with the third event; about 34 more follow 60 ms apart, 2 s in all, past the deadline of
        // 1.5 s that an answer read to its end would miss (a loaded machine has 1.3 s of slack before the cut)
        const llm = yield* Manager.openAi(mock.baseUrl("openai"), {
          limits: {
            firstByteMs: 5_000,
            firstTokenMs: 5_000,
            thinkingFirstTokenMs: 5_000,
            idleMs: 5_000,
            attemptMs: 1_500
          }
        })
        yield* mock.inject(
          "openai",
          MockFault.slowTokens(60, {
            content: `${answer} ${"abcdefghijklmnopqrstuvwxyz0123".split("").join(" ")}`
          })
        )
        const parts = yield* Stream.runCollect(llm.stream({ prompt: "Hi", options }))
        assert.strictEqual(textsOf(parts).join(""), "Before ")
        const finish = finishOf(parts)
        assert.strictEqual(finish.finishReason, "stop")
        assert.isTrue(finish.usage.estimated)
        // the connection was closed at the cut, as the model would have stopped there
        yield* eventually(Effect.map(mock.stats("openai"), (stats) => stats.requests === 1 && stats.cancelled === 1))
      }).pipe(Effect.provide(Bench), Effect.scoped))
  })
})
