import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Logger, Metric, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as BatchWriter from "../src/BatchWriter.ts"
import * as LlmMetrics from "../src/LlmMetrics.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { stories } from "./RequestLog.fixtures.ts"

/** A writer whose sink keeps the batches it was given; `rows` items offered, then flushed. */
const batchesOf = (rows: number, maxBatchSize: number | undefined) =>
  Effect.scoped(Effect.gen(function*() {
    const batches: Array<ReadonlyArray<number>> = []
    const writer = yield* BatchWriter.make((batch: ReadonlyArray<number>) =>
      Effect.sync(() => {
        batches.push(batch)
      }), { name: "test", maxBatchSize })
    for (let i = 0; i < rows; i++) yield* writer.offer(i)
    yield* writer.flush
    return batches
  }))

/**
 * An in-memory store (a user's sink) that can be down (every write fails),
 * hang (no write ever answers), answer slowly, or refuse some rows (a write
 * holding one of them fails as a whole, as a database constraint does).
 */
const memoryStore = (refuses: (row: number) => boolean = () => false) => {
  const state = {
    rows: [] as Array<number>,
    attempts: 0,
    down: false,
    hang: false,
    /** Each write takes this long (on the clock) before it answers, and ignores interruption meanwhile. */
    stubborn: undefined as Duration.Input | undefined,
    /** Each write takes this long (on the clock) before it answers. */
    latency: Duration.zero as Duration.Input,
    /** The store goes down after this many successful writes. */
    downAfter: Number.POSITIVE_INFINITY,
    /** Run by each write as it ends, before it answers (a trigger, a listener reading the table). */
    onWritten: Effect.void,
    write: (batch: ReadonlyArray<number>): Effect.Effect<void, string> =>
      Effect.suspend(() => {
        state.attempts++
        if (state.hang) return Effect.never
        // a driver whose cancel waits for the server (as sql-pg's, up to 5 seconds)
        if (state.stubborn !== undefined) return Effect.uninterruptible(Effect.sleep(state.stubborn))
        return Effect.sleep(state.latency).pipe(Effect.andThen(Effect.suspend(() => {
          if (state.down) return Effect.fail("connection refused")
          if (batch.some(refuses)) return Effect.fail("constraint violated")
          state.rows.push(...batch)
          if (--state.downAfter <= 0) state.down = true
          return state.onWritten
        })))
      })
  }
  return state
}

/** `store` fails its first `failures` writes (a brief outage: a connection reset), then answers as before. */
const failingFirst = (store: ReturnType<typeof memoryStore>, failures: number) => {
  const write = store.write
  store.write = (batch) =>
    Effect.suspend(() => {
      store.down = store.attempts < failures
      return write(batch)
    })
  return store
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const sorted = (rows: ReadonlyArray<number>) => [...rows].sort((a, b) => a - b)

/** The rows dropped and the failures counted so far for a sink. */
const counts = (sink: string) =>
  Effect.all({
    dropped: Effect.map(Metric.value(Metric.withAttributes(LlmMetrics.sinkRowsDropped, { sink })), (v) => v.count),
    failures: Effect.map(Metric.value(Metric.withAttributes(LlmMetrics.sinkFailures, { sink })), (v) => v.count)
  })

/**
 * Asserts that the sink `name` dropped its 200 rows at close, counted as
 * dropped with a failure since `before`, and that one warning says `logged`.
 */
const assertDroppedAtClose = (
  name: string,
  before: Effect.Success<ReturnType<typeof counts>>,
  warnings: ReadonlyArray<string>,
  logged: string
) =>
  Effect.gen(function*() {
    const after = yield* counts(name)
    assert.strictEqual(after.dropped - before.dropped, 200)
    assert.isAtLeast(after.failures - before.failures, 1)
    assert.strictEqual(warnings.length, 1)
    assert.include(warnings[0], logged)
  })

/** Runs `f` with the warnings logged meanwhile collected in the array it is given. */
const withWarnings = <A, E>(f: (warnings: ReadonlyArray<string>) => Effect.Effect<A, E>) => {
  const warnings: Array<string> = []
  const capture = Logger.make(({ logLevel, message }) => {
    if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
  })
  return f(warnings).pipe(Effect.provide(Logger.layer([capture])))
}

/** A writer in a scope of its own, `rows` offered; the background flush is an hour away unless told. */
const writerOver = (store: ReturnType<typeof memoryStore>, rows: number, options: BatchWriter.Options) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const writer = yield* Scope.provide(
      BatchWriter.make(store.write, { flushInterval: "1 hour", ...options }),
      scope
    )
    for (const row of range(rows)) yield* writer.offer(row)
    return { scope, writer }
  })

/**
 * Runs `effect` in a fiber and moves the test clock by `by`; the fiber, still
 * running or not (detached: a test that fails does not wait for it to end).
 */
const forkAndAdjust = <A, E>(effect: Effect.Effect<A, E>, by: Duration.Input) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkDetach(effect)
    yield* TestClock.adjust(by)
    return fiber
  })

/** Runs `effect` and moves the test clock by `by`, by which time it must have ended. */
const within = <A, E>(effect: Effect.Effect<A, E>, by: Duration.Input) =>
  Effect.gen(function*() {
    const fiber = yield* forkAndAdjust(effect, by)
    assert.isDefined(
      fiber.pollUnsafe(),
      `still running after ${Duration.format(Duration.fromInputUnsafe(by))} on the test clock`
    )
    return yield* Fiber.join(fiber)
  })

describe("BatchWriter", () => {
  it.effect("a flush writes every row in order, in batches of at most maxBatchSize", () =>
    Effect.gen(function*() {
      const batches = yield* batchesOf(1203, 500)
      assert.deepStrictEqual(batches.map((batch) => batch.length), [500, 500, 203])
      assert.deepStrictEqual(batches.flat(), Array.from({ length: 1203 }, (_, i) => i))
    }))

  it.effect("a maxBatchSize that is not a whole number of at least 1 fails the writer, naming it", () =>
    Effect.gen(function*() {
      for (const maxBatchSize of [0, -5, 2.7, Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = yield* Effect.flip(batchesOf(3, maxBatchSize))
        assert.deepStrictEqual([error._tag, error.variable], ["LlmConfigError", "BatchWriter.maxBatchSize"])
        assert.include(error.message, `BatchWriter.maxBatchSize: must be`)
        assert.include(error.message, `, got ${maxBatchSize}`)
      }
      assert.deepStrictEqual((yield* batchesOf(3, 1)).map((batch) => batch.length), [1, 1, 1])
    }))

  describe("a store that is down", () => {
    it.effect("closing costs a few writes per batch, not one per row; the rows are dropped, counted and logged once", () =>
      withWarnings((warnings) =>
        Effect.gen(function*() {
          const store = memoryStore()
          store.down = true
          store.latency = "20 millis"
          const before = yield* counts("down-at-close")
          const { scope } = yield* writerOver(store, 200, { name: "down-at-close" })
          yield* within(Scope.close(scope, Exit.void), "2 seconds")
          // the batch (4 tries) and its first, middle and last rows alone, then the same once more for the
          // close's last pass over the rows it left: the store is down, nothing is split
          assert.isAtMost(store.attempts, 14)
          yield* assertDroppedAtClose(
            "down-at-close",
            before,
            warnings,
            "dropped 200 rows (the sink is down and the writer is closing)"
          )
        })
      ))

    it.effect("one flush costs a few writes whatever the number of batches; the rows wait and are written once it is back", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.down = true
        const before = yield* counts("down-many-batches")
        const { writer } = yield* writerOver(store, 2000, { name: "down-many-batches", maxBatchSize: 100 })
        yield* within(writer.flush, "1 second")
        assert.isAtMost(store.attempts, 7)
        store.down = false
        yield* writer.flush
        assert.deepStrictEqual(sorted(store.rows), range(2000))
        assert.strictEqual((yield* counts("down-many-batches")).dropped - before.dropped, 0)
      }))

    it.effect("past maxOutage a ledger's flush costs a few writes, not a split of its rows", () =>
      Effect.gen(function*() {
        const s = yield* stories
        const memory = yield* UsageLedger.makeMemoryStore
        let attempts = 0
        const down: UsageLedger.Store = {
          ...memory,
          name: "down-past-outage",
          append: () =>
            Effect.suspend(() => {
              attempts++
              return Effect.fail(new UsageLedger.UsageLedgerError({ store: "down-past-outage", message: "down" }))
            })
        }
        const before = yield* counts("usage-ledger:down-past-outage")
        const ledger = yield* UsageLedger.make(down, { flushInterval: "1 second", retries: 1, maxOutage: "5 seconds" })
        for (let i = 0; i < 200; i++) yield* ledger.record(s.success[0])
        yield* TestClock.adjust("10 seconds")
        // about ten flushes of (2 tries + 3 rows alone): never one write per row
        assert.isAtMost(attempts, 60)
        assert.strictEqual((yield* counts("usage-ledger:down-past-outage")).dropped - before.dropped, 200)
        // a query flushes first: with nothing queued it costs no write
        const was = attempts
        yield* ledger.usageBySubject(UsageLedger.Day.make("1970-01-01"))
        assert.strictEqual(attempts, was)
      }))
  })

  describe("a store down more than once", () => {
    it.effect("each outage that drops rows is warned of, at most once every 10 seconds, each warning counting the rows dropped since the last", () =>
      withWarnings((warnings) =>
        Effect.gen(function*() {
          const name = "down-twice"
          const before = yield* counts(name)
          const store = memoryStore()
          const { scope, writer } = yield* writerOver(store, 0, {
            name,
            flushInterval: "1 second",
            maxOutage: "2 seconds"
          })
          const outage = (rows: ReadonlyArray<number>) =>
            Effect.gen(function*() {
              store.down = true
              for (const row of rows) yield* writer.offer(row)
              yield* TestClock.adjust("5 seconds")
            })
          yield* outage([0, 1])
          assert.strictEqual(warnings.length, 1)
          assert.include(
            warnings[0],
            `Baton sink "${name}" dropped 2 rows (the sink is down for longer than maxOutage)`
          )
          // back up, then down again past the warning's 10 seconds: warned of again
          store.down = false
          yield* writer.offer(2)
          yield* TestClock.adjust("10 seconds")
          yield* outage([3, 4, 5])
          assert.strictEqual(warnings.length, 2)
          assert.include(
            warnings[1],
            `Baton sink "${name}" dropped 3 rows (the sink is down for longer than maxOutage)`
          )
          // a row dropped within those 10 seconds is counted into the next warning
          yield* outage([6])
          assert.strictEqual(warnings.length, 2)
          yield* TestClock.adjust("10 seconds")
          yield* outage([7])
          assert.strictEqual(warnings.length, 3)
          assert.include(warnings[2], `Baton sink "${name}" dropped 2 rows since the last warning`)
          // and one dropped within 10 seconds of the last warning is warned of at close
          yield* outage([8])
          assert.strictEqual(warnings.length, 3)
          yield* within(Scope.close(scope, Exit.void), "1 second")
          assert.strictEqual(warnings.length, 4)
          assert.include(
            warnings[3],
            `Baton sink "${name}" dropped 1 rows (the sink is down for longer than maxOutage)`
          )
          assert.deepStrictEqual(store.rows, [2])
          assert.strictEqual((yield* counts(name)).dropped - before.dropped, 8)
        })
      ))
  })

  describe("a store that fails a write once", () => {
    it.effect("a lone row is retried as a batch is: a query's flush returns with it written", () =>
      Effect.gen(function*() {
        const store = failingFirst(memoryStore(), 1)
        const { writer } = yield* writerOver(store, 1, { name: "lone-row-flush" })
        yield* within(writer.flush, "1 second")
        assert.deepStrictEqual(store.rows, [0])
        assert.strictEqual(store.attempts, 2)
      }))

    it.effect("a lone row is retried as a batch is: the close writes it, not drops it", () =>
      Effect.gen(function*() {
        const before = yield* counts("lone-row-close")
        const store = failingFirst(memoryStore(), 1)
        const { scope } = yield* writerOver(store, 1, { name: "lone-row-close" })
        yield* within(Scope.close(scope, Exit.void), "1 second")
        assert.deepStrictEqual(store.rows, [0])
        assert.strictEqual((yield* counts("lone-row-close")).dropped - before.dropped, 0)
      }))

    it.effect("rows held by a background flush that the close overtakes are put back for the close to write", () =>
      Effect.gen(function*() {
        const before = yield* counts("held-while-closing")
        // the batch's 4 tries and its 2 rows alone fail: both rows are held when the flush ends
        const store = failingFirst(memoryStore(), 6)
        store.latency = "100 millis"
        const { scope } = yield* writerOver(store, 2, { name: "held-while-closing", flushInterval: "1 second" })
        // the close starts while the background flush (from 1 second) writes
        yield* TestClock.adjust("1200 millis")
        yield* within(Scope.close(scope, Exit.void), "5 seconds")
        assert.deepStrictEqual(sorted(store.rows), [0, 1])
        assert.strictEqual((yield* counts("held-while-closing")).dropped - before.dropped, 0)
      }))
  })

  describe("a store that throws instead of failing", () => {
    it.effect("its throw is a failed write: retried, and the background flush goes on writing", () =>
      Effect.scoped(Effect.gen(function*() {
        const written: Array<number> = []
        let threw = false
        const writer = yield* BatchWriter.make((batch: ReadonlyArray<number>) => {
          if (!threw) {
            threw = true
            throw new Error("a bug in the store")
          }
          return Effect.sync(() => {
            written.push(...batch)
          })
        }, { name: "test", flushInterval: "100 millis" })
        for (let i = 0; i < 3; i++) yield* writer.offer(i)
        yield* TestClock.adjust("1 second")
        yield* writer.offer(3)
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(written, [0, 1, 2, 3])
      })))
  })

  describe("a store down briefly at close", () => {
    it.effect("rows left when three rows failed alone are written once more by the close, not dropped", () =>
      Effect.gen(function*() {
        const before = yield* counts("brief-outage-close")
        // the batch's 4 tries and its first, middle and last rows alone fail (about 350 ms): the store looks down
        const store = failingFirst(memoryStore(), 7)
        const { scope } = yield* writerOver(store, 4, { name: "brief-outage-close" })
        yield* within(Scope.close(scope, Exit.void), "5 seconds")
        assert.deepStrictEqual(sorted(store.rows), range(4))
        assert.strictEqual((yield* counts("brief-outage-close")).dropped - before.dropped, 0)
      }))

    it.effect("the batches after the one that left the store looking down are written by the close too", () =>
      Effect.gen(function*() {
        const before = yield* counts("brief-outage-close-batches")
        const store = failingFirst(memoryStore(), 7)
        const { scope } = yield* writerOver(store, 8, { name: "brief-outage-close-batches", maxBatchSize: 4 })
        yield* within(Scope.close(scope, Exit.void), "5 seconds")
        assert.deepStrictEqual(sorted(store.rows), range(8))
        assert.strictEqual((yield* counts("brief-outage-close-batches")).dropped - before.dropped, 0)
      }))

    it.effect("rows refused at a batch's first, middle and last rows: the close still writes the row it takes", () =>
      Effect.gen(function*() {
        const before = yield* counts("refused-probes-close")
        // rows P, P, G, P: the store takes only G, which is not among the rows written alone first
        const store = memoryStore((row) => row !== 2)
        const { scope } = yield* writerOver(store, 4, { name: "refused-probes-close" })
        yield* within(Scope.close(scope, Exit.void), "5 seconds")
        assert.deepStrictEqual(store.rows, [2])
        assert.strictEqual((yield* counts("refused-probes-close")).dropped - before.dropped, 3)
      }))
  })

  describe("closeTimeout", () => {
    it.effect("closing against a store that never answers ends after closeTimeout (default 10 seconds); what is left is dropped, counted and logged", () =>
      withWarnings((warnings) =>
        Effect.gen(function*() {
          const store = memoryStore()
          store.hang = true
          const before = yield* counts("hung-at-close")
          const { scope } = yield* writerOver(store, 200, { name: "hung-at-close" })
          const closing = yield* forkAndAdjust(Scope.close(scope, Exit.void), "9999 millis")
          assert.isUndefined(closing.pollUnsafe())
          yield* TestClock.adjust("1 millis")
          assert.isDefined(closing.pollUnsafe())
          assert.strictEqual(store.attempts, 1)
          yield* assertDroppedAtClose(
            "hung-at-close",
            before,
            warnings,
            "dropped 200 rows (still being written when closeTimeout (10s) passed at close)"
          )
        })
      ))

    it.effect("a slow store at close keeps the batches written in time; the rest are dropped and counted", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.latency = "1000 millis"
        const before = yield* counts("slow-at-close")
        const { scope } = yield* writerOver(store, 30, {
          name: "slow-at-close",
          maxBatchSize: 10,
          closeTimeout: "2500 millis"
        })
        yield* within(Scope.close(scope, Exit.void), "2500 millis")
        assert.deepStrictEqual(store.rows, range(20))
        assert.strictEqual((yield* counts("slow-at-close")).dropped - before.dropped, 10)
      }))
  })

  describe("closeTimeout, with a write that ignores interruption", () => {
    it.effect("the close's own write: the close still ends at closeTimeout, without waiting for the write to stop", () =>
      withWarnings((warnings) =>
        Effect.gen(function*() {
          const store = memoryStore()
          store.stubborn = "1 minute"
          const before = yield* counts("stubborn-at-close")
          const { scope } = yield* writerOver(store, 200, { name: "stubborn-at-close", closeTimeout: "2 seconds" })
          const closing = yield* forkAndAdjust(Scope.close(scope, Exit.void), "1999 millis")
          assert.isUndefined(closing.pollUnsafe())
          yield* TestClock.adjust("1 millis")
          assert.isDefined(closing.pollUnsafe(), "the close waited for the interrupted write")
          yield* assertDroppedAtClose(
            "stubborn-at-close",
            before,
            warnings,
            "dropped 200 rows (still being written when closeTimeout (2s) passed at close)"
          )
        })
      ))

    it.effect("a background flush's write: the close ends at closeTimeout; its rows are dropped and counted once", () =>
      withWarnings((warnings) =>
        Effect.gen(function*() {
          const store = memoryStore()
          store.stubborn = "1 minute"
          const before = yield* counts("stubborn-in-background")
          const { scope } = yield* writerOver(store, 200, {
            name: "stubborn-in-background",
            flushInterval: "1 second",
            closeTimeout: "2 seconds"
          })
          yield* TestClock.adjust("1 second") // the background flush starts its write
          assert.strictEqual(store.attempts, 1)
          const closing = yield* forkAndAdjust(Scope.close(scope, Exit.void), "1999 millis")
          assert.isUndefined(closing.pollUnsafe())
          yield* TestClock.adjust("1 millis")
          assert.isDefined(closing.pollUnsafe(), "the close waited for the interrupted write")
          yield* assertDroppedAtClose(
            "stubborn-in-background",
            before,
            warnings,
            "dropped 200 rows (still being written when closeTimeout (2s) passed at close)"
          )
          // the write ends on its own later: nothing more is counted
          yield* TestClock.adjust("1 minute")
          assert.strictEqual((yield* counts("stubborn-in-background")).dropped - before.dropped, 200)
        })
      ))

    it.effect("a row given after the close: the offering fiber is held for closeTimeout at most", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        const before = yield* counts("stubborn-late")
        const { scope, writer } = yield* writerOver(store, 0, { name: "stubborn-late", closeTimeout: "2 seconds" })
        yield* within(Scope.close(scope, Exit.void), "1 second")
        store.stubborn = "1 minute"
        const offering = yield* forkAndAdjust(writer.offer(1), "1999 millis")
        assert.isUndefined(offering.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        assert.isDefined(offering.pollUnsafe(), "the offer waited for the interrupted write")
        assert.strictEqual((yield* counts("stubborn-late")).dropped - before.dropped, 1)
      }))
  })

  describe("closeTimeout, with a background flush in progress", () => {
    it.effect("a background flush hung on its write is cut off at closeTimeout too; its rows are dropped and counted", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.hang = true
        const before = yield* counts("hung-in-background")
        const { scope } = yield* writerOver(store, 200, {
          name: "hung-in-background",
          flushInterval: "1 second",
          closeTimeout: "5 seconds"
        })
        yield* TestClock.adjust("1 second") // the background flush starts: its write never answers
        assert.strictEqual(store.attempts, 1)
        const closing = yield* forkAndAdjust(Scope.close(scope, Exit.void), "4999 millis")
        assert.isUndefined(closing.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        assert.isDefined(closing.pollUnsafe())
        assert.strictEqual(store.attempts, 1)
        assert.strictEqual((yield* counts("hung-in-background")).dropped - before.dropped, 200)
      }))

    it.effect("a slow background flush that ends within closeTimeout is waited for; then the rest is written", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.latency = Duration.seconds(1)
        const before = yield* counts("slow-in-background")
        const { scope, writer } = yield* writerOver(store, 30, {
          name: "slow-in-background",
          flushInterval: "1 second",
          maxBatchSize: 10
        })
        yield* TestClock.adjust("1500 millis") // the background flush writes its 3 batches until 4 s
        for (const row of range(5)) yield* writer.offer(30 + row)
        yield* within(Scope.close(scope, Exit.void), "4 seconds")
        assert.deepStrictEqual(store.rows, range(35))
        assert.strictEqual((yield* counts("slow-in-background")).dropped - before.dropped, 0)
      }))
  })

  describe("a query's flush", () => {
    it.effect("its caller's timeout ends the wait at the deadline; the write goes on and its rows are written once", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.latency = "1 minute" // a table another session has locked
        const before = yield* counts("flush-timeout")
        const { writer } = yield* writerOver(store, 3, { name: "flush-timeout" })
        const error = yield* within(Effect.flip(Effect.timeout(writer.flush, "2 seconds")), "2 seconds")
        assert.strictEqual(error._tag, "TimeoutError")
        assert.deepStrictEqual(store.rows, [])
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(store.rows, range(3))
        // nothing is left to write: a later flush costs no write
        yield* writer.flush
        assert.strictEqual(store.attempts, 1)
        assert.strictEqual((yield* counts("flush-timeout")).dropped - before.dropped, 0)
      }))

    it.effect("an interrupted query leaves no row behind: the next query reads rows offered before and after it", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.latency = "10 seconds"
        const { writer } = yield* writerOver(store, 3, { name: "flush-interrupted" })
        const first = yield* forkAndAdjust(writer.flush, "1 second")
        yield* Fiber.interrupt(first)
        yield* writer.offer(3)
        // the interrupted flush's write ends at 10 s; the next one takes row 3 and ends 10 s later
        const second = yield* forkAndAdjust(writer.flush, "18999 millis")
        assert.isUndefined(second.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        assert.isDefined(second.pollUnsafe())
        assert.deepStrictEqual(store.rows, range(4))
        assert.strictEqual(store.attempts, 2)
      }))

    it.effect("queries made while a flush writes end once their rows are written, in one more write", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.latency = "10 seconds"
        const { writer } = yield* writerOver(store, 3, { name: "flush-shared" })
        const first = yield* forkAndAdjust(writer.flush, "1 second")
        yield* writer.offer(3)
        const waiting = yield* Effect.forEach(range(20), () => Effect.forkChild(writer.flush))
        yield* writer.offer(4)
        const last = yield* forkAndAdjust(writer.flush, "19 seconds")
        yield* Fiber.join(first)
        yield* Fiber.joinAll([...waiting, last])
        assert.deepStrictEqual(store.rows, range(5))
        assert.strictEqual(store.attempts, 2)
      }))

    it.effect("queries that time out against a locked table leave one flush behind, not one each", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.latency = "10 seconds" // a table another session has locked
        const before = yield* counts("flush-piled-up")
        const { writer } = yield* writerOver(store, 3, { name: "flush-piled-up" })
        yield* forkAndAdjust(Effect.timeout(writer.flush, "1 second"), "1 second") // writes rows 0 to 2 until 10 s
        // a request a second, each recording a row and reading, giving up after a second
        let row = 3
        const request = (query: boolean) =>
          Effect.gen(function*() {
            yield* writer.offer(row++)
            if (query) yield* Effect.ignore(Effect.timeout(writer.flush, "1 second"))
          })
        for (let second = 1; second < 10; second++) yield* within(request(true), "1 second")
        // the queries made meanwhile share one flush: it takes rows 3 to 11 at 10 s and writes them until 20 s
        for (let second = 10; second < 60; second++) yield* within(request(false), "1 second")
        // a flush per query would have gone on taking the rows offered since, one write after another
        assert.strictEqual(store.attempts, 2)
        assert.deepStrictEqual(store.rows, range(12))
        yield* within(writer.flush, "10 seconds")
        assert.deepStrictEqual(store.rows, range(row))
        assert.strictEqual(store.attempts, 3)
        assert.strictEqual((yield* counts("flush-piled-up")).dropped - before.dropped, 0)
      }))

    it.effect("a close that cuts off a query's flush before its first step: that query and later ones still end", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.latency = "1 second"
        const { scope, writer } = yield* writerOver(store, 3, { name: "flush-cut-before-start" })
        yield* forkAndAdjust(writer.flush, "500 millis") // takes rows 0 to 2, writes them until 1 s
        const closing = yield* forkAndAdjust(Scope.close(scope, Exit.void), "100 millis") // waits for that write
        // as that write ends, a query forks its flush; the close's own flush, woken by the same write's end, runs
        // first, finds nothing to write, and the close cuts the query's flush off before that flush's first step
        let query: Fiber.Fiber<void> | undefined
        store.onWritten = Effect.suspend(() =>
          query === undefined
            ? Effect.asVoid(Effect.tap(Effect.forkDetach(writer.flush), (fiber) => Effect.sync(() => (query = fiber))))
            : Effect.void
        )
        yield* TestClock.adjust("400 millis")
        assert.isDefined(closing.pollUnsafe(), "the close is still running")
        assert.deepStrictEqual(store.rows, range(3))
        if (query === undefined) return assert.fail("no query was made as the write ended")
        yield* TestClock.adjust("1 second")
        assert.isDefined(query.pollUnsafe(), "the query whose flush was cut off before it started still waits")
        yield* within(writer.flush, "1 second")
      }))

    it.effect("closing while a query's write is in flight past closeTimeout: its rows are dropped and counted", () =>
      withWarnings((warnings) =>
        Effect.gen(function*() {
          const store = memoryStore()
          store.hang = true
          const before = yield* counts("flush-at-close")
          const { scope, writer } = yield* writerOver(store, 200, { name: "flush-at-close", closeTimeout: "2 seconds" })
          const query = yield* forkAndAdjust(Effect.timeout(writer.flush, "1 second"), "1 second")
          assert.strictEqual((yield* Effect.flip(Fiber.join(query)))._tag, "TimeoutError")
          yield* within(Scope.close(scope, Exit.void), "2 seconds")
          yield* assertDroppedAtClose(
            "flush-at-close",
            before,
            warnings,
            "dropped 200 rows (still being written when closeTimeout (2s) passed at close)"
          )
        })
      ))
  })

  describe("a row offered once the close has taken the queue", () => {
    it.effect("after the close, it is written to the store while the offer waits, even by an offer made before", () =>
      withWarnings((warnings) =>
        Effect.gen(function*() {
          const store = memoryStore()
          const before = yield* counts("offer-after-close")
          const { scope, writer } = yield* writerOver(store, 3, { name: "offer-after-close" })
          const madeBefore = writer.offer(4)
          yield* within(Scope.close(scope, Exit.void), "1 second")
          assert.deepStrictEqual(store.rows, range(3))
          yield* within(writer.offer(3), "1 second")
          yield* within(madeBefore, "1 second")
          assert.deepStrictEqual(store.rows, range(5))
          assert.strictEqual((yield* counts("offer-after-close")).dropped - before.dropped, 0)
          assert.deepStrictEqual(warnings, [])
        })
      ))

    it.effect("during the close's final flush, it is written while the offer waits, not dropped", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.latency = "1 second"
        const before = yield* counts("offer-while-closing")
        const { scope, writer } = yield* writerOver(store, 30, { name: "offer-while-closing", maxBatchSize: 10 })
        const closing = yield* forkAndAdjust(Scope.close(scope, Exit.void), "500 millis") // the final flush took the 30 rows
        // written once the flush's three batches are (one write at a time), within closeTimeout
        const offering = yield* forkAndAdjust(writer.offer(30), "4 seconds")
        yield* Fiber.join(offering)
        yield* Fiber.join(closing)
        assert.deepStrictEqual(sorted(store.rows), range(31))
        assert.strictEqual((yield* counts("offer-while-closing")).dropped - before.dropped, 0)
      }))

    it.effect("after the close, interrupting the offering fiber does not cut its write", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        const before = yield* counts("late-interrupted")
        const { scope, writer } = yield* writerOver(store, 0, { name: "late-interrupted" })
        yield* within(Scope.close(scope, Exit.void), "1 second")
        store.latency = "1 second"
        const offering = yield* forkAndAdjust(writer.offer(7), "500 millis")
        const interrupting = yield* forkAndAdjust(Fiber.interrupt(offering), "500 millis")
        yield* Fiber.join(interrupting)
        assert.deepStrictEqual(store.rows, [7])
        assert.strictEqual((yield* counts("late-interrupted")).dropped - before.dropped, 0)
      }))

    it.effect("a store that fails it after the close: the row is dropped, counted and logged naming the writer", () =>
      withWarnings((warnings) =>
        Effect.gen(function*() {
          const store = memoryStore()
          const before = yield* counts("late-store-down")
          const { scope, writer } = yield* writerOver(store, 0, { name: "late-store-down" })
          yield* within(Scope.close(scope, Exit.void), "1 second")
          store.down = true // as a database pool released with the writer's scope
          yield* within(writer.offer(1), "1 second") // the write and its 3 retries
          yield* within(writer.offer(2), "1 second")
          assert.strictEqual(store.attempts, 8)
          const after = yield* counts("late-store-down")
          assert.strictEqual(after.dropped - before.dropped, 2)
          assert.isAtLeast(after.failures - before.failures, 2)
          assert.strictEqual(warnings.length, 1)
          assert.include(warnings[0], `Baton sink "late-store-down"`)
          assert.include(warnings[0], "after it closed")
        })
      ))

    it.effect("late rows on a store that is down are retried side by side, not one after another's waits", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        const before = yield* counts("late-side-by-side")
        const { scope, writer } = yield* writerOver(store, 0, { name: "late-side-by-side" })
        yield* within(Scope.close(scope, Exit.void), "1 second")
        store.down = true
        // twelve requests still running when the layer closed: each row's write and 3 retries wait 350 ms in all
        yield* within(
          Effect.forEach(range(12), (row) => writer.offer(row), { concurrency: "unbounded", discard: true }),
          "400 millis"
        )
        assert.strictEqual(store.attempts, 48)
        assert.strictEqual((yield* counts("late-side-by-side")).dropped - before.dropped, 12)
      }))

    it.effect("a store that never answers after the close holds the offering fiber for closeTimeout at most; the row is counted", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        const before = yield* counts("late-store-hung")
        const { scope, writer } = yield* writerOver(store, 0, { name: "late-store-hung", closeTimeout: "2 seconds" })
        yield* within(Scope.close(scope, Exit.void), "1 second")
        store.hang = true
        const offering = yield* forkAndAdjust(writer.offer(1), "1999 millis")
        assert.isUndefined(offering.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        assert.isDefined(offering.pollUnsafe())
        assert.strictEqual((yield* counts("late-store-hung")).dropped - before.dropped, 1)
      }))
  })

  describe("a store that is up but refuses a row", () => {
    for (const poison of [0, 57, 199]) {
      it.effect(`loses only that row (row ${poison} of 200), in a flush and at close`, () =>
        Effect.gen(function*() {
          const sink = `poison-${poison}`
          const before = yield* counts(sink)
          const store = memoryStore((row) => row === poison)
          const { scope, writer } = yield* writerOver(store, 200, { name: sink })
          yield* within(writer.flush, "1 second")
          const expected = range(200).filter((row) => row !== poison)
          assert.deepStrictEqual(sorted(store.rows), expected)
          assert.strictEqual((yield* counts(sink)).dropped - before.dropped, 1)
          // the same at close
          store.rows.length = 0
          for (const row of range(200)) yield* writer.offer(row)
          yield* within(Scope.close(scope, Exit.void), "1 second")
          assert.deepStrictEqual(sorted(store.rows), expected)
          assert.strictEqual((yield* counts(sink)).dropped - before.dropped, 2)
        }))
    }

    it.effect("two refused rows at a batch's ends lose only themselves", () =>
      Effect.gen(function*() {
        const before = yield* counts("poison-ends")
        const store = memoryStore((row) => row === 0 || row === 199)
        const { writer } = yield* writerOver(store, 200, { name: "poison-ends" })
        // each refused row costs its retries' waits (350 ms), after the batch's
        yield* within(writer.flush, "2 seconds")
        assert.deepStrictEqual(sorted(store.rows), range(200).slice(1, 199))
        assert.strictEqual((yield* counts("poison-ends")).dropped - before.dropped, 2)
      }))

    it.effect("the store going down while a refused row is isolated: the rest waits, and is written once it is back", () =>
      Effect.gen(function*() {
        const before = yield* counts("poison-then-down")
        const store = memoryStore((row) => row === 57)
        store.downAfter = 5
        const { writer } = yield* writerOver(store, 200, { name: "poison-then-down" })
        yield* within(writer.flush, "1 second")
        assert.isAtMost(store.attempts, 30)
        store.down = false
        store.downAfter = Number.POSITIVE_INFINITY
        yield* within(writer.flush, "1 second")
        assert.deepStrictEqual(sorted(store.rows), range(200).filter((row) => row !== 57))
        assert.strictEqual((yield* counts("poison-then-down")).dropped - before.dropped, 1)
      }))

    for (const poison of [0, 1, 2]) {
      it.effect(`a row refused alone is dropped whether the store took a write just before or just after it (row ${poison} of 3)`, () =>
        Effect.gen(function*() {
          const sink = `poison-alone-${poison}`
          const before = yield* counts(sink)
          const store = memoryStore((row) => row === poison)
          const { writer } = yield* writerOver(store, 3, { name: sink })
          yield* within(writer.flush, "2 seconds")
          assert.deepStrictEqual(sorted(store.rows), range(3).filter((row) => row !== poison))
          assert.strictEqual((yield* counts(sink)).dropped - before.dropped, 1)
        }))
    }

    it.effect("ten rows refused in a row look like a down sink for a while, but lose only themselves", () =>
      Effect.gen(function*() {
        const before = yield* counts("poison-run")
        const refused = (row: number) => row >= 50 && row < 60
        const store = memoryStore(refused)
        const { writer } = yield* writerOver(store, 200, { name: "poison-run" })
        // the rows next to them may wait a few flushes, as rows wait for a down sink
        for (let i = 0; i < 5; i++) yield* within(writer.flush, "10 seconds")
        assert.deepStrictEqual(sorted(store.rows), range(200).filter((row) => !refused(row)))
        // refused rows with no row the sink takes left to write next to: dropped past maxOutage at the latest
        yield* TestClock.adjust("1 minute")
        yield* within(writer.flush, "10 seconds")
        assert.strictEqual((yield* counts("poison-run")).dropped - before.dropped, 10)
        assert.strictEqual(store.rows.length, 190)
      }))

    it.effect("rows held behind a refused row are dropped in the flush that proves the store up, not kept", () =>
      Effect.gen(function*() {
        const before = yield* counts("refused-held")
        // rows P, P, G, P: the first flush holds the first, middle and last rows, and keeps all four
        const store = memoryStore((row) => row !== 2)
        const { writer } = yield* writerOver(store, 4, { name: "refused-held" })
        yield* within(writer.flush, "5 seconds")
        assert.deepStrictEqual(store.rows, [])
        // the second writes G alone: the first P, then the second, held before G, are retried and refused
        yield* within(writer.flush, "5 seconds")
        assert.deepStrictEqual(store.rows, [2])
        assert.strictEqual((yield* counts("refused-held")).dropped - before.dropped, 2)
      }))

    it.effect("the store going down as the row after a refused one is written alone: that row waits, and is written once it is back", () =>
      withWarnings((warnings) =>
        Effect.gen(function*() {
          const before = yield* counts("poison-then-down-alone")
          // rows A, P, B: the store refuses P, and is down for a second from the first write of B alone
          const store = memoryStore((row) => row === 1)
          const write = store.write
          let downUntil: number | undefined
          store.write = (batch) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              if (downUntil === undefined && batch.length === 1 && batch[0] === 2) downUntil = now + 1000
              store.down = downUntil !== undefined && now < downUntil
              return write(batch)
            })
          const { writer } = yield* writerOver(store, 3, {
            name: "poison-then-down-alone",
            flushInterval: "100 millis"
          })
          yield* within(writer.flush, "1 second")
          assert.deepStrictEqual(store.rows, [0])
          yield* TestClock.adjust("2 seconds")
          assert.deepStrictEqual(store.rows, [0, 2])
          assert.strictEqual((yield* counts("poison-then-down-alone")).dropped - before.dropped, 1)
          assert.strictEqual(warnings.length, 1)
          assert.include(warnings[0], "dropped 1 rows (the sink refused them, written alone)")
        })
      ))
  })

  describe("a store that refuses a row, and fails a write once", () => {
    it.effect("at close, a row held behind a refused one is written once the store takes a write", () =>
      Effect.gen(function*() {
        const before = yield* counts("held-at-close")
        // rows P, G, X: the store refuses P; G's first write alone fails (the batch's 4 tries and P's came first)
        const store = memoryStore((row) => row === 0)
        const write = store.write
        store.write = (batch) =>
          Effect.suspend(() => {
            store.down = store.attempts === 5
            return write(batch)
          })
        const { scope } = yield* writerOver(store, 3, { name: "held-at-close" })
        yield* within(Scope.close(scope, Exit.void), "5 seconds")
        assert.deepStrictEqual(sorted(store.rows), [1, 2])
        assert.strictEqual((yield* counts("held-at-close")).dropped - before.dropped, 1)
      }))

    it.effect("a refused row kept flush after flush does not shorten maxOutage for rows kept since", () =>
      Effect.gen(function*() {
        const before = yield* counts("refused-kept")
        const store = memoryStore((row) => row === 0)
        const { writer } = yield* writerOver(store, 1, { name: "refused-kept", flushInterval: "1 second" })
        // the refused row, written alone each flush, is kept as for a down sink
        yield* TestClock.adjust("60500 millis")
        store.down = true
        yield* writer.offer(1)
        // the flush at 61 seconds meets the store down; it is back a second later
        yield* TestClock.adjust("1 second")
        store.down = false
        yield* TestClock.adjust("5 seconds")
        assert.deepStrictEqual(store.rows, [1])
        // the refused row is dropped past its own maxOutage
        assert.strictEqual((yield* counts("refused-kept")).dropped - before.dropped, 1)
      }))
  })

  describe("writeTimeout", () => {
    it.effect("a write that hangs fails after writeTimeout (default 2 minutes): its rows are retried and written", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.hang = true
        const { writer } = yield* writerOver(store, 10, { name: "hang-once" })
        const flushing = yield* forkAndAdjust(writer.flush, "2 minutes")
        store.hang = false
        yield* TestClock.adjust("1 second")
        assert.isDefined(flushing.pollUnsafe())
        assert.deepStrictEqual(store.rows, range(10))
        assert.strictEqual(store.attempts, 2)
      }))

    it.effect("a row offered during the close's flush: the wait for that flush does not count against writeTimeout", () =>
      Effect.gen(function*() {
        const before = yield* counts("late-lock-wait")
        const store = memoryStore()
        store.latency = "800 millis"
        const { scope, writer } = yield* writerOver(store, 2, {
          name: "late-lock-wait",
          maxBatchSize: 1,
          retries: 0,
          writeTimeout: "1 second"
        })
        // the final flush took the 2 rows: two writes of 800 ms, under the lock
        const closing = yield* forkAndAdjust(Scope.close(scope, Exit.void), "100 millis")
        yield* within(writer.offer(2), "3 seconds")
        yield* Fiber.join(closing)
        assert.deepStrictEqual(store.rows, [0, 1, 2])
        assert.strictEqual(store.attempts, 3)
        assert.strictEqual((yield* counts("late-lock-wait")).dropped - before.dropped, 0)
      }))

    it.effect("a store that keeps hanging counts as down: its rows are dropped past maxOutage, not held forever", () =>
      Effect.gen(function*() {
        const store = memoryStore()
        store.hang = true
        const before = yield* counts("hang-always")
        yield* writerOver(store, 200, { name: "hang-always", flushInterval: "1 second", maxOutage: "1 minute" })
        // a flush: the batch's 4 tries and 3 rows alone, 2 minutes each; the second flush is past maxOutage
        yield* TestClock.adjust("1 hour")
        assert.strictEqual((yield* counts("hang-always")).dropped - before.dropped, 200)
        assert.deepStrictEqual(store.rows, [])
      }))
  })
})
