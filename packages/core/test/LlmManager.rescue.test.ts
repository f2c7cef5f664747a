/**
 * The stream rescue scenarios, through `manager.stream`, for every wire
 * format, driven by the mock server's faults: what the caller received, the
 * attempts per provider, and the ledger and log against the mock's billing.
 * Time is the test clock: it moves only when a scenario moves it (a stall
 * outlives the idle limit, a first token outlives its limit, a healthy slow
 * stream takes one second per token).
 */
import * as MockFault from "@baton/testing/MockFault"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Cause, Clock, DateTime, Effect, Exit, Fiber, Layer, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import type { StreamPart } from "../src/GenerationResult.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { Bench, eventually, inject, type Kind, liveWait, manager, stats } from "./utils/chain.ts"

const prompt = "Explain tides to a child in three short sentences."
const answerOf = (kind: Kind) => `Mock answer from ${kind}: ${prompt}`
const healthyAnswer = Array.from({ length: 45 }, (_, i) => `t${i}`).join(" ")

const defaultModels: Record<Kind, string> = {
  openai: "gpt-4o-mini",
  deepseek: "deepseek-flash",
  gemini: "gemini-2.5-flash",
  anthropic: "claude-haiku-4-5"
}

const Services = Layer.mergeAll(RequestLog.layerMemory(), UsageLedger.layerMemory())

const policy = {
  maxRetries: 1,
  retryBaseDelayMs: 0,
  requestTimeoutMs: 120_000,
  limits: { attemptMs: 30_000, firstByteMs: 30_000, firstTokenMs: 10_000, idleMs: 10_000 }
}

/** How time passes in a scenario. */
type Time =
  | { readonly _tag: "still" }
  | { readonly _tag: "afterDelta"; readonly delta: number; readonly ms: number }
  | { readonly _tag: "beforeFirstToken"; readonly ms: number | "first-token limit" }
  | { readonly _tag: "perDelta"; readonly ms: number }
  /** The caller dwells on its first delta for `ms` of real time: what comes meanwhile waits for it, held. */
  | { readonly _tag: "dwellOnFirst"; readonly ms: number }

type Expected =
  | {
    readonly _tag: "whole"
    readonly text: (primary: Kind, fallback: Kind) => string
    readonly attempts: (primary: Kind, fallback: Kind) => ReadonlyArray<readonly [Kind, string | undefined]>
    readonly restart?: boolean
  }
  | { readonly _tag: "interrupted"; readonly restartedLength?: number }

interface Scenario {
  readonly name: string
  readonly kinds: ReadonlyArray<Kind>
  readonly chain: (primary: Kind, fallback: Kind) => ReadonlyArray<Kind>
  readonly faults: (primary: Kind) => ReadonlyArray<MockFault.MockFault>
  readonly time: Time
  readonly rescue?: "auto" | "restart" | "none"
  readonly hedgeDelayMs?: number
  readonly expected: Expected
}

const all: ReadonlyArray<Kind> = ["openai", "deepseek", "gemini", "anthropic"]
const prefillable: ReadonlyArray<Kind> = ["deepseek", "gemini", "anthropic"]
const fallbackOf = (kind: Kind): Kind => kind === "anthropic" ? "openai" : "anthropic"
const primaryAndFallback = (primary: Kind, fallback: Kind) => [primary, fallback]
const still: Time = { _tag: "still" }
const retried = (error: string) => (primary: Kind) => [[primary, error], [primary, undefined]] as const

/** A fault the primary gets over on its own retry: the whole answer is its own. */
const onRetry = (name: string, fault: MockFault.MockFault, error: string): Scenario => ({
  name,
  kinds: all,
  chain: primaryAndFallback,
  faults: () => [fault],
  time: still,
  expected: { _tag: "whole", text: answerOf, attempts: retried(error) }
})

/** A fault the fallback gets over: the whole answer is the fallback's. */
const onFallback = (
  name: string,
  fault: MockFault.MockFault,
  time: Time,
  error: string | undefined,
  hedgeDelayMs?: number
): Scenario => ({
  name,
  kinds: all,
  chain: primaryAndFallback,
  faults: () => [fault],
  time,
  ...(hedgeDelayMs === undefined ? {} : { hedgeDelayMs }),
  expected: {
    _tag: "whole",
    text: (_, fallback) => answerOf(fallback),
    attempts: (primary, fallback) => [[primary, error], [fallback, undefined]]
  }
})

const scenarios: ReadonlyArray<Scenario> = [
  onRetry("cut after 2 tokens", MockFault.cutStreamAfter(2), "ProviderConnectionFailed"),
  {
    ...onRetry(
      "cut after 2 tokens while the caller dwells on the first",
      MockFault.cutStreamAfter(2),
      "ProviderConnectionFailed"
    ),
    time: { _tag: "dwellOnFirst", ms: 200 }
  },
  onFallback(
    "stall after 2 tokens",
    MockFault.stallMidStream("forever", { after: 2 }),
    { _tag: "afterDelta", delta: 2, ms: 10_001 },
    "ProviderTimeout"
  ),
  onRetry("malformed event after 2 tokens", MockFault.malformedEventAfter(2), "MalformedResponse"),
  // Gemini's finish is its last chunk: without it the answer is cut
  { ...onRetry("no terminator", MockFault.noTerminator, "MalformedResponse"), kinds: ["gemini"] },
  {
    name: "closed after its finish and usage, before its end marker (not broken)",
    kinds: ["openai", "deepseek", "anthropic"],
    chain: primaryAndFallback,
    faults: () => [MockFault.noTerminator],
    time: still,
    expected: { _tag: "whole", text: answerOf, attempts: (primary) => [[primary, undefined]] }
  },
  {
    name: "cut, then the prefill rejected",
    kinds: prefillable,
    chain: primaryAndFallback,
    faults: () => [MockFault.cutStreamAfter(2), MockFault.rejectPrefill],
    time: still,
    expected: {
      _tag: "whole",
      text: answerOf,
      attempts: (primary) => [[primary, "ProviderConnectionFailed"], [primary, "InvalidRequest"], [primary, undefined]]
    }
  },
  onFallback(
    "slow first token",
    MockFault.slowFirstToken(600_000),
    { _tag: "beforeFirstToken", ms: "first-token limit" },
    "ProviderTimeout"
  ),
  onFallback(
    "slow first token, hedged after 2 s",
    MockFault.slowFirstToken(600_000),
    { _tag: "beforeFirstToken", ms: 2_000 },
    undefined,
    2_000
  ),
  onRetry("503 before the first token", MockFault.status(503), "ProviderUnavailable"),
  onRetry("429 before the first token", MockFault.rateLimited({ retryAfter: "0" }), "ProviderRateLimited"),
  {
    name: "healthy 45 s stream, 1 token/s",
    kinds: all,
    chain: primaryAndFallback,
    faults: () => [MockFault.slowTokens(5, { content: healthyAnswer })],
    time: { _tag: "perDelta", ms: 1_000 },
    expected: { _tag: "whole", text: () => healthyAnswer, attempts: (primary) => [[primary, undefined]] }
  },
  {
    // a provider that takes a prefill restarts too: "restart" never continues the cut answer
    name: "restart mode after a cut",
    kinds: all,
    chain: primaryAndFallback,
    faults: () => [MockFault.cutStreamAfter(2)],
    time: still,
    rescue: "restart",
    expected: { _tag: "whole", text: answerOf, attempts: retried("ProviderConnectionFailed"), restart: true }
  },
  {
    name: "restart mode, the restart fails before its first token (unrescuable)",
    kinds: ["openai"],
    chain: (primary) => [primary],
    faults: () => [MockFault.cutStreamAfter(2), MockFault.status(503)],
    time: still,
    rescue: "restart",
    expected: { _tag: "interrupted" }
  },
  {
    name: "every route cut (unrescuable)",
    kinds: all,
    chain: (primary) => [primary],
    faults: () => [MockFault.cutStreamAfter(2), MockFault.cutStreamAfter(2)],
    time: still,
    expected: { _tag: "interrupted" }
  },
  {
    // a fallback that could continue the text is not tried: a restarted answer that differs ends the rescue
    name: "restarted answer diverges (unrescuable)",
    kinds: ["openai"],
    chain: primaryAndFallback,
    faults: () => [MockFault.cutStreamAfter(3), MockFault.content("Mock answer differs here")],
    time: still,
    expected: { _tag: "interrupted", restartedLength: 12 }
  },
  {
    name: "rescue none after a cut",
    kinds: all,
    chain: primaryAndFallback,
    faults: () => [MockFault.cutStreamAfter(2)],
    time: still,
    rescue: "none",
    expected: { _tag: "interrupted" }
  }
]

const rows: Array<string> = []

afterAll(() => {
  // the closing note's table: fault × wire format → outcome, attempts, time to the last delta
  console.log(
    ["| scenario | format | outcome | attempts | last delta at |", "|---|---|---|---|---|", ...rows].join("\n")
  )
})

const textOf = (parts: ReadonlyArray<StreamPart>): string =>
  parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")

/** Runs the stream, moving the test clock as the scenario says; returns what the caller received. */
const play = <E>(stream: Stream.Stream<StreamPart, E>, time: Time, primary: Kind, firstTokenMs: number) =>
  Effect.gen(function*() {
    const parts: Array<StreamPart> = []
    let deltas = 0
    let lastDeltaAt = 0
    const onPart = (part: StreamPart) =>
      Effect.gen(function*() {
        parts.push(part)
        if (part._tag !== "TextDelta") return
        deltas++
        lastDeltaAt = yield* Clock.currentTimeMillis
        if (time._tag === "perDelta") yield* TestClock.adjust(time.ms)
        if (time._tag === "dwellOnFirst" && deltas === 1) yield* liveWait(time.ms)
        if (time._tag === "afterDelta" && time.delta === deltas) {
          yield* liveWait(80)
          yield* TestClock.adjust(time.ms)
        }
      })
    const fiber = yield* Effect.forkChild(Effect.exit(Stream.runForEach(stream, onPart)))
    if (time._tag === "beforeFirstToken") {
      // the primary's headers must have arrived (its first-token phase began) before time passes
      yield* eventually(Effect.map(stats(primary), (s) => s.requests >= 1))
      yield* liveWait(200)
      yield* TestClock.adjust(time.ms === "first-token limit" ? firstTokenMs + 1 : time.ms)
    }
    const exit = yield* Fiber.join(fiber)
    return { parts, exit, lastDeltaAt }
  })

const tokensOf = (records: ReadonlyArray<{ readonly promptTokens: number; readonly completionTokens: number }>) =>
  records.reduce<readonly [number, number]>(
    (sum, r) => [sum[0] + r.promptTokens, sum[1] + r.completionTokens],
    [0, 0]
  )

describe("LlmManager.stream rescue scenarios (mock faults, TestClock)", () => {
  for (const scenario of scenarios) {
    for (const primary of scenario.kinds) {
      const fallback = fallbackOf(primary)
      it.effect(`${scenario.name} on ${primary}`, () =>
        Effect.gen(function*() {
          const chain = scenario.chain(primary, fallback)
          const llm = yield* manager({
            chain,
            policy: {
              ...policy,
              ...(scenario.hedgeDelayMs === undefined ? {} : { hedgeDelayMs: scenario.hedgeDelayMs })
            }
          })
          for (const fault of scenario.faults(primary)) yield* inject(primary, fault)
          const input = {
            prompt,
            ...(scenario.rescue === undefined ? {} : { options: { rescue: scenario.rescue } })
          }
          // the primary's own first-token limit (a thinking model such as gemini-2.5-flash waits longer)
          const limits = FallbackPolicy.make(policy).limits
          const firstTokenMs = FallbackPolicy.firstTokenLimit(limits, primary, defaultModels[primary])
          const { exit, lastDeltaAt, parts } = yield* play(llm.stream(input), scenario.time, primary, firstTokenMs)
          const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
          const attempts: ReadonlyArray<readonly [string, string | undefined]> = records.map((r) =>
            [r.provider, r.errorTag ?? undefined] as const
          )
          const expected = scenario.expected
          const finishes = parts.filter((part) => part._tag === "Finish")

          if (expected._tag === "whole") {
            if (Exit.isFailure(exit)) return assert.fail(`expected a whole answer, got ${Cause.pretty(exit.cause)}`)
            const restartAt = parts.findIndex((part) => part._tag === "Restart")
            assert.strictEqual(restartAt >= 0, expected.restart === true)
            assert.strictEqual(textOf(parts.slice(restartAt + 1)), expected.text(primary, fallback))
            assert.strictEqual(finishes.length, 1)
            assert.strictEqual(parts.at(-1)?._tag, "Finish")
            assert.deepStrictEqual(attempts, expected.attempts(primary, fallback))
          } else {
            if (Exit.isSuccess(exit)) return assert.fail("expected StreamInterrupted")
            const error = Cause.findErrorOption(exit.cause)
            if (Option.isNone(error) || error.value._tag !== "StreamInterrupted") {
              return assert.fail(`expected StreamInterrupted, got ${Cause.pretty(exit.cause)}`)
            }
            const interrupted = error.value
            assert.strictEqual(finishes.length, 0)
            assert.strictEqual(interrupted.partialText, textOf(parts))
            assert.isAbove(interrupted.partialText.length, 0)
            assert.strictEqual(interrupted.restartedLength, expected.restartedLength)
            // like AllProvidersFailed, the error lists every attempt of the request, as the log recorded them
            assert.deepStrictEqual(interrupted.attempts?.map((a) => [a.provider, a.error?._tag] as const), attempts)
          }

          // provider by provider, the mock billed at least what the log says was reported and at most what the log
          // holds: an attempt cut after text before its whole usage is estimated (the mock bills it what it reported
          // by then: nothing, or Anthropic's `message_start`; the estimate counts the text that came), and the
          // ledger holds the same as the log
          const ledger = yield* UsageLedger.UsageLedger
          const day = UsageLedger.dayOf(DateTime.makeUnsafe(0), "UTC")
          for (const record of records.filter((r) => !r.usageReported && r.usageEstimated)) {
            assert.isAbove(record.completionTokens, 0, `${record.provider} estimated`)
          }
          for (const kind of chain) {
            const reported = tokensOf(records.filter((r) => r.provider === kind && r.usageReported))
            const logged = tokensOf(records.filter((r) => r.provider === kind))
            yield* eventually(
              Effect.map(stats(kind), (s) => s.promptTokens >= reported[0] && s.completionTokens >= reported[1])
            )
            const billed = yield* stats(kind)
            // one record per call the mock received: none lost, none written twice
            const called = records.filter((r) => r.provider === kind && r.outcome !== "skipped")
            assert.strictEqual(called.length, billed.requests, `${kind} calls`)
            assert.isAtMost(billed.promptTokens, logged[0], `${kind} input`)
            assert.isAtMost(billed.completionTokens, logged[1], `${kind} output`)
            const rows = (yield* ledger.usageByProvider(day, day)).filter((row) => row.provider === kind)
            assert.deepStrictEqual(tokensOf(rows), logged)
          }

          const outcome = expected._tag === "whole"
            ? (finishes[0]?.rescued === true ? "rescued" : "whole")
            : "StreamInterrupted"
          const list = records.map((r) => `${r.provider}${r.errorTag === null ? "" : `:${r.errorTag}`}`).join(", ")
          rows.push(`| ${scenario.name} | ${primary} | ${outcome} | ${list} | ${lastDeltaAt} ms |`)
        }).pipe(Effect.provide(Bench), Effect.provide(Services)))
    }
  }

  it.effect("a restarted answer that diverged is the provider answering: its circuit counts the cut alone", () =>
    Effect.gen(function*() {
      // two failures in a row open the circuit: the cut and, wrongly, the divergence would
      const llm = yield* manager({ chain: ["openai"], policy, circuit: { failureThreshold: 2, cooldownMs: 60_000 } })
      yield* inject("openai", MockFault.cutStreamAfter(3))
      yield* inject("openai", MockFault.content("Mock answer differs here"))
      const broken = yield* Effect.flip(Stream.runDrain(llm.stream({ prompt })))
      assert.strictEqual(broken._tag === "StreamInterrupted" ? broken.restartedLength : undefined, 12)
      const next = yield* Stream.runCollect(llm.stream({ prompt }))
      assert.strictEqual(textOf(next), answerOf("openai"))
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))
})
