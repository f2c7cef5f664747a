/**
 * Provider requests-per-minute and tokens-per-minute limits shared by every
 * process through Redis: `ProviderThrottle` (see `@baton/core/ProviderThrottle`)
 * over `effect/persistence`'s Redis `RateLimiter` store.
 *
 * The buckets are keyed `<prefix><provider>:rpm` and `<prefix><provider>:tpm`
 * (provider names are validated lower-case words, safe in a key). The token
 * bucket script takes the time from the Effect clock of the caller, so
 * processes should have synchronised clocks (NTP) and tests can use
 * `TestClock`. When Redis fails or does not answer within `commandTimeout`
 * (default 500 ms, see `RedisConnection`), checks let calls through and log a
 * warning (fail open). The throttle is `remote`: under `LlmManager` each
 * command is also bounded by the request's deadline
 * (`@baton/core/StoreDeadline`; a record, by a grace second past it), so a
 * paused Redis holds no request past it.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as RedisConnection from "@baton/redis/RedisConnection"
 * import * as RedisProviderThrottle from "@baton/redis/RedisProviderThrottle"
 *
 * const Throttle = RedisProviderThrottle.layer({ openai: { requestsPerMinute: 500 } }).pipe(
 *   Layer.provide(RedisConnection.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { LlmConfigError } from "@baton/core/LlmError"
import * as ProviderThrottle from "@baton/core/ProviderThrottle"
import { type Duration, Layer } from "effect"
import { RateLimiter, type Redis } from "effect/persistence"
import * as RedisConnection from "./RedisConnection.ts"

/**
 * The throttle over Redis; `prefix` defaults to `baton:throttle:`. Its
 * limits are checked when it is built, an `LlmConfigError` naming the first
 * refused (`ProviderThrottle.checkLimits`).
 *
 * @since 0.1.0
 */
export const layer = (
  limits: ProviderThrottle.LimitTable,
  options: { readonly prefix?: string | undefined; readonly commandTimeout?: Duration.Input | undefined } = {}
): Layer.Layer<ProviderThrottle.ProviderThrottle, LlmConfigError, Redis.Redis> =>
  ProviderThrottle.layer(limits, { remote: true }).pipe(
    Layer.provide(RateLimiter.layer),
    Layer.provide(RateLimiter.layerStoreRedis({ prefix: options.prefix ?? "baton:throttle:" })),
    Layer.provide(RedisConnection.layerBound(options.commandTimeout, "RedisProviderThrottle.commandTimeout"))
  )
