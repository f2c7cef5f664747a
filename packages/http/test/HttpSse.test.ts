import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as Pricing from "@baton/core/Pricing"
import * as Anthropic from "@baton/providers/Anthropic"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import * as HttpSse from "../src/HttpSse.ts"

const Manager = Layer.unwrap(Effect.map(MockProviderServer.MockProviderServer, (server) =>
  LlmManager.layer({
    providers: [Anthropic.layer({ apiKey: Redacted.make("sk-test"), baseUrl: server.baseUrl("anthropic") })],
    policy: FallbackPolicy.make({ maxRetries: 0 })
  }))).pipe(
    Layer.provideMerge(Layer.mergeAll(MockProviderServer.layer(), NodeHttpClient.layerUndici, Pricing.layerDefault))
  )

/** The SSE events of a response body, as `[event, data]`; comments (`: keep-alive`) are skipped, as SSE clients do. */
const eventsOf = (body: string) =>
  body.split("\n\n").filter((block) => block.trim() !== "" && !block.startsWith(":")).map((block) => {
    const field = (name: string) =>
      block.split("\n").find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2)
    return [field("event"), JSON.parse(field("data") ?? "null") as Record<string, unknown>] as const
  })

describe("HttpSse", () => {
  it.live("a tool call streams as tool_call events; the finish carries the assembled calls", () =>
    Effect.gen(function*() {
      const manager = yield* LlmManager.LlmManager
      const response = yield* HttpSse.response(manager.stream({
        prompt: "Weather in Oslo?",
        tools: [{ name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }]
      }))
      if (response.body._tag !== "Stream") return assert.fail("not a stream body")
      const body = yield* Stream.mkString(Stream.decodeText(response.body.stream))
      const events = eventsOf(body)
      const calls = events.filter(([name]) => name === "tool_call").map(([, data]) => data)
      assert.isAbove(calls.length, 1)
      assert.deepStrictEqual(calls.map((call) => [call.index, call.name]), calls.map(() => [0, "get_weather"]))
      const [name, finish] = events.at(-1) ?? []
      assert.strictEqual(name, "finish")
      assert.deepStrictEqual(finish?.toolCalls, [{
        id: calls[0]?.id,
        name: "get_weather",
        arguments: calls.map((call) => call.argumentsDelta).join("")
      }])
    }).pipe(Effect.scoped, Effect.provide(Manager)))
})
