/**
 * What a client learns when every provider fails: a generic message per
 * class, never the attempt list (internal addresses, upstream error text
 * that may echo a masked key); only when every provider rejected the
 * caller's own request does the first provider's (scrubbed) message pass,
 * so the client can fix its request. The details stay in the request log.
 */
import * as RequestLog from "@baton/core/RequestLog"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Schema } from "effect"
import OpenAI from "openai"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import * as Fixture from "./fixture.ts"

/** A masked key as OpenAI echoes it in a 401: not key-shaped enough for the scrubber. */
const upstream401 =
  "Incorrect API key provided: sk-proj-****wxyz. You can find your API key at https://platform.openai.com."

const TestLayer = Layer.unwrap(Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const file = Fixture.configFile(mock)
  const config = yield* GatewayConfig.parse(
    JSON.stringify({
      ...file,
      // an OpenAI-compatible endpoint on an internal address nobody listens on
      providers: { ...file.providers, internal: { baseUrl: "http://127.0.0.1:1/v1", models: ["llama3"] } },
      models: { ...file.models, leaky: ["openai/gpt-4o-mini", "internal/llama3"] }
    }),
    "json"
  )
  return Gateway.layer(config, { port: 0 })
})).pipe(
  Layer.provideMerge(Fixture.services()),
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(Fixture.environment))),
  Layer.provideMerge(MockProviderServer.layer())
)

const decodeError = Schema.decodeUnknownSync(Schema.fromJsonString(Fixture.ErrorResponse))

/** Nothing of an attempt's detail: no address, no socket error, no upstream text, no attempt list. */
const assertNoDetail = (text: string) => {
  for (const leak of ["127.0.0.1", "ECONNREFUSED", "sk-proj", "Incorrect API key", "llama3", "[primary]", "\\n"]) {
    assert.notInclude(text, leak)
  }
}

const leaky = { model: "leaky", messages: [{ role: "user", content: "Say hello" }] }

/** A streamed story from `model` that ends in an in-band error: the response (status 200) and that error. */
const streamedError = (url: string, model: string) =>
  Effect.gen(function*() {
    const response = yield* Fixture.post(url, {
      model,
      messages: [{ role: "user", content: "Tell me a story" }],
      stream: true
    })
    assert.strictEqual(response.status, 200, response.text)
    const last = response.text.split("\n\n").filter((event) => event.length > 0).at(-1) ?? ""
    return { response, error: decodeError(last.replace(/^data: /, "")).error }
  })

layer(TestLayer, { excludeTestServices: true })("Gateway failures: what reaches the client", (it) => {
  it.effect("503 every provider failed: a generic message, the attempts only in the request log", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const log = yield* RequestLog.RequestLogMemory
      const before = (yield* log.records).length
      yield* mock.inject("openai", MockFault.status(401, { message: upstream401 }))
      const response = yield* Fixture.post(url, leaky)
      assert.strictEqual(response.status, 503, response.text)
      const { error } = decodeError(response.text)
      assert.strictEqual(error.code, "upstream_unavailable")
      assert.strictEqual(error.type, "server_error")
      assert.match(error.message, /^every provider failed/)
      assertNoDetail(response.text)
      // the message and a header name the request, whose every attempt, with its error, is in the request log
      assert.isString(response.requestId)
      assert.include(error.message, `see request ${response.requestId}`)
      const logged = (yield* log.records).slice(before)
      assert.deepStrictEqual(logged.map((record) => record.requestId), [response.requestId, response.requestId])
      assert.deepStrictEqual(logged.map((record) => [record.provider, record.errorTag]), [
        ["openai", "ProviderAuthenticationFailed"],
        ["internal", "ProviderConnectionFailed"]
      ])
      assert.include(logged[1]?.errorMessage ?? "", "ECONNREFUSED")
    }))

  it.effect("the same with stream: true, and through the official client", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.status(401, { message: upstream401 }))
      const streamed = yield* Fixture.post(url, { ...leaky, stream: true })
      assert.strictEqual(streamed.status, 503, streamed.text)
      assertNoDetail(streamed.text)
      yield* mock.inject("openai", MockFault.status(401, { message: upstream401 }))
      const thrown = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({ model: "leaky", messages: [{ role: "user", content: "hi" }] })
          .then(() => undefined, (error: unknown) => error)
      )
      assert.instanceOf(thrown, OpenAI.APIError)
      if (thrown instanceof OpenAI.APIError) {
        assert.strictEqual(thrown.status, 503)
        assert.match(thrown.message, /every provider failed/)
        assertNoDetail(thrown.message)
      }
    }))

  it.effect("400 when every provider rejected the request: the first provider's message only, and its param", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject(
        "openai",
        MockFault.status(400, { message: "temperature: must be at most 1.5", param: "temperature" })
      )
      yield* mock.inject(
        "deepseek",
        MockFault.status(400, { message: "rejected by shard 10.4.2.7 (sk-deepseekinternal1)" })
      )
      const response = yield* Fixture.post(url, { model: "fast", messages: [{ role: "user", content: "hi" }] })
      assert.strictEqual(response.status, 400, response.text)
      const { error } = decodeError(response.text)
      assert.strictEqual(error.code, "invalid_request")
      assert.strictEqual(error.type, "invalid_request_error")
      assert.strictEqual(error.param, "temperature")
      assert.include(error.message, "temperature: must be at most 1.5")
      assert.notInclude(response.text, "10.4.2.7")
      assert.notInclude(response.text, "sk-deepseek")
      assert.notInclude(response.text, "all providers failed")
      assert.strictEqual((yield* mock.stats("deepseek")).requests, 1)
    }))

  it.effect("a stream cut after its first delta: the in-band error says so, without the provider's reason", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("deepseek", MockFault.cutStreamAfter(3))
      const { error, response } = yield* streamedError(url, "deepseek/deepseek-flash")
      assert.strictEqual(error.code, "stream_interrupted")
      assert.include(error.message, `see request ${response.requestId}`)
      assert.match(error.message, /^the provider stopped mid-answer/)
      assert.notInclude(error.message, "deepseek")
    }))

  it.effect("a stream cut after a tool call opened: the call's opening delta goes out before the in-band error", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.cutStreamAfter(1))
      const response = yield* Fixture.post(url, {
        ...Fixture.weatherRequest("openai/gpt-4o-mini"),
        stream: true
      })
      assert.strictEqual(response.status, 200, response.text)
      const events = response.text.split("\n\n").filter((event) => event.length > 0)
      const opening = events.findIndex((event) => event.includes("\"name\":\"get_weather\""))
      const failure = events.findIndex((event) => event.includes("\"stream_interrupted\""))
      assert.isAtLeast(opening, 0, response.text)
      assert.isAbove(failure, opening, response.text)
    }))
})

layer(
  Fixture.gatewayWithMock({ environment: { LLM_CIRCUIT_FAILURE_THRESHOLD: "1", LLM_CIRCUIT_COOLDOWN_MS: "600000" } }),
  { excludeTestServices: true }
)("Gateway failures with a provider's circuit open", (it) => {
  it.effect("400 when the provider asked rejects the conversation, though the one before it was skipped", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const hello = { model: "fast", messages: [{ role: "user", content: "hi" }] }
      // one failure opens openai's circuit; deepseek answers
      yield* mock.inject("openai", MockFault.status(503))
      assert.strictEqual((yield* Fixture.post(url, hello)).status, 200)
      yield* mock.inject("deepseek", MockFault.status(400, { message: "messages: a tool message must follow a call" }))
      const response = yield* Fixture.post(url, hello)
      assert.strictEqual(response.status, 400, response.text)
      const { error } = decodeError(response.text)
      assert.strictEqual(error.code, "invalid_request")
      assert.include(error.message, "messages: a tool message must follow a call")
      assert.strictEqual((yield* mock.stats("openai")).requests, 1)
    }))
})

layer(
  Fixture.gatewayWithMock({ environment: { LLM_REQUEST_TIMEOUT_MS: "500", LLM_STREAM_IDLE_TIMEOUT_MS: "600000" } }),
  { excludeTestServices: true }
)("Gateway failures: a stream its deadline ended", (it) => {
  it.effect("the in-band error is a timeout (deadline_exceeded), not a provider that stopped", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.stallMidStream("forever", { after: 3 }))
      const { error } = yield* streamedError(url, "openai/gpt-4o-mini")
      assert.deepStrictEqual([error.type, error.code], ["timeout_error", "deadline_exceeded"])
      assert.match(error.message, /^no whole answer within 500 ms; see request /)
    }))
})
