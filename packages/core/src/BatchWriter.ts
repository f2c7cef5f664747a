/**
 * Batched background writes for observability sinks (the usage ledger, a
 * request log in a database): the request only enqueues, a background fiber
 * writes.
 *
 * `offer` puts an item on an unbounded in-memory queue and returns at once. A
 * fiber flushes the queue `flushInterval` (default 1 second) after the first
 * item offered since its last flush, in batches of at most `maxBatchSize`
 * (default 500), one flush at a time; a writer given nothing sets no timer,
 * so moving a `TestClock` a day ahead costs one flush at most. `flush` writes
 * everything offered before it was called and is what queries call first, so
 * a process reads its own writes; its caller may stop waiting (a timeout, an
 * interrupted request), the write goes on. Closing the writer's scope stops
 * the fiber and flushes what is left, so nothing is lost on a clean shutdown
 * while the sink answers within `closeTimeout`.
 *
 * Failures, and what they cost:
 * - A batch that fails is retried `retries` times (default 3, exponential
 *   backoff from 50 ms); a try still running after `writeTimeout` (default
 *   2 minutes: a locked table, packets dropped) is interrupted and fails
 *   (a write that ignores interruption still holds it until it ends). Then
 *   its first, middle and last rows are written alone, and the rest in
 *   halves, each written on its own and split again when it fails, so a
 *   refused row costs no other row (about 2·log2(batch size) writes each).
 *   A batch of a single row is retried too, and then is a row written
 *   alone that failed.
 * - A sink that is down and one that refuses a row (a constraint, a value
 *   it cannot store) both fail a row written alone: the write just before
 *   tells them apart. Right after a write that succeeded (the sink known
 *   up), a row written alone is retried as a batch is, and refused only if
 *   it still fails. After a write that failed, a failing row is held, and
 *   written alone again right after the next write that succeeds, or right
 *   after the next row refused (the sink is up: each is then retried, and
 *   refused if it still fails). Three rows held with nothing written since
 *   (the first, middle and last rows of a batch, say) mean the sink looks
 *   down (a database restarting, a connection cut): a half being isolated
 *   is still written once, whole (one written says the sink is up after
 *   all), but nothing is split or written alone any more; the rows not
 *   written (the rest of the batch, untried), the rows held and the rest
 *   of the flush go back on the queue for the next flush, as do the rows
 *   still held when the flush ends. Each row is kept for up to `maxOutage`
 *   (default 1 minute) from the flush that first kept it, and dropped past
 *   it (rows equal as `Map` keys, the same object or primitive offered
 *   twice, share that clock). A flush against a down sink therefore costs
 *   about `retries` + 4 writes however many rows wait (each up to
 *   `writeTimeout` against a sink that hangs), and that is all a query
 *   (which flushes first) waits for.
 * - The close keeps nothing for later: what its flush would keep (a flush
 *   the close overtakes puts its rows back for the close to write) and the
 *   rows still held are written once more, in a last pass, as a batch is:
 *   retried whole, then isolated; the rows held after it are written once
 *   more alone, retried, and what is still not written is dropped. A close
 *   against a down sink thus costs about twice a flush's writes, all
 *   within `closeTimeout`.
 * - What that rule costs: a refused row costs its retries' waits (350 ms
 *   by default); a row written alone just as the sink goes down, and down
 *   through its retries, is taken for refused; rows refused three in a row
 *   look like a down sink, so the rows next to them may wait a few flushes
 *   (the refused ones are dropped once written next to a row the sink
 *   takes; one with no such row near it is kept, at `retries` + 1 writes a
 *   flush, until `maxOutage` or the close).
 * - Only rows refused alone, or left by a sink down past `maxOutage` or at
 *   close, are dropped: counted in `baton_sink_rows_dropped_total{sink}` and
 *   `baton_sink_failures_total{sink}`, and warned of for as long as the
 *   writer lives, at most once every 10 seconds: a warning counts the rows
 *   dropped since the last one, and the close warns of those not warned of
 *   yet. Writes never fail the caller.
 *
 * Closing and crashes:
 * - On a crash (the process killed, the scope never closed) the items offered
 *   since the last flush are lost: at most `flushInterval` worth of rows.
 *   Lower it to narrow that window at the cost of more, smaller writes.
 * - A query's flush runs on a fiber of its own: interrupting the query (its
 *   `Effect.timeout`, an HTTP client gone) ends its wait at once and never
 *   cuts the write, which goes on in the background; its rows are written
 *   once, as if the query had waited. A query made while an earlier query's
 *   flush waits for its turn (the sink slow or locked) waits for that flush,
 *   so waiting queries cost no more than one flush.
 * - Closing the scope waits for a flush in progress, then writes what is
 *   left, all within `closeTimeout` (default 10 seconds), so a sink that
 *   hangs (a database dropping packets, each write waiting out its connect
 *   timeout) cannot hold a shutdown. Past it, the close stops waiting: the
 *   writes in flight (its own, the background fiber's, queries') are
 *   interrupted, and the close returns without waiting for them to stop (a
 *   driver may take long to cancel a statement: `@effect/sql-pg` waits up to
 *   5 seconds for a server that does not answer). The rows not written are
 *   dropped, counted and warned of (some may have reached the sink, if a
 *   write was cut off after it committed).
 * - The final flush (or, when it is still waiting past `closeTimeout`, the
 *   close) takes the queue for the last time and ends it. A row
 *   offered after that, while the close writes or once it is over (a request
 *   still running when the layer is torn down, or an `offer` effect built
 *   before and run after), is not queued where nothing would ever take it:
 *   it is written alone on a fiber of its own, one write at a time as
 *   flushes are, retried as a batch is, and the offering fiber waits for that
 *   write up to `closeTimeout`, its interruption deferred meanwhile. Past it,
 *   the offering fiber stops waiting: the write is interrupted, not waited
 *   for, and the row is dropped and counted as below (it may still reach the
 *   sink, if the write was cut off after it committed). Only then may an
 *   `offer` wait for I/O. Whether the row reaches the sink
 *   is the sink's to say: one whose connection was closed with the same
 *   scope fails it, unless it can reach its store again (the SQL stores of
 *   `@baton/sql` opened from a URL open a connection for it). A row the sink
 *   does not take is dropped, counted in
 *   `baton_sink_rows_dropped_total{sink}` and `baton_sink_failures_total{sink}`,
 *   and warned of naming the sink, at most once every 10 seconds (apart from
 *   the other drops, so that the close's warning does not silence the first
 *   such loss). While the
 *   writer is open, an offer costs what an enqueue costs.
 *
 * @since 0.1.0
 */
import {
  Array as Arr,
  type Cause,
  Clock,
  Duration,
  Effect,
  Exit,
  Fiber,
  Latch,
  Metric,
  Option,
  Queue,
  Schedule,
  type Scope,
  Semaphore
} from "effect"
import { dampedBy, warningIntervalMs } from "./internal/damped.ts"
import * as LlmConfig from "./LlmConfig.ts"
import type { LlmConfigError } from "./LlmError.ts"
import * as LlmMetrics from "./LlmMetrics.ts"

/**
 * A running batch writer.
 *
 * @since 0.1.0
 */
export interface BatchWriter<A> {
  /**
   * Enqueues an item; never fails. While the writer is open it never waits
   * for I/O; once the close has taken the queue, it has the item written on a
   * fiber of its own and waits for that write up to `closeTimeout` (see the
   * module's "Closing and crashes").
   */
  readonly offer: (item: A) => Effect.Effect<void>
  /**
   * Writes every item offered so far. Interrupting the caller ends its wait,
   * not the write (see the module's "Closing and crashes").
   */
  readonly flush: Effect.Effect<void>
}

/** `items` in batches of at most `size`, by slices (`Array.chunksOf` copies the rest at every cut). */
const batchesOf = <A>(items: ReadonlyArray<A>, size: number): Array<Arr.NonEmptyReadonlyArray<A>> => {
  const batches: Array<Arr.NonEmptyReadonlyArray<A>> = []
  for (let start = 0; start < items.length; start += size) {
    const batch = items.slice(start, start + size)
    if (Arr.isReadonlyArrayNonEmpty(batch)) batches.push(batch)
  }
  return batches
}

/**
 * How a writer batches and retries. Its durations take `Duration.infinity`
 * for no bound; {@link checkOptions} says what else each takes.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Names the sink in metrics and warnings. */
  readonly name: string
  /**
   * How long after the first item offered since the last flush the
   * background fiber flushes (default 1 second): the most a crash can lose.
   */
  readonly flushInterval?: Duration.Input | undefined
  /** Most items per write (default 500; a whole number of 1 or more). */
  readonly maxBatchSize?: number | undefined
  /** Retries of a failing batch, and of a row written alone right after a write that succeeded (default 3; a whole number). */
  readonly retries?: number | undefined
  /** How long a row is kept for later while the sink does not take it (default 1 minute from when it was first kept). */
  readonly maxOutage?: Duration.Input | undefined
  /**
   * Longest the scope's close may wait for the writes (default 10 seconds):
   * a flush in progress, then the final flush; the rows not written by then
   * are dropped, counted and logged, and the close returns without waiting
   * for the interrupted writes to stop. Also the longest a row offered after
   * the close holds its offering fiber.
   */
  readonly closeTimeout?: Duration.Input | undefined
  /**
   * Longest one try of a write may take (default 2 minutes; more than 0): past it the
   * write is interrupted and counts as failed, so that a sink that hangs (a
   * locked table, packets dropped) is retried and, past `maxOutage`, has its
   * rows dropped rather than piling up behind it. A write cut off after it
   * committed is written again when retried. Only a write that can be
   * interrupted is cut: one that ignores interruption is waited for. The
   * wait for another write to end (a row offered after the close) is not
   * counted.
   */
  readonly writeTimeout?: Duration.Input | undefined
}

/** The settings a writer runs with, from checked {@link Options}. */
interface Settings {
  readonly flushInterval: Duration.Duration
  readonly maxOutage: Duration.Duration
  readonly closeTimeout: Duration.Duration
  readonly writeTimeout: Duration.Duration
  readonly retries: number
  readonly maxBatchSize: number
}

const settingsOf = (owner: string, options: Omit<Options, "name">): Effect.Effect<Settings, LlmConfigError> =>
  Effect.all({
    flushInterval: LlmConfig.duration(`${owner}.flushInterval`, options.flushInterval ?? "1 second", "nonNegative"),
    maxOutage: LlmConfig.duration(`${owner}.maxOutage`, options.maxOutage ?? "1 minute", "nonNegative"),
    closeTimeout: LlmConfig.duration(`${owner}.closeTimeout`, options.closeTimeout ?? "10 seconds", "nonNegative"),
    writeTimeout: LlmConfig.duration(`${owner}.writeTimeout`, options.writeTimeout ?? "2 minutes", "positive"),
    retries: LlmConfig.wholeNumber(`${owner}.retries`, options.retries ?? 3, "nonNegative"),
    maxBatchSize: LlmConfig.wholeNumber(`${owner}.maxBatchSize`, options.maxBatchSize ?? 500, "positive")
  })

/**
 * Checks a writer's options, naming each as `owner.option` (`UsageLedger`
 * and `SqlRequestLog` name their own): `flushInterval`, `maxOutage` and
 * `closeTimeout` take a duration of 0 or more, `writeTimeout` one of more
 * than 0 (every write would time out at 0), `retries` a whole number of 0 or
 * more, `maxBatchSize` one of 1 or more. Anything else (`"10 secs"`, a
 * negative duration, `NaN`, a batch of 2.5 rows) is an `LlmConfigError`
 * naming the option.
 *
 * @since 0.1.0
 */
export const checkOptions = (owner: string, options: Omit<Options, "name">): Effect.Effect<void, LlmConfigError> =>
  Effect.asVoid(settingsOf(owner, options))

/** The state of one flush. */
interface Run<A> {
  /** The final flush, when the scope closes: nothing can be kept for later. */
  readonly closing: boolean
  /** The last write of this flush succeeded: the sink is known up. */
  up: boolean
  /** Rows that failed alone while the sink was not known up: each tried again after a write that succeeds (see `retryHeld`). */
  held: Array<A>
  /** Rows held since the last write that succeeded: `heldForDown` of them mean the sink looks down. */
  heldSinceWrite: number
  /** Rows the close's first pass could not write (the sink looked down): written once more at its end (see `settleHeld`). */
  leftOver: Array<A>
  /** The close's last pass: what is not written now is dropped. */
  lastPass: boolean
  /** The last failure, for the warning. */
  cause: unknown
  /** Rows taken from the queue by this flush. */
  taken: number
  /** Rows written, kept for later or dropped so far: the rest is what a cut-off close leaves. */
  settled: number
  /** The close counted what this run had left as dropped: it counts nothing more. */
  cutOff: boolean
}

const newRun = <A>(closing: boolean): Run<A> => ({
  closing,
  up: false,
  held: [],
  heldSinceWrite: 0,
  leftOver: [],
  lastPass: false,
  cause: undefined,
  taken: 0,
  settled: 0,
  cutOff: false
})

/** Rows dropped together, for their warning. */
interface Dropped {
  readonly rows: number
  readonly why: string
  /** The last failure of the sink, when there was one. */
  readonly cause: unknown
}

/** Rows failing alone, with nothing written between, that mean the sink is down (as many as a batch's probes). */
const heldForDown = 3

/** The sink looks down: the rest of the flush is kept for later rather than written. */
const looksDown = <A>(run: Run<A>) => run.heldSinceWrite >= heldForDown

/** The first, middle and last indices of `length` rows, each once. */
const probeIndices = (length: number): ReadonlySet<number> => new Set([0, (length - 1) >> 1, length - 1])

/** `rows` without those at `indices`, in order. */
const without = <A>(rows: ReadonlyArray<A>, indices: ReadonlySet<number>): Array<A> =>
  rows.filter((_, index) => !indices.has(index))

/**
 * Starts a writer whose batches go to `write`; stops and flushes it when the
 * scope closes. Options {@link checkOptions} refuses fail it with an
 * `LlmConfigError` naming `BatchWriter.<option>`.
 *
 * @since 0.1.0
 */
export const make = <A, E>(
  write: (batch: Arr.NonEmptyReadonlyArray<A>) => Effect.Effect<void, E>,
  options: Options
): Effect.Effect<BatchWriter<A>, LlmConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const { closeTimeout, flushInterval, maxBatchSize, maxOutage, retries, writeTimeout } = yield* settingsOf(
      "BatchWriter",
      options
    )
    // ended by the close when it takes the rows for the last time: a row it refuses is written by `writeLate`
    const queue = yield* Queue.unbounded<A, Cause.Done>()
    const lock = yield* Semaphore.make(1)
    /** Open while the queue may hold rows no flush has taken: the background fiber sleeps only then. */
    const work = Latch.makeUnsafe()
    const retry = Schedule.exponential("50 millis").pipe(Schedule.upTo({ times: retries }))
    /**
     * One try of a write: one that hangs (a locked table, packets dropped)
     * fails, as one refused does. The try is interrupted, and waited for: a
     * write that ignores interruption holds it until it ends. A `write` that
     * throws instead of returning its effect fails the try as a defect of it
     * would (the flushing fiber goes on).
     */
    const timed = (rows: Arr.NonEmptyReadonlyArray<A>) =>
      Effect.timeout(Effect.suspend(() => write(rows)), writeTimeout)

    /** The scope is closing: only the close takes rows, and rows are no longer kept for later. */
    let closed = false
    const maxOutageMs = Duration.toMillis(maxOutage)
    /**
     * When each row kept for later was first kept, until it is written or
     * dropped: a clock per row, so that a refused row kept flush after flush
     * does not count against rows kept since (rows equal as keys, the same
     * object or primitive, share one).
     */
    const keptSince = new Map<A, number>()

    const warn = (message: string, cause: unknown) =>
      cause === undefined ? Effect.logWarning(message) : Effect.logWarning(message, cause)

    /**
     * Warns of dropped rows: the latest `rows` of `count` dropped since the last warning, for `why`, and how often
     * such drops are warned of (`cadence`).
     */
    const warnDropped = (cadence: string) => ({ cause, rows, why }: Dropped, count: number) =>
      warn(
        `Baton sink "${options.name}" dropped ${
          count === rows ? `${count} rows (${why})` : `${count} rows since the last warning (the last ${rows}: ${why})`
        }; ${cadence} (baton_sink_failures_total, baton_sink_rows_dropped_total)`,
        cause
      )
    const everyWindow = `at most once every ${warningIntervalMs / 1000} seconds`
    const drops = dampedBy(warnDropped(`drops are warned of ${everyWindow} and all counted`))
    /**
     * Rows given after the close took the queue, warned of apart (the close's last warning does not silence them);
     * nothing runs after the last of them to settle a count, so those within a warning's window are only counted.
     */
    const lateDrops = dampedBy(
      warnDropped(`rows given after it closed are warned of ${everyWindow}, those between only counted`)
    )

    /** Counts `count` rows dropped, and a failure of the sink. */
    const countDropped = (count: number) =>
      Effect.all([
        LlmMetrics.recordSinkFailure(options.name),
        Metric.update(Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink: options.name }), count)
      ], { discard: true })

    /** Drops `rows` of `run`: counted (unless the close already counted them), and warned of (see `drops`). */
    const drop = (run: Run<A>, rows: ReadonlyArray<A>, why: string) =>
      Effect.uninterruptible(Effect.suspend(() => {
        const count = rows.length
        forget(rows)
        run.settled += count
        if (run.cutOff) return Effect.void
        return Effect.andThen(countDropped(count), drops.add({ rows: count, why, cause: run.cause }, count))
      }))

    /** `rows` are written or dropped: no longer kept for later. */
    const forget = (rows: ReadonlyArray<A>) => {
      if (keptSince.size === 0) return
      for (const row of rows) keptSince.delete(row)
    }

    /**
     * Writes `rows` (retried when `retried`) by `attempt` tries; true when the
     * sink took them. Interruptible only during the write itself (a close cut
     * off by `closeTimeout`), so that what was written is always counted.
     */
    const tryWrite = (
      run: Run<A>,
      rows: Arr.NonEmptyReadonlyArray<A>,
      retried = false,
      attempt: (rows: Arr.NonEmptyReadonlyArray<A>) => Effect.Effect<void, unknown> = timed
    ): Effect.Effect<boolean> =>
      Effect.uninterruptibleMask((restore) =>
        restore(retried ? Effect.retry(attempt(rows), retry) : attempt(rows)).pipe(
          Effect.exit,
          Effect.flatMap((exit) => {
            run.up = Exit.isSuccess(exit)
            if (Exit.isFailure(exit)) {
              run.cause = exit.cause
              return Effect.succeed(false)
            }
            run.settled += rows.length
            run.heldSinceWrite = 0
            forget(rows)
            return Effect.succeed(true)
          })
        )
      )

    /**
     * Puts rows back on the queue, for the background fiber's next flush;
     * those it refuses (the close took it meanwhile) are dropped.
     */
    const requeue = (run: Run<A>, rows: ReadonlyArray<A>) =>
      Effect.flatMap(Queue.offerAll(queue, rows), (refused) => {
        run.settled += rows.length - refused.length
        return Effect.andThen(work.open, refused.length === 0 ? Effect.void : drop(run, refused, "the writer closed"))
      })

    /** Keeps for the next flush the rows first kept less than `maxOutage` ago, and drops the others. */
    const keepForLater = (run: Run<A>, rows: ReadonlyArray<A>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const kept: Array<A> = []
        const expired: Array<A> = []
        for (const row of rows) {
          const since = keptSince.get(row) ?? now
          keptSince.set(row, since)
          if (now - since < maxOutageMs) kept.push(row)
          else expired.push(row)
        }
        return Effect.andThen(
          requeue(run, kept),
          expired.length === 0 ? Effect.void : drop(run, expired, "the sink is down for longer than maxOutage")
        )
      })

    /**
     * Rows not written because the sink is down, and with them the rows held
     * (see `Run.held`): kept for later within `maxOutage`, else dropped. While
     * the scope closes, a flush other than the close's puts them back for the
     * close to write; the close's leaves them for its last pass, which drops
     * them.
     */
    const dispose = (run: Run<A>, given: ReadonlyArray<A>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const rows = [...run.held, ...given]
        run.held = []
        if (!Arr.isReadonlyArrayNonEmpty(rows)) return Effect.void
        if (run.closing) {
          if (run.lastPass) return drop(run, rows, "the sink is down and the writer is closing")
          run.leftOver.push(...rows)
          return Effect.void
        }
        return closed ? requeue(run, rows) : keepForLater(run, rows)
      }).pipe(Effect.uninterruptible)

    /**
     * Writes `row` alone, retried when `retried` (a batch of one row). Right
     * after a write that succeeded (the sink known up) it is retried too, and
     * refused if it still fails; otherwise a failure holds it, to be tried
     * again after the next write that succeeds.
     */
    const writeAlone = (run: Run<A>, row: A, retried = false, afterRefusal = false): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (looksDown(run)) return dispose(run, [row])
        const up = run.up || afterRefusal
        return Effect.flatMap(tryWrite(run, [row], up || retried), (written) => {
          if (written) return retryHeld(run)
          // a refusal says the sink is up: the rows held are retried, and dropped if refused too
          if (up) return Effect.andThen(drop(run, [row], "the sink refused them, written alone"), retryHeld(run, true))
          run.held.push(row)
          run.heldSinceWrite++
          return Effect.void
        })
      })

    /**
     * The sink may be up (it just took a write, or refused a row): the rows
     * held are written alone again, one after another until one is held again.
     * After a refusal (`afterRefusal`: the sink is up) they are written as
     * right after a write that succeeded: retried, and refused if they still
     * fail, so that refused rows held together are dropped in the same flush.
     */
    const retryHeld = (run: Run<A>, afterRefusal = false): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (!Arr.isArrayNonEmpty(run.held)) return Effect.void
        const row = Arr.headNonEmpty(run.held)
        run.held = Arr.tailNonEmpty(run.held)
        return writeAlone(run, row, false, afterRefusal)
      })

    /**
     * Writes `rows` (a row alone by `writeAlone`), retried when `retried`.
     * When the sink does not take them, they are kept if it looks down, else
     * `onFailure` has them.
     */
    const writeRows = (
      run: Run<A>,
      rows: Arr.NonEmptyReadonlyArray<A>,
      retried: boolean,
      onFailure: (rows: Arr.NonEmptyReadonlyArray<A>) => Effect.Effect<void>
    ): Effect.Effect<void> =>
      rows.length === 1 ? writeAlone(run, Arr.headNonEmpty(rows), retried) : Effect.flatMap(
        tryWrite(run, rows, retried),
        (written) => written ? retryHeld(run) : looksDown(run) ? dispose(run, rows) : onFailure(rows)
      )

    /**
     * Rows that failed together: written in halves, a failing half split
     * again, so that a row the sink refuses costs no other. Once the sink
     * looks down, each half is still written once, not split: rows refused
     * in a row look like a down sink, and a half written says it is up.
     */
    const isolate = (run: Run<A>, rows: Arr.NonEmptyReadonlyArray<A>): Effect.Effect<void> =>
      Effect.forEach(
        Arr.splitAt(rows, Math.ceil(rows.length / 2)),
        (half) =>
          Arr.isReadonlyArrayNonEmpty(half) ? writeRows(run, half, false, (part) => isolate(run, part)) : Effect.void,
        { discard: true }
      )

    /**
     * A batch that failed as a whole, retries included: its first, middle
     * and last rows are written alone, then the rest is isolated, or, when
     * they leave the sink looking down, kept untried (see `dispose`).
     */
    const salvage = (run: Run<A>, batch: Arr.NonEmptyReadonlyArray<A>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const probed = probeIndices(batch.length)
        const rest = without(batch, probed)
        return Effect.andThen(
          Effect.forEach(probed, (index) => writeAlone(run, Arr.getUnsafe(batch, index)), { discard: true }),
          Effect.suspend(() =>
            !Arr.isReadonlyArrayNonEmpty(rest) ? Effect.void : looksDown(run) ? dispose(run, rest) : isolate(run, rest)
          )
        )
      })

    const writeBatch = (run: Run<A>) => (batch: Arr.NonEmptyReadonlyArray<A>): Effect.Effect<void> =>
      Effect.suspend(() =>
        looksDown(run) ? dispose(run, batch) : writeRows(run, batch, true, (rows) => salvage(run, rows))
      )

    /**
     * The rows still held when a flush ends: nothing the sink took came after
     * them, so they wait as for a down sink. The close, which cannot keep
     * them, has a last pass: the rows it left (see `dispose`) and those held
     * are written once more as batches are (retried, then isolated), and the
     * rows still held after it are written alone once more, retried; what is
     * not written is dropped. `closeTimeout` bounds it all.
     */
    const settleHeld = (run: Run<A>): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (!run.closing) return dispose(run, [])
        if (!run.lastPass) {
          const rows = [...run.leftOver, ...run.held]
          run.leftOver = []
          run.held = []
          run.lastPass = true
          run.heldSinceWrite = 0
          return Effect.andThen(
            Effect.forEach(batchesOf(rows, maxBatchSize), writeBatch(run), { discard: true }),
            settleHeld(run)
          )
        }
        const held = run.held
        run.held = []
        return Effect.forEach(held, (row) =>
          Effect.flatMap(
            tryWrite(run, [row], true),
            (written) => written ? Effect.void : drop(run, [row], "the sink is down and the writer is closing")
          ), { discard: true })
      })

    /**
     * Ends the queue and takes its rows: from then on an offer is refused by
     * the queue and has its row written by `writeLate`.
     */
    const takeLast = Effect.andThen(Queue.end(queue), Queue.clear(queue))

    /** The flushes of the background fiber and of queries that have taken rows: the close counts what they leave. */
    const running = new Set<Run<A>>()

    /** A query's flush forked and not yet at the queue, open once it ended: a query made meanwhile waits for it. */
    let pending: { readonly run: Run<A>; readonly done: Latch.Latch } | undefined

    /**
     * Takes the queue's rows and writes them, under the lock; once the writer
     * is closing, only the close takes rows, and it takes them for the last time.
     */
    const flushRun = (run: Run<A>) =>
      lock.withPermit(
        Effect.flatMap(
          Effect.uninterruptible(Effect.suspend(() => {
            if (pending?.run === run) pending = undefined
            return closed && !run.closing ?
              Effect.succeed([]) :
              Effect.tap(run.closing ? takeLast : Queue.clear(queue), (items) =>
                Effect.sync(() => {
                  run.taken = items.length
                  if (!run.closing) running.add(run)
                }))
          })),
          (items) =>
            Effect.andThen(
              Effect.forEach(batchesOf(items, maxBatchSize), writeBatch(run), { discard: true }),
              settleHeld(run)
            )
        ).pipe(Effect.ensuring(Effect.sync(() => running.delete(run))))
      )

    /** The fibers flushing apart from the close (the background fiber, queries' flushes): the close cuts them off. */
    const flushing = new Set<Fiber.Fiber<void>>()

    /**
     * Forks `effect` on a fiber of its own, in `flushing` until it ends;
     * `onEnd` runs however the fiber ends, even when the close interrupts it
     * before its first step (where a finalizer of `effect` never runs).
     */
    const forkFlushing = (effect: Effect.Effect<void>, onEnd?: () => void) =>
      Effect.uninterruptible(Effect.tap(Effect.forkDetach(effect), (fiber) =>
        Effect.sync(() => {
          flushing.add(fiber)
          fiber.addObserver(() => {
            flushing.delete(fiber)
            onEnd?.()
          })
        })))

    /**
     * Interrupts `fibers` without waiting for them to stop: an interrupted
     * write may take long to end (a driver's cancel waits for the server).
     */
    const cutOff = (fibers: Iterable<Fiber.Fiber<unknown>>) =>
      Effect.asVoid(Effect.forkDetach(Fiber.interruptAll([...fibers]), { startImmediately: true }))

    /** What `fiber` gives within `closeTimeout`; past it, the fiber is cut off. */
    const awaitWithin = <A>(fiber: Fiber.Fiber<A>) =>
      Effect.tap(
        Effect.timeoutOption(Fiber.join(fiber), closeTimeout),
        (done) => Option.isNone(done) ? cutOff([fiber]) : Effect.void
      )

    /**
     * A query's flush. It runs on a fiber of its own, so that the query's
     * caller can stop waiting (a timeout, an interrupted request) while the
     * write goes on; a query made before that flush took the queue waits for
     * the same flush rather than forking another.
     */
    const flush: Effect.Effect<void> = Effect.uninterruptible(Effect.suspend(() => {
      if (pending !== undefined) return Effect.succeed(pending.done)
      const run = newRun<A>(false)
      const done = Latch.makeUnsafe()
      // set before the fork, so that no flush is forked unknown to later queries
      pending = { run, done }
      // when the fiber ends, not in a finalizer of it: a fiber the close cuts off before it starts runs none
      return Effect.as(
        forkFlushing(flushRun(run), () => {
          if (pending?.run === run) pending = undefined
          done.openUnsafe()
        }),
        done
      )
    })).pipe(Effect.flatMap((done) => done.await))

    /**
     * The final flush, bounded by `closeTimeout` (waiting for a flush in
     * progress included). Then the other flushes are stopped, their writes
     * cut off if they are still at it (without waiting for them to stop), and
     * what is left is dropped and counted.
     */
    const close = Effect.gen(function*() {
      closed = true
      const run = newRun<A>(true)
      const done = yield* awaitWithin(yield* Effect.forkDetach(flushRun(run)))
      // rows never taken (the lock was held until the deadline, and offered since); no flush takes rows after this
      const untaken = yield* takeLast
      // and rows taken but not written, by the final flush and flushes still at it, counted here once
      let left = untaken.length
      for (const cut of [run, ...running]) {
        left += cut.taken - cut.settled
        cut.cutOff = true
      }
      yield* cutOff(flushing)
      if (left > 0) {
        yield* countDropped(left)
        yield* drops.add({
          rows: left,
          why: Option.isNone(done)
            ? `still being written when closeTimeout (${Duration.format(closeTimeout)}) passed at close`
            : "left unwritten at close",
          cause: run.cause
        }, left)
      }
      // the rows dropped within the last warning's window are warned of now: no warning comes after the close
      yield* drops.settle
    }).pipe(Effect.uninterruptible)

    /**
     * A row the ended queue refused: written alone on a detached fiber
     * (retried as a batch is), which the offering fiber waits for up to
     * `closeTimeout`, its caller's interruption deferred meanwhile. Dropped,
     * counted and logged when not written by then; past `closeTimeout` the
     * write is interrupted without being waited for, and may still commit
     * although the row is counted as dropped.
     */
    const writeLate = (item: A): Effect.Effect<void> =>
      Effect.gen(function*() {
        const run = newRun<A>(true)
        const written = yield* awaitWithin(
          // each try under the lock, the waits between them outside it: late rows do not queue behind retries;
          // the wait for the lock is not counted against writeTimeout
          yield* Effect.forkDetach(tryWrite(run, [item], true, (rows) => lock.withPermit(timed(rows))))
        )
        if (Option.getOrElse(written, () => false)) return
        yield* countDropped(1)
        yield* lateDrops.add({
          rows: 1,
          why: Option.isNone(written)
            ? `given after it closed, not written within closeTimeout (${Duration.format(closeTimeout)})`
            : "given after it closed, and its write failed",
          cause: run.cause
        })
      }).pipe(Effect.uninterruptible)

    // the background fiber, forked once the close that stops it is a finalizer of the scope; idle, it sets no
    // timer (a TestClock moved a day costs one flush, not one per flushInterval). The latch is closed before the
    // flush takes the queue: a row offered after that opens it again.
    yield* Effect.addFinalizer(() => close)
    yield* forkFlushing(
      work.await.pipe(
        Effect.andThen(Effect.sleep(flushInterval)),
        Effect.andThen(Effect.suspend(() => {
          work.closeUnsafe()
          return flushRun(newRun<A>(false))
        })),
        Effect.forever
      )
    )

    return {
      // the queue decides when the effect runs, not when it is built; while open, no more work than `Queue.offer`
      // and, for the first row since the last flush, waking the background fiber
      offer: (item) =>
        Effect.suspend(() =>
          !Queue.offerUnsafe(queue, item) ? writeLate(item) : work.isOpen() ? Effect.void : work.open
        ),
      flush
    }
  })
