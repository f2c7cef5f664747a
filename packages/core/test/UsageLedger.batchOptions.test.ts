/**
 * The ledger's batching options (`BatchWriter.Options`: `flushInterval`,
 * `maxOutage`, `closeTimeout`, `writeTimeout`, `retries`) are checked when
 * the ledger is built: a value that is not a duration, a negative one, `NaN`,
 * a `writeTimeout` of zero (every write would time out and its rows be
 * dropped), `retries` that is not a whole number of 0 or more or a
 * `maxBatchSize` that is not one of 1 or more fails the build with an
 * `LlmConfigError` naming the option, not a Defect and not a ledger that
 * loses its rows or writes them in batches it was not asked for.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import * as UsageLedger from "../src/UsageLedger.ts"

const refusedDurations: ReadonlyArray<Duration.Input> = [
  "10 secs" as Duration.Input,
  -5,
  "-1 seconds",
  Number.NaN,
  { seconds: -1 },
  { seconds: Number.NaN },
  [Number.NaN, 0],
  -1n
]

const buildError = (options: UsageLedger.Options) =>
  Effect.flip(Layer.build(UsageLedger.layerMemory(options)).pipe(Effect.scoped))

describe("UsageLedger batching options", () => {
  it.effect("a duration option that is not a duration of 0 or more fails the build, naming it", () =>
    Effect.gen(function*() {
      for (const option of ["flushInterval", "maxOutage", "closeTimeout", "writeTimeout"] as const) {
        for (const value of refusedDurations) {
          const error = yield* buildError({ [option]: value })
          assert.deepStrictEqual([error._tag, error.variable], ["LlmConfigError", `UsageLedger.${option}`])
          assert.include(error.message, `UsageLedger.${option}: `)
        }
      }
      const quoted = yield* Effect.flip(UsageLedger.checkOptions({ flushInterval: "soon" as Duration.Input }))
      assert.include(quoted.message, `UsageLedger.flushInterval: "soon" is not`)
      const nanos = yield* Effect.flip(UsageLedger.checkOptions({ maxOutage: -5n }))
      assert.include(nanos.message, "UsageLedger.maxOutage: -5 nanoseconds is not")
    }))

  it.effect("a writeTimeout of zero fails the build: every write would time out", () =>
    Effect.gen(function*() {
      const error = yield* buildError({ writeTimeout: 0 })
      assert.strictEqual(error.variable, "UsageLedger.writeTimeout")
    }))

  it.effect("retries that are not a whole number of 0 or more fail the build, naming them", () =>
    Effect.gen(function*() {
      for (const retries of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = yield* buildError({ retries })
        assert.deepStrictEqual([error._tag, error.variable], ["LlmConfigError", "UsageLedger.retries"])
      }
    }))

  it.effect("a maxBatchSize that is not a whole number of at least 1 fails the build, naming it", () =>
    Effect.gen(function*() {
      for (const maxBatchSize of [0, -1, 2.5, Number.NaN]) {
        const error = yield* buildError({ maxBatchSize })
        assert.deepStrictEqual([error._tag, error.variable], ["LlmConfigError", "UsageLedger.maxBatchSize"])
      }
    }))

  it.effect("zero, Duration.infinity and whole retries are taken", () =>
    Effect.gen(function*() {
      yield* Layer.build(UsageLedger.layerMemory({
        flushInterval: 0,
        maxOutage: 0,
        closeTimeout: 0,
        writeTimeout: Duration.infinity,
        retries: 0,
        maxBatchSize: 1
      })).pipe(Effect.scoped)
      yield* UsageLedger.checkOptions({ flushInterval: Duration.infinity, maxOutage: "1 hour", retries: 5 })
    }))
})
