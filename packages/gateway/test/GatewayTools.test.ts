/**
 * Tool calls through the gateway with the official openai client: `tools`
 * pass through to the chain, calls come back as `tool_calls`, whole and as
 * streamed chunk deltas, and the tool's result continues the conversation.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import type OpenAI from "openai"
import * as Fixture from "./fixture.ts"

const TestLayer = Fixture.gatewayWithMock()

const decodeError = Schema.decodeUnknownSync(Schema.fromJsonString(Fixture.ErrorResponse))

const request = Fixture.weatherRequest("fast")

const cityOf = (call: OpenAI.Chat.Completions.ChatCompletionMessageToolCall | undefined): unknown => {
  const args: unknown = JSON.parse(call?.type === "function" ? call.function.arguments : "null")
  return typeof args === "object" && args !== null && "city" in args ? args.city : undefined
}

layer(TestLayer, { excludeTestServices: true })("Gateway tool calls (openai client over the mock)", (it) => {
  it.effect("a tool call, whole and streamed as tool_calls deltas, then the answer to its result", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const whole = yield* Effect.promise(() => Fixture.client(url).chat.completions.create(request))
      const call = whole.choices[0]?.message.tool_calls?.[0]
      assert.strictEqual(whole.choices[0]?.finish_reason, "tool_calls")
      assert.strictEqual(whole.choices[0]?.message.content, null)
      assert.isString(cityOf(call))

      const chunks: Array<OpenAI.Chat.Completions.ChatCompletionChunk> = []
      const streamed = yield* Effect.promise(() => {
        const stream = Fixture.client(url).chat.completions.stream(request)
        stream.on("chunk", (chunk) => chunks.push(chunk))
        return stream.finalChatCompletion()
      })
      assert.strictEqual(streamed.choices[0]?.finish_reason, "tool_calls")
      const streamedCall = streamed.choices[0]?.message.tool_calls?.[0]
      assert.strictEqual(streamedCall?.type === "function" ? streamedCall.function.name : undefined, "get_weather")
      assert.isString(cityOf(streamedCall))
      // the arguments arrived in more than one delta, before the finish chunk
      const argumentDeltas = chunks.filter((chunk) => chunk.choices[0]?.delta.tool_calls !== undefined)
      assert.isAbove(argumentDeltas.length, 1)
      assert.strictEqual(argumentDeltas[0]?.model, "openai/gpt-4o-mini")

      // the client sends the assistant message back as it got it
      const said = whole.choices[0]?.message ?? assert.fail("no message")
      const messages = [...request.messages, said, {
        role: "tool" as const,
        tool_call_id: call?.id ?? "",
        content: "rain"
      }]
      const answer = yield* Effect.promise(() => Fixture.client(url).chat.completions.create({ ...request, messages }))
      assert.strictEqual(answer.choices[0]?.finish_reason, "stop")
      assert.include(answer.choices[0]?.message.content, "[tool results: rain]")
    }))

  it.effect("tools the model may call beside a json_schema answer: a 400 naming tools, no provider asked", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const before = (yield* mock.stats("openai")).requests
      const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
      const response = yield* Fixture.post(url, {
        ...request,
        response_format: { type: "json_schema", json_schema: { name: "place", schema } }
      })
      assert.strictEqual(response.status, 400, response.text)
      const { error } = decodeError(response.text)
      assert.strictEqual(error.param, "tools")
      assert.strictEqual(error.type, "invalid_request_error")
      assert.strictEqual((yield* mock.stats("openai")).requests, before)
    }))

  it.effect("a tool_choice without tools: a 400 naming tool_choice, as OpenAI answers", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const response = yield* Fixture.post(url, { model: "fast", messages: request.messages, tool_choice: "required" })
      assert.strictEqual(response.status, 400, response.text)
      assert.strictEqual(decodeError(response.text).error.param, "tool_choice")
    }))

  it.effect("a streamed tool call falls back before its first delta", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.status(503))
      const streamed = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.stream(request).finalChatCompletion()
      )
      assert.isString(cityOf(streamed.choices[0]?.message.tool_calls?.[0]))
      assert.strictEqual((yield* mock.stats("deepseek")).requests, 1)
    }))
})
