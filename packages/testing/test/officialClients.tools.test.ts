/**
 * The official SDKs accept the mock server's tool-call replies: whole and
 * streamed (the SDKs' own stream helpers assemble the tool-call deltas).
 */
import Anthropic from "@anthropic-ai/sdk"
import { assert, layer } from "@effect/vitest"
import {
  createPartFromFunctionCall,
  createPartFromFunctionResponse,
  FinishReason,
  FunctionCallingConfigMode,
  GoogleGenAI
} from "@google/genai"
import { Effect } from "effect"
import OpenAI from "openai"
import * as MockProviderServer from "../src/MockProviderServer.ts"

const parameters = {
  type: "object",
  properties: { city: { type: "string" } },
  required: ["city"],
  additionalProperties: false
}

const fresh = Effect.gen(function*() {
  const server = yield* MockProviderServer.MockProviderServer
  yield* server.reset
  return server
})

const cityOf = (json: unknown): unknown =>
  typeof json === "object" && json !== null && "city" in json ? json.city : undefined

layer(MockProviderServer.layer(), { excludeTestServices: true })("official clients and tool calls", (it) => {
  it.effect("openai: a tool call, whole and streamed (finalChatCompletion), then the answer to its result", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      const client = new OpenAI({ apiKey: "sk-test", baseURL: server.baseUrl("openai"), maxRetries: 0 })
      const request = {
        model: "gpt-4o-mini",
        messages: [{ role: "user" as const, content: "Weather in Oslo?" }],
        tools: [{ type: "function" as const, function: { name: "get_weather", parameters } }]
      }
      const whole = yield* Effect.promise(() => client.chat.completions.create(request))
      const call = whole.choices[0]?.message.tool_calls?.[0]
      assert.strictEqual(whole.choices[0]?.finish_reason, "tool_calls")
      assert.strictEqual(call?.type === "function" ? call.function.name : undefined, "get_weather")
      const streamed = yield* Effect.promise(() => client.chat.completions.stream(request).finalChatCompletion())
      const streamedCall = streamed.choices[0]?.message.tool_calls?.[0]
      assert.isString(
        cityOf(JSON.parse(streamedCall?.type === "function" ? streamedCall.function.arguments : "null"))
      )
      const answer = yield* Effect.promise(() =>
        client.chat.completions.create({
          ...request,
          messages: [
            ...request.messages,
            { role: "assistant", content: null, tool_calls: whole.choices[0]?.message.tool_calls ?? [] },
            { role: "tool", tool_call_id: call?.id ?? "", content: "rain" }
          ]
        })
      )
      assert.strictEqual(answer.choices[0]?.finish_reason, "stop")
      assert.include(answer.choices[0]?.message.content, "[tool results: rain]")
    }))

  it.effect("anthropic: a tool_use block, whole and streamed (finalMessage), then the answer to its result", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      const client = new Anthropic({ apiKey: "sk-test", baseURL: server.baseUrl("anthropic"), maxRetries: 0 })
      const request = {
        model: "claude-haiku-4-5",
        max_tokens: 200,
        messages: [{ role: "user" as const, content: "Weather in Oslo?" }],
        tools: [{ name: "get_weather", input_schema: { ...parameters, type: "object" as const } }]
      }
      const whole = yield* Effect.promise(() => client.messages.create(request))
      assert.strictEqual(whole.stop_reason, "tool_use")
      const block = whole.content.find((b) => b.type === "tool_use")
      assert.strictEqual(block?.name, "get_weather")
      const streamed = yield* Effect.promise(() => client.messages.stream(request).finalMessage())
      const streamedBlock = streamed.content.find((b) => b.type === "tool_use")
      assert.isString(cityOf(streamedBlock?.input))
      const answer = yield* Effect.promise(() =>
        client.messages.create({
          ...request,
          messages: [
            ...request.messages,
            { role: "assistant", content: whole.content },
            { role: "user", content: [{ type: "tool_result", tool_use_id: block?.id ?? "", content: "rain" }] }
          ]
        })
      )
      assert.strictEqual(answer.stop_reason, "end_turn")
      const text = answer.content.find((b) => b.type === "text")
      assert.include(text?.type === "text" ? text.text : "", "[tool results: rain]")
    }))

  it.effect("@google/genai: a functionCall, whole and streamed, then the answer to its functionResponse", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      const ai = new GoogleGenAI({
        apiKey: "test",
        httpOptions: { baseUrl: `${server.url}/gemini`, apiVersion: "v1beta" }
      })
      const request = {
        model: "gemini-2.5-flash",
        contents: [{ role: "user", parts: [{ text: "Weather in Oslo?" }] }],
        config: {
          tools: [{ functionDeclarations: [{ name: "get_weather", parametersJsonSchema: parameters }] }],
          toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY } }
        }
      }
      const whole = yield* Effect.promise(() => ai.models.generateContent(request))
      assert.strictEqual(whole.candidates?.[0]?.finishReason, FinishReason.STOP)
      const call = whole.functionCalls?.[0]
      assert.strictEqual(call?.name, "get_weather")
      assert.isString(cityOf(call?.args))
      const streamed = yield* Effect.promise(async () => {
        const calls: Array<{ readonly name?: string | undefined; readonly args?: unknown }> = []
        for await (const chunk of await ai.models.generateContentStream(request)) {
          calls.push(...chunk.functionCalls ?? [])
        }
        return calls
      })
      assert.deepStrictEqual(streamed.map((c) => c.name), ["get_weather"])
      assert.isString(cityOf(streamed[0]?.args))
      const answer = yield* Effect.promise(() =>
        ai.models.generateContent({
          ...request,
          contents: [
            ...request.contents,
            { role: "model", parts: [createPartFromFunctionCall("get_weather", call?.args ?? {})] },
            { role: "user", parts: [createPartFromFunctionResponse("", "get_weather", { output: "rain" })] }
          ]
        })
      )
      assert.strictEqual(answer.functionCalls, undefined)
      assert.include(answer.text, "[tool results: rain]")
    }))
})
