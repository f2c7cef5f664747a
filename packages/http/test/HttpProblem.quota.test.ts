/**
 * The refusals of a real `QuotaLimiter` (memory store, `TestClock`) as HTTP
 * answers: the `RateLimit-*` headers always speak in units, a spent token or
 * cost budget is told in the body, and a request that can never fit the
 * subject's day is a 400, not a 429 to retry at midnight.
 */
import { SubjectId } from "@baton/core/Ids"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as TokenUsage from "@baton/core/TokenUsage"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect } from "effect"
import { TestClock } from "effect/testing"
import * as HttpProblem from "../src/HttpProblem.ts"

const teacher = SubjectId.make("teacher-7")

const limiter = (options: Partial<QuotaLimiter.Options>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.makeUnsafe("2026-05-10T22:00:00Z")))
    return yield* QuotaLimiter.QuotaLimiter.pipe(
      Effect.provide(QuotaLimiter.layerMemoryWith({
        maxQuestionsPerRequest: 20,
        dailyLimit: 100,
        timeZone: "UTC",
        ...options
      }))
    )
  })

/** One served request that billed `tokens` tokens and `costNanoUsd`. */
const spend = (quota: QuotaLimiter.Service, tokens: number, costNanoUsd: number) =>
  quota.withQuota(
    teacher,
    1,
    (reservation) =>
      reservation.commit(TokenUsage.make({ promptTokens: tokens - 1, completionTokens: 1 }, costNanoUsd, "model"))
  )

describe("HttpProblem with QuotaLimiter", () => {
  it.effect("a spent token or cost budget: RateLimit-* in units, the budget's numbers in the body", () =>
    Effect.gen(function*() {
      for (
        const [budget, options, limit, used] of [
          ["tokens", { dailyTokenBudget: 1_000_000 }, 1_000_000, 1_000_200],
          ["cost", { dailyCostBudgetNanoUsd: 5_000_000 }, 5_000_000, 6_000_000]
        ] as const
      ) {
        const quota = yield* limiter(options)
        yield* spend(quota, budget === "tokens" ? 1_000_200 : 10, budget === "cost" ? 6_000_000 : 0)
        const now = yield* DateTime.now
        const served = QuotaLimiter.rateLimitHeaders(yield* quota.remaining(teacher), now)
        assert.deepStrictEqual(served, {
          "RateLimit-Limit": "100",
          "RateLimit-Remaining": "99",
          "RateLimit-Reset": "7200"
        })

        const refused = yield* Effect.flip(quota.reserve(teacher))
        assert.strictEqual(refused._tag, "RateLimitExceeded")
        if (refused._tag !== "RateLimitExceeded") return
        const { headers, problem } = HttpProblem.toProblem(refused, now)
        // no unit count to give: the limit is left out, nothing more can be spent before the reset
        assert.deepStrictEqual(headers, {
          "RateLimit-Remaining": "0",
          "RateLimit-Reset": "7200",
          "Retry-After": "7200"
        })
        assert.strictEqual(problem.status, 429)
        assert.deepStrictEqual(
          [problem["budget"], problem["budgetLimit"], problem["budgetUsed"], problem["resetsAt"]],
          [budget, limit, used, "2026-05-11T00:00:00.000Z"]
        )
        assert.notProperty(problem, "limit")
        assert.include(problem.detail, String(limit))

        const response = HttpProblem.toResponse(refused, now)
        assert.strictEqual(response.status, 429)
        assert.isUndefined(response.headers["ratelimit-limit"])
        assert.strictEqual(response.headers["retry-after"], "7200")
      }
    }))

  it.effect("a spent daily limit keeps its unit headers and its limit in the body", () =>
    Effect.gen(function*() {
      const quota = yield* limiter({ dailyLimit: 2, dailyTokenBudget: 1_000_000 })
      yield* spend(quota, 10, 0)
      yield* spend(quota, 10, 0)
      const refused = yield* Effect.flip(quota.reserve(teacher))
      const { headers, problem } = HttpProblem.toProblem(refused, yield* DateTime.now)
      assert.deepStrictEqual(headers, {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "7200",
        "Retry-After": "7200"
      })
      assert.deepStrictEqual([problem.status, problem["limit"], problem["budget"]], [429, 2, undefined])
    }))

  it.effect("more units than the subject's whole day: 400 naming the subject's maximum, no Retry-After", () =>
    Effect.gen(function*() {
      const quota = yield* limiter({ overrides: QuotaLimiter.overridesFromRecord({ [teacher]: { daily: 10 } }) })
      yield* quota.checkRequestSize(15)
      const error = yield* Effect.flip(quota.withQuota(teacher, 15, () => Effect.void))
      const response = HttpProblem.toResponse(error, yield* DateTime.now)
      assert.strictEqual(response.status, 400)
      assert.isUndefined(response.headers["retry-after"])
      const { problem } = HttpProblem.toProblem(error, yield* DateTime.now)
      assert.deepStrictEqual(
        [problem.type, problem["field"], problem["requested"], problem["max"]],
        ["urn:baton:problem:TooManyQuestions", "questionCount", 15, 10]
      )
    }))
})
