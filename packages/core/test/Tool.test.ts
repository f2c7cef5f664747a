import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import type * as LlmRequest from "../src/LlmRequest.ts"
import { Bench, inject, manager, stats } from "./utils/chain.ts"

const Weather = Schema.Struct({ city: Schema.String, days: Schema.Int })

const request: LlmRequest.Input = {
  prompt: "What is the weather in Paris?",
  tools: [
    { name: "get_weather", description: "The forecast for a city", parameters: Weather },
    { name: "get_time", parameters: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] } }
  ]
}

describe("tool calls through LlmManager", () => {
  const cases = (["openai", "anthropic"] as const).flatMap((kind) =>
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
            { role: "tool", content: "\"rain\"", toolCallId: result.toolCalls?.[0]?.id ?? "", name: "get_weather" }
          ],
          toolChoice: { tool: "get_weather" }
        })
        // every tool named by the choice was called: the model answers, with the result it was given
        assert.strictEqual(answer.finishReason, "stop")
        assert.include(answer.content, "[tool results: \"rain\"]")
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
        tools: [{ name: "a", parameters: {} }, { name: "a", parameters: {} }]
      }))
      assert.include(twice.message, "used twice")
      const unknownChoice = yield* Effect.flip(llm.generate({ ...request, toolChoice: { tool: "nope" } }))
      assert.include(unknownChoice.message, "no tool named nope")
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(Bench)))
})
