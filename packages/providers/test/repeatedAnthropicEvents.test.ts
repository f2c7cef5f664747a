/**
 * An Anthropic stream whose `content_block_delta` events repeat the text
 * delta before them but for their text is read without parsing each event
 * whole (`internal/repeatedEvent.ts`), as chat-completions chunks are
 * (`repeatedEvents.test.ts`). Through `LlmManager`, over real HTTP from the
 * mock server and from a server that sends exactly the given events: the
 * text is what `JSON.parse` would give, escapes included, and an event that
 * fits the repeated JSON with anything but one string literal in the text's
 * place is parsed whole, so a malformed or error event still fails the
 * attempt and falls back. On the decoder: what is parsed whole, and that tool
 * calls and errors are read as before.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as AnthropicCodec from "../src/internal/anthropic.ts"
import * as Literals from "./utils/literals.ts"
import * as Manager from "./utils/manager.ts"
import * as Parses from "./utils/parses.ts"

const apiKey = Redacted.make("sk-test-key")

/** A text delta of block `index` whose `delta.text` is the JSON text `literal`, as Anthropic sends them. */
const delta = (literal: string, index = 0) =>
  `{"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":${literal}}}`
const text = (value: string, index = 0) => delta(JSON.stringify(value), index)

/**
 * `data` as an SSE event named `name`: the raw server writes `data: <it>\n\n`,
 * so the `event:` line follows the data line inside the same event.
 */
const named = (name: string, data: string) => `${data}\nevent: ${name}`
const deltas = (events: ReadonlyArray<string>) => events.map((data) => named("content_block_delta", data))

const start = [
  named(
    "message_start",
    `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5",` +
      `"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}`
  ),
  named("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
  named("ping", `{"type": "ping"}`)
]
const stop = (reason: string, index = 0) => [
  named("content_block_stop", `{"type":"content_block_stop","index":${index}}`),
  named(
    "message_delta",
    `{"type":"message_delta","delta":{"stop_reason":"${reason}","stop_sequence":null},"usage":{"output_tokens":9}}`
  ),
  named("message_stop", `{"type":"message_stop"}`)
]
const end = stop("end_turn")

const primary = (baseUrl: string) => Anthropic.layer({ apiKey, baseUrl })
const managerOf = Manager.withMockFallback(primary)
const generated = Manager.generatedOver(primary)

const escaped = [
  "Which",
  " gas\"quoted\"",
  " back\\slash",
  " new\nline\ttab",
  " caf\u00e9 \ud83d\ude00",
  " \"text\":\"not a key",
  "",
  " \u0000baton",
  " }},\"type\":\"error",
  " end"
]

describe("repeated Anthropic text deltas", () => {
  it.live("are read as JSON.parse reads them, escapes, other blocks and all", () =>
    Effect.gen(function*() {
      const events = [
        ...start,
        ...deltas([
          text("first"),
          ...escaped.map((value) => text(value)),
          // the same characters written as escapes
          delta("\" \\u00e9t\\u00e9 \\ud83d\\ude00 \\/\""),
          // another block's text is joined as well
          text(" one", 1),
          text(" two", 1)
        ]),
        ...end
      ]
      const server = yield* RawServer.start({ body: {}, events })
      const llm = yield* managerOf(server.url)
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "hi" }))
      const streamed = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.strictEqual(streamed, `first${escaped.join("")} \u00e9t\u00e9 \ud83d\ude00 / one two`)
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      if (finish?._tag !== "Finish") return
      assert.strictEqual(finish.finishReason, "stop")
      assert.deepStrictEqual([finish.usage.promptTokens, finish.usage.completionTokens], [3, 9])
      assert.strictEqual(String(finish.sources?.[0]?.provider), "anthropic")
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("from the mock server: its text, usage and finish, escapes and all", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const answer = `He said "hi" \\ back\\slash caf\u00e9 \ud83d\ude00 \u0000baton "text":"x" tab\tand\nline end`
      yield* mock.inject("anthropic", MockFault.content(answer))
      const llm = yield* LlmManager.make({
        providers: [Anthropic.layer({ apiKey, baseUrl: mock.baseUrl("anthropic") })],
        policy: FallbackPolicy.make({ maxRetries: 0 }),
        generationEnabled: true
      })
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "hi", options: { maxTokens: 1000 } }))
      const streamed = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : [])
      assert.isAbove(streamed.length, 10)
      assert.strictEqual(streamed.join(""), answer)
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      if (finish?._tag !== "Finish") return
      assert.strictEqual(finish.finishReason, "stop")
      const stats = yield* mock.stats("anthropic")
      assert.deepStrictEqual([finish.usage.promptTokens, finish.usage.completionTokens], [
        stats.promptTokens,
        stats.completionTokens
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  for (const [name, literal] of Literals.malformedLiterals) {
    it.live(`with ${name} in the text's place are MalformedResponse and fall back`, () =>
      Effect.gen(function*() {
        const result = yield* generated([
          ...start,
          ...deltas([text("a"), text("b"), text("c"), delta(literal), text("d")]),
          ...end
        ])
        assert.strictEqual(String(result.provider), "openai")
        assert.strictEqual(result.attempts[0]?.error?._tag, "MalformedResponse")
      }))
  }

  it.live("with more than a literal in the text's place are read whole: a later delta type wins", () =>
    Effect.gen(function*() {
      const result = yield* generated([
        ...start,
        // the last `type` makes it a thinking delta, which adds no text
        ...deltas([text("a"), text("b"), delta("\"c\",\"type\":\"thinking_delta\""), text("d")]),
        ...end
      ])
      assert.strictEqual(String(result.provider), "anthropic")
      assert.strictEqual(result.content, "abd")
    }))

  it.live("that differ at their end are read whole", () =>
    Effect.gen(function*() {
      // as long as the event before it, its text where that one's is: only the last brace differs
      const result = yield* generated([
        ...start,
        ...deltas([text("a"), text("b"), `${text("c").slice(0, -1)} `, text("d")]),
        ...end
      ])
      assert.strictEqual(String(result.provider), "openai")
      assert.strictEqual(result.attempts[0]?.error?._tag, "MalformedResponse")
    }))

  it.live("that differ at their start are read whole", () =>
    Effect.gen(function*() {
      // as long as the events before it: an error type in place of the delta's
      const error = text("c").replace("\"type\":\"content_block_delta\"", "\"type\":\"error\",\"x\":\"0123456\"")
      assert.strictEqual(error.length, text("c").length)
      const result = yield* generated([...start, ...deltas([text("a"), text("b"), error, text("d")]), ...end])
      assert.strictEqual(String(result.provider), "openai")
      assert.strictEqual(result.attempts[0]?.error?._tag, "ProviderUnavailable")
    }))

  for (const name of ["error", "content_block_delta"]) {
    it.live(`leave error events errors (named ${name})`, () =>
      Effect.gen(function*() {
        const result = yield* generated([
          ...start,
          ...deltas([text("a"), text("b"), text("c")]),
          named(name, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
        ])
        assert.strictEqual(String(result.provider), "openai")
        assert.strictEqual(result.attempts[0]?.error?._tag, "ProviderUnavailable")
      }))
  }

  it.live("leave tool calls whole", () =>
    Effect.gen(function*() {
      const fragments = ["{\"city\":", " \"Paris\",", " \"text\":\"x\"}"]
      const result = yield* generated([
        ...start,
        ...deltas([text("Let"), text(" me"), text(" check")]),
        named("content_block_stop", `{"type":"content_block_stop","index":0}`),
        named(
          "content_block_start",
          `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}`
        ),
        ...deltas(fragments.map((partial) =>
          `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":${
            JSON.stringify(partial)
          }}}`
        )),
        ...stop("tool_use", 1)
      ])
      assert.strictEqual(String(result.provider), "anthropic")
      assert.strictEqual(result.content, "Let me check")
      assert.strictEqual(result.finishReason, "tool_calls")
      assert.deepStrictEqual(result.toolCalls, [{ id: "toolu_1", name: "get_weather", arguments: fragments.join("") }])
    }))

  describe("in the decoder", () => {
    const sse = (event: string, data: string) => ({ event, data })
    const deltaEvent = (data: string) => sse("content_block_delta", data)

    it("are not parsed whole once the template is checked", () => {
      Parses.counting((parse) => {
        const tokens = Array.from({ length: 16 }, (_, i) => ` token${i}`)
        const read = AnthropicCodec.codec.streamDecoder()
        const events = [
          sse("message_start", `{"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}}`),
          sse(
            "content_block_start",
            `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`
          ),
          ...tokens.map((token) => deltaEvent(text(token))),
          sse("content_block_stop", `{"type":"content_block_stop","index":0}`),
          sse(
            "message_delta",
            `{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":16}}`
          ),
          sse("message_stop", `{"type":"message_stop"}`)
        ]
        assert.deepStrictEqual(events.map(read.event), ["", "", ...tokens, "", "", ""])
        // five events whole, the first delta whole, its template once with the marker; no other delta
        assert.strictEqual(Parses.whole(parse), 7)
        assert.strictEqual(read.finishReason(), "stop")
        assert.deepStrictEqual(read.counts(), {
          promptTokens: 3,
          cachedPromptTokens: 0,
          completionTokens: 16,
          reasoningTokens: undefined
        })
      })
    })

    it("not named content_block_delta are parsed whole", () => {
      Parses.counting((parse) => {
        const read = AnthropicCodec.codec.streamDecoder()
        const named = ["a", "b", "c"].map((value) => read.event(deltaEvent(text(value))))
        assert.deepStrictEqual(named, ["a", "b", "c"])
        // the first whole, the second's check; the third from the template
        assert.strictEqual(Parses.whole(parse), 2)
        assert.deepStrictEqual([read.event(sse("message", text("d"))), read.event(sse("error", text("e")))], [
          "d",
          "e"
        ])
        assert.strictEqual(Parses.whole(parse), 4)
      })
    })

    it("that differ in their index or in another key are parsed whole", () => {
      Parses.counting((parse) => {
        const read = AnthropicCodec.codec.streamDecoder()
        const extra = (value: string) => text(value).replace(/}$/, ",\"extra\":1}")
        const steps: ReadonlyArray<readonly [string, number]> = [
          [text("a"), 1],
          [text("b"), 2],
          [text("c", 1), 3],
          // the other block's template, checked once
          [text("d", 1), 4],
          [text("e", 1), 4],
          [extra("f"), 5],
          [text("g", 1), 6],
          [text("h", 0), 7],
          [text("i", 0), 8],
          [text("j", 0), 8]
        ]
        for (const [i, [data, parses]] of steps.entries()) {
          assert.strictEqual(read.event(deltaEvent(data)), "abcdefghij"[i])
          assert.strictEqual(Parses.whole(parse), parses, `after ${data}`)
        }
      })
    })

    it("are read as JSON.parse reads them, for every escape", () => {
      Parses.counting((parse) => {
        const codes = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code))
        const texts = [
          ...codes,
          codes.join(""),
          "\u2028\u2029",
          "\ud800",
          "\udfff x",
          "\ud83d\ude00",
          "\\u0041",
          "\\\"",
          "\"text\":\""
        ]
        const literals = [
          ...texts.map((value) => JSON.stringify(value)),
          "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
          "\"\\u0000\\u001f\\u0041\\u00e9\\uD83D\\uDE00\\ud800\\uDFFF\"",
          "\"\\u0022\\u005c\""
        ]
        const read = AnthropicCodec.codec.streamDecoder()
        read.event(deltaEvent(text("template")))
        for (const literal of literals) {
          assert.strictEqual(read.event(deltaEvent(delta(literal))), JSON.parse(literal), literal)
        }
        // the template's event and its check; every literal above was read from the template
        assert.strictEqual(Parses.whole(parse), 2)
      })
    })

    it("whose text is the check's marker, or not the template's literal, are parsed whole", () => {
      // a duplicate key (the last wins) holds the text whatever the first literal says
      const duplicate = (value: string, last: string) =>
        delta(`${JSON.stringify(value)},"text": ${JSON.stringify(last)}`)
      /** The texts of `values` in a new decoder, and how many times it parsed an event whole. */
      const texts = (values: ReadonlyArray<string>, data: (value: string) => string) =>
        Parses.counting((parse) => {
          const read = AnthropicCodec.codec.streamDecoder()
          return [values.map((value) => read.event(deltaEvent(data(value)))), Parses.whole(parse)]
        })
      const marker = "\u0000baton"
      assert.deepStrictEqual(texts(["A", "B"], (value) => duplicate(value, marker)), [[marker, marker], 2])
      // the check refuses the template at B, which stays refused: C is parsed whole, not checked again
      assert.deepStrictEqual(texts(["A", "B", "C"], (value) => duplicate(value, "Z")), [["Z", "Z", "Z"], 4])
      // a text that is the marker makes no template; the next text delta does, checked by the one after it
      assert.deepStrictEqual(texts([marker, marker, "a", "b"], text), [[marker, marker, "a", "b"], 4])
    })

    it("leave tool calls to the tool stream", () => {
      const read = AnthropicCodec.codec.streamDecoder()
      const json = (index: number, partial: string, more = "") =>
        deltaEvent(
          `{"type":"content_block_delta","index":${index},"delta":{"type":"input_json_delta","partial_json":${
            JSON.stringify(partial)
          }${more}}}`
        )
      const steps = [
        deltaEvent(text("a")),
        deltaEvent(text("b")),
        sse(
          "content_block_start",
          `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}`
        ),
        json(1, "{\"x\":"),
        // a text member does not make an input_json_delta a text delta
        json(1, "1,", ",\"text\":\"no\""),
        // a text delta of the tool's block is text, as it always was
        deltaEvent(text("c", 1)),
        deltaEvent(text("d", 1)),
        json(1, "\"text\":\"y\"}"),
        deltaEvent(text("e"))
      ]
      assert.deepStrictEqual(steps.map(read.event), ["a", "b", "", "", "", "c", "d", "", "e"])
      assert.deepStrictEqual(read.tools?.calls(), [{ id: "toolu_1", name: "f", arguments: "{\"x\":1,\"text\":\"y\"}" }])
      const bad = read.event(
        deltaEvent(`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":7}}`)
      )
      assert.strictEqual(typeof bad === "string" ? bad : bad._tag, "Malformed")
    })
  })
})
