/**
 * Batched background writes for observability sinks (the usage ledger, a
 * request log in a database): the request only enqueues, a background fiber
 * writes.
 *
 * `offer` puts an item on an unbounded in-memory queue and returns at once. A
 * fiber flushes the queue every `flushInterval` (default 1 second), in batches
 * of at most `maxBatchSize` (default 500), one flush at a time. `flush` writes
 * everything offered before it was called and is what queries call first, so
 * a process reads its own writes; its caller may stop waiting (a timeout, an
 * interrupted request), the write goes on. Closing the writer's scope stops
 * the fiber and flushes what is left, so nothing is lost on a clean shutdown
 * while the sink answers within `closeTimeout`.
 *
 * Failures, and what they cost:
 * - A batch that fails is retried `retries` times (default 3, exponential
 *   backoff from 50 ms). Then its first, middle and last rows are written
 *   alone. When none of them is written, the sink is taken to be down (a
 *   database restarting, a connection cut): neither that batch nor the rest
 *   of the flush is written; they go back on the queue for the next flush,
 *   for up to `maxOutage` (default 1 minute) of failing flushes in a row,
 *   and are dropped past it or when the writer closes. A flush against a
 *   down sink therefore costs `retries` + 4 writes however many rows wait,
 *   and that is all a query (which flushes first) waits for.
 * - When one of those rows is written, the sink is up and refuses some rows
 *   (a constraint, a value it cannot store): the rest of the batch is split
 *   in halves, each written on its own and split again when it fails, so a
 *   refused row costs no other row (about 2·log2(batch size) writes each).
 *   When both halves of a part of 4 rows or more fail, its first, middle and
 *   last rows are tried alone again: none written means the sink went down
 *   meanwhile, and what is left is handled as above (kept, not dropped,
 *   within `maxOutage`). A batch of a single row that fails is kept as for a
 *   down sink, unless another write of the same flush succeeded.
 * - A batch whose first, middle and last rows are all refused while the sink
 *   is up is taken for a down sink: kept within `maxOutage` (the next flush
 *   cuts its rows into other batches), dropped whole past it or at close.
 * - Only rows refused alone, or left by a sink down past `maxOutage` or at
 *   close, are dropped: counted in `baton_sink_rows_dropped_total{sink}` and
 *   `baton_sink_failures_total{sink}`, and reported once as a warning. Writes
 *   never fail the caller.
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
 *   dropped, counted and logged once (some may have reached the sink, if a
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
 *   and the first such loss is logged as a warning naming the sink. While the
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
  Ref,
  Schedule,
  type Scope,
  Semaphore
} from "effect"
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
 * How a writer batches and retries.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Names the sink in metrics and warnings. */
  readonly name: string
  /** How often the background fiber flushes (default 1 second): the most a crash can lose. */
  readonly flushInterval?: Duration.Input | undefined
  /** Most items per write (default 500; taken as a whole number of at least 1). */
  readonly maxBatchSize?: number | undefined
  /** Retries of a failing batch before its rows are tried alone (default 3). */
  readonly retries?: number | undefined
  /** How long batches are kept for later while the sink is down (default 1 minute). */
  readonly maxOutage?: Duration.Input | undefined
  /**
   * Longest the scope's close may wait for the writes (default 10 seconds):
   * a flush in progress, then the final flush; the rows not written by then
   * are dropped, counted and logged, and the close returns without waiting
   * for the interrupted writes to stop. Also the longest a row offered after
   * the close holds its offering fiber.
   */
  readonly closeTimeout?: Duration.Input | undefined
}

/** The state of one flush. */
interface Run {
  /** The final flush, when the scope closes: nothing can be kept for later. */
  readonly closing: boolean
  /** The sink was found down in this flush: the rest of it is not written. */
  down: boolean
  /** Some write of this flush succeeded: the sink is up. */
  wrote: boolean
  /** The last failure, for the warning. */
  cause: unknown
  /** Rows taken from the queue by this flush. */
  taken: number
  /** Rows written, kept for later or dropped so far: the rest is what a cut-off close leaves. */
  settled: number
  /** The close counted what this run had left as dropped: it counts nothing more. */
  cutOff: boolean
}

const newRun = (closing: boolean): Run => ({
  closing,
  down: false,
  wrote: false,
  cause: undefined,
  taken: 0,
  settled: 0,
  cutOff: false
})

/** The first, middle and last indices of `length` rows, each once. */
const probeIndices = (length: number): ReadonlySet<number> => new Set([0, (length - 1) >> 1, length - 1])

/** `rows` without those at `indices`, in order. */
const without = <A>(rows: ReadonlyArray<A>, indices: ReadonlySet<number>): Array<A> =>
  rows.filter((_, index) => !indices.has(index))

/**
 * Starts a writer whose batches go to `write`; stops and flushes it when the
 * scope closes.
 *
 * @since 0.1.0
 */
export const make = <A, E>(
  write: (batch: Arr.NonEmptyReadonlyArray<A>) => Effect.Effect<void, E>,
  options: Options
): Effect.Effect<BatchWriter<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    // ended by the close when it takes the rows for the last time: a row it refuses is written by `writeLate`
    const queue = yield* Queue.unbounded<A, Cause.Done>()
    const lock = yield* Semaphore.make(1)
    const warned = yield* Ref.make(false)
    /** A row given after the close took the queue was lost: warned of once per writer, apart from the rest. */
    const warnedLate = yield* Ref.make(false)
    // a whole number of at least 1, as `Array.chunksOf` took it (0 or NaN would loop or drop every row)
    const maxBatchSize = Math.max(1, Math.floor(options.maxBatchSize ?? 500) || 1)
    const retry = Schedule.exponential("50 millis").pipe(Schedule.upTo({ times: options.retries ?? 3 }))

    const closeTimeout = Duration.fromInputUnsafe(options.closeTimeout ?? "10 seconds")
    /** The scope is closing: only the close takes rows, and rows are no longer kept for later. */
    let closed = false
    const maxOutageMs = Duration.toMillis(Duration.fromInputUnsafe(options.maxOutage ?? "1 minute"))
    /** When the sink was first seen down in the current run of failing flushes. */
    const downSince = yield* Ref.make<number | undefined>(undefined)

    const warn = (message: string, cause: unknown) =>
      cause === undefined ? Effect.logWarning(message) : Effect.logWarning(message, cause)

    /** Counts `count` rows dropped, and a failure of the sink. */
    const countDropped = (count: number) =>
      Effect.all([
        LlmMetrics.recordSinkFailure(options.name),
        Metric.update(Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink: options.name }), count)
      ], { discard: true })

    /** Drops `count` rows of `run`: counted (unless the close already counted them), and warned of once per writer. */
    const drop = (run: Run, count: number, why: string) =>
      Effect.uninterruptible(Effect.suspend(() => {
        run.settled += count
        if (run.cutOff) return Effect.void
        return Effect.all([
          countDropped(count),
          Effect.flatMap(Ref.getAndSet(warned, true), (already) =>
            already ? Effect.void : warn(
              `Baton sink "${options.name}" failed to write ${count} rows (${why}); they are dropped and further failures are only counted (baton_sink_failures_total, baton_sink_rows_dropped_total)`,
              run.cause
            ))
        ], { discard: true })
      }))

    /**
     * Writes `rows` (retried when `retried`); true when the sink took them.
     * Interruptible only during the write itself (a close cut off by
     * `closeTimeout`), so that what was written is always counted.
     */
    const tryWrite = (
      run: Run,
      rows: Arr.NonEmptyReadonlyArray<A>,
      retried = false,
      writeRows: (rows: Arr.NonEmptyReadonlyArray<A>) => Effect.Effect<void, E> = write
    ): Effect.Effect<boolean> =>
      Effect.uninterruptibleMask((restore) =>
        restore(retried ? writeRows(rows).pipe(Effect.retry(retry)) : writeRows(rows)).pipe(
          Effect.exit,
          Effect.flatMap((exit) => {
            if (Exit.isFailure(exit)) {
              run.cause = exit.cause
              return Effect.succeed(false)
            }
            run.settled += rows.length
            run.wrote = true
            return Effect.as(Ref.set(downSince, undefined), true)
          })
        )
      )

    /**
     * Keeps rows for the next flush while the sink has been down for less
     * than `maxOutage`; those the queue refuses (the close took it meanwhile)
     * are dropped.
     */
    const keepForLater = (run: Run, rows: Arr.NonEmptyReadonlyArray<A>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(downSince, (since) => {
          const start = since ?? now
          return [now - start < maxOutageMs, start] as const
        })).pipe(
          Effect.tap((kept) =>
            kept
              ? Effect.flatMap(Queue.offerAll(queue, rows), (refused) => {
                run.settled += rows.length - refused.length
                return refused.length === 0 ? Effect.void : drop(run, refused.length, "the writer closed")
              })
              : Effect.void
          )
        )

    /** Rows not written because the sink is down: kept for later within `maxOutage`, else dropped. */
    const dispose = (run: Run, rows: Arr.NonEmptyReadonlyArray<A>): Effect.Effect<void> =>
      Effect.suspend(() =>
        run.closing || closed
          ? drop(run, rows.length, "the sink is down and the writer is closing")
          : Effect.flatMap(
            keepForLater(run, rows),
            (kept) => kept ? Effect.void : drop(run, rows.length, "the sink is down for longer than maxOutage")
          )
      ).pipe(Effect.uninterruptible)

    /** Writes the first, middle and last rows alone; the indices written. */
    const probe = (run: Run, rows: Arr.NonEmptyReadonlyArray<A>) =>
      Effect.gen(function*() {
        const written = new Set<number>()
        for (const index of probeIndices(rows.length)) {
          if (yield* tryWrite(run, [Arr.getUnsafe(rows, index)])) written.add(index)
        }
        return written
      })

    /** Probes rows that failed together: none written means the sink is down (and `rows` are disposed of). */
    const probeFailed = (run: Run, rows: Arr.NonEmptyReadonlyArray<A>) =>
      Effect.gen(function*() {
        const written = yield* probe(run, rows)
        if (written.size > 0) return written
        run.down = true
        yield* dispose(run, rows)
        return undefined
      })

    /**
     * Rows that failed together while the sink is up: written in halves, a
     * failing half split again, so that a row the sink refuses costs no other.
     * Both halves failing may mean the sink went down: probed again.
     */
    const isolate = (run: Run, rows: Arr.NonEmptyReadonlyArray<A>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (run.down) return yield* dispose(run, rows)
        if (rows.length === 1) return yield* drop(run, 1, "the sink refused them, written alone")
        const cut = Math.ceil(rows.length / 2)
        const [left, right] = Arr.splitAt(rows, cut)
        const leftWritten = Arr.isReadonlyArrayNonEmpty(left) && (yield* tryWrite(run, left))
        const rightWritten = Arr.isReadonlyArrayNonEmpty(right) && (yield* tryWrite(run, right))
        let probed: ReadonlySet<number> = new Set()
        if (!leftWritten && !rightWritten && rows.length > 3) {
          const written = yield* probeFailed(run, rows)
          if (written === undefined) return
          probed = written
        }
        const rest = [
          leftWritten ? [] : without(left, probed),
          rightWritten ? [] : without(right, new Set([...probed].map((index) => index - cut)))
        ]
        for (const part of rest) {
          if (Arr.isReadonlyArrayNonEmpty(part)) yield* isolate(run, part)
        }
      })

    /** A batch that failed as a whole, retries included. */
    const salvage = (run: Run, batch: Arr.NonEmptyReadonlyArray<A>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (batch.length === 1) {
          // one row failing alone: refused when the sink took another write of this flush, else maybe down
          return yield* (run.wrote ? drop(run, 1, "the sink refused them, written alone") : dispose(run, batch))
        }
        const written = yield* probeFailed(run, batch)
        if (written === undefined) return
        const rest = without(batch, written)
        if (Arr.isReadonlyArrayNonEmpty(rest)) yield* isolate(run, rest)
      })

    const writeBatch = (run: Run) => (batch: Arr.NonEmptyReadonlyArray<A>): Effect.Effect<void> =>
      run.down
        ? dispose(run, batch)
        : Effect.flatMap(tryWrite(run, batch, true), (written) => written ? Effect.void : salvage(run, batch))

    /**
     * Ends the queue and takes its rows: from then on an offer is refused by
     * the queue and has its row written by `writeLate`.
     */
    const takeLast = Effect.andThen(Queue.end(queue), Queue.clear(queue))

    /** The flushes of the background fiber and of queries that have taken rows: the close counts what they leave. */
    const running = new Set<Run>()

    /** A query's flush forked and not yet at the queue, open once it ended: a query made meanwhile waits for it. */
    let pending: { readonly run: Run; readonly done: Latch.Latch } | undefined

    /**
     * Takes the queue's rows and writes them, under the lock; once the writer
     * is closing, only the close takes rows, and it takes them for the last time.
     */
    const flushRun = (run: Run) =>
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
          (items) => Effect.forEach(batchesOf(items, maxBatchSize), writeBatch(run), { discard: true })
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
      const run = newRun(false)
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
      const run = newRun(true)
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
      if (left <= 0) return
      yield* Effect.all([
        countDropped(left),
        warn(
          Option.isNone(done)
            ? `Baton sink "${options.name}" was still writing when closeTimeout (${
              Duration.format(closeTimeout)
            }) passed at close; ${left} rows not written are dropped (baton_sink_rows_dropped_total)`
            : `Baton sink "${options.name}" left ${left} rows unwritten at close; they are dropped (baton_sink_rows_dropped_total)`,
          run.cause
        )
      ], { discard: true })
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
        const run = newRun(true)
        const written = yield* awaitWithin(
          // each try under the lock, the waits between them outside it: late rows do not queue behind retries
          yield* Effect.forkDetach(tryWrite(run, [item], true, (rows) => lock.withPermit(write(rows))))
        )
        if (Option.getOrElse(written, () => false)) return
        yield* countDropped(1)
        if (yield* Ref.getAndSet(warnedLate, true)) return
        yield* warn(
          Option.isNone(written)
            ? `Baton sink "${options.name}" was given a row after it closed and did not write it within closeTimeout (${
              Duration.format(closeTimeout)
            }); it is dropped, and further such rows are only counted (baton_sink_rows_dropped_total)`
            : `Baton sink "${options.name}" was given a row after it closed and failed to write it; it is dropped, and further such rows are only counted (baton_sink_rows_dropped_total)`,
          run.cause
        )
      }).pipe(Effect.uninterruptible)

    // the background fiber, forked once the close that stops it is a finalizer of the scope
    yield* Effect.addFinalizer(() => close)
    yield* forkFlushing(
      Effect.sleep(options.flushInterval ?? "1 second").pipe(
        Effect.andThen(Effect.suspend(() => flushRun(newRun(false)))),
        Effect.forever
      )
    )

    return {
      // the queue decides when the effect runs, not when it is built; while open, no more work than `Queue.offer`
      offer: (item) => Effect.suspend(() => Queue.offerUnsafe(queue, item) ? Effect.void : writeLate(item)),
      flush
    }
  })
