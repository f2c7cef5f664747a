/**
 * Quotas through the manager: units and budgets are spent by real calls to
 * the mock provider server (time is the TestClock, so the day is 1970-01-01).
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { SubjectId } from "../src/Ids.ts"
import { QuotaStoreUnavailable } from "../src/LlmError.ts"
import * as QuotaLimiter from "../src/QuotaLimiter.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { Bench, type ChainOptions, inject, managerWithQuota, stats } from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about the moon." }
const teacher = SubjectId.make("teacher-quota")
const asTeacher = { ...prompt, metadata: { subjectId: teacher } }

/** A manager over a quota whose store the test can read: `spent` is the teacher's usage today. */
const withQuota = (quota: Partial<QuotaLimiter.Options>, chain: ChainOptions) =>
  Effect.map(
    managerWithQuota(quota, chain),
    ({ llm, store }) => ({ llm, spent: store.usage({ subjectId: teacher, day: "1970-01-01" }) })
  )

/** Tokens the server billed for a provider so far. */
const billed = (kind: Parameters<typeof stats>[0]) =>
  Effect.map(stats(kind), (s) => s.promptTokens + s.completionTokens)

describe("LlmManager quotas", () => {
  it.effect("failOpen: a request whose overrides lookup is down is served, and nothing is held", () =>
    Effect.gen(function*() {
      const down = new QuotaStoreUnavailable({ message: "overrides store refused the connection" })
      const { llm, spent } = yield* withQuota(
        { failOpen: true, overrides: () => Effect.fail(down) },
        { chain: ["openai"] }
      )
      const result = yield* llm.generate(asTeacher)
      assert.strictEqual(result.provider, "openai")
      assert.deepStrictEqual(yield* spent, { units: 0, tokens: 0, costNanoUsd: 0 })
    }).pipe(Effect.provide(Bench)))

  it.effect("a request every circuit refuses asks no quota and spends nothing: AllProvidersFailed, even out of units", () =>
    Effect.gen(function*() {
      const { llm, spent } = yield* withQuota(
        { dailyLimit: 1 },
        { chain: ["openai", "anthropic"], circuit: { failureThreshold: 1, cooldownMs: 60_000 } }
      )
      yield* llm.generate(asTeacher)
      const before = yield* spent
      assert.strictEqual(before.units, 1)
      yield* inject("openai", MockFault.status(503), { times: 1 })
      yield* inject("anthropic", MockFault.status(503), { times: 1 })
      // both fail and open their circuits; then both circuits refuse, which the manager remembers
      for (let i = 0; i < 2; i++) yield* Effect.flip(llm.generate(prompt))
      const calls = (yield* stats("openai")).requests + (yield* stats("anthropic")).requests
      const refused = yield* Effect.flip(llm.generate(asTeacher))
      assert.strictEqual(refused._tag, "AllProvidersFailed")
      if (refused._tag !== "AllProvidersFailed") return
      assert.deepStrictEqual(
        refused.attempts.map((a): Array<string | undefined> => [a.provider, a.outcome, a.error?._tag]),
        [
          ["openai", "skipped", "CircuitOpen"],
          ["anthropic", "skipped", "CircuitOpen"]
        ]
      )
      assert.strictEqual((yield* stats("openai")).requests + (yield* stats("anthropic")).requests, calls)
      assert.deepStrictEqual(yield* spent, before)
    }).pipe(Effect.provide(Bench)))

  it.effect("charges the token budget with each call's usage and refuses once it is spent", () =>
    Effect.gen(function*() {
      const { llm, spent } = yield* withQuota({ dailyTokenBudget: 10 }, { chain: ["openai"] })
      const first = yield* llm.generate(asTeacher)
      assert.isAbove(first.usage.totalTokens, 10)
      for (let i = 0; i < 3; i++) {
        const refused = yield* Effect.flip(llm.generate(asTeacher))
        assert.strictEqual(refused._tag, "RateLimitExceeded")
        if (refused._tag !== "RateLimitExceeded") return
        assert.deepStrictEqual([refused.budget, refused.limit, refused.used], ["tokens", 10, first.usage.totalTokens])
      }
      assert.strictEqual((yield* stats("openai")).requests, 1)
      assert.deepStrictEqual(yield* spent, {
        units: 1,
        tokens: first.usage.totalTokens,
        costNanoUsd: first.usage.costNanoUsd
      })
    }).pipe(Effect.provide(Bench)))

  it.effect("charges the cost budget in nano-USD and refuses once it is spent", () =>
    Effect.gen(function*() {
      const { llm, spent } = yield* withQuota({ dailyCostBudgetNanoUsd: 1 }, { chain: ["openai"] })
      const first = yield* llm.generate(asTeacher)
      assert.isAbove(first.usage.costNanoUsd, 0)
      const refused = yield* Effect.flip(llm.generate(asTeacher))
      assert.strictEqual(refused._tag === "RateLimitExceeded" ? refused.budget : refused._tag, "cost")
      assert.strictEqual((yield* spent).costNanoUsd, first.usage.costNanoUsd)
    }).pipe(Effect.provide(Bench)))

  it.effect("charges what failed attempts billed, on the provider that failed and the one that served", () =>
    Effect.gen(function*() {
      const { llm, spent } = yield* withQuota({ dailyTokenBudget: 1_000_000 }, {
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 1 }
      })
      yield* inject("openai", MockFault.content("{\"wrong\": 1}"), { times: 2 })
      const result = yield* llm.generateStructured(asTeacher, Schema.Struct({ question: Schema.String }))
      assert.strictEqual(result.provider, "anthropic")
      const openai = yield* billed("openai")
      assert.isAbove(openai, 0)
      const usage = yield* spent
      assert.strictEqual(usage.units, 1)
      // the result's usage is what the whole request billed, re-asks and the failed provider included
      assert.strictEqual(usage.tokens, result.usage.totalTokens)
      assert.strictEqual(usage.tokens, openai + (yield* billed("anthropic")))
    }).pipe(Effect.provide(Bench)))

  it.effect("a stream the caller stops right after its Finish keeps its unit: the request was served", () =>
    Effect.gen(function*() {
      const { llm, spent } = yield* withQuota({ dailyTokenBudget: 1_000_000 }, { chain: ["openai"] })
      let tokens = 0
      for (let i = 0; i < 3; i++) {
        const parts = yield* Stream.runCollect(
          Stream.takeUntil(llm.stream(asTeacher), (part) => part._tag === "Finish")
        )
        const finish = parts.at(-1)
        assert.strictEqual(finish?._tag, "Finish")
        if (finish?._tag === "Finish") tokens += finish.usage.totalTokens
      }
      assert.deepStrictEqual(yield* spent, { units: 3, tokens, costNanoUsd: (yield* spent).costNanoUsd })
    }).pipe(Effect.provide(Bench)))

  // DeepSeek reports its usage at the end only; Anthropic at the start too (`message_start`: 1 output token)
  for (const kind of ["deepseek", "anthropic"] as const) {
    it.effect(`${kind}: a stream the caller stops once text reached it gives its unit back and is charged an estimate of what it billed`, () =>
      Effect.gen(function*() {
        const { llm, spent } = yield* withQuota({ dailyTokenBudget: 1_000_000 }, { chain: [kind] })
        // events 20 ms apart (real time, at the server; the test clock stands still): the usage at the end is
        // never reached
        yield* inject(kind, MockFault.slowTokens(20))
        const parts = yield* Stream.runCollect(Stream.take(llm.stream(asTeacher), 3))
        assert.deepStrictEqual(parts.map((part) => part._tag), ["TextDelta", "TextDelta", "TextDelta"])
        const text = parts.map((part) => part._tag === "TextDelta" ? part.text : "").join("")
        const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
        assert.deepStrictEqual(records.map((r) => [r.outcome, r.usageEstimated]), [["cancelled", true]])
        const [cut] = records
        // at least the text the caller got, four characters a token
        assert.isAtLeast(cut?.completionTokens ?? 0, Math.ceil(text.length / 4))
        assert.deepStrictEqual(yield* spent, {
          units: 0,
          tokens: cut?.totalTokens ?? 0,
          costNanoUsd: cut?.costNanoUsd ?? 0
        })
      }).pipe(Effect.provide(Bench), Effect.provide(RequestLog.layerMemory())))
  }

  it.effect("a request that fails gives its unit back but stays charged with what it billed", () =>
    Effect.gen(function*() {
      const { llm, spent } = yield* withQuota({ dailyTokenBudget: 1_000_000 }, { chain: ["openai"] })
      yield* inject("openai", MockFault.content("{\"wrong\": 1}"), { times: 2 })
      const error = yield* Effect.flip(llm.generateStructured(asTeacher, Schema.Struct({ question: Schema.String })))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      const usage = yield* spent
      assert.strictEqual(usage.units, 0)
      assert.strictEqual(usage.tokens, yield* billed("openai"))
      assert.isAbove(usage.tokens, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("refuses more units than the per-request maximum with TooManyQuestions before any network call", () =>
    Effect.gen(function*() {
      const { llm, spent } = yield* withQuota({ maxQuestionsPerRequest: 5 }, { chain: ["openai"] })
      for (const metadata of [{ subjectId: teacher, units: 6 }, { units: 6 }]) {
        const error = yield* Effect.flip(llm.generate({ ...prompt, metadata }))
        assert.strictEqual(error._tag, "TooManyQuestions")
        if (error._tag !== "TooManyQuestions") return
        assert.deepStrictEqual([error.requested, error.max], [6, 5])
      }
      const streamed = yield* Effect.flip(Stream.runDrain(llm.stream({ ...prompt, metadata: { units: 6 } })))
      assert.strictEqual(streamed._tag, "TooManyQuestions")
      const server = yield* MockProviderServer.MockProviderServer
      assert.deepStrictEqual(yield* server.received(), [])
      assert.strictEqual((yield* spent).units, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("past both limits, TooManyQuestions names the subject's smaller daily limit, as one past its day alone does", () =>
    Effect.gen(function*() {
      const small = SubjectId.make("teacher-small")
      const { llm } = yield* withQuota({
        maxQuestionsPerRequest: 20,
        dailyLimit: 10,
        overrides: QuotaLimiter.overridesFromRecord({ [small]: { daily: 5 } })
      }, { chain: ["openai"] })
      const maxFor = (subjectId: SubjectId, units: number) =>
        Effect.map(
          Effect.flip(llm.generate({ ...prompt, metadata: { subjectId, units } })),
          (error) => error._tag === "TooManyQuestions" ? [error.requested, error.max] : error._tag
        )
      assert.deepStrictEqual(yield* maxFor(small, 25), [25, 5])
      assert.deepStrictEqual(yield* maxFor(small, 20), [20, 5])
      assert.deepStrictEqual(yield* maxFor(teacher, 21), [21, 10])
      assert.deepStrictEqual(yield* (yield* MockProviderServer.MockProviderServer).received(), [])
    }).pipe(Effect.provide(Bench)))

  it.effect("reserves the request's units of the daily limit", () =>
    Effect.gen(function*() {
      const { llm, spent } = yield* withQuota({ dailyLimit: 10 }, { chain: ["openai"] })
      const asking = (units: number) => ({ ...prompt, metadata: { subjectId: teacher, units } })
      yield* llm.generate(asking(4))
      yield* llm.generate(asking(5))
      assert.strictEqual((yield* spent).units, 9)
      const refused = yield* Effect.flip(llm.generate(asking(2)))
      assert.strictEqual(refused._tag, "RateLimitExceeded")
      if (refused._tag !== "RateLimitExceeded") return
      assert.deepStrictEqual([refused.limit, refused.used], [10, 9])
      yield* llm.generate(asking(1))
      assert.strictEqual((yield* spent).units, 10)
      assert.strictEqual((yield* stats("openai")).requests, 3)
    }).pipe(Effect.provide(Bench)))

  it.effect("a day rollover on the TestClock with a usage ledger in context: the clock moves in one flush, not one per flushInterval", () =>
    Effect.gen(function*() {
      const { llm } = yield* managerWithQuota({ dailyLimit: 1, timeZone: "America/New_York" }, { chain: ["openai"] })
      // the ledger's layer was built at 0: 56 years of flush intervals lie behind this jump
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.makeUnsafe("2026-03-08T23:00:00-04:00")))
      yield* llm.generate(asTeacher)
      assert.strictEqual((yield* Effect.flip(llm.generate(asTeacher)))._tag, "RateLimitExceeded")
      yield* TestClock.adjust("1 hour")
      yield* llm.generate(asTeacher)
      const ledger = yield* UsageLedger.UsageLedger
      const days = yield* ledger.dailyTotals(UsageLedger.Day.make("2026-03-08"), UsageLedger.Day.make("2026-03-09"))
      assert.deepStrictEqual(days.map((row) => [row.day, row.requests]), [["2026-03-08", 1], ["2026-03-09", 1]])
    }).pipe(Effect.provide([Bench, UsageLedger.layerMemory({ timeZone: "America/New_York" })])))

  it.effect("units that are not a positive integer are InvalidOptions naming metadata.units, and why", () =>
    Effect.gen(function*() {
      const { llm } = yield* withQuota({}, { chain: ["openai"] })
      const range = "Expected a value between 1 and 9007199254740991"
      const cases = [
        [0, range],
        [-1, range],
        [1.5, "Expected an integer"],
        [Number.NaN, "Expected a finite number"],
        [Number.POSITIVE_INFINITY, "Expected a finite number"],
        [1e20, range], // a whole number, out of range: not "Expected an integer"
        [1e300, range]
      ] as const
      for (const [units, why] of cases) {
        const error = yield* Effect.flip(llm.generate({ ...prompt, metadata: { subjectId: teacher, units } }))
        assert.strictEqual(error._tag, "InvalidOptions")
        if (error._tag !== "InvalidOptions") return
        assert.strictEqual(error.field, "metadata.units")
        assert.include(error.message, why, `units ${units}`)
      }
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("a bad per-subject override is QuotaStoreUnavailable through the manager, never a defect, before any call", () =>
    Effect.gen(function*() {
      const { llm } = yield* withQuota(
        { overrides: QuotaLimiter.overridesFromRecord({ [teacher]: { daily: 2.5 } }) },
        { chain: ["openai"] }
      )
      for (let i = 0; i < 3; i++) {
        const error = yield* Effect.flip(llm.generate(asTeacher))
        assert.strictEqual(error._tag, "QuotaStoreUnavailable")
        assert.include(error.message, "QuotaLimiter.overrides.daily: must be a positive integer, got 2.5")
      }
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(Bench)))
})
