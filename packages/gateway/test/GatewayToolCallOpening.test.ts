/**
 * The chunk that opens a streamed tool call, as a client sees it: it goes
 * out as its delta comes, and a Gemini call's carries Google's field for
 * the call's signature (`extra_content.google.thought_signature`, Baton's
 * form, the only place the Vercel AI SDK reads it from in a stream), taken
 * from the delta's own replay: also when text comes between the call and
 * the finish. An OpenAI call's chunks come in the order they always did.
 * Over the mock server, and over a raw server for a Gemini stream the mock
 * does not send (text after a signed call).
 */
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { Scope } from "effect"
import * as Fixture from "./fixture.ts"

/** A gateway whose `gemini` is served at `gemini`, its `openai` by the mock, and the mock. */
const gatewayOver = (
  gemini: (mock: MockProviderServer.MockProviderServer["Service"]) => Effect.Effect<string, never, Scope.Scope>
) =>
  Fixture.gatewayOf((mock) =>
    Effect.map(gemini(mock), (baseUrl) => ({
      gemini: { baseUrl, models: ["gemini-3.5-flash"] },
      openai: { baseUrl: mock.baseUrl("openai"), models: ["gpt-4o-mini"] }
    })), { GEMINI_API_KEY: "g-secret" })

const record = Fixture.record

const list = (value: unknown): ReadonlyArray<unknown> => Array.isArray(value) ? value : []

/** Each chunk's first choice (`delta` and `finish_reason`), in order; the usage chunk has none. */
const choices = (text: string): ReadonlyArray<Record<string, unknown>> =>
  text.split("\n\n")
    .filter((event) => event.startsWith("data: {"))
    .flatMap((event) => list(record(JSON.parse(event.slice("data: ".length))).choices).slice(0, 1).map(record))

/** The first tool-call entry of a chunk's delta. */
const firstCall = (choice: Record<string, unknown>): Record<string, unknown> =>
  record(list(record(choice.delta).tool_calls)[0])

/** The entry of the chunk that opens the first call: the first with the call's `function.name`. */
const opening = (text: string): Record<string, unknown> =>
  choices(text).map(firstCall).find((call) => record(call.function).name !== undefined) ??
    assert.fail(`no chunk opens a call: ${text}`)

/** What a chunk's first choice says: a call it opens, text, or the finish. */
const label = (choice: Record<string, unknown>): string => {
  const delta = record(choice.delta)
  if (choice.finish_reason !== null) return "finish"
  return typeof delta.content === "string"
    ? `text ${delta.content}`
    : `call ${String(record(firstCall(choice).function).name)}`
}

/** Baton's form of a signature in Google's field: the maker, base64url, before the signature. */
const batonForm = (maker: string, signature: string) => `baton.${Buffer.from(maker).toString("base64url")}.${signature}`

const streamed = (url: string, model: string) => Fixture.post(url, { ...Fixture.weatherRequest(model), stream: true })

layer(gatewayOver((mock) => Effect.succeed(mock.baseUrl("gemini"))), { excludeTestServices: true })(
  "Gateway: the chunk that opens a streamed tool call",
  (it) => {
    it.effect("Gemini 3: it carries the call's signature in Google's field", () =>
      Effect.gen(function*() {
        const { url } = yield* Fixture.setup
        const response = yield* streamed(url, "gemini/gemini-3.5-flash")
        assert.strictEqual(response.status, 200, response.text)
        const signature = Buffer.from("mock-thought:call_1_get_weather").toString("base64")
        assert.deepStrictEqual(record(opening(response.text).extra_content), {
          google: { thought_signature: batonForm("gemini/gemini-3.5-flash", signature) }
        })
      }))

    it.effect("OpenAI: the chunks of a tool call come in their order, the opening one without extra_content", () =>
      Effect.gen(function*() {
        const { url } = yield* Fixture.setup
        const response = yield* streamed(url, "openai/gpt-4o-mini")
        assert.strictEqual(response.status, 200, response.text)
        const call = opening(response.text)
        assert.deepStrictEqual(choices(response.text).map((choice) => [choice.delta, choice.finish_reason]), [
          [{
            role: "assistant",
            content: null,
            tool_calls: [{ index: 0, id: call.id, type: "function", function: { name: "get_weather", arguments: "" } }]
          }, null],
          [{ tool_calls: [{ index: 0, function: { arguments: "{\"city\":\"m" } }] }, null],
          [{ tool_calls: [{ index: 0, function: { arguments: "ock city\"}" } }] }, null],
          [{}, "tool_calls"]
        ])
      }))
  }
)

/** A Gemini stream that calls `get_weather`, signed, then says some text before it finishes. */
const textAfterCall = [
  {
    responseId: "r1",
    candidates: [{
      content: {
        role: "model",
        parts: [{ functionCall: { name: "get_weather", args: { city: "Oslo" } }, thoughtSignature: "c2lnbmVk" }]
      },
      index: 0
    }]
  },
  { responseId: "r1", candidates: [{ content: { role: "model", parts: [{ text: "Checking." }] }, index: 0 }] },
  {
    responseId: "r1",
    candidates: [{ content: { role: "model", parts: [] }, finishReason: "STOP", index: 0 }],
    usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 4, totalTokenCount: 9 }
  }
]

describe("Gateway: a Gemini call with text before its finish", () => {
  layer(
    gatewayOver(() => Effect.map(RawServer.start({ body: {}, events: textAfterCall }), (raw) => `${raw.url}/v1beta`)),
    { excludeTestServices: true }
  )((it) => {
    it.effect("the chunk that opens the call carries the signature in Google's field", () =>
      Effect.gen(function*() {
        const { url } = yield* Fixture.setup
        const response = yield* streamed(url, "gemini/gemini-3.5-flash")
        assert.strictEqual(response.status, 200, response.text)
        assert.deepStrictEqual(record(opening(response.text).extra_content), {
          google: { thought_signature: batonForm("gemini/gemini-3.5-flash", "c2lnbmVk") }
        })
        // the call's chunk, then the text's, then the finish's, as the parts came
        assert.deepStrictEqual(choices(response.text).map(label), ["call get_weather", "text Checking.", "finish"])
      }))
  })
})
