import { ModelId } from "@baton/core/Ids"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as StructuredOutput from "@baton/core/StructuredOutput"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as DeepSeek from "../src/DeepSeek.ts"
import type { Call, Codec, StreamDecoder } from "../src/internal/adapter.ts"
import * as AnthropicCodec from "../src/internal/anthropic.ts"
import * as DeepSeekCodec from "../src/internal/deepSeek.ts"
import * as GeminiCodec from "../src/internal/gemini.ts"
import * as Json from "../src/internal/json.ts"
import * as OpenAiCodec from "../src/internal/openAi.ts"
import * as OpenAiChat from "../src/internal/openAiChat.ts"

const Quiz = Schema.Struct({ question: Schema.String, hint: Schema.optionalKey(Schema.String) })

const callOf = (input: LlmRequest.Input, options: { stream?: boolean; structured?: boolean } = {}) =>
  Effect.map(LlmRequest.make(input), (request): Call => ({
    request,
    model: ModelId.make("m-1"),
    stream: options.stream ?? false,
    output: options.structured === true ? StructuredOutput.fromSchema(Quiz, { name: "quiz" }) : undefined
  }))

const bodyOf = (codec: Codec, call: Call): Json.JsonObject => {
  const body = codec.body(call)
  return Json.isObject(body) ? body : assert.fail("body is not an object")
}

const feed = (decoder: StreamDecoder, events: ReadonlyArray<readonly [string, unknown]>) =>
  events.map(([event, data]) => decoder.event({ event, data: typeof data === "string" ? data : JSON.stringify(data) }))

const openAi = OpenAiCodec.codec

const deepSeek = DeepSeekCodec.codec

const conversation: LlmRequest.Input = {
  prompt: [{ role: "user", content: "Count" }, { role: "assistant", content: "One," }],
  options: { system: "Be brief", maxTokens: 50, temperature: 0.2, stop: ["END"], seed: 7 }
}

describe("chat-completions codec", () => {
  it.effect("OpenAI body: max_completion_tokens, options, strict json_schema with optional as nullable", () =>
    Effect.gen(function*() {
      const body = bodyOf(openAi, yield* callOf(conversation, { structured: true, stream: true }))
      assert.strictEqual(body.max_completion_tokens, 50)
      assert.strictEqual(body.temperature, 0.2)
      assert.deepStrictEqual(body.stop, ["END"])
      assert.strictEqual(body.seed, 7)
      assert.strictEqual(body.stream, true)
      assert.deepStrictEqual(body.stream_options, { include_usage: true })
      assert.deepStrictEqual(body.messages, [
        { role: "system", content: "Be brief" },
        { role: "user", content: "Count" },
        { role: "assistant", content: "One," }
      ])
      assert.deepStrictEqual(body.response_format, {
        type: "json_schema",
        json_schema: {
          name: "quiz",
          strict: true,
          schema: {
            type: "object",
            properties: { question: { type: "string" }, hint: { anyOf: [{ type: "string" }, { type: "null" }] } },
            required: ["question", "hint"],
            additionalProperties: false
          }
        }
      })
      assert.deepStrictEqual(openAi.headers("k"), { authorization: "Bearer k" })
      assert.strictEqual(openAi.path(yield* callOf(conversation)), "/chat/completions")
    }))

  it.effect("OpenAI strict answers: optional nulls are dropped before decoding", () =>
    Effect.gen(function*() {
      const output = StructuredOutput.fromSchema(Quiz)
      const answer = openAi.structuredAnswer?.(`{"question":"q","hint":null}`, output)
      assert.deepStrictEqual(answer === undefined ? undefined : Json.parse(answer), { question: "q" })
    }))

  it.effect("DeepSeek body: max_tokens, prefix on the prefill, json_object with the schema in a system message", () =>
    Effect.gen(function*() {
      const body = bodyOf(deepSeek, yield* callOf(conversation, { structured: true }))
      assert.strictEqual(body.max_tokens, 50)
      assert.deepStrictEqual(body.response_format, { type: "json_object" })
      const messages: ReadonlyArray<unknown> = Array.isArray(body.messages) ? body.messages : []
      assert.deepStrictEqual(messages.at(-1), { role: "assistant", content: "One,", prefix: true })
      const instruction = messages[1]
      assert.isTrue(Json.isObject(instruction) && instruction.role === "system")
      assert.include(JSON.stringify(instruction), "json")
      assert.include(JSON.stringify(instruction), "question")
      assert.isUndefined(deepSeek.structuredAnswer)
    }))

  it("maps usage: OpenAI details, DeepSeek cache hits", () => {
    const usage = {
      prompt_tokens: 100,
      completion_tokens: 40,
      prompt_tokens_details: { cached_tokens: 30 },
      completion_tokens_details: { reasoning_tokens: 10 },
      prompt_cache_hit_tokens: 60
    }
    assert.deepStrictEqual(OpenAiChat.openAiUsage(usage), {
      promptTokens: 100,
      completionTokens: 40,
      cachedPromptTokens: 30,
      reasoningTokens: 10
    })
    assert.strictEqual(DeepSeek.usage(usage)?.cachedPromptTokens, 60)
    assert.isUndefined(OpenAiChat.openAiUsage({ total_tokens: 3 }))
  })

  it("maps finish reasons and refusals", () => {
    assert.deepStrictEqual(
      ["stop", "length", "content_filter", "tool_calls", "function_call", "insufficient_system_resource", null].map(
        OpenAiChat.finishReason
      ),
      ["stop", "length", "content_filter", "tool_calls", "tool_calls", "other", "other"]
    )
    const refusal = openAi.decode({
      choices: [{ message: { content: null, refusal: "I can't" }, finish_reason: "stop" }]
    })
    assert.strictEqual(typeof refusal === "string" ? refusal : refusal.finishReason, "content_filter")
    assert.isString(openAi.decode({ choices: [] }))
    assert.isString(openAi.decode({ choices: [{ message: { content: 42 } }] }))
  })

  it("streams: [DONE] completes, error events and chunks without choices are faults", () => {
    const decoder = openAi.streamDecoder()
    const steps = feed(decoder, [
      ["message", { choices: [{ delta: { content: "Hi" }, finish_reason: null }] }],
      ["message", { choices: [{ delta: {}, finish_reason: "stop" }] }]
    ])
    assert.deepStrictEqual(steps, ["Hi", ""])
    assert.isUndefined(decoder.finishReason(), "not complete before [DONE]")
    feed(decoder, [["message", { choices: [], usage: { prompt_tokens: 3, completion_tokens: 1 } }], [
      "message",
      "[DONE]"
    ]])
    assert.strictEqual(decoder.finishReason(), "stop")
    assert.deepStrictEqual(decoder.counts(), {
      promptTokens: 3,
      completionTokens: 1,
      cachedPromptTokens: undefined,
      reasoningTokens: undefined
    })
    const faults = feed(openAi.streamDecoder(), [
      ["message", { error: { message: "boom" } }],
      ["error", { message: "boom" }],
      ["message", { unexpected: true }],
      ["message", "{not json"]
    ])
    assert.deepStrictEqual(faults.map((step) => typeof step === "string" ? step : step._tag), [
      "ErrorEvent",
      "ErrorEvent",
      "Malformed",
      "Malformed"
    ])
  })

  it("a lenient dialect completes on a finish reason without [DONE]", () => {
    const lenient = OpenAiChat.make({
      maxTokensField: "max_tokens",
      structured: "json-schema",
      prefill: "plain",
      usage: OpenAiChat.openAiUsage,
      requireDone: false
    }).streamDecoder()
    feed(lenient, [["message", { choices: [{ delta: { content: "x" }, finish_reason: "length" }] }]])
    assert.strictEqual(lenient.finishReason(), "length")
  })
})

describe("Gemini codec", () => {
  it.effect("body: contents with model turns, systemInstruction, generationConfig, responseJsonSchema", () =>
    Effect.gen(function*() {
      const call = yield* callOf(conversation, { structured: true, stream: true })
      const body = bodyOf(GeminiCodec.codec, call)
      assert.deepStrictEqual(body.contents, [
        { role: "user", parts: [{ text: "Count" }] },
        { role: "model", parts: [{ text: "One," }] }
      ])
      assert.deepStrictEqual(body.systemInstruction, { parts: [{ text: "Be brief" }] })
      const config = Json.isObject(body.generationConfig) ? body.generationConfig : {}
      assert.strictEqual(config.maxOutputTokens, 50)
      assert.strictEqual(config.temperature, 0.2)
      assert.deepStrictEqual(config.stopSequences, ["END"])
      assert.strictEqual(config.seed, 7)
      assert.strictEqual(config.responseMimeType, "application/json")
      assert.deepStrictEqual(config.responseJsonSchema, call.output?.jsonSchema)
      assert.strictEqual(GeminiCodec.codec.path(call), "/models/m-1:streamGenerateContent?alt=sse")
      assert.deepStrictEqual(GeminiCodec.codec.headers("k"), { "x-goog-api-key": "k" })
    }))

  it.effect("tools: declarations, a forced choice, calls and results as parts (own ids only, an unsigned call skipped)", () =>
    Effect.gen(function*() {
      const parameters = { type: "object", properties: { city: { type: "string" } } }
      const call = yield* callOf({
        prompt: [
          { role: "user", content: "Weather?" },
          {
            role: "assistant",
            content: "",
            toolCalls: [
              { id: "gemini-call-r1-0", name: "get_weather", arguments: "{\"city\":\"Oslo\"}" },
              { id: "own-id", name: "get_time", arguments: "{}" }
            ]
          },
          { role: "tool", content: "\"rain\"", toolCallId: "gemini-call-r1-0" },
          { role: "tool", content: "noon", toolCallId: "own-id", name: "get_time" }
        ],
        tools: [{ name: "get_weather", description: "Weather", parameters }, { name: "get_time", parameters }],
        toolChoice: { tool: "get_weather" }
      })
      const body = bodyOf(GeminiCodec.codec, call)
      assert.deepStrictEqual(body.tools, [{
        functionDeclarations: [
          { name: "get_weather", description: "Weather", parametersJsonSchema: parameters },
          { name: "get_time", parametersJsonSchema: parameters }
        ]
      }])
      assert.deepStrictEqual(body.toolConfig, {
        functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] }
      })
      assert.deepStrictEqual(body.contents, [
        { role: "user", parts: [{ text: "Weather?" }] },
        {
          role: "model",
          parts: [
            {
              functionCall: { name: "get_weather", args: { city: "Oslo" } },
              thoughtSignature: "skip_thought_signature_validator"
            },
            { functionCall: { name: "get_time", args: {}, id: "own-id" } }
          ]
        },
        {
          role: "user",
          parts: [
            { functionResponse: { name: "get_weather", response: { output: "rain" } } },
            { functionResponse: { name: "get_time", response: { output: "noon" }, id: "own-id" } }
          ]
        }
      ])
    }))

  it("tool calls: ids from the response id, numbered across stream events; Gemini's own ids kept", () => {
    const part = (name: string, id?: string) => ({ functionCall: { name, args: { n: 1 }, ...(id ? { id } : {}) } })
    const reply = GeminiCodec.codec.decode({
      responseId: "r1",
      candidates: [{ content: { parts: [part("a"), part("b", "own")] }, finishReason: "STOP" }]
    })
    assert.deepStrictEqual(typeof reply === "string" ? reply : [reply.finishReason, reply.toolCalls], ["tool_calls", [
      { id: "gemini-call-r1-0", name: "a", arguments: "{\"n\":1}" },
      { id: "own", name: "b", arguments: "{\"n\":1}" }
    ]])
    const decoder = GeminiCodec.codec.streamDecoder()
    feed(decoder, [
      ["", { responseId: "r2", candidates: [{ content: { parts: [part("a")] } }] }],
      ["", { responseId: "r2", candidates: [{ content: { parts: [part("b")] } }] }]
    ])
    assert.deepStrictEqual(decoder.tools?.deltas().map((delta) => [delta.index, delta.id, delta.argumentsDelta]), [
      [0, "gemini-call-r2-0", "{\"n\":1}"],
      [1, "gemini-call-r2-1", "{\"n\":1}"]
    ])
    feed(decoder, [["", { responseId: "r2", candidates: [{ content: { parts: [] }, finishReason: "STOP" }] }]])
    assert.strictEqual(decoder.finishReason(), "tool_calls")
  })

  it("usage: output is candidates plus thoughts", () => {
    assert.deepStrictEqual(
      GeminiCodec.usage({
        promptTokenCount: 50,
        cachedContentTokenCount: 20,
        candidatesTokenCount: 7,
        thoughtsTokenCount: 13
      }),
      {
        counts: { promptTokens: 50, completionTokens: 20, cachedPromptTokens: 20, reasoningTokens: 13 },
        provisional: false
      }
    )
  })

  it("finish reasons, thought parts, blocked prompts", () => {
    assert.deepStrictEqual(
      [["STOP", false], ["STOP", true], ["MAX_TOKENS", false], ["SAFETY", false], ["RECITATION", false], [
        "OTHER",
        false
      ]].map(
        ([reason, tool]) => GeminiCodec.finishReason(String(reason), tool === true)
      ),
      ["stop", "tool_calls", "length", "content_filter", "content_filter", "other"]
    )
    const reply = GeminiCodec.codec.decode({
      candidates: [{ content: { parts: [{ text: "thinking", thought: true }, { text: "Hi" }] }, finishReason: "STOP" }]
    })
    assert.strictEqual(typeof reply === "string" ? reply : reply.content, "Hi")
    const blocked = GeminiCodec.codec.decode({ promptFeedback: { blockReason: "SAFETY" } })
    assert.strictEqual(typeof blocked === "string" ? blocked : blocked.blockedPrompt, "SAFETY")
    const step = GeminiCodec.codec.streamDecoder().event({
      event: "message",
      data: `{"promptFeedback":{"blockReason":"OTHER"}}`
    })
    assert.strictEqual(typeof step === "string" ? step : step._tag, "Blocked")
  })
})

describe("Anthropic codec", () => {
  it.effect("body: top-level system, max_tokens, stop_sequences, output_config; headers", () =>
    Effect.gen(function*() {
      const call = yield* callOf(conversation, { structured: true })
      const body = bodyOf(AnthropicCodec.codec, call)
      assert.strictEqual(body.system, "Be brief")
      assert.strictEqual(body.max_tokens, 50)
      assert.deepStrictEqual(body.stop_sequences, ["END"])
      assert.deepStrictEqual(body.messages, [{ role: "user", content: "Count" }, {
        role: "assistant",
        content: "One,"
      }])
      assert.deepStrictEqual(body.output_config, { format: { type: "json_schema", schema: call.output?.jsonSchema } })
      assert.deepStrictEqual(AnthropicCodec.codec.headers("k"), { "x-api-key": "k", "anthropic-version": "2023-06-01" })
    }))

  it("usage: prompt tokens include cache reads and writes; null cache fields count 0", () => {
    assert.deepStrictEqual(
      AnthropicCodec.usage({
        input_tokens: 10,
        cache_read_input_tokens: 30,
        cache_creation_input_tokens: 5,
        output_tokens: 20,
        output_tokens_details: { thinking_tokens: 8 }
      }),
      { promptTokens: 45, cachedPromptTokens: 30, completionTokens: 20, reasoningTokens: 8 }
    )
    assert.deepStrictEqual(
      AnthropicCodec.usage({
        input_tokens: 10,
        cache_read_input_tokens: null,
        cache_creation_input_tokens: null,
        output_tokens: 2
      }),
      { promptTokens: 10, cachedPromptTokens: 0, completionTokens: 2, reasoningTokens: undefined }
    )
  })

  it("finish reasons", () => {
    assert.deepStrictEqual(
      ["end_turn", "stop_sequence", "max_tokens", "model_context_window_exceeded", "refusal", "tool_use", "pause_turn"]
        .map(
          AnthropicCodec.finishReason
        ),
      ["stop", "stop", "length", "length", "content_filter", "tool_calls", "other"]
    )
  })

  it("streams: message_stop completes, usage merges, unknown events are ignored, error events are faults", () => {
    const decoder = AnthropicCodec.codec.streamDecoder()
    const steps = feed(decoder, [
      ["message_start", {
        type: "message_start",
        message: { usage: { input_tokens: 9, cache_read_input_tokens: 3, output_tokens: 1 } }
      }],
      ["ping", { type: "ping" }],
      ["content_block_delta", { type: "content_block_delta", delta: { type: "text_delta", text: "Hi" } }],
      ["content_block_delta", { type: "content_block_delta", delta: { type: "thinking_delta", thinking: "hmm" } }],
      ["brand_new_event", { type: "brand_new_event" }],
      ["message_delta", { type: "message_delta", delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 4 } }]
    ])
    assert.deepStrictEqual(steps, ["", "", "Hi", "", "", ""])
    assert.isUndefined(decoder.finishReason())
    assert.deepStrictEqual(decoder.counts(), {
      promptTokens: 12,
      cachedPromptTokens: 3,
      completionTokens: 4,
      reasoningTokens: undefined
    })
    feed(decoder, [["message_stop", { type: "message_stop" }]])
    assert.strictEqual(decoder.finishReason(), "length")
    const [fault] = feed(AnthropicCodec.codec.streamDecoder(), [["error", {
      type: "error",
      error: { type: "overloaded_error" }
    }]])
    assert.strictEqual(typeof fault === "string" ? fault : fault?._tag, "ErrorEvent")
  })
})

describe("response ids (gen_ai.response.id)", () => {
  const chatReply = (id: unknown) => ({
    id,
    choices: [{ message: { role: "assistant", content: "Hi" }, finish_reason: "stop" }]
  })
  const geminiReply = (responseId: unknown) => ({
    responseId,
    candidates: [{ content: { parts: [{ text: "Hi" }] }, finishReason: "STOP" }]
  })
  const anthropicReply = (id: unknown) => ({ id, content: [{ type: "text", text: "Hi" }], stop_reason: "end_turn" })
  const idOf = (reply: ReturnType<Codec["decode"]>) => typeof reply === "string" ? reply : reply.responseId

  it("a plain reply's id; none when it is absent, not a string, empty or over 256 characters", () => {
    const cases = [["chatcmpl-1", "chatcmpl-1"], [undefined, undefined], [42, undefined], ["", undefined], [
      "x".repeat(257),
      undefined
    ]] as const
    for (const [sent, read] of cases) {
      assert.strictEqual(idOf(openAi.decode(chatReply(sent))), read)
      assert.strictEqual(idOf(GeminiCodec.codec.decode(geminiReply(sent))), read)
      assert.strictEqual(idOf(AnthropicCodec.codec.decode(anthropicReply(sent))), read)
    }
  })

  it("a stream's id: the first chunk's (chat completions, Gemini), message_start's (Anthropic)", () => {
    const chat = openAi.streamDecoder()
    feed(chat, [["", { id: "chatcmpl-9", choices: [{ delta: { content: "Hi" } }] }], ["", "[DONE]"]])
    assert.strictEqual(chat.responseId?.(), "chatcmpl-9")
    const gemini = GeminiCodec.codec.streamDecoder()
    feed(gemini, [["", geminiReply("resp-9")]])
    assert.strictEqual(gemini.responseId?.(), "resp-9")
    const anthropic = AnthropicCodec.codec.streamDecoder()
    feed(anthropic, [["message_start", { type: "message_start", message: { id: "msg_9" } }]])
    assert.strictEqual(anthropic.responseId?.(), "msg_9")
  })
})
