import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as MockFault from "@baton/testing/MockFault"
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import OpenAI from "openai"
import * as Fixture from "./fixture.ts"

/** Reads of the quota store (`usage`): the headers of a call that reserved must not need one. */
const storeReads = { count: 0 }

const countingStore = Layer.effect(
  QuotaLimiter.QuotaStore,
  Effect.map(QuotaLimiter.makeStoreMemory, (store) =>
    QuotaLimiter.QuotaStore.of({
      ...store,
      usage: (key) => Effect.suspend(() => (storeReads.count++, store.usage(key)))
    }))
)

const TestLayer = Fixture.gatewayWithMock({ quotaStore: countingStore })

const providerRequests = (mock: MockProviderServer.MockProviderServer["Service"]) =>
  Effect.map(
    Effect.all([mock.stats("openai"), mock.stats("deepseek")]),
    ([openai, deepseek]) => openai.requests + deepseek.requests
  )

const decodeError = Schema.decodeUnknownSync(Fixture.ErrorResponse)

const modelOf = (body: unknown) => Schema.decodeUnknownSync(Schema.Struct({ model: Schema.String }))(body).model

const expectError = (
  response: { readonly status: number; readonly text: string },
  status: number,
  expected: { readonly code?: string; readonly param?: string | null; readonly message?: RegExp }
) => {
  assert.strictEqual(response.status, status, response.text)
  const { error } = decodeError(JSON.parse(response.text))
  if (expected.code !== undefined) assert.strictEqual(error.code, expected.code)
  if (expected.param !== undefined) assert.strictEqual(error.param, expected.param)
  if (expected.message !== undefined) assert.match(error.message, expected.message)
  assert.notMatch(response.text, /sk-provider/)
  return error
}

const hello = JSON.stringify({ model: "fast", messages: [{ role: "user", content: "Say hello" }] })

/** The chunks of a streamed story from the alias `fast`, with usage. */
const storyChunks = (url: string) =>
  Effect.promise(async () => {
    const stream = await Fixture.client(url).chat.completions.create({
      model: "fast",
      messages: [{ role: "user", content: "Tell me a story" }],
      stream: true,
      stream_options: { include_usage: true }
    })
    const chunks: Array<OpenAI.Chat.Completions.ChatCompletionChunk> = []
    for await (const chunk of stream) chunks.push(chunk)
    return chunks
  })

const textOf = (chunks: ReadonlyArray<OpenAI.Chat.Completions.ChatCompletionChunk>) =>
  chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")

layer(TestLayer, { excludeTestServices: true })("Gateway conformance (openai client and fetch over the mock)", (it) => {
  it.effect("a streamed answer tells proxies not to buffer or transform it", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const answer = yield* Fixture.post(url, { ...JSON.parse(hello), stream: true })
      assert.strictEqual(answer.status, 200, answer.text)
      assert.deepStrictEqual(
        ["content-type", "cache-control", "x-accel-buffering"].map((name) => answer.headers.get(name)),
        ["text/event-stream", "no-cache, no-transform", "no"]
      )
    }))

  it.effect("plain: text, usage, the producing model, quota headers", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const { data, response } = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({
          model: "fast",
          messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello" }],
          max_completion_tokens: 50,
          temperature: 0.2,
          // eslint-disable-next-line @typescript-eslint/no-deprecated -- part of the wire format the gateway accepts
          seed: 7,
          stop: ["\n\n"],
          // eslint-disable-next-line @typescript-eslint/no-deprecated -- part of the wire format the gateway accepts
          user: "student-9"
        }).withResponse()
      )
      assert.isAbove(data.choices[0]?.message.content?.length ?? 0, 0)
      assert.strictEqual(data.choices[0]?.finish_reason, "stop")
      assert.strictEqual(data.model, "openai/gpt-4o-mini")
      assert.isAbove(data.usage?.total_tokens ?? 0, 0)
      const billed = yield* mock.stats("openai")
      assert.strictEqual(data.usage?.prompt_tokens, billed.promptTokens)
      assert.strictEqual(data.usage?.completion_tokens, billed.completionTokens)
      assert.strictEqual(response.headers.get("ratelimit-limit"), "1000")
      assert.isNotNull(response.headers.get("ratelimit-remaining"))
      assert.isNotNull(response.headers.get("ratelimit-reset"))
      assert.strictEqual(billed.requests, 1)
    }))

  it.effect("a fallback is visible in model", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.status(500))
      const data = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({ model: "fast", messages: [{ role: "user", content: "hi" }] })
      )
      assert.strictEqual(data.model, "deepseek/deepseek-flash")
      assert.strictEqual((yield* mock.stats("deepseek")).requests, 1)
    }))

  it.effect("per-step policy: each step of an alias retries as configured before the next one", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.status(503), { times: 100 })
      const modelsAsked = Effect.map(mock.received(), (requests) => requests.map((request) => modelOf(request.body)))
      const data = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({ model: "steady", messages: [{ role: "user", content: "hi" }] })
      )
      assert.strictEqual(data.model, "deepseek/deepseek-flash")
      assert.deepStrictEqual(yield* modelsAsked, [
        "gpt-4o-mini",
        "gpt-4o-mini",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1",
        "deepseek-flash"
      ])
      // the same steps named directly follow the environment's policy (no retries)
      yield* mock.reset
      yield* mock.inject("openai", MockFault.status(503), { times: 100 })
      const direct = yield* Fixture.postText(
        url,
        JSON.stringify({
          model: "openai/gpt-4o-mini",
          messages: [{ role: "user", content: "hi" }],
          fallbacks: ["openai/gpt-4.1", "deepseek/deepseek-flash"]
        })
      )
      assert.strictEqual(direct.status, 200, direct.text)
      assert.deepStrictEqual(yield* modelsAsked, ["gpt-4o-mini", "gpt-4.1", "deepseek-flash"])
    }))

  it.effect("per-request fallbacks: a concrete provider/model falls back to the fallbacks given", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.status(503))
      const body = JSON.stringify({
        model: "openai/gpt-4.1",
        messages: [{ role: "user", content: "hi" }],
        fallbacks: ["deepseek/deepseek-flash"]
      })
      const response = yield* Fixture.postText(url, body)
      assert.strictEqual(response.status, 200, response.text)
      assert.strictEqual(modelOf(JSON.parse(response.text)), "deepseek/deepseek-flash")
    }))

  it.effect("fallbacks are limited to configured providers and models (400, no provider call)", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const body = JSON.stringify({
        model: "openai/gpt-4.1",
        messages: [{ role: "user", content: "hi" }],
        fallbacks: ["deepseek/deepseek-flash", "anthropic/claude-opus"]
      })
      expectError(yield* Fixture.postText(url, body), 400, { code: "invalid_fallback", param: "fallbacks[1]" })
      assert.strictEqual(yield* providerRequests(mock), 0)
    }))

  it.effect("json_schema output is decoded and validated before it is returned", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const data = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({
          model: "openai/gpt-4o-mini",
          messages: [{ role: "user", content: "Name a city" }],
          response_format: {
            type: "json_schema",
            json_schema: {
              name: "city",
              strict: true,
              schema: {
                type: "object",
                properties: { city: { type: "string" }, population: { type: "integer" } },
                required: ["city", "population"],
                additionalProperties: false
              }
            }
          }
        })
      )
      const value = Schema.decodeUnknownSync(Schema.Struct({ city: Schema.String, population: Schema.Int }))(
        JSON.parse(data.choices[0]?.message.content ?? "")
      )
      assert.isString(value.city)
    }))

  it.effect("json_schema with stream: the validated answer as one delta, then usage and [DONE]", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const response = yield* Fixture.postText(
        url,
        JSON.stringify({
          model: "fast",
          messages: [{ role: "user", content: "Name a city" }],
          stream: true,
          stream_options: { include_usage: true },
          response_format: {
            type: "json_schema",
            json_schema: {
              name: "city",
              schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
            }
          }
        })
      )
      assert.strictEqual(response.status, 200, response.text)
      const events = response.text.split("\n\n").filter((event) => event.length > 0 && !event.startsWith(":"))
      assert.strictEqual(events.at(-1), "data: [DONE]")
      const Chunk = Schema.Struct({
        model: Schema.String,
        choices: Schema.Array(Schema.Struct({ delta: Schema.Struct({ content: Schema.optionalKey(Schema.String) }) }))
      })
      const chunks = events.slice(0, -1).map((event) => Schema.decodeUnknownSync(Chunk)(JSON.parse(event.slice(6))))
      const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")
      assert.isString(Schema.decodeUnknownSync(Schema.Struct({ city: Schema.String }))(JSON.parse(text)).city)
      for (const chunk of chunks) assert.strictEqual(chunk.model, "openai/gpt-4o-mini")
    }))

  it.effect("max_tokens is passed on: a short limit ends with finish_reason length", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const data = yield* Effect.promise(() =>
        Fixture.client(url).chat.completions.create({
          model: "fast",
          messages: [{ role: "user", content: "Tell me a long story about the sea and the stars" }],
          // eslint-disable-next-line @typescript-eslint/no-deprecated -- part of the wire format the gateway accepts
          max_tokens: 2
        })
      )
      assert.strictEqual(data.choices[0]?.finish_reason, "length")
      assert.strictEqual(data.usage?.completion_tokens, 2)
    }))

  it.effect("a JSON Schema that is not one is a 400 before any provider call", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const body = JSON.stringify({
        model: "fast",
        messages: [{ role: "user", content: "hi" }],
        response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "no-such-type" } } }
      })
      expectError(yield* Fixture.postText(url, body), 400, {
        code: "invalid_schema",
        param: "response_format.json_schema"
      })
      assert.strictEqual(yield* providerRequests(mock), 0)
    }))

  it.effect("streaming with usage: OpenAI chunks naming the producing model, a final usage chunk", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const chunks = yield* storyChunks(url)
      assert.isAbove(textOf(chunks).length, 0)
      for (const chunk of chunks) assert.strictEqual(chunk.model, "openai/gpt-4o-mini")
      assert.strictEqual(chunks.at(-2)?.choices[0]?.finish_reason, "stop")
      const usage = chunks.at(-1)?.usage
      assert.deepStrictEqual(chunks.at(-1)?.choices, [])
      const billed = yield* mock.stats("openai")
      assert.strictEqual(usage?.completion_tokens, billed.completionTokens)
      assert.strictEqual(usage?.prompt_tokens, billed.promptTokens)
    }))

  it.effect("streaming: a failure before the first delta falls back invisibly", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.status(500))
      const chunks = yield* storyChunks(url)
      assert.isAbove(textOf(chunks).length, 0)
      for (const chunk of chunks) assert.strictEqual(chunk.model, "deepseek/deepseek-flash")
      assert.isDefined(chunks.at(-1)?.usage)
    }))

  it.effect("streaming: a stream broken after text (DeepSeek's connection cut) ends with an in-band error event and no [DONE]", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("deepseek", MockFault.cutStreamAfter(2))
      const response = yield* Fixture.postText(
        url,
        JSON.stringify({
          model: "deepseek/deepseek-flash",
          messages: [{ role: "user", content: "Tell me a story" }],
          stream: true
        })
      )
      assert.strictEqual(response.status, 200, response.text)
      const events = response.text.split("\n\n").filter((event) => event.length > 0)
      assert.isAbove(events.length, 1)
      assert.match(
        events.at(-1) ?? "",
        /^data: \{"error":\{"message":".*","type":"server_error","code":"stream_interrupted"/
      )
      assert.notInclude(response.text, "[DONE]")
      yield* mock.inject("deepseek", MockFault.cutStreamAfter(2))
      const failure = yield* Effect.promise(async () => {
        const stream = await Fixture.client(url).chat.completions.create({
          model: "deepseek/deepseek-flash",
          messages: [{ role: "user", content: "Tell me a story" }],
          stream: true
        })
        const received: Array<unknown> = []
        try {
          for await (const chunk of stream) received.push(chunk)
          return undefined
        } catch (error) {
          return error
        }
      })
      assert.instanceOf(failure, OpenAI.APIError)
    }))

  it.effect("400: malformed JSON, unknown field, wrong type, each named, before any provider call", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      expectError(yield* Fixture.postText(url, "{\"model\": \"fast\", "), 400, {
        code: "invalid_json",
        message: /malformed JSON/
      })
      expectError(
        yield* Fixture.postText(
          url,
          JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }], top_k: 3 })
        ),
        400,
        { code: "invalid_request", param: "top_k" }
      )
      expectError(
        yield* Fixture.postText(
          url,
          JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }], temperature: "hot" })
        ),
        400,
        { code: "invalid_request", param: "temperature" }
      )
      expectError(
        yield* Fixture.postText(url, JSON.stringify({ model: "fast", messages: [{ role: "wizard", content: "hi" }] })),
        400,
        { code: "invalid_request", param: "messages[0].role" }
      )
      assert.strictEqual(yield* providerRequests(mock), 0)
    }))

  it.effect("413: a body over the configured size", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const body = JSON.stringify({ model: "fast", messages: [{ role: "user", content: "x".repeat(10_000) }] })
      expectError(yield* Fixture.postText(url, body), 413, { code: "request_too_large" })
      // chunked, without a `Content-Length`: the read stops at the limit
      const chunked = new Blob([body]).stream()
      expectError(yield* Fixture.postText(url, chunked), 413, { code: "request_too_large" })
      assert.strictEqual(yield* providerRequests(mock), 0)
    }))

  it.effect("404: an unknown model or a model the provider does not list", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      for (const model of ["gpt-5", "openai/gpt-5", "nope/gpt-4o-mini"]) {
        expectError(
          yield* Fixture.postText(url, JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] })),
          404,
          { code: "model_not_found", param: "model" }
        )
      }
      assert.strictEqual(yield* providerRequests(mock), 0)
    }))

  it.effect("401: unknown, revoked and missing keys, with zero provider requests", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      expectError(yield* Fixture.postText(url, hello, "gw-unknown"), 401, { code: "invalid_api_key" })
      expectError(yield* Fixture.postText(url, hello, Fixture.revokedKey), 401, { code: "invalid_api_key" })
      const missing = yield* Effect.promise(() =>
        fetch(`${url}/v1/chat/completions`, { method: "POST", body: hello }).then((r) => r.status)
      )
      assert.strictEqual(missing, 401)
      const thrown = yield* Effect.promise(() =>
        Fixture.client(url, "gw-unknown").chat.completions.create({
          model: "fast",
          messages: [{ role: "user", content: "hi" }]
        })
          .then(() => undefined, (error: unknown) => error)
      )
      assert.instanceOf(thrown, OpenAI.AuthenticationError)
      assert.strictEqual(yield* providerRequests(mock), 0)
    }))

  it.effect("429: the subject's daily limit, with Retry-After and RateLimit headers", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      for (let i = 0; i < Fixture.limitedDaily; i++) {
        const ok = yield* Fixture.postText(url, hello, Fixture.limitedKey)
        assert.strictEqual(ok.status, 200, ok.text)
        assert.strictEqual(ok.headers.get("ratelimit-remaining"), String(Fixture.limitedDaily - i - 1))
      }
      const refused = yield* Fixture.postText(url, hello, Fixture.limitedKey)
      expectError(refused, 429, { code: "rate_limit_exceeded" })
      assert.strictEqual(refused.headers.get("ratelimit-limit"), String(Fixture.limitedDaily))
      assert.strictEqual(refused.headers.get("ratelimit-remaining"), "0")
      assert.isAbove(Number(refused.headers.get("retry-after")), 0)
      assert.strictEqual(refused.headers.get("retry-after"), refused.headers.get("ratelimit-reset"))
      assert.strictEqual(yield* providerRequests(mock), Fixture.limitedDaily)
    }))

  it.effect("quota headers come from the call's reservation (a failed call's refunded): no quota-store read", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const remaining = (response: { readonly headers: Headers }) => Number(response.headers.get("ratelimit-remaining"))
      const reads = storeReads.count
      const first = yield* Fixture.postText(url, hello)
      assert.strictEqual(first.status, 200, first.text)
      const streamed = yield* Fixture.postText(url, JSON.stringify({ ...JSON.parse(hello), stream: true }))
      assert.strictEqual(streamed.status, 200, streamed.text)
      assert.strictEqual(remaining(streamed), remaining(first) - 1)
      yield* mock.inject("openai", MockFault.status(500))
      yield* mock.inject("deepseek", MockFault.status(502))
      const failed = yield* Fixture.postText(url, hello)
      assert.strictEqual(failed.status, 503, failed.text)
      assert.strictEqual(remaining(failed), remaining(streamed))
      const next = yield* Fixture.postText(url, hello)
      assert.strictEqual(remaining(next), remaining(streamed) - 1)
      assert.strictEqual(storeReads.count, reads)
    }))

  it.effect("503: every provider failed; provider keys never reach the client", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.status(500))
      yield* mock.inject("deepseek", MockFault.status(502))
      const response = yield* Fixture.postText(url, hello)
      expectError(response, 503, { code: "upstream_unavailable" })
      assert.isNotNull(response.headers.get("ratelimit-remaining"))
    }))

  it.effect("504: every provider timed out", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      yield* mock.inject("openai", MockFault.noResponse)
      yield* mock.inject("deepseek", MockFault.noResponse)
      expectError(yield* Fixture.postText(url, hello), 504, { code: "upstream_timeout" })
    }))

  it.effect("GET /v1/models lists aliases and provider/models; /healthz; /metrics in Prometheus text", () =>
    Effect.gen(function*() {
      const { url } = yield* Fixture.setup
      const models = yield* Effect.promise(() => Fixture.client(url).models.list())
      assert.deepStrictEqual(
        models.data.map((model) => model.id),
        ["fast", "steady", "openai/gpt-4o-mini", "openai/gpt-4.1", "deepseek/deepseek-flash"]
      )
      const health = yield* Effect.promise(() => fetch(`${url}/healthz`).then((r) => r.json()))
      assert.deepStrictEqual(health, { status: "ok" })
      yield* Fixture.postText(url, hello)
      const metrics = yield* Effect.promise(() => fetch(`${url}/metrics`).then((r) => r.text()))
      assert.match(metrics, /baton_llm_requests_total\{[^}]*\} \d+/)
    }))
})
