/**
 * An OpenAI-compatible HTTP gateway over Baton: clients in any language
 * point an OpenAI client at it and get Baton's fallback, retries, circuit
 * breaking, quotas, ledger and logs.
 *
 * Endpoints:
 * - `POST /v1/chat/completions`: plain JSON or SSE (`stream: true`,
 *   `stream_options.include_usage`), in OpenAI's wire format; `model` is an
 *   alias or a configured `provider/model`, `fallbacks` may add more; the
 *   answer's `model` (and every chunk's) is the `provider/model` that
 *   produced the text. `tools` and `tool_choice` pass through to the chain;
 *   tool calls come back as `tool_calls` (streamed as OpenAI's `tool_calls`
 *   chunk deltas). A `json_schema` answer is JSON, never a tool call: beside
 *   tools the model may call (any `tool_choice` but `"none"`) it is a 400
 *   naming `tools`; a `tool_choice` without `tools` is a 400 as on OpenAI.
 * - `GET /v1/models`: the aliases and `provider/model`s a client may ask for;
 *   `GET /v1/models/{id}` one of them (404 `model_not_found` for another).
 * - `GET /healthz`: `{"status":"ok"}`.
 * - `GET /metrics`: every Baton metric in Prometheus text format.
 *
 * Behaviour:
 * - Clients authenticate with `Authorization: Bearer <gateway key>`; keys
 *   are looked up by SHA-256 (`GatewayConfig.hashKey`). An unknown or
 *   revoked key gets 401 before anything else happens. Provider keys stay
 *   on the server.
 * - The body is read up to `maxBodyBytes` (413 past it) and decoded
 *   strictly: malformed JSON, an unknown top-level field, a wrong type or
 *   a value of an OpenAI field Baton cannot honour (`n: 2`) is a 400 naming
 *   the field, before any provider is called (`null` is absent; neutral
 *   values such as `n: 1` pass; messages ignore keys they do not use).
 * - Each call spends one unit of the key's subject's daily quota (the
 *   `QuotaStore` in context: memory, or Redis shared by every replica), under
 *   the limits of the subject's active keys (a revoked key's never count);
 *   answers to an authenticated client carry `RateLimit-Limit`,
 *   `RateLimit-Remaining`, `RateLimit-Reset`, and `Retry-After` on 429.
 * - Errors use OpenAI's `{"error":{"message","type","code","param"}}` with
 *   400, 401, 404 (unknown model or path), 413, 429, 503 (every provider
 *   failed, generation disabled, quota store down) or 504 (deadline,
 *   timeouts). A failed provider call gets a generic message: the attempts (provider
 *   messages, addresses) stay in the request log, except that a request
 *   every provider rejected (400) carries the first provider's scrubbed
 *   message and `param`; so does one whose conversation the provider asked
 *   rejected, though another was skipped (its circuit open).
 * - Streams: a failure before the first delta falls back invisibly (the
 *   manager's chain); a failure after it that the manager cannot rescue ends
 *   the stream with an in-band `{"error":...}` event and no `[DONE]`. A
 *   comment (`: keep-alive`) is sent as the response starts and every
 *   `keepAliveMs` (15 s) while the stream is open, so a proxy's idle limit
 *   does not cut a slow first token or a long pause: the first token is
 *   awaited that long before the response starts (200), so only a failure
 *   within it has its own status; a later one, before any text too, is the
 *   in-band error event. A stream with a `json_schema` response format is
 *   kept alive the same way while its answer is made and validated whole,
 *   then sent as one content chunk and its finish.
 * - A provider's content filter stopping the answer is answered as OpenAI
 *   does, not as an error: a 200 whose `finish_reason` is
 *   `content_filter`, with the usage billed (plain: `content: null`, the
 *   text the filter cut is not kept; streamed: the text sent so far, then
 *   the finish chunk, the usage chunk when asked for, and `[DONE]`). A model
 *   that declined in its own words (OpenAI's `refusal`) is answered the same
 *   way but with its `refusal` (plain: `message.refusal`; streamed: a chunk
 *   whose delta carries it) and `finish_reason: "stop"`, as OpenAI sends
 *   it: the SDKs' `parse` then returns the refusal instead of throwing on
 *   `content_filter`.
 * - `response_format: json_schema` answers are validated against the
 *   schema before they are returned (also when streamed: the validated
 *   answer is sent as one delta).
 *
 * Use it as a library: `Gateway.layer(config, { port })` is the server as a
 * `Layer` over the stores in context; `Gateway.serve(options)` runs it with
 * the environment's defaults (memory quota, SQLite ledger; Redis and
 * PostgreSQL when `REDIS_URL` and `LLM_USAGE_STORE_URL` name them) until
 * interrupted. Shutdown closes the listener and lets in-flight requests
 * finish (20 s) before interrupting them; an interrupted call still records
 * its usage (the manager's cancellation path).
 *
 * @example
 * ```ts
 * import * as Gateway from "@baton/gateway/Gateway"
 * import * as GatewayConfig from "@baton/gateway/GatewayConfig"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import { Effect } from "effect"
 *
 * Effect.flatMap(GatewayConfig.load("baton.yaml"), (config) => Gateway.serve({ config, port: 8080 }))
 *   .pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import { LlmConfigError } from "@baton/core/LlmError"
import * as LlmMetrics from "@baton/core/LlmMetrics"
import type * as Pricing from "@baton/core/Pricing"
import * as ProviderThrottle from "@baton/core/ProviderThrottle"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import { scrubSecrets } from "@baton/core/Redact"
import * as RequestLog from "@baton/core/RequestLog"
import type * as UsageLedger from "@baton/core/UsageLedger"
import * as HttpRoutes from "@baton/http/HttpRoutes"
import * as HttpSse from "@baton/http/HttpSse"
import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
import * as RedisCircuitBreaker from "@baton/redis/RedisCircuitBreaker"
import * as RedisConnection from "@baton/redis/RedisConnection"
import * as RedisQuotaStore from "@baton/redis/RedisQuotaStore"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Effect, Layer, Option } from "effect"
import type { HttpClient, HttpServer } from "effect/http"
import { HttpRouter } from "effect/http"
import { CircuitBreaker } from "effect/persistence"
import { createServer } from "node:http"
import * as GatewayConfig from "./GatewayConfig.ts"
import * as Chains from "./internal/chains.ts"
import * as Handlers from "./internal/handlers.ts"
import * as QuotaNote from "./internal/quotaNote.ts"

/**
 * Where the server listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  readonly port?: number | undefined
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  /**
   * How long a client may take to send a whole request, headers and body
   * (default 60 s; `0`: no limit): a client that stalls is answered 408 and
   * its connection closed, so that it holds no handler. Answers, streamed ones included,
   * take as long as they take.
   */
  readonly requestTimeoutMs?: number | undefined
  /**
   * How often a streamed answer sends a comment (`: keep-alive`), and how
   * long it waits for the first token before its response starts (default
   * `HttpSse.keepAliveMs`, 15 s): keep it under the idle limit of any proxy
   * in front. A whole number of ms, 1 or more.
   */
  readonly keepAliveMs?: number | undefined
}

/**
 * Node's server with `requestTimeoutMs` as its request and header limits,
 * checked four times within the limit, at most every 30 s (Node's default)
 * and at least every 100 ms; `0`: no limit, as Node takes it.
 */
const nodeServer = (requestTimeoutMs: number) => () =>
  createServer(
    requestTimeoutMs === 0 ? { requestTimeout: 0 } : {
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeoutMs / 4)))
    }
  )

/** `ListenOptions.requestTimeoutMs`, 60 s by default; anything but a whole number of ms, 0 or more, is refused. */
const requestTimeoutOf = (listen: ListenOptions): Effect.Effect<number, GatewayConfig.GatewayConfigError> => {
  const ms = listen.requestTimeoutMs ?? 60_000
  return Number.isSafeInteger(ms) && ms >= 0 ? Effect.succeed(ms) : Effect.fail(
    new GatewayConfig.GatewayConfigError({
      field: "requestTimeoutMs",
      message: `requestTimeoutMs: ${ms} is not a whole number of milliseconds, 0 or more (0: no limit)`
    })
  )
}

/** `keepAliveMs`, `HttpSse.keepAliveMs` by default; anything but a whole number of ms, 1 or more, is refused. */
const keepAliveOf = (keepAliveMs: number | undefined): Effect.Effect<number, GatewayConfig.GatewayConfigError> => {
  const ms = keepAliveMs ?? HttpSse.keepAliveMs
  return Number.isSafeInteger(ms) && ms >= 1 ? Effect.succeed(ms) : Effect.fail(
    new GatewayConfig.GatewayConfigError({
      field: "keepAliveMs",
      message: `keepAliveMs: ${ms} is not a whole number of milliseconds, 1 or more`
    })
  )
}

/**
 * What the gateway's routes need in context. `RequestLog`, `UsageLedger`,
 * a `CircuitBreakerStore` and a `ProviderThrottle` are used when present.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements =
  | HttpClient.HttpClient
  | Pricing.Pricing
  | LlmConfig.LlmConfig
  | QuotaLimiter.QuotaStore

/**
 * Each subject's limits, from its active keys (`GatewayConfig.parse` checks
 * that they agree; a revoked key's limits never count, so the old key kept
 * revoked after a rotation does not undo the new key's). The first active
 * key of a subject gives them.
 */
const keyLimits = (config: GatewayConfig.GatewayConfig): QuotaLimiter.Overrides => {
  const bySubject: Record<string, Partial<QuotaLimiter.Limits>> = {}
  for (const key of config.keys.values()) {
    if (key.revoked === true || Object.hasOwn(bySubject, key.subject)) continue
    bySubject[key.subject] = {
      ...(key.daily === undefined ? {} : { daily: key.daily }),
      ...(key.dailyTokens === undefined ? {} : { dailyTokens: key.dailyTokens }),
      ...(key.dailyCostNanoUsd === undefined ? {} : { dailyCostNanoUsd: key.dailyCostNanoUsd })
    }
  }
  return QuotaLimiter.overridesFromRecord(bySubject)
}

/**
 * Builds the gateway's handlers: the quota limiter (the environment's
 * limits, each key's own limits on top), one manager per alias (built now,
 * so a provider without its key fails the start), the others on first use,
 * the 64 most recently used kept. `keepAliveMs` is
 * `ListenOptions.keepAliveMs` (default `HttpSse.keepAliveMs`, 15 s): how
 * often a streamed answer sends a comment and how long it waits for its
 * first token before its response starts; anything but a whole number of
 * ms, 1 or more, is a `GatewayConfigError` naming it. First, a name, a
 * model, a step or a subject of the config holding any key the gateway
 * holds (`GatewayConfig.heldKeys`, its providers' and the environment's) is
 * a `GatewayConfigError` naming the field, never the value
 * (`GatewayConfig.checkKeysNotShown`): before the gateway listens, whatever
 * built the config.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(
  config: GatewayConfig.GatewayConfig,
  keepAliveMs?: number
) {
  const interval = yield* keepAliveOf(keepAliveMs)
  const settings = yield* LlmConfig.LlmConfig
  const keys = GatewayConfig.heldKeys(config, settings)
  yield* GatewayConfig.checkKeysNotShown(config, keys)
  // the gateway bills under its config's providers alone: a price for any other would never bill
  yield* LlmConfig.checkPricedProviders(
    settings.prices,
    new Set(config.providers.keys()),
    GatewayConfig.secrets(config)
  )
  const quota = yield* QuotaLimiter.make({
    ...QuotaLimiter.optionsFromConfig(settings),
    overrides: keyLimits(config)
  })
  const context = Context.add(
    yield* Effect.context<HttpClient.HttpClient | Pricing.Pricing>(),
    QuotaLimiter.QuotaLimiter,
    QuotaNote.noting(quota)
  )
  // one circuit store for every chain's manager: the one in context, else one in memory
  const circuits = Option.isSome(Context.getOption(context, CircuitBreaker.CircuitBreakerStore))
    ? context
    : Context.merge(context, yield* Layer.build(CircuitBreaker.layerStoreMemory()))
  // one warning for the throttle's limits on providers the config has not: its chains' managers warn about none
  const throttle = Context.getOption(circuits, ProviderThrottle.ProviderThrottle)
  if (Option.isSome(throttle)) {
    yield* ProviderThrottle.warnUnknown(throttle.value, [...config.providers.keys()], GatewayConfig.secrets(config))
  }
  const shared = Option.isSome(throttle)
    ? Context.add(circuits, ProviderThrottle.ProviderThrottle, ProviderThrottle.withoutLimited(throttle.value))
    : circuits
  const chains = Chains.make(config, settings, keys, shared, yield* Effect.scope)
  yield* Effect.forEach(config.aliases.values(), chains.managerFor, { discard: true })
  return Handlers.make(config, chains, quota, interval)
})

/** Where the gateway serves Prometheus metrics. */
const metricsPath = "/metrics"

/**
 * The gateway's routes, and with `respond` its answer to every request they
 * do not serve (`HttpRoutes.refusals`, which read `/metrics` too).
 */
const served = (
  config: GatewayConfig.GatewayConfig,
  keepAliveMs: number | undefined,
  respond?: HttpRoutes.Options["respond"]
) =>
  Layer.unwrap(Effect.map(make(config, keepAliveMs), (handlers) => {
    const listed = [
      HttpRouter.route("POST", "/v1/chat/completions", handlers.chatCompletions),
      HttpRouter.route("GET", "/v1/models/*", handlers.models),
      HttpRouter.route("GET", "/healthz", handlers.health)
    ]
    const added = Layer.merge(HttpRouter.addAll(listed), LlmMetrics.layerPrometheusHttp({ path: metricsPath }))
    return respond === undefined ? added : Layer.merge(
      added,
      HttpRoutes.refusals([...listed, { method: "GET", path: metricsPath }], { respond })
    )
  }))

/**
 * The gateway's routes on an `HttpRouter` (Prometheus `/metrics` included);
 * `keepAliveMs` as `ListenOptions.keepAliveMs` (a whole number of ms, 1 or
 * more, else a `GatewayConfigError` naming it when the layer is built).
 *
 * @since 0.1.0
 * @category layers
 */
export const routes = (
  config: GatewayConfig.GatewayConfig,
  options: Pick<ListenOptions, "keepAliveMs"> = {}
): Layer.Layer<never, LlmConfigError | GatewayConfig.GatewayConfigError, HttpRouter.HttpRouter | Requirements> =>
  served(config, options.keepAliveMs)

/**
 * The gateway server as a layer: a Node HTTP server on `listen` serving
 * `routes(config)` over the stores in context, and OpenAI's error body for
 * every other request, whatever its method: a 404 `unknown_url` for a path
 * no route serves, a 405 `method_not_allowed` with `Allow` for a path served
 * with other methods (a `HEAD` is its path's `GET`), a 400 `invalid_url` for a
 * path with a malformed percent escape. Building it starts listening;
 * releasing it closes the listener and lets in-flight requests finish (up
 * to 20 s) before interrupting them.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: GatewayConfig.GatewayConfig,
  listen: ListenOptions = {}
): Layer.Layer<HttpServer.HttpServer, unknown, Requirements> =>
  HttpRouter.serve(
    served(config, listen.keepAliveMs, Handlers.refused),
    { disableLogger: true }
  ).pipe(
    Layer.provideMerge(
      Layer.unwrap(
        Effect.map(requestTimeoutOf(listen), (requestTimeoutMs) =>
          NodeHttpServer.layer(nodeServer(requestTimeoutMs), {
            port: listen.port ?? 8080,
            host: listen.host ?? "127.0.0.1"
          }))
      )
    )
  )

/**
 * The quota and circuit stores: on the Redis of `REDIS_URL` when it is set
 * (shared by every replica), else in memory.
 */
const storesFromConfig: Layer.Layer<QuotaLimiter.QuotaStore, unknown, LlmConfig.LlmConfig> = Layer.unwrap(
  LlmConfig.LlmConfig.useSync((settings) =>
    Option.isNone(settings.redisUrl)
      ? QuotaLimiter.layerStoreMemory
      : Layer.merge(RedisQuotaStore.layerStore(), RedisCircuitBreaker.layer()).pipe(
        Layer.provide(RedisConnection.layerConfig({ purpose: "the gateway's shared quotas and circuits" }))
      )
  )
)

/** The services of `layerDefaults` over the `LlmConfig` of `settings`. */
const defaultsOver = (settings: Layer.Layer<LlmConfig.LlmConfig, LlmConfigError>) =>
  Layer.mergeAll(
    LlmConfig.layerPricing,
    RequestLog.layerFromConfig,
    SqlUsageLedger.layerFromConfig({ fallbackUrl: "sqlite:.baton/usage.sqlite" }),
    storesFromConfig,
    ProviderHttpClient.layer
  ).pipe(Layer.provideMerge(settings))

/**
 * The environment's defaults around `layer(config)`: `LlmConfig` from the
 * environment without its chain (`LlmConfig.layerWithoutChain`: the config
 * brings the providers, so no provider key of the environment's chain is
 * required), its price table, undici, JSON request logs, the usage ledger
 * of `LLM_USAGE_STORE_URL` (SQLite `.baton/usage.sqlite` when unset; a
 * `postgres://` URL for one ledger shared by replicas), and the quota and
 * circuit stores on the Redis of `REDIS_URL` (shared by replicas), in memory
 * when it is unset.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefaults: Layer.Layer<
  Requirements | RequestLog.RequestLog | UsageLedger.UsageLedger,
  unknown
> = defaultsOver(LlmConfig.layerWithoutChain)

/**
 * Runs the gateway until interrupted (SIGINT under `NodeRuntime.runMain`):
 * with `config` over `layerDefaults`, or without one the environment's
 * chain (`LlmConfig.layer`, which requires its keys) under the alias
 * `default` and the keys of `BATON_GATEWAY_KEYS`, over the same defaults.
 * A configuration error never shows a key of `config`'s providers (one
 * pasted into `LLM_PRICES`, say), whatever variable it is read from.
 *
 * @since 0.1.0
 */
export const serve = (
  options: ListenOptions & { readonly config?: GatewayConfig.GatewayConfig | undefined } = {}
): Effect.Effect<never, unknown> => {
  const config = options.config
  return config === undefined
    ? Layer.launch(
      Layer.unwrap(
        Effect.map(LlmConfig.LlmConfig.use(GatewayConfig.fromEnvironment), (config) => layer(config, options))
      ).pipe(Layer.provide(defaultsOver(LlmConfig.layer)))
    )
    : Effect.mapError(Layer.launch(layer(config, options).pipe(Layer.provide(layerDefaults))), hidingKeysOf(config))
}

/**
 * `error` with the keys of `config`'s providers `[redacted]` when it is an
 * `LlmConfigError`: the environment's configuration hides the keys of its
 * own variables only, not those of a config's `apiKeyEnv`.
 */
const hidingKeysOf = (config: GatewayConfig.GatewayConfig) => (error: unknown): unknown =>
  error instanceof LlmConfigError
    ? new LlmConfigError({
      variable: error.variable,
      message: scrubSecrets(error.message, GatewayConfig.secrets(config))
    })
    : error
