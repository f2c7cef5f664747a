/**
 * One caller's input cannot take the providers down for everyone: a tool's
 * `function.parameters` nested 20,000 levels deep (740 KB, under the 1 MiB
 * body limit), or whose root is no object schema, is the client's fault, a
 * 400 naming the field before any provider call and without spending quota,
 * never a provider failure that opens every tenant's circuits. And when
 * every provider's circuit is open, or the providers whose circuit is not
 * open timed out, the 503 says when to come back (`Retry-After`), as
 * `@baton/http` does.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Schema } from "effect"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"
import * as Fixture from "./fixture.ts"

/** A key whose subject may spend one unit a day. */
const onceKey = "gw-once-key"

const configFile = (mock: MockProviderServer.MockProviderServer["Service"]) => ({
  providers: {
    openai: { baseUrl: mock.baseUrl("openai"), models: ["gpt-4o-mini", "gpt-4.1"] },
    deepseek: { baseUrl: mock.baseUrl("deepseek"), models: ["deepseek-flash", "deepseek-pro"] }
  },
  models: { fast: ["deepseek/deepseek-flash", "openai/gpt-4o-mini"] },
  keys: [
    { sha256: GatewayConfig.hashKey(Fixture.clientKey), subject: "teacher-1" },
    { sha256: GatewayConfig.hashKey(onceKey), subject: "teacher-once", daily: 1 }
  ]
})

// the first counted failure opens a circuit, for a minute; a provider silent for 500 ms has timed out
const environment = {
  LLM_CIRCUIT_FAILURE_THRESHOLD: "1",
  LLM_CIRCUIT_COOLDOWN_MS: "60000",
  LLM_FIRST_BYTE_TIMEOUT_MS: "500"
}

const TestLayer = Layer.unwrap(Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const config = yield* GatewayConfig.parse(JSON.stringify(configFile(mock)), "json")
  return Gateway.layer(config, { port: 0 })
})).pipe(
  Layer.provideMerge(Fixture.services({ environment })),
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ...Fixture.environment, ...environment }))),
  Layer.provideMerge(MockProviderServer.layer())
)

const decodeError = Schema.decodeUnknownSync(Schema.fromJsonString(Fixture.ErrorResponse))

/** The reviewer's schema: `levels` levels of `{"type":"object","properties":{"a":...}}`, as JSON text. */
const deepSchema = (levels: number): string =>
  "{\"type\":\"object\",\"properties\":{\"a\":".repeat(levels) + "{\"type\":\"string\"}" + "}}".repeat(levels)

const tool = (name: string, parameters: string) =>
  `{"type":"function","function":{"name":"${name}","parameters":${parameters}}}`

/** A chat request whose second tool's parameters are `levels` deep. */
const deepRequest = (levels: number, stream: boolean) =>
  `{"model":"fast","stream":${stream},"messages":[{"role":"user","content":"hi"}],"tools":[` +
  `${tool("fine", "{\"type\":\"object\"}")},${tool("deep", deepSchema(levels))}]}`

const hello = { model: "fast", messages: [{ role: "user", content: "Say hello" }] }

/** Every request the mock server received. */
const received = (mock: MockProviderServer.MockProviderServer["Service"]) =>
  Effect.map(
    Effect.all([mock.stats("deepseek"), mock.stats("openai")]),
    ([deepseek, openai]) => deepseek.requests + openai.requests
  )

layer(TestLayer, { excludeTestServices: true })("Gateway tool parameters and open circuits", (it) => {
  it.effect("parameters nested 20,000 deep: 400 naming the field, no provider call, no quota, circuits closed", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const body = deepRequest(20_000, false)
      assert.isAbove(body.length, 700_000)
      for (const text of [body, body, body, body, deepRequest(20_000, true)]) {
        const response = yield* Fixture.postText(url, text, onceKey)
        assert.strictEqual(response.status, 400, response.text)
        const { error } = decodeError(response.text)
        assert.deepStrictEqual([error.type, error.code, error.param], [
          "invalid_request_error",
          "invalid_request",
          "tools[1].function.parameters"
        ])
        assert.include(error.message, "tools[1].function.parameters: nested deeper than 100 levels")
        assert.strictEqual(response.headers.get("ratelimit-remaining"), "1")
      }
      assert.strictEqual(yield* received(mock), 0)

      // the day's one unit is still there, and both circuits closed: the next request is served, by deepseek
      const next = yield* Fixture.post(url, hello, onceKey)
      assert.strictEqual(next.status, 200, next.text)
      assert.include(next.text, "\"model\":\"deepseek/deepseek-flash\"")
      assert.strictEqual(next.headers.get("ratelimit-remaining"), "0")
    }))

  it.effect("parameters nested to the limit are passed on", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      // each level of the schema is two levels of JSON; the root and `tools[1]`'s "a" string make the rest
      const response = yield* Fixture.postText(url, deepRequest(49, false))
      assert.strictEqual(response.status, 200, response.text)
      assert.strictEqual(yield* received(mock), 1)
    }))

  it.effect("parameters whose root is no object schema: 400 naming the field, no provider call", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      for (
        const parameters of ["{\"type\":\"array\"}", "{\"type\":\"string\"}", "{\"anyOf\":[{\"type\":\"object\"}]}"]
      ) {
        const body = `{"model":"fast","messages":[{"role":"user","content":"hi"}],"tools":[${tool("t", parameters)}]}`
        const response = yield* Fixture.postText(url, body)
        assert.strictEqual(response.status, 400, response.text)
        const { error } = decodeError(response.text)
        assert.strictEqual(error.param, "tools[0].function.parameters")
        assert.include(error.message, "expected an object schema at the root (type \"object\")")
      }
      assert.strictEqual(yield* received(mock), 0)
    }))

  it.effect("503 with every circuit open: Retry-After, the seconds until the earliest probe", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const chain = { model: "openai/gpt-4.1", fallbacks: ["deepseek/deepseek-pro"], messages: hello.messages }
      yield* mock.inject("openai", MockFault.status(500))
      yield* mock.inject("deepseek", MockFault.status(500))
      const failed = yield* Fixture.post(url, chain)
      assert.strictEqual(failed.status, 503, failed.text)
      // a provider failed: no circuit was open when the request started
      assert.isNull(failed.headers.get("retry-after"))
      for (const body of [chain, { ...chain, stream: true }]) {
        const refused = yield* Fixture.post(url, body)
        assert.strictEqual(refused.status, 503, refused.text)
        assert.strictEqual(decodeError(refused.text).error.code, "upstream_unavailable")
        const seconds = Number(refused.headers.get("retry-after"))
        assert.isTrue(seconds >= 50 && seconds <= 60, `Retry-After: ${refused.headers.get("retry-after")}`)
      }
      assert.strictEqual(yield* received(mock), 2)
    }))

  it.effect("503 with one circuit open and the other provider timed out: Retry-After, until the earliest probe", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      // gpt-4o-mini's circuit opens on its failure
      yield* mock.inject("openai", MockFault.status(500))
      const opened = yield* Fixture.post(url, { model: "openai/gpt-4o-mini", messages: hello.messages })
      assert.strictEqual(opened.status, 503, opened.text)
      yield* mock.inject("deepseek", MockFault.latency(2000))
      const chain = { model: "openai/gpt-4o-mini", fallbacks: ["deepseek/deepseek-flash"], messages: hello.messages }
      const refused = yield* Fixture.post(url, chain)
      assert.strictEqual(refused.status, 503, refused.text)
      const seconds = Number(refused.headers.get("retry-after"))
      assert.isTrue(seconds >= 50 && seconds <= 60, `Retry-After: ${refused.headers.get("retry-after")}`)
    }))
})
