/**
 * The quiz service assembled from the environment (`LlmConfig`):
 *
 * - the provider chain (DeepSeek then Gemini by default) behind one
 *   `LlmManager` with retries, circuit breaking and fallback;
 * - the per-teacher quota in memory, or in Redis when `REDIS_URL` is set
 *   (shared by every process of the service);
 * - the usage ledger in SQLite (`.baton/usage.sqlite`) or the database of
 *   `LLM_USAGE_STORE_URL` (`postgres://...` for PostgreSQL);
 * - request logs as JSON lines on stdout, or in the file `QUIZ_REQUEST_LOG`
 *   (a file it cannot open for appending stops the service, naming it);
 * - the admin key of `GET /v1/usage` (`QUIZ_ADMIN_KEY`);
 * - the routes of `QuizApi` on `HOST:PORT`.
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as LlmError from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
import * as Providers from "@baton/providers/Providers"
import * as RedisQuotaStore from "@baton/redis/RedisQuotaStore"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import * as MockServerCommand from "@baton/testing/MockServerCommand"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Config, Effect, Layer, Logger, Option, type PlatformError, Predicate } from "effect"
import { HttpRouter, HttpServer, type HttpServerError } from "effect/http"
import { createServer } from "node:http"
import { AdminKey, Routes } from "./QuizApi.ts"

const Quotas = Layer.unwrap(
  LlmConfig.LlmConfig.useSync((settings) =>
    Option.isSome(settings.redisUrl) ? RedisQuotaStore.layerConfig() : QuotaLimiter.layerMemory()
  )
)

const recordLogger = Logger.make(({ message }) => JSON.stringify(Array.isArray(message) ? message[0] : message))

/** A request log file that cannot be opened for appending (a missing directory, a directory): a variable to fix. */
const unwritable = (error: PlatformError.PlatformError) =>
  new LlmError.LlmConfigError({
    variable: "QUIZ_REQUEST_LOG",
    message: `QUIZ_REQUEST_LOG: cannot write the request log: ${
      error.cause instanceof Error ? error.cause.message : error.message
    }`
  })

const RequestLogs = Layer.unwrap(Effect.gen(function*() {
  const file = yield* Config.option(Config.String("QUIZ_REQUEST_LOG"))
  const options = yield* RequestLog.optionsFromConfig
  if (Option.isNone(file)) return RequestLog.layerJson(options)
  const logger = yield* Logger.toFile(recordLogger, file.value, { batchWindow: "100 millis" }).pipe(
    Effect.mapError(unwritable)
  )
  return RequestLog.layer([RequestLog.jsonSink(logger)], options)
})).pipe(Layer.provide(NodeServices.layer))

const Stores = Layer.mergeAll(
  AdminKey.layerConfig,
  RequestLogs,
  SqlUsageLedger.layerFromConfig({ fallbackUrl: "sqlite:.baton/usage.sqlite" }),
  Quotas
)

/**
 * The manager, quota, ledger and configuration, from the environment.
 *
 * @since 0.1.0
 */
export const Stack = LlmManager.layerConfig(Providers.layersFromConfig).pipe(
  Layer.provideMerge(Stores),
  Layer.provide([LlmConfig.layerPricing, ProviderHttpClient.layer]),
  Layer.provideMerge(LlmConfig.layer)
)

/**
 * Where the service listens.
 *
 * @since 0.1.0
 */
export interface ListenOptions {
  readonly port: number
  readonly host: string
}

/** The host listened on when `HOST` is unset or blank: this machine only. */
const defaultHost = "127.0.0.1"

/**
 * `PORT` (default 3000; 0 for any free port; decimal digits only, by
 * `LlmConfig.port`) and `HOST` (default `127.0.0.1`; blank reads as unset,
 * never as every interface); a bad `PORT` is an `LlmConfigError` naming it.
 *
 * @since 0.1.0
 */
export const listenOptions: Effect.Effect<ListenOptions, LlmError.LlmConfigError> = Effect.all({
  port: LlmConfig.port("PORT", 3000),
  host: Effect.orDie(
    Config.String("HOST").pipe(
      Config.withDefault(defaultHost),
      Config.map((host) => host.trim() === "" ? defaultHost : host)
    )
  )
})

/** Node's `listen` errors that are the host's (it does not resolve, or is not this machine's); any other is the port's. */
const hostCodes: ReadonlySet<unknown> = new Set(["ENOTFOUND", "EAI_AGAIN", "EADDRNOTAVAIL"])

/** Why the service cannot listen, as the variable to fix: `PORT: cannot listen on 127.0.0.1:3000: address in use`. */
const cannotListen = (options: ListenOptions) => (error: HttpServerError.ServeError) => {
  const variable = Predicate.hasProperty(error.cause, "code") && hostCodes.has(error.cause.code) ? "HOST" : "PORT"
  return Effect.fail(
    new LlmError.LlmConfigError({
      variable,
      // a host that does not resolve is named alone: no port was tried
      message: `${variable}: ${
        MockServerCommand.listenFailure(error.cause, variable === "HOST" ? { host: options.host } : options)
      }`
    })
  )
}

/** Node's HTTP server listening on `options` (`NodeHttpServer.layer`, its listen error the variable to fix). */
const nodeServer = (options: ListenOptions) =>
  Layer.merge(
    Layer.effect(
      HttpServer.HttpServer,
      NodeHttpServer.make(createServer, options).pipe(Effect.catchTag("ServeError", cannotListen(options)))
    ),
    NodeHttpServer.layerHttpServices
  )

/**
 * The routes listening on `options`, over the `Stack` services in context
 * (the demo builds the stack itself to read its ledger). A port in use or a
 * host that does not resolve is an `LlmConfigError` naming `PORT` or `HOST`.
 *
 * @since 0.1.0
 */
export const serve = (options: ListenOptions) =>
  HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(nodeServer(options))
  )

/**
 * The service listening on `options`, over `Stack`.
 *
 * @since 0.1.0
 */
export const layer = (options: ListenOptions) => serve(options).pipe(Layer.provide(Stack))
