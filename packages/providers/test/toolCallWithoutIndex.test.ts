/**
 * Some OpenAI-compatible servers stream tool calls without the `index` of
 * each `delta.tool_calls` fragment. The calls are then told apart by `id`: a
 * fragment with an id not seen yet opens a new call, one with a known id
 * continues that call, and one with neither index nor id continues the last
 * call, unless it names a tool and the last call already has its name (or
 * there is none): it then opens a new call. An empty `id` is no id. Through
 * `LlmManager`, over real HTTP from a server that sends exactly the given
 * events.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { StreamPart } from "@baton/core/GenerationResult"
import * as LlmManager from "@baton/core/LlmManager"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

const apiKey = Redacted.make("sk-test-key")

const tools = [{ name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }]

const chunk = (toolCalls: ReadonlyArray<object>, finish: string | null = null) => ({
  choices: [{ index: 0, delta: { tool_calls: toolCalls }, finish_reason: finish }]
})
const opening = (id: string) => ({ id, type: "function", function: { name: "get_weather", arguments: "" } })
const more = (args: string) => ({ function: { arguments: args } })

/** Two calls, no fragment with an `index`: each call opened by its id, continued by fragments without one. */
const events = [
  chunk([opening("call_a")]),
  chunk([more("{\"city\":")]),
  chunk([more("\"Oslo\"}")]),
  chunk([opening("call_b")]),
  chunk([{ id: "call_b", function: { arguments: "{\"city\":" } }]),
  chunk([more("\"Rome\"}")]),
  { choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] },
  { choices: [], usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 } },
  "[DONE]"
]

const expected = [
  { id: "call_a", name: "get_weather", arguments: "{\"city\":\"Oslo\"}" },
  { id: "call_b", name: "get_weather", arguments: "{\"city\":\"Rome\"}" }
]

const finishOf = (parts: ReadonlyArray<StreamPart>) => {
  const finish = parts.at(-1)
  return finish?._tag === "Finish" ? finish : undefined
}

const ending = [
  { choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] },
  { choices: [], usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 } },
  "[DONE]"
]

/** A manager over one OpenAI-compatible server that streams exactly `events`. */
const managerOver = (events: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start({ body: {}, events })
    return yield* LlmManager.make({
      providers: [OpenAiCompatible.layer({ name: "local-llm", baseUrl: server.url, model: "llama-3.1-8b", apiKey })],
      policy: FallbackPolicy.make({ maxRetries: 0 }),
      generationEnabled: true
    })
  })

/** The name and arguments of the calls a stream of `events` ends with. */
const callsOf = (events: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const llm = yield* managerOver(events)
    const parts = yield* Stream.runCollect(llm.stream({ prompt: "Weather and time in Oslo?", tools }))
    return finishOf(parts)?.toolCalls?.map((call) => [call.name, call.arguments])
  })

describe("streamed tool calls without index (OpenAI-compatible)", () => {
  it.live("told apart by id: the deltas are numbered by call and the Finish carries both calls", () =>
    Effect.gen(function*() {
      const llm = yield* managerOver(events)
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "Weather in Oslo and Rome?", tools }))
      const deltas = parts.flatMap((part) => part._tag === "ToolCallDelta" ? [[part.index, part.id]] : [])
      assert.deepStrictEqual(deltas, [[0, "call_a"], [0, "call_a"], [0, "call_a"], [1, "call_b"], [1, "call_b"], [
        1,
        "call_b"
      ]])
      assert.strictEqual(finishOf(parts)?.finishReason, "tool_calls")
      assert.deepStrictEqual(finishOf(parts)?.toolCalls, expected)
      const result = yield* llm.generate({ prompt: "Weather in Oslo and Rome?", tools })
      assert.deepStrictEqual(result.toolCalls, expected)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("neither index nor id: a fragment naming a tool after a named call opens a new call", () =>
    Effect.gen(function*() {
      const whole = (name: string, args: string) => ({ type: "function", function: { name, arguments: args } })
      const calls = yield* callsOf([
        chunk([{ id: "call_a", ...whole("get_weather", "{\"city\":\"Oslo\"}") }]),
        chunk([whole("get_time", "{}")]),
        chunk([whole("get_weather", "{\"city\":\"Rome\"}")]),
        ...ending
      ])
      assert.deepStrictEqual(calls, [
        ["get_weather", "{\"city\":\"Oslo\"}"],
        ["get_time", "{}"],
        ["get_weather", "{\"city\":\"Rome\"}"]
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("an empty id is no id: the first fragment opens the call, the rest continue it", () =>
    Effect.gen(function*() {
      const calls = yield* callsOf([
        chunk([{ id: "", type: "function", function: { name: "get_weather", arguments: "" } }]),
        chunk([{ id: "", function: { arguments: "{\"city\":" } }]),
        chunk([more("\"Oslo\"}")]),
        ...ending
      ])
      assert.deepStrictEqual(calls, [["get_weather", "{\"city\":\"Oslo\"}"]])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
