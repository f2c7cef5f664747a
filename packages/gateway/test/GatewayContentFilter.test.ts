/**
 * A provider's content filter, as OpenAI shows it: not an error but an
 * answer that ends with `finish_reason: "content_filter"`, with its usage.
 * Plain: a 200 whose `content` is null (the text a filter cut is not kept
 * by Baton's `ContentFiltered`). Streamed: the text sent so far, then a
 * finish chunk with `content_filter`, the usage chunk when asked for, and
 * `[DONE]`. By default the prompt is not sent to the next provider.
 *
 * A model that declined in its own words (OpenAI's `refusal`, streamed over
 * several chunks by the mock) is answered as OpenAI answers it: its words in
 * `message.refusal` (streamed: a delta carrying them) and `finish_reason:
 * "stop"`, so that the SDK's `parse` returns them.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import type OpenAI from "openai"
import * as Fixture from "./fixture.ts"

const TestLayer = Fixture.gatewayWithMock()

const story = { model: "fast", messages: [{ role: "user" as const, content: "Tell me a story" }] }

/** The chunks of a streamed story, with usage, read by the official client. */
const storyChunks = (url: string) =>
  Effect.promise(async () => {
    const stream = await Fixture.client(url).chat.completions.create({
      ...story,
      stream: true,
      stream_options: { include_usage: true }
    })
    const chunks: Array<OpenAI.Chat.Completions.ChatCompletionChunk> = []
    for await (const chunk of stream) chunks.push(chunk)
    return chunks
  })

const remaining = (response: { readonly headers: Headers }) => Number(response.headers.get("ratelimit-remaining"))

const refusal = "I'm sorry, I can't help with that."

layer(TestLayer, { excludeTestServices: true })("Gateway content filter (finish_reason content_filter)", (it) => {
  it.effect("plain: a 200 with finish_reason content_filter, null content, the usage billed and no fallback", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      for (const fault of [MockFault.contentFilter, MockFault.contentFilterAfter(3)]) {
        yield* mock.reset
        yield* mock.inject("openai", fault)
        const { data, response } = yield* Effect.promise(() =>
          Fixture.client(url).chat.completions.create(story).withResponse()
        )
        assert.strictEqual(response.status, 200)
        assert.strictEqual(data.choices[0]?.finish_reason, "content_filter")
        assert.strictEqual(data.choices[0]?.message.content, null)
        assert.strictEqual(data.model, "openai/gpt-4o-mini")
        const billed = yield* mock.stats("openai")
        assert.strictEqual(data.usage?.prompt_tokens, billed.promptTokens)
        assert.strictEqual(data.usage?.completion_tokens, billed.completionTokens)
        assert.isNotNull(response.headers.get("x-request-id"))
        assert.strictEqual((yield* mock.stats("deepseek")).requests, 0)
        // the quota headers tell the truth: the next call spends one unit more than they said was spent
        const next = yield* Fixture.post(url, story)
        assert.strictEqual(remaining(next), remaining(response) - 1)
      }
    }))

  it.effect("streamed after some text: that text, a content_filter finish chunk, the usage, then [DONE]", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.contentFilterAfter(3))
      const chunks = yield* storyChunks(url)
      const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")
      assert.strictEqual(text.split(" ").filter((word) => word.length > 0).length, 3)
      assert.strictEqual(chunks.at(-2)?.choices[0]?.finish_reason, "content_filter")
      assert.deepStrictEqual(chunks.at(-1)?.choices, [])
      const billed = yield* mock.stats("openai")
      assert.strictEqual(chunks.at(-1)?.usage?.completion_tokens, billed.completionTokens)
      assert.strictEqual(chunks.at(-1)?.usage?.prompt_tokens, billed.promptTokens)
      for (const chunk of chunks) assert.strictEqual(chunk.model, "openai/gpt-4o-mini")
      assert.strictEqual((yield* mock.stats("deepseek")).requests, 0)
    }))

  it.effect("streamed before any text: a 200 stream of one content_filter finish chunk, then [DONE]", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.contentFilter)
      const response = yield* Fixture.post(url, { ...story, stream: true })
      assert.strictEqual(response.status, 200, response.text)
      const events = response.text.split("\n\n").filter((event) => event.length > 0 && !event.startsWith(":"))
      assert.strictEqual(events.at(-1), "data: [DONE]")
      assert.strictEqual(events.length, 2, response.text)
      const finish: unknown = JSON.parse(events[0]?.replace(/^data: /, "") ?? "null")
      assert.deepInclude(finish, { model: "openai/gpt-4o-mini", object: "chat.completion.chunk" })
      assert.deepStrictEqual((finish as { choices: unknown }).choices, [{
        index: 0,
        delta: { role: "assistant", content: "" },
        finish_reason: "content_filter",
        logprobs: null
      }])
      const next = yield* Fixture.post(url, story)
      assert.strictEqual(remaining(next), remaining(response) - 1)
    }))

  it.effect("a refusal, plain: parse() sees message.refusal, finish_reason stop, the usage billed, no fallback", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.refusal(refusal))
      const data = yield* Effect.promise(() => Fixture.client(url).chat.completions.parse(story))
      const choice = data.choices[0]
      assert.strictEqual(choice?.message.refusal, refusal)
      assert.strictEqual(choice?.message.content, null)
      assert.strictEqual(choice?.finish_reason, "stop")
      assert.strictEqual(data.model, "openai/gpt-4o-mini")
      assert.strictEqual(data.usage?.completion_tokens, (yield* mock.stats("openai")).completionTokens)
      assert.strictEqual((yield* mock.stats("deepseek")).requests, 0)
    }))

  for (const after of [0, 3]) {
    it.effect(`a refusal, streamed after ${after} words: a delta with the refusal, a stop finish chunk, the usage`, () =>
      Effect.gen(function*() {
        const { mock, url } = yield* Fixture.setup
        yield* mock.inject("openai", MockFault.refusal(refusal, { after }))
        const chunks = yield* storyChunks(url)
        const deltas = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta))
        const refused = deltas.filter((delta) => delta.refusal != null)
        assert.deepStrictEqual(
          refused,
          [after === 0 ? { role: "assistant", content: null, refusal } : { refusal }]
        )
        const text = deltas.map((delta) => delta.content ?? "").join("")
        assert.strictEqual(text.split(" ").filter((word) => word.length > 0).length, after)
        assert.strictEqual(chunks.at(-2)?.choices[0]?.finish_reason, "stop")
        assert.strictEqual(chunks.at(-1)?.usage?.completion_tokens, (yield* mock.stats("openai")).completionTokens)
        yield* mock.inject("openai", MockFault.refusal(refusal, { after }))
        const final = yield* Effect.promise(() =>
          Fixture.client(url).chat.completions.stream(story).finalChatCompletion()
        )
        assert.strictEqual(final.choices[0]?.message.refusal, refusal)
        assert.strictEqual((yield* mock.stats("deepseek")).requests, 0)
      }))
  }
})
