/**
 * A `model` (or a `fallbacks` entry) a client sends that cannot be a
 * provider name and a model id (upper case or a space in the provider, a
 * blank, padded, control-character or over-long model) is a model the
 * gateway does not serve: 404 `model_not_found` (400 `invalid_fallback` for
 * a fallback) in OpenAI's error shape, never a 500, and no provider call.
 * Over real HTTP, the mock provider server standing in for the providers.
 */
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Fixture from "./fixture.ts"

const TestLayer = Fixture.gatewayWithMock({ subjectPrefix: "names" })

const decodeError = Schema.decodeUnknownSync(Schema.fromJsonString(Fixture.ErrorResponse))

/** Every request the mock server received, for any provider. */
const providerRequests = (mock: MockProviderServer.MockProviderServer["Service"]) =>
  Effect.map(mock.received(), (requests) => requests.length)

/** Names no configured provider/model can be: each would fail `ProviderName` or `ModelId`. */
const invalidNames = [
  "Foo Bar/x",
  "OpenAI/gpt-4o-mini",
  "/gpt-4o-mini",
  "openai/",
  "openai/ ",
  "openai/ gpt-4o-mini",
  "openai/gpt\u0000-4o-mini",
  "openai/gpt-4o-mini\u001b[31m",
  "openai/" + "x".repeat(300),
  "p".repeat(100) + "/gpt-4o-mini"
]

const ask = (url: string, body: Record<string, unknown>) =>
  Fixture.post(url, { messages: [{ role: "user", content: "hi" }], ...body })

layer(TestLayer, { excludeTestServices: true })("Gateway: model names that are not valid ids", (it) => {
  it.effect("404 model_not_found in OpenAI's shape, not a 500, and no provider request", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      for (const model of invalidNames) {
        const response = yield* ask(url, { model })
        assert.strictEqual(response.status, 404, `${JSON.stringify(model)}: ${response.text}`)
        const { error } = decodeError(response.text)
        assert.strictEqual(error.code, "model_not_found", JSON.stringify(model))
        assert.strictEqual(error.type, "invalid_request_error", JSON.stringify(model))
        assert.strictEqual(error.param, "model", JSON.stringify(model))
        assert.match(error.message, /does not exist/)
      }
      assert.strictEqual(yield* providerRequests(mock), 0)
      // the gateway still serves: a valid name after them is answered
      const ok = yield* ask(url, { model: "openai/gpt-4o-mini" })
      assert.strictEqual(ok.status, 200, ok.text)
    }))

  it.effect("the same names as fallbacks: 400 invalid_fallback naming the entry, no provider request", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      for (const name of invalidNames) {
        const response = yield* ask(url, { model: "fast", fallbacks: ["deepseek/deepseek-flash", name] })
        assert.strictEqual(response.status, 400, `${JSON.stringify(name)}: ${response.text}`)
        const { error } = decodeError(response.text)
        assert.strictEqual(error.code, "invalid_fallback", JSON.stringify(name))
        assert.strictEqual(error.param, "fallbacks[1]", JSON.stringify(name))
      }
      assert.strictEqual(yield* providerRequests(mock), 0)
    }))

  it.effect("a model name of thousands of characters is not echoed whole", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const model = "openai/" + "x".repeat(3_000)
      const response = yield* ask(url, { model })
      assert.strictEqual(response.status, 404, response.text)
      const { error } = decodeError(response.text)
      assert.strictEqual(error.code, "model_not_found")
      assert.include(error.message, "openai/xxxx")
      assert.isBelow(error.message.length, 300, error.message)
      const fallback = yield* ask(url, { model: "fast", fallbacks: [model] })
      assert.strictEqual(fallback.status, 400, fallback.text)
      assert.isBelow(decodeError(fallback.text).error.message.length, 300)
      assert.strictEqual(yield* providerRequests(mock), 0)
    }))
})
