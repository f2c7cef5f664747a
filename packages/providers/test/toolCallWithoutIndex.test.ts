/**
 * How streamed OpenAI-format `delta.tool_calls` fragments make calls.
 * Some OpenAI-compatible servers stream tool calls without the `index` of
 * each fragment. The calls are then told apart by `id`: a fragment with an
 * id not seen yet opens a new call, one with a known id continues that call,
 * and one with neither index nor id continues the last call, unless it names
 * a tool and the last call's arguments are whole JSON (or there is none): it
 * then opens a new call. Under an `index`, a fragment whose id differs from
 * the call the index stands for opens a new call (Gemini's endpoint sends
 * whole calls all under index 0), and an index never lands on a call opened
 * without one. A name repeated on every fragment is not appended. An empty
 * `id` is no id; a call that ends without one gets a generated id, streamed
 * or not. Through `LlmManager`, over real HTTP from a server that sends
 * exactly the given events (or body).
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

/** The calls a stream of `events` ends with, ids included. */
const wholeCallsOf = (events: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const llm = yield* managerOver(events)
    const parts = yield* Stream.runCollect(llm.stream({ prompt: "Weather and time in Oslo?", tools }))
    return finishOf(parts)?.toolCalls?.map((call) => ({ id: call.id, name: call.name, arguments: call.arguments }))
  })

/** What Baton names a call the server sent without an id. */
const generatedId = /^baton-call-[A-Za-z0-9]+-\d+$/

describe("streamed tool calls by index (OpenAI-compatible)", () => {
  it.live("OpenAI's own stream: fragments under index 0 and 1, the id on first fragments (or repeated), assemble as sent", () =>
    Effect.gen(function*() {
      const calls = yield* wholeCallsOf([
        chunk([{ index: 0, ...opening("call_a") }]),
        chunk([{ index: 0, function: { arguments: "{\"city\":" } }]),
        chunk([{ index: 0, id: "call_a", function: { arguments: "\"Oslo\"}" } }]),
        chunk([{ index: 1, id: "call_b", type: "function", function: { name: "get_time", arguments: "" } }]),
        chunk([{ index: 1, function: { arguments: "{" } }]),
        chunk([{ index: 1, function: { arguments: "}" } }]),
        ...ending
      ])
      assert.deepStrictEqual(calls, [
        { id: "call_a", name: "get_weather", arguments: "{\"city\":\"Oslo\"}" },
        { id: "call_b", name: "get_time", arguments: "{}" }
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("Gemini's OpenAI-compatible endpoint: whole calls, each with its own id, all under index 0, stay apart", () =>
    Effect.gen(function*() {
      const calls = yield* wholeCallsOf([
        chunk([{
          index: 0,
          id: "function-call-1",
          type: "function",
          function: { name: "get_weather", arguments: "{\"city\":\"Oslo\"}" }
        }]),
        chunk([{ index: 0, id: "function-call-2", type: "function", function: { name: "get_time", arguments: "{}" } }]),
        ...ending
      ])
      assert.deepStrictEqual(calls, [
        { id: "function-call-1", name: "get_weather", arguments: "{\"city\":\"Oslo\"}" },
        { id: "function-call-2", name: "get_time", arguments: "{}" }
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("an index-less call, then one under index 0: two calls", () =>
    Effect.gen(function*() {
      const calls = yield* wholeCallsOf([
        chunk([{
          id: "call_a",
          type: "function",
          function: { name: "get_weather", arguments: "{\"city\":\"Oslo\"}" }
        }]),
        chunk([{ index: 0, id: "call_b", type: "function", function: { name: "get_time", arguments: "{}" } }]),
        ...ending
      ])
      assert.deepStrictEqual(calls, [
        { id: "call_a", name: "get_weather", arguments: "{\"city\":\"Oslo\"}" },
        { id: "call_b", name: "get_time", arguments: "{}" }
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a server repeating function.name on every fragment under an index: the name is not appended", () =>
    Effect.gen(function*() {
      const calls = yield* wholeCallsOf([
        chunk([{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }]),
        chunk([{ index: 0, function: { name: "get_weather", arguments: "{\"city\":" } }]),
        chunk([{ index: 0, function: { name: "get_weather", arguments: "\"Oslo\"}" } }]),
        ...ending
      ])
      assert.deepStrictEqual(calls, [{ id: "call_a", name: "get_weather", arguments: "{\"city\":\"Oslo\"}" }])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("repeated function.name, neither index nor id: a call goes on until its arguments are whole JSON", () =>
    Effect.gen(function*() {
      const named = (name: string, args: string) => ({ type: "function", function: { name, arguments: args } })
      const calls = yield* callsOf([
        chunk([named("get_weather", "")]),
        chunk([named("get_weather", "{\"city\":")]),
        chunk([named("get_weather", "\"Oslo\"}")]),
        chunk([named("get_weather", "{\"city\":\"Rome\"}")]),
        chunk([named("get_time", "{}")]),
        ...ending
      ])
      assert.deepStrictEqual(calls, [
        ["get_weather", "{\"city\":\"Oslo\"}"],
        ["get_weather", "{\"city\":\"Rome\"}"],
        ["get_time", "{}"]
      ])
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("neither index nor id: a call naming another tool opens a new call, the last one's arguments empty", () =>
    Effect.gen(function*() {
      const named = (name: string, args: string) => ({ type: "function", function: { name, arguments: args } })
      const calls = yield* callsOf([chunk([named("get_time", "")]), chunk([named("get_weather", "{}")]), ...ending])
      assert.deepStrictEqual(calls, [["get_time", "{}"], ["get_weather", "{}"]])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

describe("tool calls without an id (OpenAI-compatible)", () => {
  it.live("streamed under indexes, one id empty, one absent: each gets a generated id, no two alike", () =>
    Effect.gen(function*() {
      const calls = yield* wholeCallsOf([
        chunk([{ index: 0, id: "", type: "function", function: { name: "get_weather", arguments: "{\"city\":" } }]),
        chunk([{ index: 0, id: "", function: { arguments: "\"Oslo\"}" } }]),
        chunk([{ index: 1, type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Rome\"}" } }]),
        ...ending
      ])
      assert.deepStrictEqual(calls?.map((call) => call.arguments), ["{\"city\":\"Oslo\"}", "{\"city\":\"Rome\"}"])
      const ids = calls?.map((call) => call.id) ?? []
      for (const id of ids) assert.match(id, generatedId)
      assert.strictEqual(new Set(ids).size, 2)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("streamed, indexed and index-less mixed: each id-less call gets a generated id, no two alike", () =>
    Effect.gen(function*() {
      const calls = yield* wholeCallsOf([
        chunk([{
          index: 0,
          id: "",
          type: "function",
          function: { name: "get_weather", arguments: "{\"city\":\"Oslo\"}" }
        }]),
        chunk([{ index: 1, type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Rome\"}" } }]),
        chunk([{ type: "function", function: { name: "get_time", arguments: "{}" } }]),
        chunk([{ index: 2, id: "call_c", type: "function", function: { name: "get_time", arguments: "{}" } }]),
        ...ending
      ])
      assert.deepStrictEqual(calls?.map((call) => [call.name, call.arguments]), [
        ["get_weather", "{\"city\":\"Oslo\"}"],
        ["get_weather", "{\"city\":\"Rome\"}"],
        ["get_time", "{}"],
        ["get_time", "{}"]
      ])
      const ids = calls?.map((call) => call.id) ?? []
      assert.strictEqual(ids[3], "call_c")
      for (const id of ids.slice(0, 3)) assert.match(id, generatedId)
      assert.strictEqual(new Set(ids).size, 4)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("plain reply: a tool_calls entry without an id, or with an empty one, gets a generated id", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({
        body: {
          choices: [{
            index: 0,
            message: {
              role: "assistant",
              content: null,
              tool_calls: [
                { type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Oslo\"}" } },
                { id: "", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Rome\"}" } },
                { id: "call_c", type: "function", function: { name: "get_time", arguments: "{}" } }
              ]
            },
            finish_reason: "tool_calls"
          }],
          usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 }
        },
        events: []
      })
      const llm = yield* LlmManager.make({
        providers: [OpenAiCompatible.layer({ name: "local-llm", baseUrl: server.url, model: "llama-3.1-8b", apiKey })],
        policy: FallbackPolicy.make({ maxRetries: 0, generateVia: "generate" }),
        generationEnabled: true
      })
      const result = yield* llm.generate({ prompt: "Weather in Oslo and Rome, time?", tools })
      const calls = result.toolCalls ?? []
      assert.deepStrictEqual(calls.map((call) => call.name), ["get_weather", "get_weather", "get_time"])
      const ids = calls.map((call) => call.id)
      assert.strictEqual(ids[2], "call_c")
      for (const id of ids.slice(0, 2)) assert.match(id, generatedId)
      assert.strictEqual(new Set(ids).size, 3)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
