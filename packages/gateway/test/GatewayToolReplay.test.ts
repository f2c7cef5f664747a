/**
 * A tool loop through the gateway with a reasoning model, as the official
 * openai client runs it: the client sends the assistant message back as it
 * got it, and what the model needs sent back with its calls goes back (a
 * tool call's `extra_content.baton.replay`: DeepSeek's thinking mode's
 * reasoning, else a 400 "Missing `reasoning_content` field"). Whole, and
 * streamed (the replay comes with the finish chunk, in a `tool_calls` delta
 * the client's stream helper merges into its calls).
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import type OpenAI from "openai"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import * as AiSdk from "./aiSdk.ts"
import * as Fixture from "./fixture.ts"

const configFile = (mock: MockProviderServer.MockProviderServer["Service"]) => ({
  providers: { deepseek: { baseUrl: mock.baseUrl("deepseek"), models: ["deepseek-reasoner"] } },
  models: { thinking: ["deepseek/deepseek-reasoner"] },
  keys: [{ sha256: GatewayConfig.hashKey(Fixture.clientKey), subject: "teacher-1" }]
})

const TestLayer = Layer.unwrap(Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const config = yield* GatewayConfig.parse(JSON.stringify(configFile(mock)), "json")
  return Gateway.layer(config, { port: 0 })
})).pipe(
  Layer.provideMerge(Fixture.services()),
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(Fixture.environment))),
  Layer.provideMerge(MockProviderServer.layer())
)

const request = Fixture.weatherRequest("thinking")

const reasoning = "Mock reasoning from deepseek, step 1: the user asked \"Weather in Oslo?\"."

/** The conversation after `said` (the assistant message as the client got it): its calls' results. */
const continued = (said: OpenAI.Chat.Completions.ChatCompletionMessage) => [
  ...request.messages,
  said,
  ...(said.tool_calls ?? []).map((call) => ({ role: "tool" as const, tool_call_id: call.id, content: "rain" }))
]

/** The `reasoning_content` of the assistant message DeepSeek last received. */
const lastReasoning = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const body = (yield* mock.received("deepseek")).at(-1)?.body
  const messages = typeof body === "object" && body !== null && "messages" in body ? body.messages : undefined
  const assistant: unknown = Array.isArray(messages) ? messages[1] : undefined
  return typeof assistant === "object" && assistant !== null && "reasoning_content" in assistant
    ? assistant.reasoning_content
    : undefined
})

layer(TestLayer, { excludeTestServices: true })("Gateway tool loop with a reasoning model", (it) => {
  it.effect("whole: the call's replay goes back with the assistant message", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const whole = yield* Effect.promise(() => Fixture.client(url).chat.completions.create(request))
      assert.strictEqual(whole.choices[0]?.finish_reason, "tool_calls")
      const said = whole.choices[0]?.message ?? assert.fail("no message")
      const answer = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({ ...request, messages: continued(said) })
      )
      assert.include(answer.choices[0]?.message.content, "[tool results: rain]")
      assert.strictEqual(yield* lastReasoning, reasoning)
    }))

  it.effect("streamed: the replay comes with the finish chunk and goes back the same", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const streamed = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.stream(request).finalChatCompletion()
      )
      assert.strictEqual(streamed.choices[0]?.finish_reason, "tool_calls")
      const said = streamed.choices[0]?.message ?? assert.fail("no message")
      const answer = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.stream({ ...request, messages: continued(said) }).finalChatCompletion()
      )
      assert.include(answer.choices[0]?.message.content, "[tool results: rain]")
      assert.strictEqual(yield* lastReasoning, reasoning)
    }))

  // The Vercel AI SDK (`@ai-sdk/openai-compatible`) validates every streamed tool-call entry: one without
  // `function` fails the chunk (AI_TypeValidationError, finish reason "error"). It keeps no `extra_content.baton`,
  // so the second turn goes out without the replay and gets DeepSeek's empty reasoning.
  it.effect("streamed to the Vercel AI SDK: the finish chunk is valid and its loop runs its two turns", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const result = yield* AiSdk.streamedLoop(url, "thinking")
      assert.deepStrictEqual(result.errors, [])
      assert.deepStrictEqual(result.steps.map((step) => step.finishReason), ["tool-calls", "stop"])
      assert.deepStrictEqual(result.steps[0]?.toolCalls.map((call) => call.toolName), ["get_weather"])
      assert.include(result.text, "[tool results: rain]")
      assert.strictEqual(yield* lastReasoning, "")
    }))
})
