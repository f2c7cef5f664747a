import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import { ProviderName } from "../src/Ids.ts"
import type * as LlmRequest from "../src/LlmRequest.ts"
import * as Tool from "../src/Tool.ts"
import { Bench, inject, manager, pick, stats } from "./utils/chain.ts"

const Weather = Schema.Struct({ city: Schema.String, days: Schema.Int })

/** A JSON object nested `levels` levels of objects deep (`{}` is one), built without recursion. */
const nested = (levels: number): Record<string, unknown> => {
  let value: Record<string, unknown> = {}
  for (let level = 1; level < levels; level++) value = { a: value }
  return value
}

/** The requests the mock server received, from every provider of the tests below. */
const received = Effect.map(
  Effect.all([stats("deepseek"), stats("openai")]),
  (counts) => counts.reduce((sum, count) => sum + count.requests, 0)
)

const request: LlmRequest.Input = {
  prompt: "What is the weather in Paris?",
  tools: [
    { name: "get_weather", description: "The forecast for a city", parameters: Weather },
    { name: "get_time", parameters: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] } }
  ]
}

describe("tool calls through LlmManager", () => {
  it.live("generateStructured refuses tools the model may call, before any provider is asked", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const before = yield* received
      const error = yield* Effect.flip(llm.generateStructured(request, Weather))
      assert.strictEqual(error._tag, "InvalidOptions")
      assert.strictEqual(error._tag === "InvalidOptions" ? error.field : undefined, "tools")
      assert.strictEqual(yield* received, before)
      // with the tools offered but not to be called, the answer is the schema's
      const weather = yield* llm.generateStructured({ ...request, toolChoice: "none" }, Weather)
      assert.isTrue(Schema.is(Weather)(weather.value))
    }).pipe(Effect.provide(Bench)))

  for (const generateVia of ["stream", "generate"] as const) {
    it.live(`a tool call from a server that reports no usage is billed the estimate of its name and arguments (${generateVia})`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["openai"], policy: { generateVia } })
        yield* inject("openai", MockFault.noUsage)
        const result = yield* llm.generate(request)
        assert.strictEqual(result.finishReason, "tool_calls")
        const args = result.toolCalls?.[0]?.arguments ?? ""
        assert.isAbove(args.length, 8)
        assert.isTrue(result.usage.estimated)
        assert.strictEqual(result.usage.completionTokens, Math.ceil(("get_weather" + args).length / 4))
      }).pipe(Effect.provide(Bench)))
  }

  const cases = (["openai", "anthropic", "gemini"] as const).flatMap((kind) =>
    (["stream", "generate"] as const).map((generateVia) => [kind, generateVia] as const)
  )
  for (const [kind, generateVia] of cases) {
    it.live(`${kind}: the model's tool calls come back on the result (generateVia: ${generateVia})`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: [kind], policy: { generateVia } })
        const result = yield* llm.generate(request)
        assert.strictEqual(result.finishReason, "tool_calls")
        assert.deepStrictEqual(result.toolCalls?.map((call) => call.name), ["get_weather"])
        const args: unknown = JSON.parse(result.toolCalls?.[0]?.arguments ?? "null")
        assert.isTrue(Schema.is(Weather)(args))

        const answer = yield* llm.generate({
          ...request,
          prompt: [
            { role: "user", content: "What is the weather in Paris?" },
            { role: "assistant", content: "", toolCalls: result.toolCalls ?? [] },
            { role: "tool", content: "rain", toolCallId: result.toolCalls?.[0]?.id ?? "" }
          ],
          toolChoice: { tool: "get_weather" }
        })
        // every tool named by the choice was called: the model answers, with the result it was given
        assert.strictEqual(answer.finishReason, "stop")
        assert.include(answer.content, "[tool results: rain]")
      }).pipe(Effect.provide(Bench)))
  }

  it.live("streams carry the assembled tool calls on their Finish", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek"] })
      const parts = yield* Stream.runCollect(llm.stream({ ...request, toolChoice: { tool: "get_time" } }))
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      if (finish?._tag !== "Finish") return
      assert.strictEqual(finish.finishReason, "tool_calls")
      assert.deepStrictEqual(finish.toolCalls?.map((call) => call.name), ["get_time"])
      assert.isString((JSON.parse(finish.toolCalls?.[0]?.arguments ?? "{}") as { zone?: unknown }).zone)
    }).pipe(Effect.provide(Bench)))

  for (const kind of ["openai", "deepseek", "anthropic", "gemini"] as const) {
    it.live(`${kind}: tool calls stream as ToolCallDelta parts before the Finish, which carries them whole`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: [kind] })
        const parts = yield* Stream.runCollect(llm.stream(request))
        const deltas = parts.filter((part) => part._tag === "ToolCallDelta")
        const finish = parts.at(-1)
        assert.strictEqual(finish?._tag, "Finish")
        if (finish?._tag !== "Finish") return
        const call = finish.toolCalls?.[0]
        assert.strictEqual(call?.name, "get_weather")
        assert.isAbove(deltas.length, 0)
        for (const delta of deltas) {
          assert.deepStrictEqual([delta.index, delta.id, delta.name], [0, call?.id, "get_weather"])
        }
        assert.strictEqual(deltas.map((delta) => delta.argumentsDelta).join(""), call?.arguments)
        assert.isTrue(Schema.is(Weather)(JSON.parse(call?.arguments ?? "null")))
      }).pipe(Effect.provide(Bench)))
  }

  it.live("gemini calls get stable ids, answered by the tool's name", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini"] })
      const whole = yield* llm.generate(request)
      const streamed = yield* Stream.runCollect(llm.stream(request))
      const id = whole.toolCalls?.[0]?.id ?? ""
      assert.match(id, /^gemini-call-.+-0$/)
      const finish = streamed.at(-1)
      assert.match(finish?._tag === "Finish" ? finish.toolCalls?.[0]?.id ?? "" : "", /^gemini-call-.+-0$/)
    }).pipe(Effect.provide(Bench)))

  for (const kind of ["openai", "anthropic"] as const) {
    it.live(`${kind}: a stream cut after a tool-call delta fails: nothing spliced from the fallback`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: [kind, "deepseek"], policy: { continueOnInterruption: true } })
        yield* inject(kind, MockFault.cutStream)
        const parts: Array<string> = []
        const error = yield* Effect.flip(
          Stream.runForEach(llm.stream(request), (part) => Effect.sync(() => parts.push(part._tag)))
        )
        assert.strictEqual(error._tag, "StreamInterrupted")
        assert.include(parts, "ToolCallDelta")
        assert.notInclude(parts, "Finish")
        assert.strictEqual((yield* stats("deepseek")).requests, 0)
      }).pipe(Effect.provide(Bench)))
  }

  it.live("a tool-call stream that fails before any delta falls back", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini", "anthropic"] })
      yield* inject("gemini", MockFault.status(503))
      const parts = yield* Stream.runCollect(llm.stream(request))
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag === "Finish" ? finish.provider : undefined, "anthropic")
      assert.isTrue(parts.some((part) => part._tag === "ToolCallDelta"))
    }).pipe(Effect.provide(Bench)))

  it.live("generate restarts a cut answer to a request with tools whole: no prefill continuation", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "gemini"], policy: { generateVia: "stream" } })
      yield* inject("openai", MockFault.cutStream)
      const result = yield* llm.generate({ ...request, toolChoice: "none" })
      assert.strictEqual(result.provider, "gemini")
      assert.strictEqual(result.content, "Mock answer from gemini: What is the weather in Paris?")
    }).pipe(Effect.provide(Bench)))

  it.live("a request with tools is never continued on another provider after a cut stream", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["gemini", "anthropic"],
        policy: { limits: { idleMs: 300 }, continueOnInterruption: true }
      })
      yield* inject("gemini", MockFault.stallMidStream("forever"))
      const error = yield* Effect.flip(Stream.runCollect(llm.stream({ ...request, toolChoice: "none" })))
      assert.strictEqual(error._tag, "StreamInterrupted")
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.live("bad tool definitions fail with InvalidOptions before any network call", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const badName = yield* Effect.flip(llm.generate({ prompt: "x", tools: [{ name: "no spaces", parameters: {} }] }))
      assert.deepStrictEqual([badName._tag, badName._tag === "InvalidOptions" ? badName.field : ""], [
        "InvalidOptions",
        "tools[0]"
      ])
      const twice = yield* Effect.flip(llm.generate({
        prompt: "x",
        tools: [{ name: "a", parameters: { type: "object" } }, { name: "a", parameters: { type: "object" } }]
      }))
      assert.include(twice.message, "used twice")
      const unknownChoice = yield* Effect.flip(llm.generate({ ...request, toolChoice: { tool: "nope" } }))
      assert.include(unknownChoice.message, "no tool named nope")
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(Bench)))
  it.live("a name Gemini refuses (a digit or '-' first) fails with InvalidOptions naming the rule, before any call", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini", "openai"] })
      for (const name of ["3d_render", "-lookup"]) {
        const error = yield* Effect.flip(llm.generate({ prompt: "x", tools: [{ name, parameters: {} }] }))
        assert.deepStrictEqual([error._tag, error._tag === "InvalidOptions" ? error.field : ""], [
          "InvalidOptions",
          "tools[0]"
        ])
        assert.include(error.message, "starting with a letter or '_'")
      }
      assert.deepStrictEqual([(yield* stats("gemini")).requests, (yield* stats("openai")).requests], [0, 0])
      // every provider takes a name that starts with '_' and holds digits and '-' after it
      const parameters = { type: "object", properties: { city: { type: "string" } } }
      const result = yield* llm.generate({ prompt: "x", tools: [{ name: "_render-3d", parameters }] })
      assert.strictEqual(String(result.provider), "gemini")
    }).pipe(Effect.provide(Bench)))
  it.live("a tool schema nested 20,000 levels deep fails with InvalidOptions naming it: no call, circuits closed", () =>
    Effect.gen(function*() {
      // one counted failure would open a circuit
      const llm = yield* manager({
        chain: ["deepseek", "openai"],
        circuit: { failureThreshold: 1, cooldownMs: 60_000 }
      })
      const deep: LlmRequest.Input = {
        prompt: "x",
        tools: [{ name: "fine", parameters: { type: "object" } }, { name: "deep", parameters: nested(20_000) }]
      }
      for (const failed of [Effect.flip(llm.generate(deep)), Effect.flip(Stream.runDrain(llm.stream(deep)))]) {
        const error = yield* failed
        assert.strictEqual(error._tag, "InvalidOptions", error.message)
        assert.strictEqual(error._tag === "InvalidOptions" ? error.field : "", "tools[1].parameters")
        assert.include(error.message, `tools[1].parameters: nested deeper than ${Tool.maxParametersDepth} levels`)
      }
      assert.strictEqual(yield* received, 0)
      for (const provider of ["deepseek", "openai"]) {
        assert.strictEqual((yield* llm.circuitState(ProviderName.make(provider)))._tag, "Closed")
      }
      const next = yield* llm.generate({ prompt: "Name a planet." })
      assert.deepStrictEqual(next.attempts.map(pick("provider", "outcome")), [["deepseek", "success"]])
    }).pipe(Effect.provide(Bench)))

  it.live("tool parameters JSON cannot carry as they are fail with InvalidOptions saying where, before any call", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek"] })
      const cyclic: Record<string, unknown> = { type: "object" }
      cyclic["properties"] = { self: cyclic }
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [cyclic, "/properties/self: a cycle"],
        [{ type: "integer", maximum: 10n }, "/maximum: a bigint is not a JSON value"],
        [{ type: "object", default: () => ({}) }, "/default: a function is not a JSON value"],
        [{ type: "object", default: new Map() }, "/default: a Map is not a JSON value"],
        [{ type: "number", enum: [1, Number.NaN] }, "/enum/1: NaN is not a JSON number"],
        [[{ type: "string" }], "expected a JSON object, got an array"],
        [null, "expected a JSON object, got null"],
        [
          { properties: { deep: nested(Tool.maxParametersDepth - 1) } },
          `nested deeper than ${Tool.maxParametersDepth} levels of objects and arrays`
        ]
      ]
      for (const [parameters, message] of cases) {
        const error = yield* Effect.flip(
          // a caller's value of any type, as a program reading schemas from elsewhere may pass
          llm.generate({ prompt: "x", tools: [{ name: "t", parameters: parameters as Tool.Input["parameters"] }] })
        )
        assert.deepStrictEqual([error._tag, error._tag === "InvalidOptions" ? error.field : ""], [
          "InvalidOptions",
          "tools[0].parameters"
        ])
        assert.include(error.message, `tools[0].parameters: ${message}`)
      }
      assert.strictEqual((yield* stats("deepseek")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.live("tool parameters whose root is no object schema fail with InvalidOptions naming them, before any call", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek"] })
      const City = Schema.Struct({ city: Schema.String })
      const roots: ReadonlyArray<Tool.Input["parameters"]> = [
        { type: "string" },
        { type: ["object", "null"] },
        { properties: {}, not: { type: "null" } },
        { $ref: "#/$defs/City", $defs: { City: { type: "string" } } },
        { anyOf: [{ type: "object" }, { type: "null" }] },
        Schema.Union([City, Schema.Struct({ zip: Schema.String })]),
        Schema.NullOr(City),
        Schema.String
      ]
      for (const parameters of roots) {
        const error = yield* Effect.flip(llm.generate({ prompt: "x", tools: [{ name: "t", parameters }] }))
        assert.deepStrictEqual([error._tag, error._tag === "InvalidOptions" ? error.field : ""], [
          "InvalidOptions",
          "tools[0].parameters"
        ])
        assert.include(error.message, "tools[0].parameters: expected an object schema at the root (type \"object\")")
      }
      assert.strictEqual((yield* stats("deepseek")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.live("tool parameters nested to the limit, sharing subschemas and with undefined fields, are sent", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek"] })
      const shared = { type: "string" }
      const parameters = {
        type: "object",
        description: undefined,
        properties: { a: shared, b: shared, deep: nested(Tool.maxParametersDepth - 2) }
      }
      const result = yield* llm.generate({
        prompt: "Name a planet.",
        tools: [{ name: "t", parameters }],
        toolChoice: "none"
      })
      assert.strictEqual(result.finishReason, "stop")
      assert.strictEqual((yield* stats("deepseek")).requests, 1)
    }).pipe(Effect.provide(Bench)))
})
