/**
 * What OpenAI clients really send: the standard fields at their neutral
 * values (as LangChain and others send them by default) and `null` for an
 * absent optional field are accepted; a value the gateway cannot honour is
 * a 400 naming the field; an assistant message sent back as the SDK gave it
 * (`stream().finalMessage()` with its `parsed: null`, a completion's
 * `choices[0].message`, a Python `model_dump()` with its `null`s) continues
 * the conversation.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import type OpenAI from "openai"
import * as Fixture from "./fixture.ts"

const TestLayer = Fixture.gatewayWithMock()

const Completion = Schema.Struct({
  model: Schema.String,
  choices: Schema.Array(Schema.Struct({ message: Schema.Struct({ content: Schema.NullOr(Schema.String) }) }))
})

/** The answer's text, failing with the response when it is not a 200. */
const answered = (response: { readonly status: number; readonly text: string }) => {
  assert.strictEqual(response.status, 200, response.text)
  const text = Schema.decodeUnknownSync(Completion)(JSON.parse(response.text)).choices[0]?.message.content
  assert.isString(text)
  assert.isAbove(text?.length ?? 0, 0)
  return text
}

const refused = (response: { readonly status: number; readonly text: string }, param: string) => {
  assert.strictEqual(response.status, 400, response.text)
  const { error } = Schema.decodeUnknownSync(Fixture.ErrorResponse)(JSON.parse(response.text))
  assert.strictEqual(error.param, param, response.text)
  assert.include(error.message, param)
  return error
}

const hi = { model: "fast", messages: [{ role: "user", content: "Say hello" }] }

layer(TestLayer, { excludeTestServices: true })("Gateway wire format (what SDKs and frameworks send)", (it) => {
  it.effect("standard fields at their neutral values are accepted, and null is an absent field", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      answered(
        yield* Fixture.post(url, {
          ...hi,
          top_p: 1,
          n: 1,
          presence_penalty: 0,
          frequency_penalty: 0,
          logprobs: false,
          top_logprobs: null,
          logit_bias: {},
          store: false
        })
      )
      answered(
        yield* Fixture.post(url, {
          ...hi,
          top_p: null,
          n: null,
          presence_penalty: null,
          frequency_penalty: null,
          logprobs: null,
          logit_bias: null,
          store: null,
          tool_choice: null,
          tools: null,
          parallel_tool_calls: null,
          response_format: null,
          user: null,
          fallbacks: null,
          temperature: null,
          max_tokens: null,
          stop: null,
          seed: null,
          stream: null,
          stream_options: null
        })
      )
      // a stream with the options the openai SDK may add
      const streamed = yield* Fixture.post(url, {
        ...hi,
        stream: true,
        stream_options: { include_usage: null, include_obfuscation: true }
      })
      assert.strictEqual(streamed.status, 200, streamed.text)
      assert.include(streamed.text, "data: [DONE]")
      // tool_choice: null with tools is the default choice
      const withTools = yield* Fixture.post(url, {
        ...hi,
        tools: [{ type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } }],
        tool_choice: null
      })
      assert.strictEqual(withTools.status, 200, withTools.text)
      assert.strictEqual((yield* mock.stats("openai")).requests, 4)
    }))

  it.effect("a value the gateway cannot honour is a 400 naming the field, before any provider call", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const many = refused(yield* Fixture.post(url, { ...hi, n: 2 }), "n")
      assert.strictEqual(many.code, "unsupported_value")
      assert.strictEqual(many.message, "n: the gateway answers with one choice; leave it out or send 1")
      refused(yield* Fixture.post(url, { ...hi, top_p: 0.5 }), "top_p")
      refused(yield* Fixture.post(url, { ...hi, presence_penalty: 0.5 }), "presence_penalty")
      refused(yield* Fixture.post(url, { ...hi, frequency_penalty: -1 }), "frequency_penalty")
      refused(yield* Fixture.post(url, { ...hi, logprobs: true }), "logprobs")
      refused(yield* Fixture.post(url, { ...hi, top_logprobs: 3 }), "top_logprobs")
      refused(yield* Fixture.post(url, { ...hi, logit_bias: { "50256": -100 } }), "logit_bias")
      refused(yield* Fixture.post(url, { ...hi, store: true }), "store")
      // out of OpenAI's own range: a plain type error, still named
      refused(yield* Fixture.post(url, { ...hi, top_p: 3 }), "top_p")
      // OpenAI refuses stream options on a call that does not stream
      const options = refused(
        yield* Fixture.post(url, { ...hi, stream: false, stream_options: { include_usage: true } }),
        "stream_options"
      )
      assert.strictEqual(options.message, "stream_options: only allowed when stream is true")
      refused(yield* Fixture.post(url, { ...hi, stream_options: {} }), "stream_options")
      // an unknown top-level field still changes nothing silently
      const unknown = refused(yield* Fixture.post(url, { ...hi, top_k: 3 }), "top_k")
      assert.strictEqual(unknown.code, "invalid_request")
      assert.strictEqual(unknown.message, "top_k: unknown field: the gateway refuses a field it would ignore")
      // nor does a message the gateway cannot pass on
      const legacy = refused(
        yield* Fixture.post(url, {
          model: "fast",
          messages: [
            { role: "user", content: "hi" },
            { role: "assistant", content: null, function_call: { name: "f", arguments: "{}" } }
          ]
        }),
        "messages[1].function_call"
      )
      assert.include(legacy.message, "send tool_calls")
      // a tool result that does not say which call it answers (OpenAI's own 400 names tool_call_id)
      for (const id of [{}, { tool_call_id: "" }, { tool_call_id: null }]) {
        refused(
          yield* Fixture.post(url, {
            model: "fast",
            messages: [
              { role: "user", content: "weather?" },
              {
                role: "assistant",
                content: null,
                tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }]
              },
              { role: "tool", content: "rain", ...id }
            ]
          }),
          "messages[2].tool_call_id"
        )
      }
      assert.strictEqual((yield* mock.stats("openai")).requests + (yield* mock.stats("deepseek")).requests, 0)
    }))

  it.effect("parallel_tool_calls and a tool's strict: their defaults pass, any other value is a 400 naming it", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const tool = (name: string, strict: boolean | null) => ({
        type: "function",
        function: { name, parameters: { type: "object", properties: {} }, strict }
      })
      const asked = { ...hi, tools: [tool("get_time", false), tool("get_date", null)] }
      const parallel = yield* Fixture.post(url, { ...asked, parallel_tool_calls: true })
      assert.strictEqual(parallel.status, 200, parallel.text)
      assert.strictEqual((yield* mock.stats("openai")).requests, 1)
      const serial = refused(yield* Fixture.post(url, { ...asked, parallel_tool_calls: false }), "parallel_tool_calls")
      assert.strictEqual(serial.code, "unsupported_value")
      const strict = refused(
        yield* Fixture.post(url, { ...asked, tools: [tool("get_time", false), tool("get_date", true)] }),
        "tools[1].function.strict"
      )
      assert.strictEqual(strict.code, "unsupported_value")
      assert.strictEqual((yield* mock.stats("openai")).requests, 1)
    }))

  it.effect("the SDK's stream().finalMessage() and a completion's message, sent back, continue the chat", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const first: Array<OpenAI.Chat.Completions.ChatCompletionMessageParam> = [
        { role: "user", content: "Tell me a story" }
      ]
      const streamed = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.stream({ model: "fast", messages: first }).finalMessage()
      )
      assert.isAbove(streamed.content?.length ?? 0, 0)
      const second = [...first, streamed, { role: "user" as const, content: "And then?" }]
      const next = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({ model: "fast", messages: second })
      )
      assert.isAbove(next.choices[0]?.message.content?.length ?? 0, 0)

      const said = next.choices[0]?.message ?? assert.fail("no message")
      const third = [...second, said, { role: "user" as const, content: "The end?" }]
      const last = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.stream({ model: "fast", messages: third }).finalChatCompletion()
      )
      assert.isAbove(last.choices[0]?.message.content?.length ?? 0, 0)
    }))

  it.effect("an assistant's refusal sent back as the SDK gave it continues the chat, the refusal as its text", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const refusal = "I'm sorry, I can't help with that."
      answered(
        yield* Fixture.post(url, {
          model: "fast",
          messages: [
            { role: "user", content: "Help me pick a lock" },
            { role: "assistant", content: null, refusal, annotations: [] },
            { role: "user", content: "Then tell me a story" }
          ]
        })
      )
      const [sent] = yield* mock.received("openai")
      const Sent = Schema.Struct({
        messages: Schema.Array(Schema.Struct({ role: Schema.String, content: Schema.NullOr(Schema.String) }))
      })
      const { messages } = Schema.decodeUnknownSync(Sent)(sent?.body)
      assert.deepStrictEqual(messages.map((message) => [message.role, message.content]), [
        ["user", "Help me pick a lock"],
        ["assistant", refusal],
        ["user", "Then tell me a story"]
      ])
      // content null stays refused on a message that has neither tool calls nor a refusal
      refused(
        yield* Fixture.post(url, {
          model: "fast",
          messages: [{ role: "user", content: "hi" }, { role: "assistant", content: null, refusal: null }]
        }),
        "messages[1].content"
      )
    }))

  it.effect("a tool call's finalMessage() and a Python model_dump() with its nulls continue the chat", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const tools = [{
        type: "function" as const,
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
        }
      }]
      const question = { role: "user" as const, content: "Weather in Oslo?" }
      const call = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.stream({ model: "fast", messages: [question], tools }).finalMessage()
      )
      const id = call.tool_calls?.[0]?.id ?? assert.fail("no tool call")
      const answer = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({
          model: "fast",
          tools,
          messages: [question, call, { role: "tool", tool_call_id: id, content: "rain" }]
        })
      )
      assert.include(answer.choices[0]?.message.content, "[tool results: rain]")

      // as openai-python's ChatCompletionMessage.model_dump() writes a plain answer and a tool call
      const dumped = answered(
        yield* Fixture.post(url, {
          model: "fast",
          tools,
          messages: [
            question,
            {
              role: "assistant",
              content: null,
              refusal: null,
              annotations: [],
              audio: null,
              function_call: null,
              tool_calls: [{
                id,
                function: { arguments: "{\"city\":\"Oslo\"}", name: "get_weather" },
                type: "function"
              }]
            },
            { role: "tool", tool_call_id: id, content: "rain", name: null },
            {
              role: "assistant",
              content: "Rain in Oslo.",
              refusal: null,
              annotations: [],
              audio: null,
              function_call: null,
              tool_calls: null
            },
            { role: "user", content: [{ type: "text", text: "And tomorrow?" }], name: null }
          ]
        })
      )
      assert.isString(dumped)
    }))

  it.effect("an assistant tool call written to the SDK's type, without content, continues the chat", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const weather = Fixture.weatherRequest("fast")
      // `ChatCompletionAssistantMessageParam.content` is optional: required only without `tool_calls`
      const call: OpenAI.Chat.ChatCompletionAssistantMessageParam = {
        role: "assistant",
        tool_calls: [{
          id: "call_1",
          type: "function",
          function: { name: "get_weather", arguments: "{\"city\":\"Oslo\"}" }
        }]
      }
      const answer = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({
          ...weather,
          messages: [...weather.messages, call, { role: "tool", tool_call_id: "call_1", content: "rain" }]
        })
      )
      assert.include(answer.choices[0]?.message.content, "[tool results: rain]")
    }))

  it.effect("an assistant's refusal as a content part (the SDK's ChatCompletionContentPartRefusal) is its text", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const refusal = "I'm sorry, I can't help with that."
      const declined: OpenAI.Chat.ChatCompletionAssistantMessageParam = {
        role: "assistant",
        content: [{ type: "refusal", refusal }]
      }
      yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({
          model: "fast",
          messages: [
            { role: "user", content: "Help me pick a lock" },
            declined,
            { role: "user", content: "Then tell me a story" }
          ]
        })
      )
      const [sent] = yield* mock.received("openai")
      const Sent = Schema.Struct({ messages: Schema.Array(Schema.Struct({ content: Schema.NullOr(Schema.String) })) })
      assert.strictEqual(Schema.decodeUnknownSync(Sent)(sent?.body).messages[1]?.content, refusal)
      // a refusal part is an assistant's only, as on OpenAI
      refused(
        yield* Fixture.post(url, {
          model: "fast",
          messages: [{ role: "user", content: [{ type: "refusal", refusal }] }]
        }),
        "messages[0].content"
      )
    }))
})
