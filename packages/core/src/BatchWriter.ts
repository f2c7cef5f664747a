/**
 * Batched background writes for observability sinks (the usage ledger, a
 * request log in a database): the request only enqueues, a background fiber
 * writes.
 *
 * `offer` puts an item on an unbounded in-memory queue and returns at once. A
 * fiber flushes the queue every `flushInterval` (default 1 second), in batches
 * of at most `maxBatchSize` (default 500), one flush at a time. `flush` writes
 * everything offered before it was called and is what queries call first, so
 * a process reads its own writes. Closing the writer's scope stops the fiber
 * and flushes what is left, so nothing is lost on a clean shutdown.
 *
 * Gotchas:
 * - On a crash (the process killed, the scope never closed) the items offered
 *   since the last flush are lost: at most `flushInterval` worth of rows.
 *   Lower it to narrow that window at the cost of more, smaller writes.
 * - A batch that fails is retried `retries` times (default 3, exponential
 *   backoff from 50 ms). Then its first and last rows are written alone: when
 *   both fail too, the sink is taken to be down (a database restarting, a
 *   connection cut) and the batch goes back on the queue for the next flush,
 *   for up to `maxOutage` (default 1 minute) of failing flushes in a row.
 *   Otherwise, or past `maxOutage`, or when the writer closes, the batch is
 *   split in halves, each written on its own (and split again when it
 *   fails), so a row the sink refuses costs no other row. Only rows that fail
 *   alone are dropped, counted in `baton_sink_rows_dropped_total{sink}` and
 *   `baton_sink_failures_total{sink}`, and reported once as a warning. Writes
 *   never fail the caller.
 * - A flush runs uninterruptibly, so a shutdown waits for an in-flight batch
 *   instead of losing it.
 *
 * @since 0.1.0
 */
import {
  Array as Arr,
  Clock,
  Duration,
  Effect,
  Exit,
  Metric,
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
  /** Enqueues an item; never fails, never waits for I/O. */
  readonly offer: (item: A) => Effect.Effect<void>
  /** Writes every item offered so far. */
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
  /** Retries of a failing batch before it is split or kept for later (default 3). */
  readonly retries?: number | undefined
  /** How long batches are kept for later while the sink is down (default 1 minute). */
  readonly maxOutage?: Duration.Input | undefined
}

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
    const queue = yield* Queue.unbounded<A>()
    const lock = yield* Semaphore.make(1)
    const warned = yield* Ref.make(false)
    // a whole number of at least 1, as `Array.chunksOf` took it (0 or NaN would loop or drop every row)
    const maxBatchSize = Math.max(1, Math.floor(options.maxBatchSize ?? 500) || 1)
    const retry = Schedule.exponential("50 millis").pipe(Schedule.upTo({ times: options.retries ?? 3 }))

    const drop = (batch: Arr.NonEmptyReadonlyArray<A>, cause: unknown) =>
      Effect.all([
        LlmMetrics.recordSinkFailure(options.name),
        Metric.update(Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink: options.name }), batch.length),
        Effect.flatMap(Ref.getAndSet(warned, true), (already) =>
          already ? Effect.void : Effect.logWarning(
            `Baton sink "${options.name}" failed to write ${batch.length} rows after retries; they are dropped and further failures are only counted (baton_sink_failures_total, baton_sink_rows_dropped_total)`,
            cause
          ))
      ], { discard: true })

    /** Writes the halves of a batch that failed on its own, so that one row the sink refuses costs no other. */
    const bisect = (batch: Arr.NonEmptyReadonlyArray<A>, cause: unknown): Effect.Effect<void> => {
      if (batch.length === 1) return drop(batch, cause)
      const [left, right] = Arr.splitAt(batch, Math.ceil(batch.length / 2))
      return Effect.forEach([left, right], (half) =>
        Arr.isReadonlyArrayNonEmpty(half)
          ? write(half).pipe(Effect.catchCause((failure) => bisect(half, failure)))
          : Effect.void, { discard: true })
    }

    const maxOutageMs = Duration.toMillis(Duration.fromInputUnsafe(options.maxOutage ?? "1 minute"))
    /** When the sink was first seen down in the current run of failing flushes. */
    const downSince = yield* Ref.make<number | undefined>(undefined)

    /** Keeps a batch for the next flush while the sink has been down for less than `maxOutage`. */
    const keepForLater = (batch: Arr.NonEmptyReadonlyArray<A>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(downSince, (since) => {
          const start = since ?? now
          return [now - start < maxOutageMs, start] as const
        })).pipe(
          Effect.tap((kept) => kept ? Queue.offerAll(queue, batch) : Effect.void)
        )

    const writesAlone = (item: A) => Effect.map(Effect.exit(write([item])), Exit.isSuccess)

    /**
     * A batch that failed as a whole: its first and last rows are written
     * alone. Both failing means the sink is down: the batch is kept for later
     * (within `maxOutage`). Otherwise the rows not yet written are bisected.
     */
    const salvage = (batch: Arr.NonEmptyReadonlyArray<A>, cause: unknown): Effect.Effect<void> =>
      Effect.gen(function*() {
        const first = yield* writesAlone(Arr.headNonEmpty(batch))
        const last = batch.length > 1 && (yield* writesAlone(Arr.lastNonEmpty(batch)))
        if (!first && !last && (yield* keepForLater(batch))) return
        const left = batch.slice(first ? 1 : 0, last ? -1 : batch.length)
        if (Arr.isReadonlyArrayNonEmpty(left)) yield* bisect(left, cause)
      })

    const writeBatch = (closing: boolean) => (batch: Arr.NonEmptyReadonlyArray<A>) =>
      write(batch).pipe(
        Effect.retry(retry),
        Effect.andThen(Ref.set(downSince, undefined)),
        Effect.catchCause((cause) => closing ? bisect(batch, cause) : salvage(batch, cause))
      )

    const flushWith = (closing: boolean) =>
      lock.withPermit(
        Effect.flatMap(
          Queue.clear(queue),
          (items) => Effect.forEach(batchesOf(items, maxBatchSize), writeBatch(closing), { discard: true })
        )
      ).pipe(Effect.uninterruptible)

    const flush = flushWith(false)

    yield* Effect.addFinalizer(() => flushWith(true))
    yield* Effect.sleep(options.flushInterval ?? "1 second").pipe(
      Effect.andThen(flush),
      Effect.forever,
      Effect.forkScoped
    )

    return {
      offer: (item) => Effect.asVoid(Queue.offer(queue, item)),
      flush
    }
  })
