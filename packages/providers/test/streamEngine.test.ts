/**
 * The stream engine against scripted SSE bodies, for what the mock server
 * cannot play: error events in the middle of a 200 stream (OpenRouter,
 * Anthropic) and comment lines between events.
 */
import * as LlmProvider from "@baton/core/LlmProvider"
import * as Pricing from "@baton/core/Pricing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted, Stream } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import * as Anthropic from "../src/Anthropic.ts"
import * as OpenAi from "../src/OpenAi.ts"

const scripted = (body: string) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.succeed(HttpClientResponse.fromWeb(
        request,
        new Response(body, { headers: { "content-type": "text/event-stream" } })
      ))
    )
  )

const run = (
  provider: Layer.Layer<LlmProvider.LlmProvider, unknown, HttpClient.HttpClient | Pricing.Pricing>,
  body: string
) =>
  Effect.gen(function*() {
    const texts: Array<string> = []
    const exit = yield* LlmProvider.stream({ prompt: "Hi" }).pipe(
      Stream.runForEach((part) => Effect.sync(() => part._tag === "TextDelta" && texts.push(part.text))),
      Effect.exit,
      Effect.provide(provider.pipe(Layer.provide([scripted(body), Pricing.layerDefault])))
    )
    const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
    return { text: texts.join(""), error }
  })

const apiKey = Redacted.make("sk-test")
const chunk = (content: string) =>
  `data: {"choices":[{"index":0,"delta":{"content":"${content}"},"finish_reason":null}]}\n\n`

describe("stream engine", () => {
  it.effect("skips comment lines between events", () =>
    Effect.gen(function*() {
      const body = `: OPENROUTER PROCESSING\n\n${chunk("Hel")}: keep-alive\n\n${chunk("lo")}` +
        `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n`
      const result = yield* run(OpenAi.layer({ apiKey }), body)
      assert.strictEqual(result.text, "Hello")
      assert.isUndefined(result.error)
    }))

  it.effect("an error event before any text is mapped like its HTTP status", () =>
    Effect.gen(function*() {
      const body = `event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n`
      const result = yield* run(Anthropic.layer({ apiKey }), body)
      assert.strictEqual(result.error?._tag, "ProviderUnavailable")
    }))

  it.effect("an error event after text is StreamInterrupted with the text so far", () =>
    Effect.gen(function*() {
      const body = `${chunk("Partial")}data: {"error":{"code":502,"message":"upstream provider died"}}\n\n`
      const result = yield* run(OpenAi.layer({ apiKey }), body)
      assert.strictEqual(result.text, "Partial")
      assert.strictEqual(result.error?._tag, "StreamInterrupted")
      if (result.error?._tag === "StreamInterrupted") {
        assert.strictEqual(result.error.partialText, "Partial")
        assert.include(result.error.reason, "upstream provider died")
      }
    }))
})
