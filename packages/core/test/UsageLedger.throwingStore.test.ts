/**
 * A custom ledger store whose `append` throws once, instead of returning a
 * failed effect (a bug in the store): the ledger's background flush goes on,
 * and the rows of `LlmManager`'s calls reach the store once it works, without
 * any query flushing them. Over the mock server, on the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as UsageLedger from "../src/UsageLedger.ts"
import { Bench, manager } from "./utils/chain.ts"

const day = UsageLedger.Day.make("1970-01-01")

describe("UsageLedger over a store that throws once", () => {
  it.effect("the background flush goes on: every call's row reaches the store", () =>
    Effect.gen(function*() {
      const memory = yield* UsageLedger.makeMemoryStore
      let threw = false
      const store: UsageLedger.Store = {
        ...memory,
        name: "throws-once",
        append: (rows) => {
          if (!threw) {
            threw = true
            throw new Error("a bug in the store")
          }
          return memory.append(rows)
        }
      }
      yield* Effect.gen(function*() {
        const llm = yield* manager({ chain: ["openai"] })
        yield* llm.generate({ prompt: "One question about Mars" })
        yield* TestClock.adjust("1 second")
        yield* llm.generate({ prompt: "One question about Venus" })
        yield* TestClock.adjust("1 second")
        // the store itself, not the ledger's query (which would flush the queue first)
        const rows = yield* memory.usageByProvider(day, day)
        assert.deepStrictEqual(rows.map((row) => [row.provider, row.requests]), [["openai", 2]])
      }).pipe(Effect.provide(UsageLedger.layer(Effect.succeed(store), { flushInterval: "100 millis" })))
    }).pipe(Effect.provide(Bench)))
})
