/**
 * A streamed tool call's replay on the delta that brought it: Gemini 3 signs
 * each call, sent whole in one fragment, so the delta that opens the call
 * carries its `Tool.Replay`, stamped with the provider and the model, as the
 * `Finish`'s call does (a client that forwards deltas as they come, as the
 * gateway does, needs it there). A provider that asks for nothing back
 * (OpenAI) streams deltas without one. Through `LlmManager`, over real HTTP
 * against the mock server, whose Gemini 3 models sign their calls.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { StreamPart, ToolCallDelta } from "@baton/core/GenerationResult"
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"

const apiKey = Redacted.make("sk-test-key")

const weather = {
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}

/** The parts of a stream asking `provider` for the weather in Oslo, the tool offered. */
const streamed = (
  provider: (server: MockProviderServer.MockProviderServer["Service"]) => ReturnType<typeof Gemini.layer>
) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    yield* server.reset
    const llm = yield* LlmManager.make({
      providers: [provider(server)],
      policy: FallbackPolicy.make({ maxRetries: 0 }),
      generationEnabled: true
    })
    const parts = yield* Stream.runCollect(
      llm.stream({ prompt: [{ role: "user", content: "Weather in Oslo?" }], tools: [weather] })
    )
    return Array.from(parts)
  })

/** The keys of a delta without a replay (nothing of the codec's own, such as its unstamped echo, left on it). */
const keys = ["_tag", "index", "id", "name", "argumentsDelta"]

const deltasOf = (parts: ReadonlyArray<StreamPart>): ReadonlyArray<ToolCallDelta> =>
  parts.flatMap((part) => part._tag === "ToolCallDelta" ? [part] : [])

describe("a streamed tool call's replay", () => {
  it.live("Gemini 3: the delta that opens the call carries its stamped replay, the Finish's call's", () =>
    Effect.gen(function*() {
      const parts = yield* streamed((server) =>
        Gemini.layer({ apiKey, baseUrl: server.baseUrl("gemini"), model: "gemini-3.5-flash" })
      )
      const signature = Buffer.from("mock-thought:call_1_get_weather").toString("base64")
      const replay = { provider: ProviderName.make("gemini"), model: ModelId.make("gemini-3.5-flash"), signature }
      const deltas = deltasOf(parts)
      assert.deepStrictEqual(deltas.map((delta) => [delta.index, delta.name, delta.replay]), [
        [0, "get_weather", replay]
      ])
      assert.deepStrictEqual(Object.keys(deltas[0] ?? {}), [...keys, "replay"])
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      assert.deepStrictEqual(finish?._tag === "Finish" ? finish.toolCalls?.[0]?.replay : undefined, replay)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("OpenAI: no delta carries a replay", () =>
    Effect.gen(function*() {
      const parts = yield* streamed((server) => OpenAi.layer({ apiKey, baseUrl: server.baseUrl("openai") }))
      const deltas = deltasOf(parts)
      assert.isAbove(deltas.length, 1)
      for (const delta of deltas) assert.deepStrictEqual(Object.keys(delta), keys)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
