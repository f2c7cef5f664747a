/**
 * A chat-completions stream whose chunks repeat the one before but for their
 * text is read without parsing each chunk whole (`internal/repeatedEvent.ts`).
 * Through `LlmManager`, over real HTTP from a server that sends exactly the
 * given events: the text is what `JSON.parse` would give, escapes included,
 * and a chunk that fits the repeated JSON with anything but one string
 * literal in the text's place is parsed whole, so a malformed one is still
 * `MalformedResponse` and falls back.
 */
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as DeepSeekCodec from "../src/internal/deepSeek.ts"
import * as Literals from "./utils/literals.ts"
import * as Manager from "./utils/manager.ts"
import * as Parses from "./utils/parses.ts"

const apiKey = Redacted.make("sk-test-key")

/** A DeepSeek chunk whose `choices[0].delta.content` is the JSON text `literal`, as DeepSeek sends them. */
const chunk = (literal: string) =>
  `{"id":"c-1","object":"chat.completion.chunk","created":1796098577,"model":"deepseek-chat",` +
  `"system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":${literal}},"logprobs":null,` +
  `"finish_reason":null}],"usage":null}`
const text = (value: string) => chunk(JSON.stringify(value))

const end = [
  `{"id":"c-1","object":"chat.completion.chunk","created":1796098577,"model":"deepseek-chat","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`,
  `{"id":"c-1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12}}`,
  "[DONE]"
]

const primary = (baseUrl: string) => DeepSeek.layer({ apiKey, baseUrl })
const managerOf = Manager.withMockFallback(primary)
const generated = Manager.generatedOver(primary)

describe("repeated stream chunks", () => {
  it.live("are read as JSON.parse reads them, escapes and all", () =>
    Effect.gen(function*() {
      const texts = [
        "Which",
        " gas\"quoted\"",
        " back\\slash",
        " new\nline\ttab",
        " caf\u00e9 \ud83d\ude00",
        " \"content\":\"not a key",
        "",
        " }],\"usage\":{",
        " end"
      ]
      const events = [
        text("first"),
        ...texts.map(text),
        // the same characters written as escapes
        chunk("\" \\u00e9t\\u00e9 \\ud83d\\ude00 \\/\""),
        ...end
      ]
      const server = yield* RawServer.start({ body: {}, events })
      const llm = yield* managerOf(server.url)
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "hi" }))
      const streamed = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.strictEqual(streamed, `first${texts.join("")} \u00e9t\u00e9 \ud83d\ude00 /`)
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      assert.strictEqual(finish?._tag === "Finish" ? finish.usage.totalTokens : undefined, 12)
      assert.strictEqual(finish?._tag === "Finish" ? String(finish.sources?.[0]?.provider) : undefined, "deepseek")
    }).pipe(Effect.provide(Bench), Effect.scoped))

  for (const [name, literal] of Literals.malformedLiterals) {
    it.live(`with ${name} in the text's place are MalformedResponse and fall back`, () =>
      Effect.gen(function*() {
        const result = yield* generated([text("a"), text("b"), text("c"), chunk(literal), text("d"), ...end])
        assert.strictEqual(String(result.provider), "openai")
        assert.strictEqual(result.attempts[0]?.error?._tag, "MalformedResponse")
      }))
  }

  it.live("are read whole when the member that looks like the text is not", () =>
    Effect.gen(function*() {
      // the only `"content":"` is inside another member's key; the text follows `"content": ` with a space
      const decoy = (value: string) =>
        `{"id":"c-1","note\\"content":${JSON.stringify(value)},"choices":[{"index":0,` +
        `"delta":{"content": "x"},"finish_reason":null}],"usage":null}`
      const result = yield* generated([decoy("1"), decoy("2"), decoy("3"), ...end])
      assert.strictEqual(String(result.provider), "deepseek")
      assert.strictEqual(result.content, "xxx")
    }))

  it.live("that differ at their end are read whole", () =>
    Effect.gen(function*() {
      const result = yield* generated([
        text("a"),
        text("b"),
        chunk("\"c\",\"role\":\"assistant\""),
        text("d"),
        // as long as the chunk before it, its text where that one's is: only the end differs
        text("e").replace("\"logprobs\":null,\"finish_reason\":null", "\"logprobs\":0 ,\"finish_reason\":\"stop\""),
        ...end.slice(1)
      ])
      assert.strictEqual(String(result.provider), "deepseek")
      assert.strictEqual(result.content, "abcde")
      assert.strictEqual(result.finishReason, "stop")
    }))

  it.live("that differ at their start are read whole", () =>
    Effect.gen(function*() {
      // as long as the chunks before it: an error member in place of the id
      const result = yield* generated([
        text("a"),
        text("b"),
        text("c").replace("\"id\":\"c-1\"", "\"error\":1 "),
        ...end
      ])
      assert.strictEqual(String(result.provider), "openai")
    }))

  describe("in DeepSeek's decoder", () => {
    const decoder = () => DeepSeekCodec.codec.streamDecoder()
    const message = (data: string) => ({ event: "message", data })

    it("are not parsed whole once the template is checked", () => {
      Parses.counting((parse) => {
        const texts = ["a", "b", "c", "d", "e", "f", "g", "h"]
        const read = decoder()
        const out = texts.map((t) => read.event(message(text(t))))
        assert.deepStrictEqual(out, texts)
        // the first chunk whole, then its template once with the marker when the second fits; none after
        assert.strictEqual(parse.mock.calls.length, 2)
      })
    })

    it("whose text is the check's marker are parsed whole", () => {
      // a duplicate key (the last wins) holds the marker whatever the first literal says
      const duplicate = (value: string) => chunk(`${JSON.stringify(value)},"content": ${JSON.stringify("\u0000baton")}`)
      const read = decoder()
      assert.deepStrictEqual([read.event(message(duplicate("A"))), read.event(message(duplicate("B")))], [
        "\u0000baton",
        "\u0000baton"
      ])
    })

    it("named `error` that fit the template are error events", () => {
      const read = decoder()
      read.event(message(text("a")))
      assert.strictEqual(read.event(message(text("b"))), "b")
      const error = read.event({ event: "error", data: text("c") })
      assert.strictEqual(typeof error === "string" ? error : error._tag, "ErrorEvent")
    })
  })
})
