/**
 * Circuit state in Redis, so every process serving the same providers shares
 * one view of which provider is down.
 *
 * `LlmManager` guards each provider and model with `effect/persistence`'s
 * `CircuitBreaker` (see `@baton/core/CircuitPolicy`). By default each process
 * keeps its circuits in memory: after an outage every process spends its own
 * `LLM_CIRCUIT_FAILURE_THRESHOLD` failures before it stops calling. With this
 * store in context when the manager is built, they share the state: once one
 * process trips a circuit, the others skip that provider too, and a single
 * probe (a lease held in Redis, renewed while it runs) tests recovery for
 * all of them.
 *
 * **Layout**
 *
 * One hash per circuit, `<prefix><provider>/<model>` (default prefix
 * `baton:circuit:`), written by `CircuitBreaker.layerStoreRedis`'s Lua
 * scripts; times come from Redis `TIME`, so clock skew between hosts does not
 * matter. Idle keys expire after an hour.
 *
 * **Models only requests name**
 *
 * A model the configuration names (a provider's model, a key of
 * `maxRetriesByModel` or `firstTokenMsByModel`) has the same circuit in every
 * process. A model only requests name (`options.model`) gets a circuit of its
 * own for the first 32 such models a process sees on a provider, and shares
 * `<provider>/other` past them: the 32 are each process's first, so past them
 * one process may key a model by its name and another by `other`, and a
 * circuit one trips is not seen by the other. Name the models you serve in
 * the configuration (a `maxRetriesByModel` key with the default retries is
 * enough) for their circuits to be shared exactly.
 *
 * **When Redis is unreachable**
 *
 * The breaker fails open: a call whose admission cannot reach Redis within
 * `commandTimeout` (default 500 ms) runs unrecorded (reported at
 * `References.UnhandledLogLevel`), so a Redis outage never takes the
 * providers down with it, and while Redis stays silent later commands fail
 * at once (see `RedisConnection`). `layerConfig` connects when built
 * and fails with an `LlmConfigError` naming `REDIS_URL` when it is unset,
 * or when Redis cannot be reached or does not complete the connection
 * within `RedisConnection.defaults.connectTimeout` (a paused server, a proxy
 * that never answers).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as LlmConfig from "@baton/core/LlmConfig"
 * import * as LlmManager from "@baton/core/LlmManager"
 * import * as RedisCircuitBreaker from "@baton/redis/RedisCircuitBreaker"
 *
 * // declare const providers: LlmManager.ProviderLayers<never, never>
 * // const Manager = LlmManager.layerConfig(providers).pipe(
 * //   Layer.provide(RedisCircuitBreaker.layerConfig),
 * //   Layer.provide(LlmConfig.layer)
 * // )
 * ```
 *
 * @since 0.1.0
 */
import { type LlmConfig } from "@baton/core/LlmConfig"
import { LlmConfigError } from "@baton/core/LlmError"
import { type Duration, Effect, Layer } from "effect"
import { CircuitBreaker, type Redis } from "effect/persistence"
import * as RedisConnection from "./RedisConnection.ts"

/**
 * Where the circuits live.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Prepended to every key; default `baton:circuit:`. Separate deployments that must not share circuits use different prefixes. */
  readonly prefix?: string | undefined
  /** Bound of each Redis command; default `RedisConnection.defaults.commandTimeout`. */
  readonly commandTimeout?: Duration.Input | undefined
}

/**
 * The default key prefix.
 *
 * @since 0.1.0
 */
export const defaultPrefix = "baton:circuit:"

/**
 * The circuit store on the `Redis` in context, each command bounded by
 * `commandTimeout` (see `RedisConnection.bound`): a store that does not
 * answer lets the call through unrecorded.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<CircuitBreaker.CircuitBreakerStore, LlmConfigError, Redis.Redis> =>
  CircuitBreaker.layerStoreRedis({ prefix: options.prefix ?? defaultPrefix }).pipe(
    Layer.provide(RedisConnection.layerBound(options.commandTimeout, "RedisCircuitBreaker.commandTimeout"))
  )

/**
 * The circuit store on the Redis at `REDIS_URL` (from `LlmConfig`), over a
 * bounded `RedisConnection`.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<
  CircuitBreaker.CircuitBreakerStore,
  LlmConfigError,
  LlmConfig
> = layer().pipe(
  Layer.provide(
    RedisConnection.layerConfig({ purpose: "the Redis circuit store; set it or leave circuits in memory" })
  ),
  Layer.catchTag("RedisError", (error) =>
    Layer.effect(
      CircuitBreaker.CircuitBreakerStore,
      Effect.fail(
        new LlmConfigError({
          variable: "REDIS_URL",
          message: `REDIS_URL: the circuit store could not connect to Redis: ${String(error.cause)}`
        })
      )
    ))
)
