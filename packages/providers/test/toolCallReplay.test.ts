/**
 * A tool loop with a reasoning model: the caller puts the tool calls of an
 * answer (`result.toolCalls`, a stream's `Finish.toolCalls`) on the next
 * `assistant` message, then the tools' results, and asks again. What the
 * model needs sent back with its calls goes back with them, unasked:
 * Gemini 3's `thoughtSignature` on the call's part (else Gemini answers
 * 400 "Function call is missing a thought_signature"), DeepSeek's thinking
 * mode's `reasoning_content` on the assistant message (else 400 "Missing
 * `reasoning_content` field"). A call another provider made (a fallback in
 * the middle of the loop) gets what Google and DeepSeek document for it:
 * Gemini the signature `skip_thought_signature_validator`, DeepSeek an empty
 * `reasoning_content`; and what one provider asked to have sent back never
 * reaches another. Through `LlmManager`, over real HTTP against the mock
 * server, whose Gemini 3 models sign their calls and DeepSeek's
 * `deepseek-reasoner` reasons, and both check what comes back as the real
 * APIs do; the second request's body is read as the server received it.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import type * as LlmRequest from "@baton/core/LlmRequest"
import type * as Tool from "@baton/core/Tool"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"
import * as Replay from "../src/internal/replay.ts"
import * as ToolStream from "../src/internal/toolStream.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as Turns from "./utils/turns.ts"

const apiKey = Redacted.make("sk-test-key")

const weather = {
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}
const time = { name: "get_time", parameters: { type: "object", properties: {} } }

const question: LlmRequest.Message = { role: "user", content: "Weather in Oslo?" }

/** A replay of `provider` and `model`. */
const replayOf = (provider: string, model: string, echo: Replay.Echo): Tool.Replay => ({
  provider: ProviderName.make(provider),
  model: ModelId.make(model),
  ...echo
})

type Kind = "gemini" | "deepseek" | "openai"

/** The reasoning models the mock plays: a Gemini 3 model signs its calls, `deepseek-reasoner` reasons. */
const layers = (server: MockProviderServer.MockProviderServer["Service"]) => ({
  gemini: Gemini.layer({ apiKey, baseUrl: server.baseUrl("gemini"), model: "gemini-3.5-flash" }),
  deepseek: DeepSeek.layer({ apiKey, baseUrl: server.baseUrl("deepseek"), model: "deepseek-reasoner" }),
  openai: OpenAi.layer({ apiKey, baseUrl: server.baseUrl("openai") })
})

const managerOver = (chain: ReadonlyArray<Kind>, via: Turns.Via) =>
  Turns.managerOver((server) => {
    const all = layers(server)
    return chain.map((kind) => all[kind])
  }, via)

/** Asks `prompt` with `tools` (the weather's by default). */
const ask = (
  llm: LlmManager.Service,
  prompt: ReadonlyArray<LlmRequest.Message>,
  via: Turns.Via,
  tools: ReadonlyArray<Tool.Input> = [weather]
) => Turns.ask(llm, prompt, via, tools)

/** The conversation after an answer that called tools: its calls on an assistant message, then their results. */
const answered = (prompt: ReadonlyArray<LlmRequest.Message>, calls: ReadonlyArray<Tool.ToolCall>) => [
  ...prompt,
  { role: "assistant" as const, content: "", toolCalls: calls },
  ...calls.map((call) => ({ role: "tool" as const, content: "rain", toolCallId: call.id, name: call.name }))
]

/** The body of the last request `kind` received. */
const lastBody = (kind: Kind) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const received = yield* server.received(kind)
    const body = received.at(-1)?.body
    assert.isObject(body)
    return body as Record<string, unknown>
  })

/** The `i`th entry of an array field of a body, as an object. */
const entry = (body: Record<string, unknown>, field: string, i: number): Record<string, unknown> => {
  const list = body[field]
  assert.isArray(list)
  const item = (list as ReadonlyArray<unknown>)[i]
  assert.isObject(item)
  return item as Record<string, unknown>
}

/** The parts of the `i`th content of a Gemini body. */
const partsOf = (body: Record<string, unknown>, i: number): ReadonlyArray<Record<string, unknown>> => {
  const parts = entry(body, "contents", i).parts
  assert.isArray(parts)
  return parts as ReadonlyArray<Record<string, unknown>>
}

/** The signature the mock's Gemini 3 gives the call of a step of the loop. */
const signatureOf = (callId: string) => Buffer.from(`mock-thought:${callId}`).toString("base64")
const mockSignature = signatureOf("call_1_get_weather")

/** The reasoning the mock's `deepseek-reasoner` writes before a step of the loop. */
const reasoningOf = (step: number) => `Mock reasoning from deepseek, step ${step}: the user asked "Weather in Oslo?".`
const mockReasoning = reasoningOf(1)

/** Asks until the model answers with text, each answer's calls and their results added to the conversation. */
const loop = (llm: LlmManager.Service, via: Turns.Via, tools: ReadonlyArray<Tool.Input>) =>
  Effect.gen(function*() {
    let prompt: ReadonlyArray<LlmRequest.Message> = [question]
    let turn = yield* ask(llm, prompt, via, tools)
    while (turn.toolCalls !== undefined) {
      prompt = answered(prompt, turn.toolCalls)
      turn = yield* ask(llm, prompt, via, tools)
    }
    return turn
  })

const SKIP = "skip_thought_signature_validator"

describe("a tool loop with a reasoning model", () => {
  for (const via of Turns.vias) {
    it.live(`Gemini 3 (${via}): the call's thoughtSignature goes back on its functionCall part`, () =>
      Effect.gen(function*() {
        const llm = yield* managerOver(["gemini"], via)
        const first = yield* ask(llm, [question], via)
        assert.strictEqual(first.finishReason, "tool_calls")
        const calls = first.toolCalls ?? []
        assert.deepStrictEqual(calls.map((call) => [call.name, call.replay]), [
          ["get_weather", replayOf("gemini", "gemini-3.5-flash", { signature: mockSignature })]
        ])
        const second = yield* ask(llm, answered([question], calls), via)
        assert.strictEqual(second.finishReason, "stop")
        assert.include(second.content, "[tool results: rain]")
        const parts = partsOf(yield* lastBody("gemini"), 1)
        assert.strictEqual(parts[0]?.thoughtSignature, mockSignature)
        assert.deepStrictEqual(Object.keys(parts[0]?.functionCall ?? {}), ["name", "args"])
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live(`DeepSeek thinking mode (${via}): the reasoning goes back as the message's reasoning_content`, () =>
      Effect.gen(function*() {
        const llm = yield* managerOver(["deepseek"], via)
        const first = yield* ask(llm, [question], via)
        assert.strictEqual(first.finishReason, "tool_calls")
        assert.strictEqual(first.content, "")
        const calls = first.toolCalls ?? []
        assert.deepStrictEqual(calls.map((call) => call.replay), [
          replayOf("deepseek", "deepseek-reasoner", { reasoning: mockReasoning })
        ])
        const second = yield* ask(llm, answered([question], calls), via)
        assert.strictEqual(second.finishReason, "stop")
        assert.include(second.content, "[tool results: rain]")
        const assistant = entry(yield* lastBody("deepseek"), "messages", 1)
        assert.strictEqual(assistant.reasoning_content, mockReasoning)
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live(`two steps (${via}): each call goes back with its own signature, each message with its own reasoning`, () =>
      Effect.gen(function*() {
        const gemini = yield* loop(yield* managerOver(["gemini"], via), via, [weather, time])
        assert.include(gemini.content, "[tool results: rain; rain]")
        const contents = yield* lastBody("gemini")
        assert.deepStrictEqual([1, 3].map((i) => partsOf(contents, i)[0]?.thoughtSignature), [
          mockSignature,
          signatureOf("call_2_get_time")
        ])
        const deepSeek = yield* loop(yield* managerOver(["deepseek"], via), via, [weather, time])
        assert.include(deepSeek.content, "[tool results: rain; rain]")
        const messages = yield* lastBody("deepseek")
        assert.deepStrictEqual([1, 3].map((i) => entry(messages, "messages", i).reasoning_content), [
          reasoningOf(1),
          reasoningOf(2)
        ])
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live(`DeepSeek thinking mode (${via}): a new question after a tool loop, its answer sent back too`, () =>
      Effect.gen(function*() {
        const llm = yield* managerOver(["deepseek"], via)
        // user, assistant(tool_calls), tool, assistant(text): DeepSeek wants a reasoning_content on both
        // assistant messages of that span in every later request, the text answer's included
        const calls = answered([question], (yield* ask(llm, [question], via)).toolCalls ?? [])
        const answer = yield* ask(llm, calls, via)
        assert.include(answer.content, "[tool results: rain]")
        const prompt = [
          ...calls,
          { role: "assistant" as const, content: answer.content },
          { role: "user" as const, content: "And in Rome?" }
        ]
        const third = yield* ask(llm, prompt, via)
        assert.strictEqual(third.finishReason, "stop")
        const body = yield* lastBody("deepseek")
        assert.deepStrictEqual([1, 3].map((i) => entry(body, "messages", i).reasoning_content), [mockReasoning, ""])
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.live("a call Gemini made, sent to DeepSeek after a fallback: an empty reasoning_content, never the signature", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* managerOver(["deepseek", "gemini"], "generate")
      yield* server.inject("deepseek", MockFault.status(503))
      const first = yield* ask(llm, [question], "generate")
      assert.strictEqual(first.provider, "gemini")
      const second = yield* ask(llm, answered([question], first.toolCalls ?? []), "generate")
      assert.strictEqual(second.provider, "deepseek")
      assert.include(second.content, "[tool results: rain]")
      const body = yield* lastBody("deepseek")
      assert.strictEqual(entry(body, "messages", 1).reasoning_content, "")
      assert.notInclude(JSON.stringify(body), mockSignature)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a call DeepSeek made, sent to Gemini 3 after a fallback: the skip signature, never the reasoning", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* managerOver(["gemini", "deepseek"], "generate")
      yield* server.inject("gemini", MockFault.status(503))
      const first = yield* ask(llm, [question], "generate")
      assert.strictEqual(first.provider, "deepseek")
      const second = yield* ask(llm, answered([question], first.toolCalls ?? []), "generate")
      assert.strictEqual(second.provider, "gemini")
      assert.include(second.content, "[tool results: rain]")
      const body = yield* lastBody("gemini")
      assert.strictEqual(partsOf(body, 1)[0]?.thoughtSignature, SKIP)
      assert.notInclude(JSON.stringify(body), "Mock reasoning")
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("DeepSeek's reasoning never reaches OpenAI, which speaks the same wire format", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* managerOver(["deepseek", "openai"], "generate")
      const first = yield* ask(llm, [question], "generate")
      assert.strictEqual(first.provider, "deepseek")
      yield* server.inject("deepseek", MockFault.status(503))
      const second = yield* ask(llm, answered([question], first.toolCalls ?? []), "generate")
      assert.strictEqual(second.provider, "openai")
      const assistant = entry(yield* lastBody("openai"), "messages", 1)
      assert.deepStrictEqual(Object.keys(assistant).sort(), ["content", "role", "tool_calls"])
      assert.notInclude(JSON.stringify(yield* lastBody("openai")), "Mock reasoning")
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a tool call the caller wrote, to Gemini 3: the skip signature on the first call of the turn only", () =>
    Effect.gen(function*() {
      const llm = yield* managerOver(["gemini"], "generate")
      const calls: ReadonlyArray<Tool.ToolCall> = [
        { id: "a", name: "get_weather", arguments: "{\"city\":\"Oslo\"}" },
        { id: "b", name: "get_weather", arguments: "{\"city\":\"Rome\"}" }
      ]
      const answer = yield* ask(llm, answered([question], calls), "generate")
      assert.include(answer.content, "[tool results: rain; rain]")
      const parts = partsOf(yield* lastBody("gemini"), 1)
      assert.deepStrictEqual(parts.map((part) => part.thoughtSignature), [SKIP, undefined])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

describe("the reasoning kept for a call's replay", () => {
  it("a stream's reasoning is kept whole up to maxReasoningChars, none past it", () => {
    const calls = (pieces: ReadonlyArray<string>) => {
      const tools = ToolStream.make()
      for (const piece of pieces) tools.reason(piece)
      tools.feed(0, { id: "c1", name: "get_weather" })
      return tools.calls()?.map((call) => call.echo?.reasoning?.length)
    }
    const half = "x".repeat(Replay.maxReasoningChars / 2)
    assert.deepStrictEqual(calls([half, half]), [Replay.maxReasoningChars])
    assert.deepStrictEqual(calls([half, half, "x"]), [undefined])
  })

  it.live("a plain reply's reasoning is kept up to the same limit as a stream's", () =>
    Effect.gen(function*() {
      const reply = (reasoning: string) => ({
        body: {
          id: "r1",
          choices: [{
            index: 0,
            message: {
              role: "assistant",
              content: null,
              reasoning_content: reasoning,
              tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: "{}" } }]
            },
            finish_reason: "tool_calls"
          }],
          usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 }
        },
        events: []
      })
      const server = yield* RawServer.start(reply("x".repeat(Replay.maxReasoningChars)))
      const llm = yield* LlmManager.make({
        providers: [DeepSeek.layer({ apiKey, baseUrl: server.url, model: "deepseek-reasoner" })],
        policy: FallbackPolicy.make({ maxRetries: 0, generateVia: "generate" }),
        generationEnabled: true
      })
      const reasoningLength = Effect.map(
        llm.generate({ prompt: [question], tools: [weather] }),
        (result) => result.toolCalls?.map((call) => call.replay?.reasoning?.length)
      )
      assert.deepStrictEqual(yield* reasoningLength, [Replay.maxReasoningChars])
      server.set(reply("x".repeat(Replay.maxReasoningChars + 1)))
      assert.deepStrictEqual(yield* reasoningLength, [undefined])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
