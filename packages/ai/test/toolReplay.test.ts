/**
 * effect/ai's tool loop over Baton with reasoning models: a call's `replay`
 * (Gemini 3's thought signature, DeepSeek's reasoning) rides on its
 * `tool-call` part's `metadata.baton.replay`, which `Prompt.fromResponseParts`
 * carries into the next prompt's part `options`, and goes back to the
 * provider that made it; without it, the mock server's Gemini 3 and
 * `deepseek-reasoner` answer 400 as the real APIs do. Whole and streamed.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as Gemini from "@baton/providers/Gemini"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema, Stream } from "effect"
import { LanguageModel, Prompt, type Response, Tool, Toolkit } from "effect/ai"
import * as BatonLanguageModel from "../src/BatonLanguageModel.ts"
import { services } from "./stack.ts"

const apiKey = Redacted.make("sk-test-key")

const GetWeather = Tool.make("GetWeather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.String
})

const Tools = Toolkit.make(GetWeather)

const handlers = Tools.toLayer({ GetWeather: ({ city }) => Effect.succeed(`rain in ${city}`) })

/** The language model over one reasoning model: Gemini 3 signs its calls, `deepseek-reasoner` reasons. */
const over = (kind: "gemini" | "deepseek") =>
  BatonLanguageModel.layer.pipe(
    Layer.provideMerge(Layer.unwrap(Effect.map(MockProviderServer.MockProviderServer, (server) =>
      LlmManager.layer({
        providers: [
          kind === "gemini"
            ? Gemini.layer({ apiKey, baseUrl: server.baseUrl("gemini"), model: "gemini-3.5-flash" })
            : DeepSeek.layer({ apiKey, baseUrl: server.baseUrl("deepseek"), model: "deepseek-reasoner" })
        ],
        policy: FallbackPolicy.make({ maxRetries: 0 })
      })))),
    Layer.provideMerge(services(100))
  )

/** The parts of one turn, whole or streamed. */
const turn = (prompt: Prompt.Prompt, streamed: boolean) =>
  streamed
    ? Effect.map(
      Stream.runCollect(LanguageModel.streamText({ prompt, toolkit: Tools })),
      (parts): ReadonlyArray<Response.AnyPart> => parts
    )
    : Effect.map(LanguageModel.generateText({ prompt, toolkit: Tools }), (response) => response.content)

/** effect/ai's loop: ask, run the calls, send the results back, until the model answers with text. */
const toolLoop = (streamed: boolean) =>
  Effect.gen(function*() {
    let prompt = Prompt.make("What is the weather in Paris?")
    for (let i = 1; i <= 3; i++) {
      const parts = yield* turn(prompt, streamed)
      prompt = Prompt.concat(prompt, Prompt.fromResponseParts(parts))
      const finish = parts.find((part) => part.type === "finish")
      if (finish?.type === "finish" && finish.reason !== "tool-calls") return parts
    }
    return yield* Effect.die(new Error("no answer after 3 turns"))
  })

const lastBody = (kind: "gemini" | "deepseek") =>
  Effect.map(
    Effect.flatMap(MockProviderServer.MockProviderServer, (server) => server.received(kind)),
    (received) => JSON.stringify(received.at(-1)?.body)
  )

describe("effect/ai's tool loop with reasoning models", () => {
  for (const streamed of [false, true]) {
    const how = streamed ? "streamed" : "whole"
    it.live(`Gemini 3 (${how}): the call's thought signature goes back`, () =>
      Effect.gen(function*() {
        const parts = yield* toolLoop(streamed)
        const text = parts.flatMap((part) =>
          part.type === "text" || part.type === "text-delta" ? [part.type === "text" ? part.text : part.delta] : []
        ).join("")
        assert.include(text, "[tool results: rain in")
        const signature = Buffer.from("mock-thought:call_1_GetWeather").toString("base64")
        assert.include(yield* lastBody("gemini"), `"thoughtSignature":"${signature}"`)
      }).pipe(Effect.provide(handlers), Effect.provide(over("gemini"))))

    it.live(`DeepSeek thinking mode (${how}): the reasoning goes back`, () =>
      Effect.gen(function*() {
        const parts = yield* toolLoop(streamed)
        assert.isTrue(parts.some((part) => part.type === "finish" && part.reason === "stop"))
        assert.include(yield* lastBody("deepseek"), "\"reasoning_content\":\"Mock reasoning from deepseek, step 1")
      }).pipe(Effect.provide(handlers), Effect.provide(over("deepseek"))))
  }
})
