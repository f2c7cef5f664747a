/**
 * The quota store in Redis: daily counters shared by every process that
 * serves the same subjects.
 *
 * **Layout**
 *
 * One hash per subject and local day, `<prefix><YYYY-MM-DD>:<subject>`, with
 * the fields `units`, `tokens` and `cost` (nano-USD), and a bounded number
 * of `r:<id>` fields, one per reservation (see below). The subject id is
 * base64url-encoded, so no id (however hostile: `:`, `{`, `*`, spaces, 256
 * characters, lone surrogates) can reach another subject's key, a hash slot
 * tag or a pattern. The bytes encoded are the id's UTF-8, and for an id with
 * lone surrogates (which UTF-8 cannot carry) WTF-8, whose bytes no
 * well-formed id has.
 * The day in the key comes from the Effect clock (see `QuotaLimiter.dayOf`),
 * and each reservation keeps the key at least until an hour after the next
 * local midnight as its process sees it (the TTL computed by the caller,
 * plus that grace), so Redis drops a day's keys on its own and its clock
 * never decides which day it is. A reservation never shortens a TTL set
 * before (the script compares with `PTTL`, which works on every Redis
 * version, where `PEXPIRE ... GT` needs Redis 7 and never sets a TTL on a
 * key that has none). So a process whose clock runs ahead by less than the
 * hour cannot expire a counter before the others' midnight, and one further
 * ahead cannot cut short the TTL the others set. The day is in the key, so
 * keeping it longer changes no count.
 *
 * **Round trips**
 *
 * `reserve` and `refund` are one Lua script each (`EVALSHA`): atomic, so
 * concurrent reservations from many processes never overshoot the limit and
 * never lose a refund. A commit costs nothing unless the subject has a token
 * or cost budget and usage is given; then it is one more script.
 *
 * **When Redis is unreachable**
 *
 * Each command is bounded by `timeout` (default 1 second); a Redis error or
 * a timeout becomes `QuotaStoreUnavailable`, and the limiter then fails
 * closed, or lets the request through with `failOpen: true` (see
 * `QuotaLimiter`). `layerConfig` passes `timeout` to its connection as the
 * `commandTimeout` too, so there each command is bounded by `timeout` when
 * it is given and by the connection's default, 500 ms, when it is not (the
 * store's own 1 second bound then never fires first). Over a `Redis` of
 * your own (`layer`, `layerStore`), the tighter of `timeout` and that
 * connection's bound applies.
 *
 * The store is `remote`: under `LlmManager` each command is also bounded by
 * the request's deadline (`@baton/core/StoreDeadline`), so over a paused
 * Redis the manager's call ends by the deadline, whatever `timeout` says.
 * A read of the quota outside the manager is not bounded by it: an HTTP
 * response's `RateLimit-*` headers (`@baton/http`'s `HttpQuota.handler`, read
 * after the manager's call, even for its 503) wait up to the command bound
 * (500 ms over `layerConfig`'s connection), itself within the handler's
 * `quotaHeadersTimeout` (1 second). So with `LLM_REQUEST_TIMEOUT_MS=200` the
 * quiz service answers a paused Redis's 503 after about 0.7 seconds: 200 ms
 * for the manager, 500 ms for the headers' read. A reservation still
 * pending at the deadline fails with `QuotaStoreUnavailable` ("did not
 * answer by the request's deadline"; with `failOpen` the request goes
 * through, and ends at its deadline) and is undone as any reservation whose
 * reply did not come (below). A refund or budget charge may take
 * `StoreDeadline.settleGraceMs` (1 second) past the deadline, so a request
 * that ends at its deadline still settles with a Redis that answers; a
 * refund that does not answer by then joins the pending undos.
 *
 * A reservation whose reply the caller gave up on (a timeout, a dropped
 * connection) may still run on Redis later, when a paused server resumes.
 * So each reservation carries an id, kept as a field `r:<id>` of the
 * subject's hash while it holds its units, and such a reservation is undone
 * in the background: the undo refunds it if it ran, or marks the id (`x`) so
 * that a late reservation does nothing. The undo goes on the same
 * connection after the reservation, so Redis runs them in that order.
 *
 * An undo that refunds a reservation deletes its field in the same script,
 * and a refund is such an undo, so a second one finds nothing and refunds
 * nothing. Only an undo that finds no field leaves a mark, and only for a
 * reservation whose reply never came: one whose reply came has run, and
 * cannot arrive later. So a hash holds, besides its three counters, one
 * field per reservation that still holds units (in flight or committed: at
 * most the day's limit, as each holds at least one unit) and one mark per
 * reservation whose reply was lost before it ran, however many requests are
 * reserved and refunded that day: a client that starts and cancels
 * requests does not grow it. A reservation that provably never left the process (the
 * connection was offline, or in its quiet window after a timeout: see
 * `RedisConnection.neverSent`) has nothing to undo and schedules nothing,
 * with `failOpen` or without. A request refused or failed by the client
 * side is therefore never charged.
 *
 * The pending undos are one set, at most `maxPendingUndos` (default 10,000),
 * worked through by one fiber, one undo at a time: it first waits half a
 * second, and after a round that undid nothing it waits twice as long, up
 * to 30 seconds, so an outage costs one failing command per wait, not one
 * per request. Its failed tries are warned of by the library's one rule
 * (`@baton/core/DampedWarning`): at most once per 10 seconds, each warning
 * counting the tries it kept quiet. An undo is kept until Redis confirms
 * it or the key it undoes has expired (its day and grace are over). When the set is full, further
 * undos are dropped with a warning: a late reservation among them stays
 * charged (the safe direction, as for any refund the store could not take).
 * Undos still pending when the layer is released are dropped the same way,
 * with a warning that counts them.
 *
 * A refund is the same undo by id, so it is safe to repeat: when its reply
 * does not come (a pause, an outage), it joins the pending undos, and a
 * refund is never lost to a timeout nor applied twice.
 * `layerConfig` connects when built: a Redis that is unreachable at
 * startup, or does not complete the connection within 5 seconds (a paused
 * server, a proxy that accepts and never answers: see `RedisConnection`),
 * fails the layer with `QuotaStoreUnavailable` instead of starting without
 * quotas.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as LlmConfig from "@baton/core/LlmConfig"
 * import * as RedisQuotaStore from "@baton/redis/RedisQuotaStore"
 *
 * // REDIS_URL, AI_DAILY_LIMIT_PER_TEACHER and AI_QUOTA_TIMEZONE come from LlmConfig.
 * const Quotas = RedisQuotaStore.layerConfig({ failOpen: false }).pipe(Layer.provide(LlmConfig.layer))
 * ```
 *
 * @since 0.1.0
 */
import * as DampedWarning from "@baton/core/DampedWarning"
import { duration, type LlmConfig, wholeNumber } from "@baton/core/LlmConfig"
import { type LlmConfigError, QuotaStoreUnavailable } from "@baton/core/LlmError"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as StoreDeadline from "@baton/core/StoreDeadline"
import { type Cause, Duration, Effect, Exit, FiberSet, Layer } from "effect"
import { Redis } from "effect/persistence"
import * as RedisConnection from "./RedisConnection.ts"

/**
 * Where keys go and how long a command may take.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Prepended to every key; default `baton:quota:`. */
  readonly prefix?: string | undefined
  /**
   * Bound of each Redis command; default 1 second. Through `layerConfig` it
   * is also the connection's `commandTimeout`, whose default (500 ms) then
   * applies when this is not given.
   */
  readonly timeout?: Duration.Input | undefined
  /** How many undos may wait for Redis at once (see the module docs); default 10,000. */
  readonly maxPendingUndos?: number | undefined
}

/** A lone surrogate: a UTF-16 code unit that is half of no pair. */
const loneSurrogate = /\p{Cs}/u

/**
 * The bytes of `text` in WTF-8: UTF-8 for a well-formed string, and each
 * lone surrogate as the three bytes UTF-8's scheme gives its code point
 * (`ED A0 80` for U+D800), which no well-formed string has. So distinct
 * strings get distinct bytes, where UTF-8 turns every lone surrogate into
 * U+FFFD.
 */
const wtf8 = (text: string): Buffer =>
  loneSurrogate.test(text)
    ? Buffer.concat(Array.from(text, (char) => {
      const code = char.charCodeAt(0)
      return loneSurrogate.test(char)
        ? Buffer.from([0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)])
        : Buffer.from(char, "utf8")
    }))
    : Buffer.from(text, "utf8")

/**
 * The Redis key of one subject's counters on one local day: the subject id
 * in base64url of its UTF-8 (WTF-8 for an id with lone surrogates, so that
 * no two ids share a key).
 *
 * @since 0.1.0
 */
export const keyOf = (prefix: string, key: QuotaLimiter.StoreKey): string =>
  `${prefix}${key.day}:${wtf8(key.subjectId).toString("base64url")}`

const reserveScript = Redis.script(
  (
    key: string,
    units: number,
    limit: number,
    tokenBudget: number,
    costBudget: number,
    expiresInMillis: number,
    reservation: string
  ) => [key, units, limit, tokenBudget, costBudget, expiresInMillis, reservation],
  {
    numberOfKeys: 1,
    lua: `
local field = 'r:' .. ARGV[6]
local usage = redis.call('HMGET', KEYS[1], 'units', 'tokens', 'cost', field)
local units = tonumber(usage[1] or '0')
local tokens = tonumber(usage[2] or '0')
local cost = tonumber(usage[3] or '0')
if usage[4] then return {4, units, tokens, cost} end
local add = tonumber(ARGV[1])
local tokenBudget = tonumber(ARGV[3])
local costBudget = tonumber(ARGV[4])
if units + add > tonumber(ARGV[2]) then return {1, units, tokens, cost} end
if tokenBudget >= 0 and tokens >= tokenBudget then return {2, units, tokens, cost} end
if costBudget >= 0 and cost >= costBudget then return {3, units, tokens, cost} end
units = redis.call('HINCRBY', KEYS[1], 'units', add)
redis.call('HSET', KEYS[1], field, add)
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return {0, units, tokens, cost}
`
  }
).withReturnType<unknown>()

/**
 * Takes a reservation back by its id. One that ran is refunded and its field
 * deleted, so a later undo of the same id finds nothing and refunds nothing.
 * One that has not run (yet) is marked `x` when `mark` is 1, so that it does
 * nothing when it arrives later; that is only needed for a reservation whose
 * reply never came, since one whose reply came has run.
 */
const cancelScript = Redis.script(
  (key: string, reservation: string, expiresInMillis: number, mark: 0 | 1) => [key, reservation, expiresInMillis, mark],
  {
    numberOfKeys: 1,
    lua: `
local field = 'r:' .. ARGV[1]
local held = redis.call('HGET', KEYS[1], field)
if held == 'x' then return 0 end
if not held then
  if ARGV[3] == '1' then
    redis.call('HSET', KEYS[1], field, 'x')
    if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  end
  return 0
end
redis.call('HDEL', KEYS[1], field)
if redis.call('HINCRBY', KEYS[1], 'units', -tonumber(held)) < 0 then redis.call('HSET', KEYS[1], 'units', 0) end
return 1
`
  }
).withReturnType<unknown>()

const refundScript = Redis.script((key: string, units: number) => [key, units], {
  numberOfKeys: 1,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local units = redis.call('HINCRBY', KEYS[1], 'units', -tonumber(ARGV[1]))
if units < 0 then
  redis.call('HSET', KEYS[1], 'units', 0)
  return 0
end
return units
`
}).withReturnType<unknown>()

const chargeScript = Redis.script((key: string, tokens: number, costNanoUsd: number) => [key, tokens, costNanoUsd], {
  numberOfKeys: 1,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'cost', ARGV[2])
return 1
`
}).withReturnType<unknown>()

const deniedLimits = ["units", "tokens", "cost"] as const

const unexpected = (reply: unknown) =>
  new QuotaStoreUnavailable({ message: `quota store (Redis) sent an unexpected reply: ${JSON.stringify(reply)}` })

/** Reads `[a, b, c, ...]` of integers (or integer strings and nils, as `HMGET` sends them). */
const integers = (reply: unknown, length: number): Effect.Effect<ReadonlyArray<number>, QuotaStoreUnavailable> => {
  if (!Array.isArray(reply) || reply.length !== length) return Effect.fail(unexpected(reply))
  const values = reply.map((value: unknown) => value === null ? 0 : Number(value))
  return values.every(Number.isSafeInteger) ? Effect.succeed(values) : Effect.fail(unexpected(reply))
}

const usageOf = (units: number, tokens: number, costNanoUsd: number): QuotaLimiter.Usage => ({
  units,
  tokens,
  costNanoUsd
})

const toOutcome = (reservation: string) =>
(
  reply: ReadonlyArray<number>
): Effect.Effect<QuotaLimiter.ReserveOutcome, QuotaStoreUnavailable> => {
  const [code = 0, units = 0, tokens = 0, cost = 0] = reply
  const usage = usageOf(units, tokens, cost)
  if (code === 0) return Effect.succeed({ _tag: "Reserved", usage, reservation })
  const denied = deniedLimits[code - 1]
  return denied === undefined
    ? Effect.fail(unexpected(reply))
    : Effect.succeed({ _tag: "Denied", limit: denied, usage })
}

/** How long a refund whose reply did not come is retried: its day's counter has expired by then. */
const refundKeepMs = 86_400_000

/**
 * How long a day's key outlives the local midnight that ends the day: a
 * process whose clock runs a little ahead must not expire it for the others.
 */
const expiryGraceMs = 3_600_000

/** The wait before each round of undos: half a second, doubled after a round that undid nothing, up to 30 seconds. */
const undoBackoff = { firstMs: 500, maxMs: 30_000 }

/** An undo waiting for Redis. */
interface PendingUndo {
  readonly key: string
  readonly reservation: string
  /**
   * The TTL of the key the undo creates when it marks a reservation that has
   * not run; absent for a refund, whose reservation ran (nothing to mark).
   */
  readonly markTtlMs: number | undefined
  /** When the key it undoes has expired for sure: there is nothing left to undo then. */
  readonly until: number
}

/** True when the command failed only because it never reached Redis (see `RedisConnection.neverSent`). */
const neverSent = (cause: Cause.Cause<Redis.RedisError>): boolean =>
  cause.reasons.length > 0 &&
  cause.reasons.every((reason) => reason._tag === "Fail" && RedisConnection.neverSent(reason.error))

/** The options a store checks: its command bound and its bound of pending undos. */
const checked = (options: Options) =>
  Effect.all({
    timeout: duration("RedisQuotaStore.timeout", options.timeout ?? Duration.seconds(1), "positive"),
    maxPendingUndos: wholeNumber("RedisQuotaStore.maxPendingUndos", options.maxPendingUndos ?? 10_000, "positive")
  })

/**
 * Builds the store over the current `Redis` service. A `timeout` that is
 * not a positive duration, or a `maxPendingUndos` that is not a positive
 * whole number, fails it with an `LlmConfigError` naming the option
 * (`RedisQuotaStore.timeout`).
 *
 * @since 0.1.0
 */
export const makeStore = Effect.fnUntraced(function*(options: Options = {}) {
  const { maxPendingUndos, timeout } = yield* checked(options)
  const redis = RedisConnection.bound(yield* Redis.Redis, timeout)
  const prefix = options.prefix ?? "baton:quota:"

  // The undos waiting for Redis, oldest first, and the one fiber that works through them.
  const pending = new Map<string, PendingUndo>()
  let draining = false
  let dropped = 0

  // runs once the fiber below has stopped (finalizers run in reverse): what still waits is dropped, and said so
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      const lost = pending.size + dropped
      return lost === 0
        ? Effect.void
        : Effect.logWarning(`quota store (Redis): ${lost} undos dropped at close, not confirmed by Redis`)
    })
  )
  const drainers = yield* FiberSet.make()

  const guard = <A>(what: string, effect: Effect.Effect<A, Redis.RedisError>) =>
    Effect.mapError(
      effect,
      (error) => new QuotaStoreUnavailable({ message: `quota store (Redis) failed on ${what}: ${String(error.cause)}` })
    )

  /** A command that settles a request: bounded by its deadline, with a grace (`StoreDeadline.settleGraceMs`). */
  const settling = <A>(command: Effect.Effect<A, Redis.RedisError>) =>
    RedisConnection.byDeadline(command, StoreDeadline.settleGraceMs)

  const reserve = redis.eval(reserveScript)
  const refund = redis.eval(refundScript)
  const charge = redis.eval(chargeScript)
  const runCancel = redis.eval(cancelScript)
  const cancel = ({ key, markTtlMs, reservation }: Omit<PendingUndo, "until">) =>
    markTtlMs === undefined ? runCancel(key, reservation, 0, 0) : runCancel(key, reservation, markTtlMs, 1)

  /** One round: undoes the pending ones in order until one fails (it goes to the back, so it holds up no other). */
  const round = Effect.clockWith((clock) =>
    Effect.gen(function*() {
      let undone = 0
      for (const undo of Array.from(pending.values())) {
        if (undo.until <= clock.currentTimeMillisUnsafe()) {
          pending.delete(undo.reservation)
          continue
        }
        // kept pending until Redis confirms it, so that one cut short by the close is counted as dropped
        const exit = yield* Effect.exit(cancel(undo))
        pending.delete(undo.reservation)
        if (Exit.isFailure(exit)) {
          pending.set(undo.reservation, undo)
          return { undone, failure: exit.cause }
        }
        undone++
      }
      return { undone, failure: undefined }
    })
  )

  /** Stops the drainer when nothing is pending (in the same step as the check, so no undo is left behind). */
  const finished = Effect.suspend(() => {
    if (pending.size > 0) return Effect.succeed(false)
    draining = false
    const lost = dropped
    dropped = 0
    return Effect.as(
      lost === 0
        ? Effect.void
        : Effect.logWarning(`quota store (Redis): ${lost} undos were dropped (too many pending)`),
      true
    )
  })

  /** The rounds that failed, warned of by the one damped rule. */
  const failedTries = DampedWarning.make<{ readonly failure: Cause.Cause<Redis.RedisError>; readonly waitMs: number }>(
    ({ failure, waitMs }, count) =>
      Effect.logWarning(
        `quota store (Redis): ${pending.size} undos wait for Redis${
          dropped > 0 ? ` (${dropped} dropped)` : ""
        }; next try in ${waitMs} ms${count === 1 ? "" : ` (${count - 1} more failed tries since the last warning)`}`,
        failure
      )
  )

  const drain = Effect.gen(function*() {
    let waitMs = undoBackoff.firstMs
    for (;;) {
      yield* Effect.sleep(Duration.millis(waitMs))
      const { failure, undone } = yield* round
      if (failure === undefined) {
        if (yield* finished) return
        waitMs = undoBackoff.firstMs
        continue
      }
      waitMs = undone > 0 ? undoBackoff.firstMs : Math.min(2 * waitMs, undoBackoff.maxMs)
      yield* failedTries.add({ failure, waitMs })
    }
  }).pipe(
    Effect.onExit((exit) =>
      Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => {
        draining = false
      })
    )
  )

  /**
   * Undoes a reservation in the background, until Redis confirms it or
   * `keepMs` from now (when the key it undoes has expired anyway).
   */
  const undoLater = (key: string, reservation: string, markTtlMs: number | undefined, keepMs: number) =>
    Effect.clockWith((clock) => {
      if (!pending.has(reservation) && pending.size >= maxPendingUndos) {
        dropped++
        return dropped === 1
          ? Effect.logWarning(
            `quota store (Redis): ${maxPendingUndos} undos already wait for Redis; dropping further ones until they are done`
          )
          : Effect.void
      }
      pending.set(reservation, { key, reservation, markTtlMs, until: clock.currentTimeMillisUnsafe() + keepMs })
      if (draining) return Effect.void
      draining = true
      return Effect.asVoid(FiberSet.run(drainers, drain))
    })

  /**
   * Refunds a reservation that ran, by its id: at once (by the request's deadline, with a grace), or in the
   * background when Redis does not answer.
   */
  const refundReserved = (key: string, reservation: string) =>
    settling(cancel({ key, reservation, markTtlMs: undefined })).pipe(
      Effect.asVoid,
      Effect.catch(() => undoLater(key, reservation, undefined, refundKeepMs))
    )

  return QuotaLimiter.QuotaStore.of({
    reserve: ({ expiresInMillis, key, limits, units }) => {
      const redisKey = keyOf(prefix, key)
      const ttl = Math.max(1, Math.ceil(expiresInMillis)) + expiryGraceMs
      const reservation = crypto.randomUUID()
      const undoIt = undoLater(redisKey, reservation, ttl, ttl)
      const sent = RedisConnection.byDeadline(reserve(
        redisKey,
        units,
        limits.daily,
        limits.dailyTokens ?? -1,
        limits.dailyCostNanoUsd ?? -1,
        ttl,
        reservation
      )).pipe(
        // what may have reached Redis (cut by a timeout or the deadline) may run there later: undo it;
        // what never left has nothing to undo
        Effect.onExit((exit) => Exit.isSuccess(exit) || neverSent(exit.cause) ? Effect.void : undoIt)
      )
      return guard("reserve", sent).pipe(
        Effect.flatMap((reply) =>
          // an unexpected reply: the script ran, and may have reserved
          integers(reply, 4).pipe(Effect.flatMap(toOutcome(reservation)), Effect.tapError(() => undoIt))
        )
      )
    },
    refund: ({ key, reservation, units }) =>
      reservation === undefined
        ? Effect.asVoid(guard("refund", settling(refund(keyOf(prefix, key), units))))
        : refundReserved(keyOf(prefix, key), reservation),
    charge: ({ costNanoUsd, key, tokens }) =>
      Effect.asVoid(guard("charge", settling(charge(keyOf(prefix, key), tokens, costNanoUsd)))),
    usage: (key) =>
      guard("usage", redis.send("HMGET", keyOf(prefix, key), "units", "tokens", "cost")).pipe(
        Effect.flatMap((reply) => integers(reply, 3)),
        Effect.map(([units = 0, tokens = 0, cost = 0]) => usageOf(units, tokens, cost))
      ),
    remote: true
  })
})

/**
 * The store over the current `Redis` service.
 *
 * @since 0.1.0
 */
export const layerStore = (
  options: Options = {}
): Layer.Layer<QuotaLimiter.QuotaStore, LlmConfigError, Redis.Redis> =>
  Layer.effect(QuotaLimiter.QuotaStore, makeStore(options))

/**
 * The limiter, configured from `LlmConfig`, over Redis.
 *
 * @since 0.1.0
 */
export const layer = (
  options: QuotaLimiter.Extras & Options = {}
): Layer.Layer<QuotaLimiter.QuotaLimiter, LlmConfigError, LlmConfig | Redis.Redis> =>
  QuotaLimiter.layer(options).pipe(Layer.provide(layerStore(options)))

/**
 * The limiter over a bounded `RedisConnection` to `REDIS_URL` (from
 * `LlmConfig`). Fails with `LlmConfigError` when `REDIS_URL` is not set or
 * malformed and with `QuotaStoreUnavailable` when Redis cannot be reached at
 * startup or does not complete the connection within
 * `RedisConnection.defaults.connectTimeout` (5 seconds); its message starts
 * with the variable (`REDIS_URL: the quota store could not connect to Redis:
 * ...`), as the circuit store's does, and never shows the URL.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: QuotaLimiter.Extras & Options = {}
): Layer.Layer<QuotaLimiter.QuotaLimiter, LlmConfigError | QuotaStoreUnavailable, LlmConfig> =>
  // checked before the connection, which is given `timeout` as its own bound, would name it after itself
  Layer.unwrap(Effect.as(checked(options), connectedLayer(options)))

const connectedLayer = (options: QuotaLimiter.Extras & Options) =>
  layer(options).pipe(
    Layer.provide(
      RedisConnection.layerConfig({
        purpose: "the Redis quota store; set it or use QuotaLimiter.layerMemory",
        ...(options.timeout === undefined ? {} : { commandTimeout: options.timeout })
      }).pipe(
        Layer.catchTag("RedisError", (error) =>
          Layer.effect(
            Redis.Redis,
            Effect.fail(
              new QuotaStoreUnavailable({
                message: `REDIS_URL: the quota store could not connect to Redis: ${String(error.cause)}`
              })
            )
          ))
      )
    )
  )
