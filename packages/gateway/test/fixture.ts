/**
 * A gateway on a free port over the mock provider server, with in-memory
 * stores, for the conformance tests, and the clients that call it.
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { ConfigProvider, Effect, Layer, Schema } from "effect"
import type { Scope } from "effect"
import { HttpServer } from "effect/http"
import OpenAI from "openai"
import * as Gateway from "../src/Gateway.ts"
import * as GatewayConfig from "../src/GatewayConfig.ts"

/** The gateway key of the test subject, and one that was revoked. */
export const clientKey = "gw-test-key-1"
export const revokedKey = "gw-revoked-key"
export const limitedKey = "gw-limited-key"
export const limitedDaily = 2

/** The provider keys the gateway holds; they must never reach a client. */
export const providerKeys = {
  OPENAI_API_KEY: "sk-provider-openai-secret",
  DEEPSEEK_API_KEY: "sk-provider-deepseek-secret"
}

export const configFile = (mock: MockProviderServer.MockProviderServer["Service"], subjectPrefix = "teacher") => ({
  providers: {
    openai: { baseUrl: mock.baseUrl("openai"), models: ["gpt-4o-mini", "gpt-4.1"] },
    deepseek: { baseUrl: mock.baseUrl("deepseek"), models: ["deepseek-flash"] }
  },
  models: {
    fast: ["openai/gpt-4o-mini", "deepseek/deepseek-flash"],
    // each step with its own retries (the environment's default is 0)
    steady: [
      { model: "openai/gpt-4o-mini", retries: 2 },
      { model: "openai/gpt-4.1", retries: 1 },
      "deepseek/deepseek-flash"
    ]
  },
  keys: [
    { sha256: GatewayConfig.hashKey(clientKey), subject: `${subjectPrefix}-1` },
    { sha256: GatewayConfig.hashKey(revokedKey), subject: `${subjectPrefix}-2`, revoked: true },
    { sha256: GatewayConfig.hashKey(limitedKey), subject: `${subjectPrefix}-3`, daily: limitedDaily }
  ],
  maxBodyBytes: 4096
})

/** The environment of the tests: no retries, short limits. */
export const environment: Record<string, string> = {
  ...providerKeys,
  LLM_PRIMARY_PROVIDER: "openai",
  LLM_FALLBACK_PROVIDER: "deepseek",
  LLM_MAX_RETRIES: "0",
  LLM_RETRY_BASE_DELAY_MS: "1",
  LLM_FIRST_BYTE_TIMEOUT_MS: "1000",
  LLM_FIRST_TOKEN_TIMEOUT_MS: "1000",
  LLM_STREAM_IDLE_TIMEOUT_MS: "1000",
  LLM_CIRCUIT_FAILURE_THRESHOLD: "1000",
  AI_DAILY_LIMIT_PER_TEACHER: "1000"
}

/** The gateway's URL. */
export const gatewayUrl = HttpServer.HttpServer.useSync((server) => HttpServer.formatAddress(server.address))

/**
 * What a test may change in a gateway: its stores (memory by default; a
 * circuit store or throttle is used when given), the subjects' prefix and
 * some environment variables on top of {@link environment}.
 */
export interface Options {
  readonly subjectPrefix?: string
  readonly quotaStore?: Layer.Layer<QuotaLimiter.QuotaStore, unknown>
  readonly ledger?: Layer.Layer<UsageLedger.UsageLedger, unknown>
  /** A `CircuitBreakerStore` and/or a `ProviderThrottle`. */
  readonly shared?: Layer.Layer<never, unknown>
  readonly environment?: Readonly<Record<string, string>>
  /** The `LlmConfig` (default: read from {@link environment} and `environment`, chain included). */
  readonly llmConfig?: Layer.Layer<LlmConfig.LlmConfig, unknown>
  /** How the gateway listens (on a spare port unless told). */
  readonly listen?: Gateway.ListenOptions
  /** The most bytes of a request body (the config file's `maxBodyBytes`; 4096 unless told). */
  readonly maxBodyBytes?: number
}

/** Stores and services of one gateway. */
export const services = (options: Options = {}) =>
  Layer.mergeAll(
    LlmConfig.layerPricing,
    RequestLog.layerMemory(),
    options.ledger ?? UsageLedger.layerMemory(),
    options.quotaStore ?? QuotaLimiter.layerStoreMemory,
    options.shared ?? Layer.empty,
    NodeHttpClient.layerUndici
  ).pipe(Layer.provideMerge(options.llmConfig ?? LlmConfig.layerFromRecord({ ...environment, ...options.environment })))

/** A gateway over the mock server in context. */
export const gateway = (options: Options = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const file = configFile(mock, options.subjectPrefix)
    const maxBodyBytes = options.maxBodyBytes ?? file.maxBodyBytes
    const config = yield* GatewayConfig.parse(JSON.stringify({ ...file, maxBodyBytes }), "json")
    return Gateway.layer(config, { port: 0, ...options.listen })
  })).pipe(
    Layer.provideMerge(services(options)),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(environment)))
  )

/**
 * The fixture's gateway with `more` providers (given the mock server) beside
 * OpenAI and DeepSeek, read with `extra` (their keys) over
 * {@link environment}, and the mock server.
 */
export const gatewayBeside = (
  more: (mock: MockProviderServer.MockProviderServer["Service"]) => Record<string, unknown>,
  extra: Readonly<Record<string, string>>
) =>
  Layer.unwrap(Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const file = configFile(mock)
    const providers = { ...file.providers, ...more(mock) }
    const config = yield* GatewayConfig.parse(JSON.stringify({ ...file, providers }), "json")
    return Gateway.layer(config, { port: 0 })
  })).pipe(
    Layer.provideMerge(services({ environment: extra })),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ...environment, ...extra }))),
    Layer.provideMerge(MockProviderServer.layer())
  )

/** A gateway over a mock server of its own, both in the layer's output. */
export const gatewayWithMock = (options: Options = {}) =>
  gateway(options).pipe(Layer.provideMerge(MockProviderServer.layer()))

/**
 * A gateway over the providers `providersOf` configures (given the mock
 * server; in the layer's scope, so it may start a server of its own), the
 * test subject's key its only key, read with `extra` over
 * {@link environment}, and the mock server.
 */
export const gatewayOf = (
  providersOf: (
    mock: MockProviderServer.MockProviderServer["Service"]
  ) => Effect.Effect<Record<string, unknown>, never, Scope.Scope>,
  extra: Record<string, string> = {}
) =>
  Layer.unwrap(Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const config = yield* GatewayConfig.parse(
      JSON.stringify({
        providers: yield* providersOf(mock),
        keys: [{ sha256: GatewayConfig.hashKey(clientKey), subject: "teacher-1" }]
      }),
      "json"
    )
    return Gateway.layer(config, { port: 0 })
  })).pipe(
    Layer.provideMerge(services({ environment: extra })),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ...environment, ...extra }))),
    Layer.provideMerge(MockProviderServer.layer())
  )

/** A JSON value as an object (a copy), `{}` when it is none. */
export const record = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? { ...value } : {}

/** Resets the mock server: the mock and the gateway's URL. */
export const setup = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  yield* mock.reset
  return { mock, url: yield* gatewayUrl }
})

/** The official OpenAI client of the gateway at `url`, with `apiKey` (the test subject's by default), no retries. */
export const client = (url: string, apiKey = clientKey) => new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0 })

/** What the gateway answered a post: its status, headers, body text and `x-request-id`. */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly requestId: string | null
}

/** Posts `body`, as it is, to the gateway's chat completions with `key` (the test subject's by default). */
export const postText = (
  url: string,
  body: string | ReadableStream<Uint8Array>,
  key = clientKey
): Effect.Effect<Answer> =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body,
      // a stream goes chunked, without a `Content-Length`
      duplex: "half"
    })
    return {
      status: response.status,
      headers: response.headers,
      text: await response.text(),
      requestId: response.headers.get("x-request-id")
    }
  })

/** Posts `body` as JSON to the gateway's chat completions, as {@link postText}. */
export const post = (url: string, body: unknown, key = clientKey): Effect.Effect<Answer> =>
  postText(url, JSON.stringify(body), key)

/**
 * Posts "Say hello" with `request`'s fields to the gateway (answered 200)
 * and gives the answer and the body `provider`'s route received, its only
 * request since the reset.
 */
export const sent = (provider: MockProviderServer.MockProvider, request: Record<string, unknown>) =>
  Effect.gen(function*() {
    const { mock, url } = yield* setup
    const answer = yield* post(url, { messages: [{ role: "user", content: "Say hello" }], ...request })
    if (answer.status !== 200) return yield* Effect.die(new Error(`answered ${answer.status}: ${answer.text}`))
    const received = yield* mock.received(provider)
    if (received.length !== 1) return yield* Effect.die(new Error(`${received.length} requests reached ${provider}`))
    return { answer, body: record(received[0]?.body) }
  })

/** The body of an error the gateway answers, in OpenAI's shape. */
export const ErrorResponse = Schema.Struct({
  error: Schema.Struct({
    message: Schema.String,
    type: Schema.String,
    code: Schema.NullOr(Schema.String),
    param: Schema.NullOr(Schema.String)
  })
})

/**
 * A request of `model` that offers one tool, `get_weather` (a `city`), and
 * asks for the weather in Oslo: the mock's models answer it with a call.
 */
export const weatherRequest = (model: string) => ({
  model,
  messages: [{ role: "user" as const, content: "Weather in Oslo?" }],
  tools: [{
    type: "function" as const,
    function: {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
    }
  }]
})
