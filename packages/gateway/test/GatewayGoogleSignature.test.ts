/**
 * A Gemini 3 tool loop through the gateway, as the Vercel AI SDK
 * (`@ai-sdk/openai-compatible`) runs it: the SDK keeps only a call's
 * `extra_content.google.thought_signature` (read from a completion's calls,
 * or from the streamed delta that opens a call) and sends it back, so the
 * gateway writes the call's signature there too, in Baton's form (the maker
 * first: `baton.<base64url of provider/model>.<signature>`), and reads it
 * back. The mock's Gemini 3 model signs its calls and refuses a signature it
 * did not issue: the second turn must reach it with the real signature, not
 * Google's `skip_thought_signature_validator`. A google signature not in
 * Baton's form, or naming another model, is sent as no signature (the skip
 * value), never as another model's, and does not fail the request.
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as AiSdk from "./aiSdk.ts"
import * as Fixture from "./fixture.ts"

const model = "gemini/gemini-3.5-flash"

const TestLayer = Fixture.gatewayOf(
  (mock) =>
    Effect.succeed({ gemini: { baseUrl: mock.baseUrl("gemini"), models: ["gemini-3.5-flash", "gemini-3.1-pro"] } }),
  { GEMINI_API_KEY: "g-secret" }
)

const skip = "skip_thought_signature_validator"

const record = Fixture.record

const list = (value: unknown): ReadonlyArray<unknown> => Array.isArray(value) ? value : []

/** The `thoughtSignature` of the first call of the model turn Gemini last received, if any. */
const lastSignature = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const contents = list(record((yield* mock.received("gemini")).at(-1)?.body).contents)
  const turn = contents.map(record).find((content) => content.role === "model")
  const call = list(turn?.parts).map(record).find((part) => part.functionCall !== undefined)
  return call?.thoughtSignature
})

/** Baton's form of a signature in Google's field: the maker, base64url, before the signature. */
const batonForm = (maker: string, signature: string) => `baton.${Buffer.from(maker).toString("base64url")}.${signature}`

/** A first answer of the gateway, plain, that called `get_weather`: its tool call as the client got it. */
const firstCall = (url: string) =>
  Effect.gen(function*() {
    const answer = yield* Fixture.post(url, Fixture.weatherRequest(model))
    assert.strictEqual(answer.status, 200, answer.text)
    const message = record(record(list(record(JSON.parse(answer.text)).choices)[0]).message)
    return record(list(message.tool_calls)[0])
  })

/** The second turn, plain, whose assistant message carries `call` as given; the gateway's answer. */
const secondTurn = (url: string, call: Record<string, unknown>) =>
  Fixture.post(url, {
    ...Fixture.weatherRequest(model),
    messages: [
      ...Fixture.weatherRequest(model).messages,
      { role: "assistant", content: null, tool_calls: [call] },
      { role: "tool", tool_call_id: call.id, content: "rain" }
    ]
  })

layer(TestLayer, { excludeTestServices: true })("Gateway: Gemini's signature in Google's field", (it) => {
  it.effect("a call carries its signature in extra_content.google.thought_signature, in Baton's form", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const extra = record((yield* firstCall(url)).extra_content)
      const replay = record(record(extra.baton).replay)
      assert.isString(replay.signature)
      assert.deepStrictEqual(extra.google, {
        thought_signature: batonForm("gemini/gemini-3.5-flash", String(replay.signature))
      })
    }))

  it.effect("generateText: the second turn reaches Gemini with the real signature", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const result = yield* AiSdk.generatedLoop(url, model)
      assert.deepStrictEqual(result.steps.map((step) => step.finishReason), ["tool-calls", "stop"])
      assert.include(result.text, "[tool results: rain]")
      const signature = yield* lastSignature
      assert.isString(signature)
      assert.notStrictEqual(signature, skip)
    }))

  it.effect("streamText: the delta that opens the call carries it, and the second turn sends it back", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const result = yield* AiSdk.streamedLoop(url, model)
      assert.deepStrictEqual(result.errors, [])
      assert.deepStrictEqual(result.steps.map((step) => step.finishReason), ["tool-calls", "stop"])
      assert.include(result.text, "[tool results: rain]")
      const signature = yield* lastSignature
      assert.isString(signature)
      assert.notStrictEqual(signature, skip)
    }))

  it.effect("the official openai client's stream helper keeps both fields, and its second turn sends the signature", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const request = Fixture.weatherRequest(model)
      const streamed = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.stream(request).finalChatCompletion()
      )
      const said = streamed.choices[0]?.message ?? assert.fail("no message")
      const call = record(said.tool_calls?.[0])
      const extra = record(call.extra_content)
      const replay = record(record(extra.baton).replay)
      assert.deepStrictEqual(extra.google, {
        thought_signature: batonForm("gemini/gemini-3.5-flash", String(replay.signature))
      })
      yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({
          ...request,
          messages: [...request.messages, said, { role: "tool", tool_call_id: String(call.id), content: "rain" }]
        })
      )
      assert.strictEqual(yield* lastSignature, replay.signature)
    }))

  it.effect("a google signature not in Baton's form, or another model's, is sent as none and the call runs", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const call = yield* firstCall(url)
      const real = String(record(record(record(call.extra_content).baton).replay).signature)
      const foreign: ReadonlyArray<unknown> = [
        real, // as Google's own endpoint gives it: its model is unknown
        batonForm("gemini/gemini-3.1-pro", real), // another model's
        batonForm("openai/gpt-4o-mini", real),
        batonForm("Gemini/gemini-3.5-flash", real), // no provider name
        batonForm("gemini", real), // no model
        batonForm("gemini/gemini-3.5-flash", ""),
        `baton.!!.${real}`,
        "baton.",
        42
      ]
      for (const thought_signature of foreign) {
        const answer = yield* secondTurn(url, { ...call, extra_content: { google: { thought_signature } } })
        assert.strictEqual(answer.status, 200, `${String(thought_signature)}: ${answer.text}`)
        assert.include(answer.text, "[tool results: rain]")
        assert.strictEqual(yield* lastSignature, skip, String(thought_signature))
      }
      // Baton's form of the model that made the call is its signature
      const own = yield* secondTurn(url, {
        ...call,
        extra_content: { google: { thought_signature: batonForm("gemini/gemini-3.5-flash", real) } }
      })
      assert.strictEqual(own.status, 200, own.text)
      assert.strictEqual(yield* lastSignature, real)
    }))
})
