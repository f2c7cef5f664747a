/**
 * Per-subject quotas: how many generations (or questions) a subject, such as
 * a teacher, may spend per local day, and how many questions one request may
 * ask for.
 *
 * **The rules**
 *
 * - One request asks for at most `maxQuestionsPerRequest` questions
 *   (`AI_MAX_QUESTIONS_PER_REQUEST`): `checkRequestSize` fails with
 *   `TooManyQuestions` and is meant to run before any reservation. The
 *   `LlmManager` runs it on every request's `metadata.units`.
 * - Nor for more units than the subject's whole daily limit (an override may set
 *   it below the per-request maximum): such a request could not be served on
 *   any day, so `reserve` and `withQuota` fail with `TooManyQuestions` naming
 *   the smaller of the two limits, never with a `RateLimitExceeded` that
 *   would send the client back at midnight.
 * - A subject spends at most `dailyLimit` units (`AI_DAILY_LIMIT_PER_TEACHER`)
 *   per day. A unit is one generation by default; a caller may charge one per
 *   question instead by passing `units` (through the manager:
 *   `metadata.units`). Questions and units that are not a positive integer
 *   fail with `InvalidOptions`.
 * - The day is the calendar day in `timeZone` (`AI_QUOTA_TIMEZONE`, default
 *   `UTC`): counters reset at local midnight, so a New York day is 23 hours
 *   long on 2026-03-08 and 25 hours long on 2026-11-01. The day is read from
 *   the Effect `Clock` (a `TestClock` in tests), never from the store's clock.
 * - Optional daily token and cost budgets (off by default) are charged with
 *   what the providers billed: every attempt's usage, failed and cancelled
 *   ones included (`reservation.bill`), is charged when the reservation
 *   settles, whether it is committed or refunded. A subject whose budget is
 *   spent is refused (`RateLimitExceeded` with `budget: "tokens"` or
 *   `"cost"`) until midnight.
 * - Units are exact, budgets are not: units are reserved atomically before
 *   the call, but a budget is only checked when a request starts and charged
 *   when it settles. Nothing is cut short, so every request already in
 *   flight when the budget is crossed runs to the end, and the day's spend
 *   can exceed the budget by what those requests bill.
 * - `overrides` gives some subjects other limits (a premium teacher with 500).
 *
 * **Reservations**
 *
 * `reserve` holds units before the provider is called, so concurrent requests
 * of one subject can never spend more units than the limit (budgets: see
 * above). A reservation is
 * committed when the request succeeds and refunded when it fails or is
 * interrupted; whichever comes first wins, and a second commit or refund is a
 * no-op. `withQuota` does all of that around an effect and is the one way
 * callers should spend quota: call it once per logical request (hedged or
 * retried attempts inside it spend no more units, but what each of them
 * billed is charged to the budgets).
 *
 * **Stores**
 *
 * The counters live in a {@link QuotaStore}: `layerStoreMemory` (default,
 * process-local, drops a day's counters when the day is over) or the Redis
 * store of `@baton/redis` (shared by every process; one atomic round trip per
 * reserve and per refund, keys that expire after their day).
 *
 * **When the store is down**
 *
 * By default the limiter fails closed: `reserve`, `withQuota` and `remaining`
 * fail with `QuotaStoreUnavailable`. With `failOpen: true` they log a warning
 * and let the request through, reporting a fresh day's numbers (an
 * `overrides` limit stored wrong is refused all the same, see `Overrides`).
 * A refund or a budget charge that cannot reach the store is logged and
 * dropped (the units stay spent: the safe direction). Each of these warnings is logged at most
 * once per 10 seconds, with the number of repeats silenced since, so an
 * outage does not log once per request. Nothing here ever dies on a store
 * error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as QuotaLimiter from "@baton/core/QuotaLimiter"
 * import { SubjectId } from "@baton/core/Ids"
 *
 * const generate = (questions: number) =>
 *   Effect.gen(function*() {
 *     const quota = yield* QuotaLimiter.QuotaLimiter
 *     yield* quota.checkRequestSize(questions)
 *     return yield* quota.withQuota(SubjectId.make("teacher-42"), 1, (reservation) =>
 *       Effect.succeed(`generated; ${reservation.remaining} left today`))
 *   })
 *
 * const program = generate(5).pipe(Effect.provide(QuotaLimiter.layerMemoryWith({
 *   maxQuestionsPerRequest: 20,
 *   dailyLimit: 100,
 *   timeZone: "Europe/Oslo"
 * })))
 * ```
 *
 * @since 0.1.0
 */
import { Context, DateTime, Duration, Effect, Exit, identity, Layer, Option, Result, Schema } from "effect"
import type { SubjectId } from "./Ids.ts"
import { damped } from "./internal/damped.ts"
import { firstIssue } from "./internal/schemaIssue.ts"
import { trusted } from "./internal/trusted.ts"
import { LlmConfig, quotaTimeZone, wholeNumber } from "./LlmConfig.ts"
import {
  InvalidOptions,
  type LlmConfigError,
  QuotaStoreUnavailable,
  RateLimitExceeded,
  TooManyQuestions
} from "./LlmError.ts"
import { isUnits, Units } from "./LlmRequest.ts"
import * as StoreDeadline from "./StoreDeadline.ts"
import type { TokenUsage } from "./TokenUsage.ts"

/**
 * The quota numbers an HTTP layer puts in `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` headers.
 *
 * @since 0.1.0
 */
export interface QuotaStatus {
  readonly subjectId: SubjectId
  readonly limit: number
  readonly used: number
  readonly remaining: number
  readonly resetsAt: DateTime.Utc
}

/**
 * Units held for one request: committed when the request succeeds, refunded
 * when it fails or is interrupted. Committing or refunding twice is a no-op.
 *
 * @since 0.1.0
 */
export interface Reservation extends QuotaStatus {
  readonly units: number
  /**
   * Adds what one provider attempt billed (a failed or cancelled attempt
   * too) to the reservation; it is charged against the token and cost
   * budgets when the reservation settles, by `commit` or by `refund`.
   */
  readonly bill: (usage: TokenUsage) => Effect.Effect<void>
  /** Keeps the units and charges the budgets with everything billed (plus `usage`, when given). */
  readonly commit: (usage?: TokenUsage) => Effect.Effect<void>
  /** Gives the units back; what was billed stays charged (the provider was paid). */
  readonly refund: Effect.Effect<void>
}

/**
 * The quota service.
 *
 * @since 0.1.0
 */
export interface Service {
  /**
   * Fails with `TooManyQuestions` when one request asks for more than the
   * per-request limit, and with `InvalidOptions` (field `questions`) when
   * `questions` is not a positive integer. Given the subject, the error's
   * `max` is the smaller of that limit and the subject's daily limit (a
   * lookup that fails leaves the per-request limit), as `reserve` names it:
   * a client that follows `max` is not refused again.
   */
  readonly checkRequestSize: (
    questions: number,
    subjectId?: SubjectId
  ) => Effect.Effect<void, TooManyQuestions | InvalidOptions>
  /**
   * Holds `units` (default 1) of the subject's daily quota. Units that are
   * not a positive integer fail with `InvalidOptions` (field `units`); more
   * units than the subject's daily limit, which no day could hold, fail with
   * `TooManyQuestions`.
   */
  readonly reserve: (
    subjectId: SubjectId,
    units?: number
  ) => Effect.Effect<Reservation, RateLimitExceeded | TooManyQuestions | QuotaStoreUnavailable | InvalidOptions>
  /**
   * The subject's quota now, without reserving anything. An `overrides`
   * lookup that waits is bounded only by a `StoreDeadline` in context: a
   * caller outside a request bounds the read itself (`HttpQuota.handler`
   * does).
   */
  readonly remaining: (subjectId: SubjectId) => Effect.Effect<QuotaStatus, QuotaStoreUnavailable>
  /**
   * Reserves, runs `effect`, commits on success and refunds on failure or
   * interruption: the one safe way to spend quota. Either way the budgets
   * are charged with what `effect` billed through `reservation.bill`. Fails
   * as `reserve` does, without running `effect`.
   */
  readonly withQuota: <A, E, R>(
    subjectId: SubjectId,
    units: number,
    effect: (reservation: Reservation) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RateLimitExceeded | TooManyQuestions | QuotaStoreUnavailable | InvalidOptions, R>
  /**
   * The limiter waits on I/O (its `QuotaStore` is `remote`, or its
   * `overrides` lookup is not {@link overridesFromRecord}'s): `LlmManager`
   * then bounds its commands by each request's deadline. A limiter that
   * wraps another passes it on.
   */
  readonly remote?: boolean | undefined
}

/**
 * The quota tag.
 *
 * @since 0.1.0
 */
export class QuotaLimiter extends Context.Service<QuotaLimiter, Service>()("@baton/core/QuotaLimiter") {}

// -----------------------------------------------------------------------------
// Policy
// -----------------------------------------------------------------------------

/**
 * The daily limits of one subject. Budgets that are `undefined` are off.
 *
 * @since 0.1.0
 */
export interface Limits {
  /** Units (generations or questions) per local day. */
  readonly daily: number
  /** Total tokens (prompt + completion) per local day. */
  readonly dailyTokens?: number | undefined
  /** Cost per local day, in nano-USD (1 USD = 1e9). */
  readonly dailyCostNanoUsd?: number | undefined
}

/**
 * A lookup of per-subject limits. `Option.none()` keeps the defaults; a
 * partial `Limits` replaces only the fields it sets. A lookup backed by a
 * store may fail with `QuotaStoreUnavailable` (the request is then refused,
 * or let through with `failOpen`); so does a limit that is not a positive
 * integer, the message naming it (`QuotaLimiter.overrides.daily`): the
 * operator's data, not the caller's request, is wrong; that one is refused
 * under `failOpen` too (no store is down, and letting the subject through
 * would lift its limit: a 0 meant as "blocked"). Any lookup but
 * {@link overridesFromRecord}'s is taken to wait on I/O: the limiter is then
 * `remote`, so that through `LlmManager` the lookup is bounded by the
 * request's deadline (`StoreDeadline`: past it, `QuotaStoreUnavailable`),
 * and a caller that goes away interrupts it (nothing is held yet) unless the
 * caller itself runs uninterruptibly.
 *
 * @since 0.1.0
 */
export type Overrides = (
  subjectId: SubjectId
) => Effect.Effect<Option.Option<Partial<Limits>>, QuotaStoreUnavailable>

/**
 * Options that do not come from environment variables: budgets, overrides
 * and the behaviour when the store is unreachable.
 *
 * @since 0.1.0
 */
export interface Extras {
  /** Default daily token budget per subject; off when absent. */
  readonly dailyTokenBudget?: number | undefined
  /** Default daily cost budget per subject in nano-USD; off when absent. */
  readonly dailyCostBudgetNanoUsd?: number | undefined
  /** Per-subject limits, for example premium teachers. */
  readonly overrides?: Overrides | undefined
  /** Let requests through when the store is unreachable (default: fail closed). */
  readonly failOpen?: boolean | undefined
}

/**
 * Everything `make` needs.
 *
 * @since 0.1.0
 */
export interface Options extends Extras {
  readonly maxQuestionsPerRequest: number
  readonly dailyLimit: number
  /** IANA zone whose midnight resets the counters, such as `UTC` or `Asia/Tokyo`. */
  readonly timeZone: string
}

/**
 * An `Overrides` lookup from a fixed table keyed by subject id.
 *
 * @example
 * ```ts
 * import * as QuotaLimiter from "@baton/core/QuotaLimiter"
 *
 * const overrides = QuotaLimiter.overridesFromRecord({ "teacher-premium": { daily: 500 } })
 * ```
 *
 * @since 0.1.0
 */
export const overridesFromRecord = (table: Readonly<Record<string, Partial<Limits>>>): Overrides => {
  const overrides: Overrides = (subjectId) =>
    Effect.succeed(Option.fromNullishOr(Object.hasOwn(table, subjectId) ? table[subjectId] : undefined))
  answersAtOnce.add(overrides)
  return overrides
}

/** What a limiter failing open reads in place of the overrides of a lookup that failed. */
const lookupDown: unique symbol = Symbol("lookupDown")

/** The lookups {@link overridesFromRecord} made: they answer at once, every other one may wait on I/O. */
const answersAtOnce = new WeakSet<Overrides>()

/** A lookup that waits on I/O, bounded by the request's deadline (`StoreDeadline`, when one is set). */
const bounded = (lookup: Overrides, subjectId: SubjectId) =>
  StoreDeadline.bound(lookup(subjectId), {
    onTimeout: () =>
      new QuotaStoreUnavailable({ message: "the quota overrides lookup did not answer by the request's deadline" })
  })

/** What `Effect.uninterruptibleMask` hands its body: the caller's interruptibility, restored around an effect. */
type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

// -----------------------------------------------------------------------------
// Store
// -----------------------------------------------------------------------------

/**
 * What a subject has spent on one day.
 *
 * @since 0.1.0
 */
export interface Usage {
  readonly units: number
  readonly tokens: number
  readonly costNanoUsd: number
}

/**
 * The counter of one subject on one local day (`day` is `YYYY-MM-DD`).
 *
 * @since 0.1.0
 */
export interface StoreKey {
  readonly subjectId: SubjectId
  readonly day: string
}

/**
 * The answer of a store to a reservation: the usage after it, or the limit
 * that refused it and the usage that made it refuse.
 *
 * @since 0.1.0
 */
export type ReserveOutcome =
  | {
    readonly _tag: "Reserved"
    readonly usage: Usage
    /** The store's id for this reservation, handed back to `refund` (a store that needs none omits it). */
    readonly reservation?: string | undefined
  }
  | Denied

/**
 * A refused reservation: which limit refused it, and the usage then.
 *
 * @since 0.1.0
 */
export interface Denied {
  readonly _tag: "Denied"
  readonly limit: "units" | "tokens" | "cost"
  readonly usage: Usage
}

/**
 * Where counters live. Each operation is atomic; `reserve` checks the limits
 * in the order units, tokens, cost and adds `units` only when all pass.
 * `expiresInMillis` is how long the day's counter must be kept (computed
 * from the Effect clock, so a store never needs a clock of its own). `refund`
 * and `charge` on a counter that no longer exists do nothing. `refund` gets
 * the `reservation` id `reserve` returned, so that a store can make a refund
 * safe to repeat after a reply it did not get.
 *
 * A `remote` store waits on I/O (Redis): `LlmManager` then sets
 * `@baton/core/StoreDeadline` to each request's deadline around the request,
 * and the store bounds its commands by it (`StoreDeadline.bound`). A store
 * that is not `remote` is not bounded: the in-memory store answers at once.
 *
 * @since 0.1.0
 */
export class QuotaStore extends Context.Service<QuotaStore, {
  readonly reserve: (options: {
    readonly key: StoreKey
    readonly units: number
    readonly limits: Limits
    readonly expiresInMillis: number
  }) => Effect.Effect<ReserveOutcome, QuotaStoreUnavailable>
  readonly refund: (options: {
    readonly key: StoreKey
    readonly units: number
    readonly reservation?: string | undefined
  }) => Effect.Effect<void, QuotaStoreUnavailable>
  readonly charge: (options: {
    readonly key: StoreKey
    readonly tokens: number
    readonly costNanoUsd: number
  }) => Effect.Effect<void, QuotaStoreUnavailable>
  readonly usage: (key: StoreKey) => Effect.Effect<Usage, QuotaStoreUnavailable>
  /** The store waits on I/O: its commands are bounded by each request's deadline (see above). */
  readonly remote?: boolean | undefined
}>()("@baton/core/QuotaLimiter/QuotaStore") {}

/**
 * Nothing spent.
 *
 * @since 0.1.0
 */
export const emptyUsage: Usage = { units: 0, tokens: 0, costNanoUsd: 0 }

/**
 * Which limit `usage` plus `units` more would break, if any, in the order a
 * store must check them.
 *
 * @since 0.1.0
 */
export const deniedBy = (limits: Limits, usage: Usage, units: number): "units" | "tokens" | "cost" | undefined =>
  usage.units + units > limits.daily
    ? "units"
    : limits.dailyTokens !== undefined && usage.tokens >= limits.dailyTokens
    ? "tokens"
    : limits.dailyCostNanoUsd !== undefined && usage.costNanoUsd >= limits.dailyCostNanoUsd
    ? "cost"
    : undefined

interface MemoryDay {
  expiresAt: number
  readonly subjects: Map<SubjectId, Usage>
}

/**
 * A process-local store. A day's counters are dropped at the first
 * reservation after the day is over, so the map holds at most the current
 * day (and the one before it until then); a refund or budget charge of a
 * request that reserved on a day already dropped goes nowhere (no limit
 * reads that day again). `size` counts the subject-days held.
 *
 * @since 0.1.0
 */
export const makeStoreMemory: Effect.Effect<QuotaStore["Service"] & { readonly size: Effect.Effect<number> }> = Effect
  .sync(() => {
    const days = new Map<string, MemoryDay>()
    const sweep = (now: number) => {
      for (const [day, entry] of days) if (entry.expiresAt <= now) days.delete(day)
    }
    const read = (key: StoreKey): Usage => days.get(key.day)?.subjects.get(key.subjectId) ?? emptyUsage
    const write = (key: StoreKey, usage: Usage) => {
      days.get(key.day)?.subjects.set(key.subjectId, usage)
    }
    return {
      reserve: ({ expiresInMillis, key, limits, units }) =>
        Effect.clockWith((clock) =>
          Effect.sync((): ReserveOutcome => {
            const now = clock.currentTimeMillisUnsafe()
            sweep(now)
            const usage = read(key)
            const denied = deniedBy(limits, usage, units)
            if (denied !== undefined) return { _tag: "Denied", limit: denied, usage }
            const day = days.get(key.day) ?? { expiresAt: 0, subjects: new Map() }
            day.expiresAt = Math.max(day.expiresAt, now + expiresInMillis)
            days.set(key.day, day)
            const next = { ...usage, units: usage.units + units }
            day.subjects.set(key.subjectId, next)
            return { _tag: "Reserved", usage: next }
          })
        ),
      refund: ({ key, units }) =>
        Effect.sync(() => {
          const usage = read(key)
          write(key, { ...usage, units: Math.max(0, usage.units - units) })
        }),
      charge: ({ costNanoUsd, key, tokens }) =>
        Effect.sync(() => {
          const usage = read(key)
          write(key, { ...usage, tokens: usage.tokens + tokens, costNanoUsd: usage.costNanoUsd + costNanoUsd })
        }),
      usage: (key) => Effect.sync(() => read(key)),
      size: Effect.sync(() => {
        let size = 0
        for (const day of days.values()) size += day.subjects.size
        return size
      })
    }
  })

/**
 * The process-local store (see `makeStoreMemory`).
 *
 * @since 0.1.0
 */
export const layerStoreMemory: Layer.Layer<QuotaStore> = Layer.effect(QuotaStore, makeStoreMemory)

// -----------------------------------------------------------------------------
// Days
// -----------------------------------------------------------------------------

/**
 * Moves a wall clock to the midnight that starts the next calendar date (hour
 * 24 rolls over). Never the same time of day a day later: that time may be
 * skipped (America/Nuuk jumps from 23:00 to 00:00), which would push it into
 * the day after. `DateTime.mutate` resolves a midnight that is skipped to the
 * instant the clocks jump over it, and one that repeats to its first
 * occurrence: either way the first instant of the new date.
 */
const nextMidnight = (date: Date): void => {
  date.setUTCHours(24, 0, 0, 0)
}

/**
 * The local day `now` falls in: its `YYYY-MM-DD` name, the instant of the next
 * local midnight, and the milliseconds until then.
 *
 * @since 0.1.0
 */
export const dayOf = (now: DateTime.Utc, zone: DateTime.TimeZone): {
  readonly day: string
  readonly resetsAt: DateTime.Utc
  readonly expiresInMillis: number
} => {
  const local = DateTime.setZone(now, zone)
  const resetsAt = DateTime.toUtc(DateTime.mutate(local, nextMidnight))
  return {
    day: DateTime.formatIsoDate(local),
    resetsAt,
    expiresInMillis: DateTime.toEpochMillis(resetsAt) - DateTime.toEpochMillis(now)
  }
}

// -----------------------------------------------------------------------------
// Limiter
// -----------------------------------------------------------------------------

const isCount = (value: number | undefined) => value === undefined || (Number.isSafeInteger(value) && value > 0)

const checkCount = (variable: string, value: number | undefined) =>
  value === undefined ? Effect.void : wholeNumber(variable, value, "positive")

/**
 * The first limit of an override that is not a positive integer, as
 * `QuotaStoreUnavailable`: the operator's data, not the caller's request, so
 * the server's fault (a 503 over HTTP, whose body does not repeat it), as a
 * lookup that cannot answer is.
 */
const checkOverride = (subjectId: SubjectId, limits: Limits): Effect.Effect<Limits, QuotaStoreUnavailable> => {
  const bad = (["daily", "dailyTokens", "dailyCostNanoUsd"] as const).find((name) => !isCount(limits[name]))
  if (bad === undefined) return Effect.succeed(limits)
  return Effect.fail(
    new QuotaStoreUnavailable({
      message: `QuotaLimiter.overrides.${bad}: must be a positive integer, got ${String(limits[bad])} for ${subjectId}`
    })
  )
}

const checkOptions = (options: Options): Effect.Effect<DateTime.TimeZone, LlmConfigError> =>
  Effect.gen(function*() {
    yield* checkCount("AI_MAX_QUESTIONS_PER_REQUEST", options.maxQuestionsPerRequest)
    yield* checkCount("AI_DAILY_LIMIT_PER_TEACHER", options.dailyLimit)
    yield* checkCount("QuotaLimiter.dailyTokenBudget", options.dailyTokenBudget)
    yield* checkCount("QuotaLimiter.dailyCostBudgetNanoUsd", options.dailyCostBudgetNanoUsd)
    return yield* quotaTimeZone(options.timeZone)
  })

/** How a reservation can fail. */
type ReserveError = RateLimitExceeded | TooManyQuestions | QuotaStoreUnavailable | InvalidOptions

const decodeUnits = Schema.decodeUnknownResult(Units)

/**
 * The `InvalidOptions` naming `field` when `value` is not a count of units,
 * saying why as `LlmRequest.Units` does for a request's `metadata.units`
 * (its range, a fraction, no finite number); `undefined` for a count. Its
 * rule read without a Schema pass first (`isUnits`): it runs on every
 * reservation.
 */
const invalidUnits = (field: string, value: number): InvalidOptions | undefined => {
  if (isUnits(value)) return undefined
  const decoded = decodeUnits(value)
  return Result.isSuccess(decoded)
    ? undefined
    : new InvalidOptions({ field, message: `${firstIssue(decoded.failure, field).message}, got ${String(value)}` })
}

/**
 * Builds the limiter over the current `QuotaStore`. Fails with an
 * `LlmConfigError` for a non-positive limit or budget or an unknown zone.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const store = yield* QuotaStore
  const zone = yield* checkOptions(options)
  const defaults: Limits = {
    daily: options.dailyLimit,
    dailyTokens: options.dailyTokenBudget,
    dailyCostNanoUsd: options.dailyCostBudgetNanoUsd
  }
  const failOpen = options.failOpen ?? false

  const withDefaults = (subjectId: SubjectId, override: Option.Option<Partial<Limits>>) =>
    // untyped code may answer with no `Option` at all: a defect of the reservation, not a throw where it is built
    !Option.isOption(override)
      ? Effect.die(new TypeError(`QuotaLimiter.overrides answered with no Option for ${subjectId}`))
      : Option.isNone(override)
      ? Effect.succeed(defaults)
      : checkOverride(subjectId, {
        daily: override.value.daily ?? defaults.daily,
        dailyTokens: override.value.dailyTokens ?? defaults.dailyTokens,
        dailyCostNanoUsd: override.value.dailyCostNanoUsd ?? defaults.dailyCostNanoUsd
      })
  const lookup = options.overrides
  const waits = lookup !== undefined && !answersAtOnce.has(lookup)
  // `overridesFromRecord` answers with `Effect.succeed`: read at once (`Effect.flatMapEager`). A lookup that waits
  // runs as interruptibly as the reservation's caller (`restore`): nothing is held yet. The bound's race is
  // inside it: the fiber waiting on that race is the one a caller interrupts
  // `failedOpen` when the lookup failed and the limiter fails open; a limit stored wrong is refused whatever
  // `failOpen` says: no store is down, and failing open would lift the subject's limit (a 0 meant as "blocked")
  const limitsFor = <F>(
    subjectId: SubjectId,
    failedOpen: F,
    restore: Restore = identity
  ): Effect.Effect<Limits | F, QuotaStoreUnavailable> =>
    lookup === undefined
      ? Effect.succeed(defaults)
      : Effect.flatMapEager(
        orFailOpen(waits ? restore(bounded(lookup, subjectId)) : lookup(subjectId), lookupDown),
        (override): Effect.Effect<Limits | F, QuotaStoreUnavailable> =>
          override === lookupDown ? Effect.succeed(failedOpen) : withDefaults(subjectId, override)
      )

  // Zone arithmetic is slow (Intl), so the current day is kept until the
  // clock leaves it (forwards or, under a TestClock, backwards).
  let current: ReturnType<typeof dayOf> & { readonly startsAt: number } | undefined
  const dayAt = (millis: number) => {
    if (current === undefined || millis < current.startsAt || millis >= DateTime.toEpochMillis(current.resetsAt)) {
      const now = DateTime.makeUnsafe(millis)
      const day = dayOf(now, zone)
      const startsAt = DateTime.toEpochMillis(DateTime.toUtc(DateTime.startOf(DateTime.setZone(now, zone), "day")))
      current = { ...day, startsAt }
      return day
    }
    return { ...current, expiresInMillis: DateTime.toEpochMillis(current.resetsAt) - millis }
  }
  const today = Effect.clockWith((clock) => Effect.succeed(dayAt(clock.currentTimeMillisUnsafe())))

  const statusOf = (subjectId: SubjectId, limits: Limits, used: number, resetsAt: DateTime.Utc): QuotaStatus => ({
    subjectId,
    limit: limits.daily,
    used,
    remaining: Math.max(0, limits.daily - used),
    resetsAt
  })

  const failingOpen = damped("quota store unavailable; failing open")
  const orFailOpen = <A, B>(
    effect: Effect.Effect<A, QuotaStoreUnavailable>,
    fallback: B
  ): Effect.Effect<A | B, QuotaStoreUnavailable> =>
    failOpen
      ? Effect.catchTag(effect, "QuotaStoreUnavailable", (error) => Effect.as(failingOpen(error), fallback))
      : effect

  const dropped = {
    refund: damped("quota refund dropped: store unavailable"),
    "budget charge": damped("quota budget charge dropped: store unavailable")
  }
  const logDropped = (what: keyof typeof dropped) => (effect: Effect.Effect<void, QuotaStoreUnavailable>) =>
    Effect.catchTag(effect, "QuotaStoreUnavailable", dropped[what])

  const exceeded = (
    subjectId: SubjectId,
    limits: Limits,
    outcome: Denied,
    resetsAt: DateTime.Utc,
    requested: number
  ) => {
    const usage = outcome.usage
    if (outcome.limit === "units") {
      const remaining = Math.max(0, limits.daily - usage.units)
      return new RateLimitExceeded({
        subjectId,
        limit: limits.daily,
        used: usage.units,
        remaining,
        resetsAt,
        requested
      }, trusted)
    }
    const tokens = outcome.limit === "tokens"
    return new RateLimitExceeded({
      subjectId,
      limit: (tokens ? limits.dailyTokens : limits.dailyCostNanoUsd) ?? 0,
      used: tokens ? usage.tokens : usage.costNanoUsd,
      remaining: 0,
      resetsAt,
      budget: outcome.limit
    }, trusted)
  }

  const makeReservation = (
    status: QuotaStatus,
    key: StoreKey,
    limits: Limits,
    units: number,
    live: boolean,
    reservation?: string
  ): Reservation => {
    // settling runs uninterruptibly and JavaScript runs one fiber at a time: a flag is enough
    let settled = false
    const budgeted = live && (limits.dailyTokens !== undefined || limits.dailyCostNanoUsd !== undefined)
    let tokens = 0
    let costNanoUsd = 0
    const bill = (usage: TokenUsage) =>
      Effect.sync(() => {
        tokens += usage.totalTokens
        costNanoUsd += usage.costNanoUsd
      })
    // no budget, nothing to charge
    const charge = budgeted
      ? Effect.suspend(() =>
        tokens === 0 && costNanoUsd === 0
          ? Effect.void
          : logDropped("budget charge")(store.charge({ key, tokens, costNanoUsd }))
      )
      : undefined
    const settleWith = (effect: Effect.Effect<void>) =>
      Effect.uninterruptible(Effect.suspend(() => {
        if (settled) return Effect.void
        settled = true
        return charge === undefined ? effect : Effect.andThen(effect, charge)
      }))
    // with no budget to charge, committing only settles: one step, not a chain that charges nothing
    const settleOnly = Effect.sync(() => {
      settled = true
    })
    return {
      ...status,
      units,
      bill: budgeted ? bill : () => Effect.void,
      commit: budgeted ? (usage) => settleWith(usage === undefined ? Effect.void : bill(usage)) : () => settleOnly,
      // built only for a request that ends without success
      refund: Effect.suspend(() =>
        settleWith(live ? logDropped("refund")(store.refund({ key, units, reservation })) : Effect.void)
      )
    }
  }

  /** The reservation the store's answer amounts to (`undefined`: the store failed open, nothing is held). */
  const reservationOf = (
    key: StoreKey,
    limits: Limits,
    units: number,
    resetsAt: DateTime.Utc,
    outcome: ReserveOutcome | undefined
  ): Effect.Effect<Reservation, RateLimitExceeded> => {
    if (outcome === undefined) {
      return Effect.succeed(makeReservation(statusOf(key.subjectId, limits, 0, resetsAt), key, limits, units, false))
    }
    if (outcome._tag === "Denied") return Effect.fail(exceeded(key.subjectId, limits, outcome, resetsAt, units))
    const status = statusOf(key.subjectId, limits, outcome.usage.units, resetsAt)
    return Effect.succeed(makeReservation(status, key, limits, units, true, outcome.reservation))
  }

  /** The limits of a request whose subject's are not known: the per-request maximum alone. */
  const perRequest = { daily: options.maxQuestionsPerRequest }

  /** More units than a request or a whole day may hold, named by the smaller of the two limits. */
  const tooMany = (requested: number, limits: { readonly daily: number }) =>
    new TooManyQuestions({ requested, max: Math.min(limits.daily, options.maxQuestionsPerRequest) })

  const reserveNow = (
    subjectId: SubjectId,
    units: number,
    restore: Restore
  ): Effect.Effect<Reservation, ReserveError> => {
    const invalid = invalidUnits("units", units)
    return invalid !== undefined
      ? Effect.fail(invalid)
      // a lookup that failed open holds nothing, as a store that failed open
      : Effect.flatMapEager(
        limitsFor(subjectId, undefined, restore),
        (limits): Effect.Effect<Reservation, ReserveError> =>
          // more than a whole day never fits: not a refusal to retry at midnight
          limits !== undefined && units > limits.daily
            ? Effect.fail(tooMany(units, limits))
            : Effect.clockWith((clock) => {
              const { day, expiresInMillis, resetsAt } = dayAt(clock.currentTimeMillisUnsafe())
              const key: StoreKey = { subjectId, day }
              if (limits === undefined) return reservationOf(key, defaults, units, resetsAt, undefined)
              return Effect.flatMap(
                orFailOpen(store.reserve({ key, units, limits, expiresInMillis }), undefined),
                (outcome) => reservationOf(key, limits, units, resetsAt, outcome)
              )
            })
      )
  }

  const reserve = (subjectId: SubjectId, units = 1) =>
    Effect.uninterruptibleMask((restore) => reserveNow(subjectId, units, restore))

  const remaining = Effect.fnUntraced(function*(subjectId: SubjectId) {
    const limits = yield* limitsFor(subjectId, defaults)
    const { day, resetsAt } = yield* today
    const usage = yield* orFailOpen(store.usage({ subjectId, day }), emptyUsage)
    return statusOf(subjectId, limits, usage.units, resetsAt)
  })

  const checkRequestSize = (
    questions: number,
    subjectId?: SubjectId
  ): Effect.Effect<void, TooManyQuestions | InvalidOptions> => {
    const invalid = invalidUnits("questions", questions)
    return invalid !== undefined
      ? Effect.fail(invalid)
      : questions <= options.maxQuestionsPerRequest
      ? Effect.void
      // a refusal either way: the subject's limits, when they read, only make its `max` right
      : Effect.flatMap(
        subjectId === undefined
          ? Effect.succeed(perRequest)
          : Effect.orElseSucceed(limitsFor(subjectId, perRequest), () => perRequest),
        (limits) => Effect.fail(tooMany(questions, limits))
      )
  }

  const withQuota = <A, E, R>(
    subjectId: SubjectId,
    units: number,
    effect: (reservation: Reservation) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | ReserveError, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        // already uninterruptible here: `reserveNow`, not `reserve`
        reserveNow(subjectId, units, restore),
        (reservation) =>
          restore(Effect.suspend(() => effect(reservation))).pipe(
            Effect.onExit((exit) => Exit.isSuccess(exit) ? reservation.commit() : reservation.refund)
          )
      )
    )

  return QuotaLimiter.of({
    checkRequestSize,
    reserve,
    remaining,
    withQuota,
    remote: store.remote === true || waits
  })
})

/**
 * The limiter's options from `LlmConfig` plus the extras that have no
 * environment variable.
 *
 * @since 0.1.0
 */
export const optionsFromConfig = (settings: LlmConfig["Service"], extras: Extras = {}): Options => ({
  ...extras,
  maxQuestionsPerRequest: settings.maxQuestionsPerRequest,
  dailyLimit: settings.dailyLimitPerTeacher,
  timeZone: settings.quotaTimeZone
})

/**
 * The limiter configured from `LlmConfig` over the current `QuotaStore`
 * (give it `layerStoreMemory` or the Redis store).
 *
 * @since 0.1.0
 */
export const layer = (extras: Extras = {}): Layer.Layer<QuotaLimiter, LlmConfigError, LlmConfig | QuotaStore> =>
  Layer.effect(QuotaLimiter, LlmConfig.use((settings) => make(optionsFromConfig(settings, extras))))

/**
 * The limiter configured from `LlmConfig` with the process-local store: the
 * default for a single process.
 *
 * @since 0.1.0
 */
export const layerMemory = (extras: Extras = {}): Layer.Layer<QuotaLimiter, LlmConfigError, LlmConfig> =>
  layer(extras).pipe(Layer.provide(layerStoreMemory))

/**
 * The limiter with explicit options and the process-local store (tests,
 * embedded use).
 *
 * @since 0.1.0
 */
export const layerMemoryWith = (options: Options): Layer.Layer<QuotaLimiter, LlmConfigError> =>
  Layer.effect(QuotaLimiter, make(options)).pipe(Layer.provide(layerStoreMemory))

// -----------------------------------------------------------------------------
// HTTP headers
// -----------------------------------------------------------------------------

/**
 * Header values for a quota answer: `RateLimit-Limit`, `RateLimit-Remaining`,
 * `RateLimit-Reset` (seconds until the counter resets) and, for a refusal,
 * `Retry-After` (the same seconds). Seconds are rounded up, never 0 before
 * the reset.
 *
 * The `RateLimit-*` numbers are always units, the quota-units of the IETF
 * draft these headers follow (draft-ietf-httpapi-ratelimit-headers, the
 * revisions with three separate fields). A refusal by a token or cost budget
 * carries the budget's numbers, not units: it gets no `RateLimit-Limit`
 * (the draft lets a server send only some of the fields) and
 * `RateLimit-Remaining: 0`, since no unit can be spent before the reset
 * (midnight, as for units); the budget's numbers belong in the body.
 *
 * @example
 * ```ts
 * import { DateTime } from "effect"
 * import * as QuotaLimiter from "@baton/core/QuotaLimiter"
 *
 * declare const status: QuotaLimiter.QuotaStatus
 * const headers = QuotaLimiter.rateLimitHeaders(status, DateTime.nowUnsafe())
 * ```
 *
 * @since 0.1.0
 */
export const rateLimitHeaders = (
  answer: QuotaStatus | RateLimitExceeded,
  now: DateTime.Utc
): Readonly<Record<string, string>> => {
  const seconds = String(Math.max(0, Math.ceil(Duration.toSeconds(DateTime.distance(now, answer.resetsAt)))))
  if (answer instanceof RateLimitExceeded && answer.budget !== undefined) {
    return { "RateLimit-Remaining": "0", "RateLimit-Reset": seconds, "Retry-After": seconds }
  }
  const headers = {
    "RateLimit-Limit": String(answer.limit),
    "RateLimit-Remaining": String(answer.remaining),
    "RateLimit-Reset": seconds
  }
  return answer instanceof RateLimitExceeded ? { ...headers, "Retry-After": seconds } : headers
}
