/**
 * Claude asked to think in a tool loop whose calls it cannot send back with
 * their thinking: calls another provider made (DeepSeek, Gemini, after a
 * fallback), another Claude model made, or the caller wrote. A replay goes
 * only to the provider and model that made the call, and Anthropic answers
 * 400 to a `tool_use` turn of the current tool loop (after the last user
 * message) that does not start with its thinking block, so such a request is
 * sent `thinking: { type: "disabled" }`: Anthropic's stand-in, thinking
 * cannot be resumed without the original blocks. A new question after such
 * a loop thinks again.
 *
 * Through `LlmManager`, over real HTTP against the mock server, whose
 * Anthropic answers that 400 as the API does.
 */
import { ModelId, ProviderName } from "@baton/core/Ids"
import type * as LlmManager from "@baton/core/LlmManager"
import type * as LlmRequest from "@baton/core/LlmRequest"
import type * as Tool from "@baton/core/Tool"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"
import * as Json from "../src/internal/json.ts"
import * as Turns from "./utils/turns.ts"

const apiKey = Redacted.make("sk-test-key")

const OLDER = "claude-haiku-4-5"
const ADAPTIVE = "claude-sonnet-5-5"
const models = [OLDER, ADAPTIVE] as const

/** What each model is sent when it thinks. */
const thinkingOn = { [OLDER]: { type: "enabled", budget_tokens: 16_384 }, [ADAPTIVE]: { type: "adaptive" } }

const weather = {
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}

const time = { name: "get_time", parameters: { type: "object", properties: {} } }

const question: LlmRequest.Message = { role: "user", content: "Weather in Oslo?" }

/** The conversation after an answer that called tools: its calls on an assistant message, then their results. */
const answered = (prompt: ReadonlyArray<LlmRequest.Message>, calls: ReadonlyArray<Tool.ToolCall>) => [
  ...prompt,
  { role: "assistant" as const, content: "", toolCalls: calls },
  ...calls.map((call) => ({ role: "tool" as const, content: "rain", toolCallId: call.id, name: call.name }))
]

/** One turn with reasoning `"high"` and `tools` (the weather's by default), `via`'s way. */
const ask = (
  llm: LlmManager.Service,
  prompt: ReadonlyArray<LlmRequest.Message>,
  via: Turns.Via,
  tools: ReadonlyArray<Tool.Input> = [weather]
) => Turns.ask(llm, prompt, via, tools, { reasoning: "high", maxTokens: 20_000 })

/** The body of the last request the mock's Anthropic received. */
const lastBody = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const body = (yield* mock.received("anthropic")).at(-1)?.body
  return Json.isObject(body) ? body : assert.fail("no JSON body received")
})

/** The block types of each message of a body. */
const blockTypes = (body: Json.JsonObject) =>
  (body.messages as ReadonlyArray<Json.JsonObject>).map((message) =>
    Array.isArray(message.content) ? message.content.map((block) => Json.isObject(block) ? block.type : "?") : "text"
  )

type Other = "deepseek" | "gemini"

const others: ReadonlyArray<Other> = ["deepseek", "gemini"]

/** A manager over Claude `model` then `other` (a reasoning model of each). */
const chain = (model: string, other: Other, via: Turns.Via) =>
  Turns.managerOver((server) => [
    Anthropic.layer({ apiKey, baseUrl: server.baseUrl("anthropic"), model }),
    other === "deepseek"
      ? DeepSeek.layer({ apiKey, baseUrl: server.baseUrl("deepseek"), model: "deepseek-reasoner" })
      : Gemini.layer({ apiKey, baseUrl: server.baseUrl("gemini"), model: "gemini-3.5-flash" })
  ], via)

describe("Claude asked to think over calls it cannot send back with their thinking: thinking disabled", () => {
  for (const model of models) {
    for (const via of Turns.vias) {
      for (const other of others) {
        it.live(`${model} (${via}): calls ${other} made after a fallback`, () =>
          Effect.gen(function*() {
            const mock = yield* MockProviderServer.MockProviderServer
            const llm = yield* chain(model, other, via)
            yield* mock.inject("anthropic", MockFault.status(503))
            const first = yield* ask(llm, [question], via)
            assert.strictEqual(first.provider, ProviderName.make(other))
            const second = yield* ask(llm, answered([question], first.toolCalls ?? []), via)
            assert.strictEqual(second.provider, "anthropic")
            assert.include(second.content, "[tool results: rain]")
            const body = yield* lastBody
            assert.deepStrictEqual(body.thinking, { type: "disabled" })
            assert.isUndefined(body.output_config)
            assert.deepStrictEqual(blockTypes(body), ["text", ["tool_use"], ["tool_result"]])
          }).pipe(Effect.provide(Bench), Effect.scoped))
      }

      it.live(`${model} (${via}): calls the caller wrote`, () =>
        Effect.gen(function*() {
          const llm = yield* chain(model, "deepseek", via)
          const calls: ReadonlyArray<Tool.ToolCall> = [
            { id: "a", name: "get_weather", arguments: "{\"city\":\"Oslo\"}" },
            { id: "b", name: "get_weather", arguments: "{\"city\":\"Rome\"}" }
          ]
          const answer = yield* ask(llm, answered([question], calls), via)
          assert.strictEqual(answer.provider, "anthropic")
          assert.include(answer.content, "[tool results: rain; rain]")
          assert.deepStrictEqual((yield* lastBody).thinking, { type: "disabled" })
        }).pipe(Effect.provide(Bench), Effect.scoped))

      it.live(`${model} (${via}): a loop Claude thought in, then DeepSeek called after a fallback`, () =>
        Effect.gen(function*() {
          const mock = yield* MockProviderServer.MockProviderServer
          const llm = yield* chain(model, "deepseek", via)
          const first = yield* ask(llm, [question], via, [weather, time])
          assert.strictEqual(first.provider, "anthropic")
          assert.strictEqual(first.toolCalls?.[0]?.replay?.provider, ProviderName.make("anthropic"))
          const once = answered([question], first.toolCalls ?? [])
          yield* mock.inject("anthropic", MockFault.status(503))
          const second = yield* ask(llm, once, via, [weather, time])
          assert.strictEqual(second.provider, "deepseek")
          const calls = second.toolCalls ?? assert.fail("DeepSeek called no tool")
          const third = yield* ask(llm, answered(once, calls), via, [weather, time])
          assert.strictEqual(third.provider, "anthropic")
          const body = yield* lastBody
          assert.deepStrictEqual(body.thinking, { type: "disabled" })
          // Claude's own thinking still goes back with its own calls
          assert.deepStrictEqual(blockTypes(body).slice(1), [
            ["thinking", "tool_use"],
            ["tool_result"],
            ["tool_use"],
            ["tool_result"]
          ])
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }
  }

  for (const via of Turns.vias) {
    it.live(`(${via}): calls another Claude model made`, () =>
      Effect.gen(function*() {
        const older = yield* chain(OLDER, "deepseek", via)
        const first = yield* ask(older, [question], via)
        assert.deepStrictEqual(first.toolCalls?.[0]?.replay?.model, ModelId.make(OLDER))
        const adaptive = yield* chain(ADAPTIVE, "deepseek", via)
        const second = yield* ask(adaptive, answered([question], first.toolCalls ?? []), via)
        assert.strictEqual(second.provider, "anthropic")
        const body = yield* lastBody
        assert.strictEqual(body.model, ADAPTIVE)
        assert.deepStrictEqual(body.thinking, { type: "disabled" })
        assert.deepStrictEqual(blockTypes(body)[1], ["tool_use"])
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})

describe("Claude asked to think after such a loop, on a new question: it thinks", () => {
  for (const model of models) {
    for (const via of Turns.vias) {
      it.live(`${model} (${via}): the loop before the last user message needs no thinking`, () =>
        Effect.gen(function*() {
          const llm = yield* chain(model, "deepseek", via)
          const calls: ReadonlyArray<Tool.ToolCall> = [{ id: "a", name: "get_weather", arguments: "{}" }]
          const prompt = [
            ...answered([question], calls),
            { role: "assistant" as const, content: "It rains in Oslo." },
            { role: "user" as const, content: "And in Rome?" }
          ]
          const answer = yield* ask(llm, prompt, via)
          assert.strictEqual(answer.provider, "anthropic")
          const body = yield* lastBody
          assert.deepStrictEqual(body.thinking, thinkingOn[model])
          assert.isUndefined(body.temperature)
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }
  }
})
