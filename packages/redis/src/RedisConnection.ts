/**
 * The Redis connection every Baton store uses, bounded so that a Redis
 * outage never holds a request or a shutdown.
 *
 * **What is bounded**
 *
 * - Connecting: `connectTimeout` (default 5 seconds) bounds the whole
 *   attempt, TCP connect and node-redis's handshake, so a Redis that accepts
 *   the connection but never answers (paused, or behind a hung proxy) fails
 *   the layer with `RedisError` instead of holding the startup; an
 *   interrupted build drops its connection at once. Each reconnection
 *   after a lost connection is bounded alike: one that Redis does not
 *   complete in time is dropped and tried again with node-redis's backoff,
 *   so the connection works again once Redis answers, even when an earlier
 *   reconnection hung (a paused Redis, a hung proxy).
 * - Each command: `commandTimeout` (default 500 ms). A command Redis does
 *   not answer in time fails with `RedisError`; each store then applies its
 *   documented choice (circuits and throttles fail open, quotas fail closed
 *   unless `failOpen`).
 * - Each command under `LlmManager`: also the request's deadline, for the
 *   quota store (`byDeadline`), the circuit store
 *   (`CircuitPolicy.boundedStore`) and the throttle (`ProviderThrottle`'s
 *   `remote`), whatever `commandTimeout` says.
 * - Commands during an outage: after a timeout the connection fails every
 *   command at once for `commandTimeout` again before it lets one through,
 *   so a request pays at most one `commandTimeout` per store check, not one
 *   per command, while Redis is paused. A command its request's deadline
 *   cut first still times out on the connection: with deadlines shorter
 *   than `commandTimeout` the requests after it are not each held to theirs.
 * - The offline queue: while the client reconnects, commands fail at once
 *   (`disableOfflineQueue`) instead of piling up until Redis returns.
 *   Such a command never left the process, nor did one failed in the quiet
 *   window after a timeout: `neverSent` tells them from a command that
 *   timed out, which may still run on Redis later.
 * - Warnings: a lost connection is warned of once per outage, not once per
 *   reconnection attempt; the errors of the attempts are counted, and their
 *   number logged (info) once Redis answers again.
 * - Shutdown: closing the layer waits for in-flight replies at most
 *   `closeTimeout` (default 1 second), then drops the socket, even when
 *   Redis never answers (paused). Closing a Redis-backed stack therefore
 *   takes at most `closeTimeout` per connection whatever state Redis is in,
 *   and leaves no socket open.
 *
 * Every store layer of this package also bounds the `Redis` it is given
 * (`bound`), so a client built elsewhere (`NodeRedis.layer`) cannot hang a
 * request either; only its own connection (its handshake), offline queue
 * and close stay unbounded, which is why `layer` and `layerConfig` are the
 * way to connect.
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
import { duration, LlmConfig, redisUrl, redisUrlProblem } from "@baton/core/LlmConfig"
import { LlmConfigError } from "@baton/core/LlmError"
import * as StoreDeadline from "@baton/core/StoreDeadline"
import type * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Cause, Context, Duration, Effect, Exit, Layer, Option, Redacted } from "effect"
import { Redis } from "effect/persistence"
import { ClientClosedError, ClientOfflineError } from "redis"
import * as NodeRedisClient from "./internal/nodeRedis.ts"

/**
 * Where Redis is and how long it may take.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly url: string | Redacted.Redacted
  /** Bound of each command; default 500 ms. */
  readonly commandTimeout?: Duration.Input | undefined
  /**
   * Bound of each connection attempt, TCP connect and handshake (`CLIENT
   * SETINFO`, `AUTH`, `SELECT`), when the layer is built, for each
   * connection behind `reserve` and `subscribe`, and for each reconnection
   * after a lost connection (one not complete in time is dropped and tried
   * again after node-redis's backoff); default 5 seconds. Commands fail at
   * once while it reconnects.
   */
  readonly connectTimeout?: Duration.Input | undefined
  /**
   * Bound of closing the connection: how long the close waits for in-flight
   * replies before it drops the socket; default 1 second.
   */
  readonly closeTimeout?: Duration.Input | undefined
}

/**
 * The default bounds.
 *
 * @since 0.1.0
 */
export const defaults = {
  commandTimeout: Duration.millis(500),
  connectTimeout: Duration.seconds(5),
  closeTimeout: Duration.seconds(1)
} as const

/** The causes of the errors `bound` fails with, in its quiet window, without sending the command. */
const unsent = new WeakSet<object>()

const isNamed = (cause: unknown, name: string): boolean =>
  typeof cause === "object" && cause !== null && cause.constructor.name === name

/**
 * True when the command that failed with `error` provably never reached
 * Redis: the client was offline or closed (node-redis with
 * `disableOfflineQueue` refuses such a command before writing it), or
 * `bound` refused it in its quiet window. Any other error (a timeout, a
 * dropped connection, a reply Redis sent) leaves open whether the command
 * ran, or runs later.
 *
 * @since 0.1.0
 */
export const neverSent = (error: Redis.RedisError): boolean => {
  const cause: unknown = error.cause
  return cause instanceof ClientOfflineError || cause instanceof ClientClosedError ||
    isNamed(cause, "ClientOfflineError") || isNamed(cause, "ClientClosedError") ||
    (typeof cause === "object" && cause !== null && unsent.has(cause))
}

/**
 * The same `Redis` with every command (`send`, `eval`) bounded by
 * `limit`, interruptible even inside uninterruptible regions (the circuit
 * breaker's admission), and failing at once for `timeout` after a timeout.
 * A command its caller stopped waiting for (cut by its request's deadline)
 * is still watched to its `limit`: unanswered by then (no command on the
 * connection answered since it left), it starts the quiet window all the
 * same.
 *
 * @since 0.1.0
 */
export const bound = (redis: Redis.Redis["Service"], limit: Duration.Duration): Redis.Redis["Service"] => {
  const limitMs = Duration.toMillis(limit)
  let quietUntil = 0
  // when a command last got an answer (a reply or an error): Redis answers in order on the connection
  let answeredAt = 0
  const quiet = (): void => {
    quietUntil = Date.now() + limitMs
  }
  /** A command left by its caller at `sentAt`: quiet at its limit if nothing has answered since (a timer, unref'd). */
  const left = (sentAt: number): void => {
    setTimeout(() => {
      if (answeredAt < sentAt) quiet()
    }, Math.max(0, sentAt + limitMs - Date.now())).unref()
  }
  const guarded = <A>(effect: Effect.Effect<A, Redis.RedisError>): Effect.Effect<A, Redis.RedisError> =>
    Effect.suspend(() => {
      if (Date.now() < quietUntil) {
        const cause = new Cause.TimeoutError("Redis did not answer lately; not waiting again yet")
        unsent.add(cause)
        return Effect.fail(new Redis.RedisError({ cause }))
      }
      const sentAt = Date.now()
      return Effect.interruptible(effect).pipe(
        Effect.onExit((exit) => {
          if (Exit.hasInterrupts(exit)) left(sentAt)
          else answeredAt = Date.now()
          return Effect.void
        }),
        Effect.timeoutOrElse({
          duration: limit,
          orElse: () =>
            Effect.suspend(() => {
              quiet()
              return Effect.fail(
                new Redis.RedisError({
                  cause: new Cause.TimeoutError(`Redis did not answer within ${Duration.format(limit)}`)
                })
              )
            })
        })
      )
    })
  return {
    ...redis,
    send: (command, ...args) => guarded(redis.send(command, ...args)),
    eval: (script) => {
      const run = redis.eval(script)
      return (...params) => guarded(run(...params))
    }
  }
}

const pastDeadline = () =>
  new Redis.RedisError({ cause: new Cause.TimeoutError("Redis did not answer by the request's deadline") })

/**
 * `command` (of a `bound` connection), bounded by the request's deadline
 * that `LlmManager` sets for a remote store (`@baton/core/StoreDeadline`),
 * or by `graceMs` past now when that is later (`StoreDeadline.bound`). A
 * command cut by the deadline fails with a `RedisError` of a timeout: it
 * may still run on Redis (not `neverSent`).
 *
 * @since 0.1.0
 */
export const byDeadline = <A>(
  command: Effect.Effect<A, Redis.RedisError>,
  graceMs?: number
): Effect.Effect<A, Redis.RedisError> => StoreDeadline.bound(command, { graceMs, onTimeout: pastDeadline })

/**
 * Re-provides the `Redis` in context, bounded (see `bound`). A `timeout`
 * that is not a positive duration fails it with an `LlmConfigError` naming
 * `name` (default `RedisConnection.commandTimeout`).
 *
 * @since 0.1.0
 */
export const layerBound = (
  timeout: Duration.Input = defaults.commandTimeout,
  name = "RedisConnection.commandTimeout"
): Layer.Layer<Redis.Redis, LlmConfigError, Redis.Redis> =>
  Layer.effect(
    Redis.Redis,
    Effect.zipWith(duration(name, timeout, "positive"), Effect.service(Redis.Redis), (limit, redis) =>
      bound(redis, limit))
  )

/**
 * Connects to Redis: bounded connection, bounded commands, no offline
 * queue, bounded close. A malformed URL (by `LlmConfig.redisUrlProblem`,
 * the rule `REDIS_URL` is checked by), an unreachable server, or one that
 * does not complete the connection within `connectTimeout` (a paused Redis,
 * a proxy that accepts and never answers) fails the layer with
 * `RedisError`; interrupting the build drops the connection at once. A
 * bound that is not a duration of more than 0 (`closeTimeout`: 0 or more)
 * fails it first, with an `LlmConfigError` naming the option
 * (`RedisConnection.commandTimeout`).
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, LlmConfigError | Redis.RedisError> =>
  Layer.effectContext(Effect.gen(function*() {
    const bounds = yield* Effect.all({
      commandTimeout: duration(
        "RedisConnection.commandTimeout",
        options.commandTimeout ?? defaults.commandTimeout,
        "positive"
      ),
      // node-redis hands it to a Node timer, which fires at once past 2^31 - 1 ms
      connectTimeout: duration(
        "RedisConnection.connectTimeout",
        options.connectTimeout ?? defaults.connectTimeout,
        "positive",
        2_147_483_647
      ),
      closeTimeout: duration(
        "RedisConnection.closeTimeout",
        options.closeTimeout ?? defaults.closeTimeout,
        "nonNegative"
      )
    })
    const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
    const problem = redisUrlProblem(url)
    if (problem !== undefined) {
      return yield* new Redis.RedisError({ cause: new Error(`malformed Redis URL: ${problem}`) })
    }
    const context = yield* NodeRedisClient.make({
      url,
      connectTimeout: bounds.connectTimeout,
      closeTimeout: bounds.closeTimeout
    })
    return Context.add(context, Redis.Redis, bound(Context.get(context, Redis.Redis), bounds.commandTimeout))
  }))

/**
 * Connects to `REDIS_URL` (from `LlmConfig`); an unset or malformed
 * `REDIS_URL` fails with an `LlmConfigError` naming it.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: Omit<Options, "url"> & { readonly purpose: string }
): Layer.Layer<Redis.Redis | NodeRedis.NodeRedis, LlmConfigError | Redis.RedisError, LlmConfig> =>
  Layer.unwrap(LlmConfig.use((settings) =>
    Option.match(settings.redisUrl, {
      onNone: () =>
        Effect.fail(
          new LlmConfigError({ variable: "REDIS_URL", message: `REDIS_URL: required for ${options.purpose}` })
        ),
      // checked when LlmConfig was read; again here for settings built by hand
      onSome: (url) => Effect.map(redisUrl("REDIS_URL")(url), (checked) => layer({ ...options, url: checked }))
    })
  ))
