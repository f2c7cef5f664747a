import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Cause, DateTime, Effect, Exit, Fiber, Layer, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { SubjectId } from "../src/Ids.ts"
import * as ProviderThrottle from "../src/ProviderThrottle.ts"
import * as QuotaLimiter from "../src/QuotaLimiter.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import {
  assertSkippedOpenAi,
  Bench,
  eventually,
  inject,
  liveWait,
  manager,
  managerWithQuota,
  stats
} from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about the moon." }
const teacher = SubjectId.make("teacher-7")

const Services = Layer.mergeAll(
  RequestLog.layerMemory(),
  UsageLedger.layerMemory(),
  QuotaLimiter.layerMemoryWith({ maxQuestionsPerRequest: 20, dailyLimit: 10, timeZone: "UTC" })
)

/** Timers pending in this process: a fiber left sleeping holds one. */
const pendingTimers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length

/** The fewest timers pending over 150 ms: past vitest's own task-update timer (at most 100 ms), which comes and goes. */
const settledTimers = Effect.gen(function*() {
  let fewest = pendingTimers()
  for (let i = 0; i < 15; i++) {
    yield* liveWait(10)
    fewest = Math.min(fewest, pendingTimers())
  }
  return fewest
})

const usedToday = Effect.flatMap(QuotaLimiter.QuotaLimiter, (quota) => quota.remaining(teacher))

describe("LlmManager lifecycle", () => {
  it.live("interruption mid-call aborts the HTTP request and still runs every finaliser", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.latency(10_000))
      const timersBefore = pendingTimers()
      const fiber = yield* Effect.forkChild(llm.generate({ ...prompt, metadata: { subjectId: teacher } }))
      yield* eventually(Effect.map(stats("openai"), (s) => s.requests === 1))
      assert.strictEqual((yield* usedToday).used, 1) // the unit is held while the call runs

      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))

      // the attempt is logged as cancelled, the quota refunded, the connection closed
      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      assert.deepStrictEqual(records.map((r) => [r.provider, r.outcome]), [["openai", "cancelled"]])
      assert.strictEqual((yield* usedToday).used, 0)
      yield* eventually(Effect.map(stats("openai"), (s) => s.cancelled === 1))
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
      // nothing of the call is left waiting: no watchdog, deadline or retry timer (each a sleeping fiber)
      yield* eventually(Effect.sync(() => pendingTimers() <= timersBefore))
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  it.live("the watchdog holds the process open only while a call runs, also after a later call checked earlier", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      yield* inject("openai", MockFault.latency(300))
      // (no request log or ledger here: their writers flush on a 1 s timer of their own)
      const timersBefore = yield* settledTimers
      // the first call is watched until its first byte (10 s); the second's 5 s deadline wakes the watchdog earlier
      const first = yield* Effect.forkChild(llm.generate(prompt))
      yield* eventually(Effect.map(stats("openai"), (s) => s.requests === 1))
      yield* llm.generate({ ...prompt, options: { timeout: "5 seconds" } })
      yield* Fiber.join(first)
      // every call ended: the watchdog's timer no longer keeps a script from exiting (idle, it is unref'd)
      yield* eventually(Effect.sync(() => pendingTimers() <= timersBefore), 1_000)
    }).pipe(Effect.provide(Bench)))

  it.live("a caller that stops reading a stream interrupts the provider's stream", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini", "anthropic"] })
      yield* inject("gemini", MockFault.stallMidStream("forever"))
      const first = yield* Stream.runHead(llm.stream({ ...prompt, metadata: { subjectId: teacher } }))
      assert.strictEqual(first._tag, "Some")
      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      assert.deepStrictEqual(records.map((r) => [r.provider, r.outcome]), [["gemini", "cancelled"]])
      assert.strictEqual((yield* usedToday).used, 0)
      yield* eventually(Effect.map(stats("gemini"), (s) => s.cancelled === 1))
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  it.live("records every attempt in the request log and the usage ledger, and spends one unit of quota", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { hedgeDelayMs: 50 } })
      yield* inject("openai", MockFault.latency(2_000))
      const result = yield* llm.generate({ ...prompt, metadata: { subjectId: teacher } })
      assert.strictEqual(result.provider, "anthropic")
      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      assert.sameMembers(records.map((r) => `${r.provider}:${r.role}:${r.outcome}`), [
        "openai:primary:cancelled",
        "anthropic:hedge:success"
      ])
      // a hedged request counts once against the quota
      assert.strictEqual((yield* usedToday).used, 1)
      const ledger = yield* UsageLedger.UsageLedger
      const byProvider = yield* ledger.usageByProvider(
        UsageLedger.Day.make("2000-01-01"),
        UsageLedger.Day.make("2100-01-01"),
        { subjectId: teacher }
      )
      assert.deepStrictEqual(byProvider.map((row) => row.provider), ["anthropic"])
      assert.strictEqual(byProvider[0]?.totalTokens, result.usage.totalTokens)
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  it.live("answers that were billed but failed (schema mismatch) reach the usage ledger and the log", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { maxRetries: 1 } })
      yield* inject("openai", MockFault.content("{\"wrong\": 1}"), { times: 2 })
      const before = yield* stats("openai")
      const result = yield* llm.generateStructured(
        { ...prompt, metadata: { subjectId: teacher } },
        Schema.Struct({ question: Schema.String })
      )
      assert.strictEqual(result.provider, "anthropic")
      const billed = yield* stats("openai")
      const ledger = yield* UsageLedger.UsageLedger
      const byProvider = yield* ledger.usageByProvider(
        UsageLedger.Day.make("2000-01-01"),
        UsageLedger.Day.make("2100-01-01"),
        { subjectId: teacher }
      )
      const openai = byProvider.find((row) => row.provider === "openai")
      assert.strictEqual(openai?.attempts, 2)
      assert.strictEqual(openai?.promptTokens, billed.promptTokens - before.promptTokens)
      assert.strictEqual(openai?.completionTokens, billed.completionTokens - before.completionTokens)
      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      const failed = records.filter((r) => r.requestId === result.requestId && r.provider === "openai")
      assert.deepStrictEqual(failed.map((r) => r.errorTag), ["StructuredOutputInvalid", "StructuredOutputInvalid"])
      assert.isTrue(failed.every((r) => r.promptTokens > 0 && r.costNanoUsd > 0))
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  it.live("skips a provider whose local budget is spent, without a call, as a skipped attempt", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      assert.strictEqual((yield* llm.generate(prompt)).provider, "openai")
      assertSkippedOpenAi(yield* llm.generate(prompt), "ProviderThrottled")
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(
      Effect.provide(Bench),
      Effect.provide(ProviderThrottle.layerMemory({ openai: { requestsPerMinute: 1 } }))
    ))

  it.effect(
    "an outage of the primary under a steady trickle: served by the fallback, bounded by the circuit, back after it",
    () =>
      Effect.gen(function*() {
        // time is the TestClock: one request every 20 ms, the circuit cools down for 200 ms
        const cooldownMs = 200
        const llm = yield* manager({ chain: ["openai", "anthropic"], circuit: { failureThreshold: 2, cooldownMs } })
        // the outage: the primary's next 4 calls answer 503 (2 trip the circuit, 2 are failed probes)
        yield* inject("openai", MockFault.status(503), { times: 4 })
        const served: Array<string> = []
        for (let i = 0; i < 60; i++) {
          served.push((yield* llm.generate(prompt)).provider)
          yield* TestClock.adjust(20)
        }
        const primaryServed = served.filter((provider) => provider === "openai").length
        // every request was served; the primary saw only its 4 failures and its successes, not the trickle
        assert.strictEqual((yield* stats("openai")).requests, 4 + primaryServed)
        // 2 trips, then one probe per cool-down (every 10 requests): the 3rd probe finds it healthy
        const recovery = served.indexOf("openai")
        assert.isTrue(served.slice(0, recovery).every((provider) => provider === "anthropic"))
        assert.isAtLeast(recovery, 2 + 2 * (cooldownMs / 20))
        assert.isAtMost(recovery, 2 + 3 * (cooldownMs / 20) + 1)
        // once recovered, traffic stays on the primary
        assert.isTrue(served.slice(recovery).every((provider) => provider === "openai"))
      }).pipe(Effect.provide(Bench))
  )
})

describe("LlmManager keeps billed usage on cancellation", () => {
  it.live("a hedged request cancelled while both sides run charges the token budget what they were billed", () =>
    Effect.gen(function*() {
      const { llm, store } = yield* managerWithQuota(
        { dailyLimit: 10, dailyTokenBudget: 1_000_000 },
        { chain: ["openai", "anthropic"], policy: { hedgeDelayMs: 50 } }
      )
      // the primary never answers; the hedge reports its input tokens, sends one delta, then stalls
      yield* inject("openai", MockFault.noResponse)
      yield* inject("anthropic", MockFault.stallMidStream("forever", { after: 1 }))
      const fiber = yield* Effect.forkChild(llm.generate({ ...prompt, metadata: { subjectId: teacher } }))
      // both sides run (a generate's first success wins, not its first delta): the hedge's usage and delta reach
      // the client (real time), then the call is cancelled and both connections are closed
      yield* eventually(Effect.map(stats("anthropic"), (s) => s.requests === 1))
      yield* liveWait(250)
      yield* Fiber.interrupt(fiber)
      yield* eventually(Effect.map(stats("openai"), (s) => s.cancelled === 1))
      yield* eventually(Effect.map(stats("anthropic"), (s) => s.cancelled === 1))

      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      const billed = records.reduce((sum, r) => sum + r.promptTokens + r.completionTokens, 0)
      assert.isAbove(billed, 0)
      const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const charged = yield* store.usage({ subjectId: teacher, day })
      // the unit is refunded; the tokens both sides were billed are charged
      assert.deepStrictEqual([charged.units, charged.tokens], [0, billed])
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  for (const kind of ["openai", "anthropic"] as const) {
    it.live(`${kind}: a caller that cancels after the usage arrived, before the terminator, is still charged`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: [kind] })
        // the whole answer, its finish and its usage are sent; the terminator never comes
        yield* inject(kind, MockFault.stallMidStream("forever", { after: "end" }))
        let text = ""
        const fiber = yield* Effect.forkChild(
          Stream.runForEach(llm.stream(prompt), (part) =>
            Effect.sync(() => {
              if (part._tag === "TextDelta") text += part.text
            }))
        )
        yield* eventually(Effect.sync(() => text === `Mock answer from ${kind}: ${prompt.prompt}`))
        yield* liveWait(50)
        yield* Fiber.interrupt(fiber)

        const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
        assert.deepStrictEqual(records.map((r) => [r.provider, r.outcome, r.usageReported]), [[
          kind,
          "cancelled",
          true
        ]])
        const billed = yield* eventually(Effect.map(stats(kind), (s) => s.cancelled === 1)).pipe(
          Effect.andThen(stats(kind))
        )
        assert.isAbove(billed.completionTokens, 0)
        assert.strictEqual(records[0]?.promptTokens, billed.promptTokens)
        assert.strictEqual(records[0]?.completionTokens, billed.completionTokens)
        const ledger = yield* UsageLedger.UsageLedger
        const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
        const rows = yield* ledger.usageByProvider(day, day)
        assert.deepStrictEqual(
          rows.map((r): ReadonlyArray<unknown> => [r.provider, r.promptTokens, r.completionTokens]),
          [
            [kind, billed.promptTokens, billed.completionTokens]
          ]
        )
      }).pipe(Effect.provide(Bench), Effect.provide(Services)))
  }
})
