/**
 * Token usage and cost per attempt, aggregated per subject, provider and day:
 * the answer to "what did teacher X cost us yesterday, and on which provider".
 *
 * The manager calls `record` with the `AttemptReport` of every attempt. The
 * ledger appends one {@link UsageEntry} per attempt that consumed tokens or
 * cost money, whatever its outcome: a failed or cancelled attempt the
 * provider billed is a row too. Attempts without reported usage, or with
 * zero tokens and zero cost (skipped attempts, connection failures), leave no
 * row; the request log still has them.
 *
 * A request's `tags` are not kept here: the ledger aggregates per subject,
 * provider and day, and free-form tags would split those aggregates without
 * bound. Per-request tags are in the request log (its JSON records and the
 * SQL `request_log.tags` column); join on the request id to break costs down
 * by tag.
 *
 * Queries:
 * - `usageBySubject(day)`: per subject on one day;
 * - `usageByProvider(from, to, { subjectId })`: per provider over a range of
 *   days, optionally for one subject;
 * - `dailyTotals(from, to, { subjectId })`: per day over a range.
 * Each aggregate has request counts (distinct request ids), attempt counts,
 * token sums and the exact cost sum in integer nano-USD (plus USD for
 * display). Days are `YYYY-MM-DD` in the ledger's `timeZone` (default UTC;
 * use the quota zone, `AI_QUOTA_TIMEZONE`, to match quota days), inclusive.
 * A row's day is the day its attempt ended; the quota counts a request on
 * the day it reserved, so a request that runs across midnight is the
 * quota's on one day and the ledger's on the next.
 *
 * Writes never touch the request's path: `record` enqueues and a background
 * fiber appends rows in batches (see `BatchWriter`: flushed `flushInterval`,
 * default 1 second, after a row is recorded, and when the layer's scope
 * closes; an idle ledger sets no timer, so a `TestClock` moves freely). A
 * row recorded after that (a request still running when the layer was torn
 * down) is appended by the recording fiber, within `closeTimeout`, when the
 * store can still take it: the memory store and the SQL ledgers opened from
 * a URL (`SqlUsageLedger.layerUrl`, `layerFromConfig`, or `layer` over
 * `SqlDatabase.layerUrl`) do; a SQL ledger over a client closed with its
 * scope does not, and such a row is dropped, counted and logged. A crash
 * loses at most the rows of the last `flushInterval`.
 *
 * Queries flush first, so a process always reads its own writes. A query,
 * its flush included, fails with a {@link UsageLedgerError} when it has not
 * answered within `queryTimeout` (default {@link defaultQueryTimeout}, 10
 * seconds; `Duration.infinity` for no bound): a database that stopped
 * answering (a PostgreSQL paused behind its proxy, a table another session
 * holds locked) never holds a report or an HTTP request for good. Its
 * caller may stop sooner: its own `Effect.timeout` or interruption (an HTTP
 * request cancelled) ends the query at once. Either way the append goes on
 * in the background and its rows are written once; the service's own
 * `flush` is not bounded. The statement left behind is interrupted, and
 * its caller does not wait for it to end, but closing the store may: a
 * PostgreSQL ledger's layer closed while a query waits for a server that
 * stopped answering took, measured, the query's bound plus some 5 seconds
 * (the driver's cancel holds its pool connection until then).
 *
 * Stores: {@link layerMemory} (the library default), and SQLite or PostgreSQL
 * through `effect/sql` in `@baton/sql/SqlUsageLedger`. Every store answers the
 * same queries with the same numbers: costs are integers, so sums are exact.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as UsageLedger from "@baton/core/UsageLedger"
 *
 * const yesterday = Effect.gen(function*() {
 *   const ledger = yield* UsageLedger.UsageLedger
 *   return yield* ledger.usageBySubject(UsageLedger.Day.make("2026-03-07"))
 * }).pipe(Effect.provide(UsageLedger.layerMemory()))
 * ```
 *
 * @since 0.1.0
 */
import { type Array as Arr, Context, DateTime, Duration, Effect, Fiber, Layer, Schema, type Scope } from "effect"
import { Attempt } from "./Attempt.ts"
import * as BatchWriter from "./BatchWriter.ts"
import { ModelId, ProviderName, RequestId, SubjectId } from "./Ids.ts"
import { atEnd } from "./internal/attemptEnd.ts"
import { isoString } from "./internal/isoTime.ts"
import { rowId } from "./internal/rowId.ts"
import { namedZone } from "./internal/timeZone.ts"
import * as LlmConfig from "./LlmConfig.ts"
import type { LlmConfigError } from "./LlmError.ts"
import type { AttemptReport } from "./RequestLog.ts"
import * as TokenUsage from "./TokenUsage.ts"

/** The days of `month` (1-12) in `year` of the Gregorian calendar. */
const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
    : [4, 6, 9, 11].includes(month)
    ? 30
    : 31

/** `YYYY-MM-DD` with a month 01-12 and a day 01-31: year, month and day captured. */
const dayPattern = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/

/**
 * A calendar day, `YYYY-MM-DD`, that exists: its month 1 to 12, its day
 * within the month (February 29 in leap years only).
 *
 * @since 0.1.0
 */
export const Day = Schema.String.check(
  Schema.isPattern(dayPattern, { message: "a day is written YYYY-MM-DD" }),
  Schema.makeFilter((text: string) => {
    const [, year, month, day] = dayPattern.exec(text) ?? []
    // a text the pattern refuses is left to its message
    if (day === undefined) return true
    const days = daysInMonth(Number(year), Number(month))
    return Number(day) <= days || `${year}-${month} has ${days} days`
  })
).pipe(Schema.brand("Day"))

/** @since 0.1.0 */
export type Day = typeof Day.Type

/**
 * The day of an instant in a time zone.
 *
 * @since 0.1.0
 */
export const dayOf = (instant: DateTime.DateTime, timeZone: string): Day =>
  Day.make(DateTime.formatIsoDate(DateTime.setZoneNamedUnsafe(instant, timeZone)))

const MINUTE_MS = 60_000

/**
 * `dayOf` in one zone, remembered for the current minute: today's UTC
 * offsets are whole minutes and change on minute boundaries, so all instants
 * of one UTC minute fall on the same day. Saves a time-zone
 * conversion and a `Day` check per ledger row.
 */
const cachedDayOf = (timeZone: string) => {
  let minute = Number.NaN
  let day: Day | undefined
  return (millis: number): Day => {
    const current = Math.floor(millis / MINUTE_MS)
    if (current !== minute || day === undefined) {
      day = dayOf(DateTime.makeUnsafe(millis), timeZone)
      minute = current
    }
    return day
  }
}

/**
 * One ledger row: the billed usage of one attempt.
 *
 * @since 0.1.0
 */
export const UsageEntry = Schema.Struct({
  /**
   * The row's own id, a random UUID given when it is built: a store keeps
   * the row once by it (see `Store`). Two rows may share a request id,
   * attempt and end time (a caller reusing its request id), never an id.
   */
  id: Schema.String,
  requestId: RequestId,
  attempt: Schema.Int,
  /** ISO 8601, UTC. */
  timestamp: Schema.String,
  day: Day,
  subjectId: Schema.NullOr(SubjectId),
  provider: ProviderName,
  model: ModelId,
  outcome: Attempt.fields.outcome,
  ...TokenUsage.countFields,
  /** Present and true when the counts are Baton's estimate (`TokenUsage.estimated`), not what the provider reported. */
  usageEstimated: Schema.optionalKey(Schema.Boolean)
})

/** @since 0.1.0 */
export type UsageEntry = typeof UsageEntry.Type

const totalsFields = {
  requests: TokenUsage.Count,
  attempts: TokenUsage.Count,
  ...TokenUsage.countFields,
  costUsd: Schema.Finite
}

/**
 * Sums over a set of rows. `requests` counts distinct request ids.
 *
 * @since 0.1.0
 */
export const UsageTotals = Schema.Struct(totalsFields)

/** @since 0.1.0 */
export type UsageTotals = typeof UsageTotals.Type

/**
 * Usage of one subject on one day (`subjectId` is null for requests made
 * without one).
 *
 * @since 0.1.0
 */
export const SubjectUsage = Schema.Struct({ day: Day, subjectId: Schema.NullOr(SubjectId), ...totalsFields })

/** @since 0.1.0 */
export type SubjectUsage = typeof SubjectUsage.Type

/**
 * Usage of one provider over a range of days.
 *
 * @since 0.1.0
 */
export const ProviderUsage = Schema.Struct({ provider: ProviderName, ...totalsFields })

/** @since 0.1.0 */
export type ProviderUsage = typeof ProviderUsage.Type

/**
 * Usage on one day.
 *
 * @since 0.1.0
 */
export const DailyTotal = Schema.Struct({ day: Day, ...totalsFields })

/** @since 0.1.0 */
export type DailyTotal = typeof DailyTotal.Type

/**
 * A store could not answer a query (a database down, a table missing). The
 * message says which store and why.
 *
 * @since 0.1.0
 */
export class UsageLedgerError extends Schema.TaggedError<UsageLedgerError>()("UsageLedgerError", {
  store: Schema.String,
  message: Schema.String
}) {}

/**
 * Optional narrowing of a range query.
 *
 * @since 0.1.0
 */
export interface RangeFilter {
  readonly subjectId?: SubjectId | undefined
}

/**
 * Where rows live. `append` takes a non-empty batch; the queries are the
 * service's, without the flush. A batch may be appended again (retried after
 * a write whose answer was lost): a store that can keep part of a failed
 * write keeps each row once, by its `id`.
 *
 * @since 0.1.0
 */
export interface Store {
  readonly name: string
  readonly append: (rows: Arr.NonEmptyReadonlyArray<UsageEntry>) => Effect.Effect<void, UsageLedgerError>
  readonly usageBySubject: (day: Day) => Effect.Effect<ReadonlyArray<SubjectUsage>, UsageLedgerError>
  readonly usageByProvider: (
    from: Day,
    to: Day,
    filter?: RangeFilter
  ) => Effect.Effect<ReadonlyArray<ProviderUsage>, UsageLedgerError>
  readonly dailyTotals: (
    from: Day,
    to: Day,
    filter?: RangeFilter
  ) => Effect.Effect<ReadonlyArray<DailyTotal>, UsageLedgerError>
}

/**
 * The usage-ledger service. `record` appends one row for an attempt that
 * consumed tokens; it never fails the request (rows are written in batches
 * off the request's path). `flush` writes the queued rows now.
 *
 * @since 0.1.0
 */
export interface Service extends Omit<Store, "name" | "append"> {
  readonly record: (report: AttemptReport) => Effect.Effect<void>
  readonly flush: Effect.Effect<void>
}

/**
 * The usage-ledger tag.
 *
 * @since 0.1.0
 */
export class UsageLedger extends Context.Service<UsageLedger, Service>()("@baton/core/UsageLedger") {}

/** True when an attempt's usage is worth a row: reported, with some tokens or some cost. */
const consumed = (usage: TokenUsage.TokenUsage | undefined): usage is TokenUsage.TokenUsage =>
  usage !== undefined && (usage.totalTokens !== 0 || usage.costNanoUsd !== 0)

/**
 * The row for an attempt that ended at `timestamp`, or `undefined` when the
 * attempt consumed nothing (no usage reported, or zero tokens and zero cost).
 * `day` is `dayOf(timestamp, timeZone)`, given when the caller knows it.
 * Each call makes a new row, with an `id` of its own.
 *
 * @since 0.1.0
 */
export const toEntry = (
  report: AttemptReport,
  timestamp: DateTime.Utc,
  timeZone: string,
  day?: Day
): UsageEntry | undefined =>
  consumed(report.usage)
    ? entryAt(report, report.usage, DateTime.toEpochMillis(timestamp), day ?? dayOf(timestamp, timeZone))
    : undefined

/**
 * The row of an attempt that consumed `usage` (its report's, checked by the
 * caller), at `millis` (epoch milliseconds) on `day`: the ledger's own path,
 * with no `DateTime` built per row.
 */
const entryAt = (report: AttemptReport, usage: TokenUsage.TokenUsage, millis: number, day: Day): UsageEntry => ({
  id: rowId(),
  requestId: report.request.requestId,
  attempt: report.attemptNumber,
  timestamp: isoString(millis),
  day,
  subjectId: report.request.subjectId ?? null,
  provider: report.attempt.provider,
  model: report.attempt.model,
  outcome: report.attempt.outcome,
  promptTokens: usage.promptTokens,
  completionTokens: usage.completionTokens,
  cachedPromptTokens: usage.cachedPromptTokens,
  reasoningTokens: usage.reasoningTokens,
  totalTokens: usage.totalTokens,
  costNanoUsd: usage.costNanoUsd,
  ...(usage.estimated === true ? { usageEstimated: true } : {})
})

/**
 * Batching, day and query-bound settings of a ledger (see
 * `BatchWriter.Options`).
 *
 * @since 0.1.0
 */
export interface Options extends Omit<BatchWriter.Options, "name"> {
  /** IANA zone whose midnight starts a ledger day (default `UTC`). */
  readonly timeZone?: string | undefined
  /**
   * Longest a query, its flush included, may take before it fails with a
   * {@link UsageLedgerError} (default {@link defaultQueryTimeout}, 10
   * seconds): a positive duration, or `Duration.infinity` for no bound.
   * Anything else (zero, negative, `NaN`, `"10 secs"`) fails the build with
   * an `LlmConfigError` naming `UsageLedger.queryTimeout`.
   */
  readonly queryTimeout?: Duration.Input | undefined
}

/**
 * How long a query waits for its store by default (its flush included):
 * past it, it fails with a {@link UsageLedgerError}.
 *
 * @since 0.1.0
 */
export const defaultQueryTimeout: Duration.Duration = Duration.seconds(10)

/** Interrupts `fiber` on a fiber of its own: its caller does not wait for it to end. */
const stop = (fiber: Fiber.Fiber<unknown, unknown>) =>
  Effect.asVoid(Effect.forkDetach(Fiber.interrupt(fiber), { startImmediately: true }))

/**
 * `query` after a flush, failing for `store` when both have not answered
 * within `timeout`. It runs on a fiber of its own, interrupted when its
 * caller stops waiting and not waited for by that caller: an interrupted
 * statement may take long to end (a driver's cancel waits for the server
 * that stopped). What closes the store may still wait for it (a pool
 * closing waits for the connection that statement holds).
 */
const boundedQuery =
  (store: string, timeout: Duration.Duration, flush: Effect.Effect<void>) =>
  <A>(query: Effect.Effect<A, UsageLedgerError>): Effect.Effect<A, UsageLedgerError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        Effect.forkDetach(Effect.andThen(flush, query)),
        (fiber) =>
          restore(Effect.timeoutOrElse(Fiber.join(fiber), {
            duration: timeout,
            orElse: () =>
              Effect.fail(
                new UsageLedgerError({
                  store,
                  message: `the usage ledger did not answer within ${Duration.format(timeout)}`
                })
              )
          })).pipe(Effect.ensuring(Effect.suspend(() => fiber.pollUnsafe() === undefined ? stop(fiber) : Effect.void)))
      )
    )

/** The options `make` checks: the day's zone, the query bound and the batching. */
const checked = (options: Options) =>
  Effect.all({
    timeZone: namedZone("UsageLedger.timeZone", options.timeZone ?? "UTC"),
    queryTimeout: LlmConfig.duration(
      "UsageLedger.queryTimeout",
      options.queryTimeout ?? defaultQueryTimeout,
      "positive"
    ),
    batching: BatchWriter.checkOptions("UsageLedger", options)
  })

/**
 * Checks a ledger's options without building it: an unknown `timeZone` is an
 * `LlmConfigError` naming `UsageLedger.timeZone`, a `queryTimeout` that is
 * not a positive duration one naming `UsageLedger.queryTimeout`, a batching
 * option `BatchWriter.checkOptions` refuses one naming it
 * (`UsageLedger.flushInterval`). `make` runs
 * it first; a store that connects or migrates runs it before (see
 * `@baton/sql`).
 *
 * @since 0.1.0
 */
export const checkOptions = (options: Options): Effect.Effect<void, LlmConfigError> => Effect.asVoid(checked(options))

/**
 * A ledger over a store: `record` enqueues, a background fiber appends, the
 * scope's end flushes. Fails with an `LlmConfigError` for the options
 * {@link checkOptions} refuses.
 *
 * @since 0.1.0
 */
export const make = (store: Store, options: Options = {}): Effect.Effect<Service, LlmConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const timeZone = options.timeZone ?? "UTC"
    // checked before any row: an unknown zone would fail every billed attempt's record
    const { queryTimeout } = yield* checked(options)
    const writer = yield* BatchWriter.make(store.append, { ...options, name: `usage-ledger:${store.name}` })
    const dayAt = cachedDayOf(timeZone)
    const bounded = boundedQuery(store.name, queryTimeout, writer.flush)
    return UsageLedger.of({
      // an attempt that consumed nothing (a skip, a refused connection) leaves no row: not even the clock is read
      record: (report) => {
        const usage = report.usage
        if (!consumed(usage)) return Effect.void
        return atEnd(report, (millis) => writer.offer(entryAt(report, usage, millis, dayAt(millis))))
      },
      flush: writer.flush,
      usageBySubject: (day) => bounded(store.usageBySubject(day)),
      usageByProvider: (from, to, filter) => bounded(store.usageByProvider(from, to, filter)),
      dailyTotals: (from, to, filter) => bounded(store.dailyTotals(from, to, filter))
    })
  })

/**
 * Sums rows. Exact: every count and cost is an integer.
 *
 * @since 0.1.0
 */
export const totals = (rows: ReadonlyArray<UsageEntry>): UsageTotals => {
  const requests = new Set<string>()
  const sum = {
    promptTokens: 0,
    completionTokens: 0,
    cachedPromptTokens: 0,
    reasoningTokens: 0,
    totalTokens: 0,
    costNanoUsd: 0
  }
  for (const row of rows) {
    requests.add(row.requestId)
    sum.promptTokens += row.promptTokens
    sum.completionTokens += row.completionTokens
    sum.cachedPromptTokens += row.cachedPromptTokens
    sum.reasoningTokens += row.reasoningTokens
    sum.totalTokens += row.totalTokens
    sum.costNanoUsd += row.costNanoUsd
  }
  return { requests: requests.size, attempts: rows.length, ...sum, costUsd: TokenUsage.nanoUsdToUsd(sum.costNanoUsd) }
}

const groupBy = <K extends string | null>(
  rows: ReadonlyArray<UsageEntry>,
  key: (row: UsageEntry) => K
): ReadonlyArray<readonly [K, UsageTotals]> => {
  const groups = new Map<K, Array<UsageEntry>>()
  for (const row of rows) {
    const k = key(row)
    const group = groups.get(k)
    if (group === undefined) groups.set(k, [row])
    else group.push(row)
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a ?? "").localeCompare(b ?? ""))
    .map(([k, group]) => [k, totals(group)] as const)
}

const inRange = (from: Day, to: Day, filter: RangeFilter | undefined) => (row: UsageEntry) =>
  row.day >= from && row.day <= to && (filter?.subjectId === undefined || row.subjectId === filter.subjectId)

/**
 * A store keeping rows in memory, aggregated on each query.
 *
 * @since 0.1.0
 */
export const makeMemoryStore: Effect.Effect<Store> = Effect.sync((): Store => {
  // appended in place: a copy per flush would cost time in the rows already kept
  const kept: Array<UsageEntry> = []
  const rows = Effect.sync((): ReadonlyArray<UsageEntry> => kept)
  return {
    name: "memory",
    append: (batch) =>
      Effect.sync(() => {
        for (const row of batch) kept.push(row)
      }),
    usageBySubject: (day) =>
      Effect.map(
        rows,
        (all) =>
          groupBy(all.filter((row) => row.day === day), (row) => row.subjectId).map(([subjectId, sums]) => ({
            day,
            subjectId,
            ...sums
          }))
      ),
    usageByProvider: (from, to, filter) =>
      Effect.map(
        rows,
        (all) =>
          groupBy(all.filter(inRange(from, to, filter)), (row) => row.provider).map(([provider, sums]) => ({
            provider,
            ...sums
          }))
      ),
    dailyTotals: (from, to, filter) =>
      Effect.map(
        rows,
        (all) =>
          groupBy(all.filter(inRange(from, to, filter)), (row) => row.day).map(([day, sums]) => ({ day, ...sums }))
      )
  }
})

/**
 * A ledger over a store built by `store`.
 *
 * @since 0.1.0
 */
export const layer = <E, R>(
  store: Effect.Effect<Store, E, R>,
  options: Options = {}
): Layer.Layer<UsageLedger, E | LlmConfigError, Exclude<R, Scope.Scope>> =>
  Layer.effect(UsageLedger, Effect.flatMap(store, (built) => make(built, options)))

/**
 * A ledger in memory: the library default (lost when the process ends).
 * It keeps every row and each query scans them all: for tests, demos and
 * short-lived processes; a long-running service keeps its ledger in a
 * database (`@baton/sql/SqlUsageLedger`).
 *
 * @since 0.1.0
 */
export const layerMemory = (options: Options = {}): Layer.Layer<UsageLedger, LlmConfigError> =>
  layer(makeMemoryStore, options)
