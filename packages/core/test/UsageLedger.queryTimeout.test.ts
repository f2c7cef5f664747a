/**
 * The ledger's query bound (`queryTimeout`, default
 * `UsageLedger.defaultQueryTimeout`) over stores that stopped answering, on
 * the TestClock: a query, its flush included, fails at the bound and not
 * before; its caller's interruption returns at once; a bound that is not a
 * positive duration fails the ledger's build, naming the option.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as UsageLedger from "../src/UsageLedger.ts"
import { stories } from "./RequestLog.fixtures.ts"

const day = UsageLedger.Day.make("1970-01-01")

/** A memory store named `name` whose appends (`append`) or queries (`query`) never answer. */
const stalled = (name: string, stalls: "append" | "query") =>
  Effect.map(UsageLedger.makeMemoryStore, (memory): UsageLedger.Store => ({
    ...memory,
    name,
    ...(stalls === "append" ? { append: () => Effect.never } : { usageBySubject: () => Effect.never })
  }))

/** A ledger over `store` in a scope of its own (a failed test does not wait for its close), and that scope. */
const ledgerOver = (store: UsageLedger.Store, options: UsageLedger.Options = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ledger = yield* Scope.provide(UsageLedger.make(store, { flushInterval: "1 hour", ...options }), scope)
    return { ledger, scope }
  })

describe("UsageLedger queryTimeout", () => {
  it.effect("a row queued behind an append that never answers: the query fails at defaultQueryTimeout, not before", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const { ledger } = yield* ledgerOver(yield* stalled("stalled-append", "append"))
      yield* Effect.forEach(s.success, ledger.record, { discard: true })
      const query = yield* Effect.forkDetach(Effect.flip(ledger.usageBySubject(day)))
      yield* TestClock.adjust(Duration.subtract(UsageLedger.defaultQueryTimeout, Duration.millis(1)))
      assert.isUndefined(query.pollUnsafe(), "failed before the bound")
      yield* TestClock.adjust(1)
      const error = query.pollUnsafe()
      assert.isDefined(error, "still waiting at the bound")
      const failure = yield* Fiber.join(query)
      assert.deepStrictEqual([failure._tag, failure.store], ["UsageLedgerError", "stalled-append"])
      assert.strictEqual(failure.message, "the usage ledger did not answer within 10s")
    }))

  it.effect("a shorter queryTimeout bounds a store query that never answers", () =>
    Effect.gen(function*() {
      const { ledger } = yield* ledgerOver(yield* stalled("stalled-query", "query"), { queryTimeout: "2 seconds" })
      const query = yield* Effect.forkDetach(Effect.flip(ledger.usageBySubject(day)))
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(query.pollUnsafe(), "failed before the bound")
      yield* TestClock.adjust(1)
      assert.isDefined(query.pollUnsafe(), "still waiting at the bound")
      assert.strictEqual((yield* Fiber.join(query)).message, "the usage ledger did not answer within 2s")
    }))

  it.effect("Duration.infinity turns the bound off: a slow store's query answers, however long it takes", () =>
    Effect.gen(function*() {
      const memory = yield* UsageLedger.makeMemoryStore
      const slow: UsageLedger.Store = {
        ...memory,
        usageBySubject: (d) => Effect.delay(memory.usageBySubject(d), "1 day")
      }
      const { ledger } = yield* ledgerOver(slow, { queryTimeout: Duration.infinity })
      const query = yield* Effect.forkDetach(ledger.usageBySubject(day))
      yield* TestClock.adjust("1 hour")
      assert.isUndefined(query.pollUnsafe(), "answered before the store")
      yield* TestClock.adjust("1 day")
      assert.deepStrictEqual(query.pollUnsafe(), Exit.succeed([]))
    }))

  it.effect("the caller's interruption returns at once, without waiting for a query that does not end", () =>
    Effect.gen(function*() {
      const memory = yield* UsageLedger.makeMemoryStore
      // a driver whose cancel waits for a server that stopped: the statement cannot be interrupted
      const stuck: UsageLedger.Store = { ...memory, usageBySubject: () => Effect.uninterruptible(Effect.never) }
      const { ledger } = yield* ledgerOver(stuck)
      const query = yield* Effect.forkDetach(ledger.usageBySubject(day))
      yield* Effect.yieldNow
      const interrupting = yield* Effect.forkDetach(Fiber.interrupt(query))
      yield* Effect.yieldNow
      assert.isDefined(interrupting.pollUnsafe(), "the interruption waits for the query")
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(query)))
    }))

  it.effect("a queryTimeout that is not a positive duration fails the ledger's build, naming the option", () =>
    Effect.gen(function*() {
      const refused: ReadonlyArray<Duration.Input> = [
        "10 secs" as Duration.Input,
        -5,
        "-1 seconds",
        0,
        Number.NaN,
        { seconds: -1 }
      ]
      for (const queryTimeout of refused) {
        // a defect (Duration.fromInputUnsafe's throw) fails the test here
        const error = yield* Effect.flip(Layer.build(UsageLedger.layerMemory({ queryTimeout })).pipe(Effect.scoped))
        assert.deepStrictEqual([error._tag, error.variable], ["LlmConfigError", "UsageLedger.queryTimeout"])
        assert.include(error.message, "UsageLedger.queryTimeout: ")
      }
      const quoted = (queryTimeout: Duration.Input) =>
        Effect.map(Effect.flip(UsageLedger.checkOptions({ queryTimeout })), (error) => error.message)
      assert.include(yield* quoted("10 secs" as Duration.Input), `UsageLedger.queryTimeout: "10 secs" is not`)
      assert.include(yield* quoted({ seconds: -1 }), `UsageLedger.queryTimeout: {"seconds":-1} is not`)
      assert.include(yield* quoted(Duration.seconds(-1)), "UsageLedger.queryTimeout: -1s is not")
    }))
})
