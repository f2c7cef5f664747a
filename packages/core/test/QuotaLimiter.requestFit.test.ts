/**
 * A request that asks for more units than the subject's whole daily limit
 * can never be served, on any day: it is `TooManyQuestions` naming the most
 * the subject may ask for in one request, not a `RateLimitExceeded` that
 * tells the client to come back at midnight. Time is the `TestClock`.
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SubjectId } from "../src/Ids.ts"
import * as QuotaLimiter from "../src/QuotaLimiter.ts"
import { freshSubject, limiter, setTime } from "./QuotaLimiterBehaviour.ts"
import { Bench, managerWithQuota, stats } from "./utils/chain.ts"

const prompt = { prompt: "Write fifteen quiz questions about the moon." }
const teacher = SubjectId.make("teacher-small-plan")

describe("LlmManager: a request larger than the subject's daily limit", () => {
  it.effect("is TooManyQuestions naming the subject's maximum, before any call, and spends nothing", () =>
    Effect.gen(function*() {
      const { llm, store } = yield* managerWithQuota(
        { overrides: QuotaLimiter.overridesFromRecord({ [teacher]: { daily: 10 } }) },
        { chain: ["openai"] }
      )
      const asking = (units: number) => ({ ...prompt, metadata: { subjectId: teacher, units } })

      const error = yield* Effect.flip(llm.generate(asking(15)))
      assert.strictEqual(error._tag, "TooManyQuestions")
      if (error._tag !== "TooManyQuestions") return
      assert.deepStrictEqual([error.requested, error.max], [15, 10])
      const server = yield* MockProviderServer.MockProviderServer
      assert.deepStrictEqual(yield* server.received(), [])
      assert.deepStrictEqual(yield* store.usage({ subjectId: teacher, day: "1970-01-01" }), QuotaLimiter.emptyUsage)

      // the whole day fits in one request, and what is spent stays a daily refusal
      yield* llm.generate(asking(10))
      const refused = yield* Effect.flip(llm.generate(asking(1)))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(Bench)))
})

layer(QuotaLimiter.layerStoreMemory)("QuotaLimiter: units beyond the daily limit", (it) => {
  it.effect("reserve and withQuota refuse them with TooManyQuestions, whatever was spent", () =>
    Effect.gen(function*() {
      yield* setTime("2026-05-10T10:00:00Z")
      const small = freshSubject("small")
      const quota = yield* limiter({
        maxQuestionsPerRequest: 20,
        dailyLimit: 30,
        overrides: QuotaLimiter.overridesFromRecord({ [small]: { daily: 10 } })
      })
      const reserved = yield* Effect.flip(quota.reserve(small, 15))
      assert.deepStrictEqual(
        [reserved._tag, reserved._tag === "TooManyQuestions" ? [reserved.requested, reserved.max] : []],
        ["TooManyQuestions", [15, 10]]
      )
      let ran = false
      const spent = yield* Effect.flip(quota.withQuota(small, 11, () => Effect.sync(() => (ran = true))))
      assert.strictEqual(spent._tag, "TooManyQuestions")
      assert.isFalse(ran)
      assert.strictEqual((yield* quota.remaining(small)).used, 0)

      // a subject whose daily limit is above the per-request maximum is named by the per-request maximum
      const large = freshSubject("large")
      const over = yield* Effect.flip(quota.reserve(large, 31))
      assert.deepStrictEqual(
        [over._tag, over._tag === "TooManyQuestions" ? [over.requested, over.max] : []],
        ["TooManyQuestions", [31, 20]]
      )
      // a request that would fit a fresh day is still a daily refusal, with the numbers to retry
      yield* quota.reserve(small, 4)
      const later = yield* Effect.flip(quota.reserve(small, 10))
      assert.deepStrictEqual(
        [later._tag, later._tag === "RateLimitExceeded" ? [later.remaining, later.requested] : []],
        ["RateLimitExceeded", [6, 10]]
      )
    }))
})
