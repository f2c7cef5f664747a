/**
 * The manager's time through real HTTP: every limit, backoff, hedge and
 * cool-down runs on the `TestClock`, and no assertion reads the wall clock.
 * Real time remains only where the mock server holds a reply (its faults
 * run on real timers): the probe held 1 s while a second call is admitted,
 * the 300 ms a slow caller waits for the next words to reach it, and
 * `eventually`'s 5-10 s guards, which only bound a hang.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Fiber, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import type { StreamPart } from "../src/GenerationResult.ts"
import { ProviderName } from "../src/Ids.ts"
import { DeadlineExceeded } from "../src/LlmError.ts"
import type * as LlmRequest from "../src/LlmRequest.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import {
  assertSkippedOpenAi,
  assertStraightToFallback,
  Bench,
  eventually,
  inject,
  liveWait,
  manager,
  pick,
  runDriven,
  stats,
  tripOnFirstFailure
} from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about volcanoes." }
const openai = ProviderName.make("openai")

/** The answer {@link dwellingCaller} is streamed, a word an event. */
const slowAnswer = "Lava is molten rock."

const textOf = (parts: ReadonlyArray<StreamPart>): string =>
  parts.map((part) => part._tag === "TextDelta" ? part.text : "").join("")

/**
 * OpenAI (then Anthropic) streaming {@link slowAnswer} an event per word, 20 ms apart in real time, to a caller
 * that dwells on its first part while more of the answer comes and waits for it: `dwellMs` on the test clock.
 * The parts it took, and how the stream ended.
 */
const dwellingCaller = (options: LlmRequest.Input["options"], dwellMs: number) =>
  Effect.gen(function*() {
    const llm = yield* manager({
      chain: ["openai", "anthropic"],
      policy: { limits: { firstByteMs: 5_000, firstTokenMs: 5_000, idleMs: 300 } }
    })
    yield* inject("openai", MockFault.slowTokens(20, { content: slowAnswer }))
    const parts: Array<StreamPart> = []
    const exit = yield* Effect.exit(Stream.runForEach(llm.stream({ ...prompt, options }), (part) =>
      Effect.gen(function*() {
        if (parts.length === 0) {
          yield* liveWait(300)
          yield* TestClock.adjust(dwellMs)
        }
        parts.push(part)
      })))
    return { exit, parts }
  })

describe("LlmManager timing (TestClock for the manager's sleeps, real HTTP)", () => {
  it.effect("honours Retry-After when it fits the remaining budget", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 2, retryBaseDelayMs: 100, requestTimeoutMs: 60_000 }
      })
      yield* inject("openai", MockFault.rateLimited({ retryAfter: "2" }))
      const result = yield* runDriven(llm.generate(prompt), 100)
      assert.strictEqual(result.provider, "openai")
      assert.deepStrictEqual(result.attempts.map(pick("role", "outcome", "error")), [
        ["primary", "error", "ProviderRateLimited"],
        ["retry", "success", undefined]
      ])
      // the retry waited the server's 2 s, not the 100 ms backoff
      assert.isAtLeast(yield* Clock.currentTimeMillis, 2_000)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("an attempt's latency starts when it starts: a retry's does not count the backoff before it", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai"],
        policy: { maxRetries: 1, retryBaseDelayMs: 100, requestTimeoutMs: 60_000 }
      })
      yield* inject("openai", MockFault.rateLimited({ retryAfter: "5" }))
      const result = yield* runDriven(llm.generate(prompt), 100)
      assert.deepStrictEqual(result.attempts.map(pick("role", "outcome")), [
        ["primary", "error"],
        ["retry", "success"]
      ])
      // the request took the 5 s the server asked for; the retry's own call took only what the clock
      // moved while its reply was on the way
      assert.isAtLeast(yield* Clock.currentTimeMillis, 5_000)
      const retry = result.attempts[1]
      assert.isBelow(retry?.latencyMs ?? Number.NaN, 5_000)
    }).pipe(Effect.provide(Bench)))

  // the refused continuation is held 300 ms of real time while the clock moves in 10 ms steps: it took time
  it.effect("generate's latencyMs is the answering attempt's, not the refused continuation's before it", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek"], policy: { maxRetries: 1, retryBaseDelayMs: 0 } })
      yield* inject("deepseek", MockFault.cutStreamAfter(3))
      yield* inject("deepseek", MockFault.latency(300, MockFault.rejectPrefill))
      const result = yield* runDriven(llm.generate({ ...prompt, options: { reasoning: "none" } }), 10)
      assert.deepStrictEqual(result.attempts.map(pick("role", "outcome", "error")), [
        ["primary", "error", "ProviderConnectionFailed"],
        ["retry", "error", "InvalidRequest"],
        ["retry", "success", undefined]
      ])
      const [refused, answering] = [result.attempts[1]?.latencyMs ?? 0, result.attempts[2]?.latencyMs ?? 0]
      assert.isAbove(refused, 0)
      // the clock moves on while the result is built: read against both attempts, not equal to the answering one's
      assert.isAtLeast(result.latencyMs, answering)
      assert.isBelow(result.latencyMs, refused + answering)
    }).pipe(Effect.provide(Bench)))

  it.effect("goes straight to the next provider when Retry-After outlives the deadline", () =>
    Effect.gen(function*() {
      const result = yield* assertStraightToFallback({
        request: prompt,
        chain: ["openai", "anthropic"],
        fault: MockFault.rateLimited({ retryAfter: "30" }),
        error: "ProviderRateLimited"
      })
      assert.strictEqual(result.provider, "anthropic")
    }).pipe(Effect.provide(Bench)))

  it.effect("opens the circuit after the configured failures, skips without a call, probes once, closes", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        circuit: { failureThreshold: 2, cooldownMs: 30_000 }
      })
      yield* inject("openai", MockFault.status(503), { times: 2 })
      for (let i = 0; i < 2; i++) assert.strictEqual((yield* llm.generate(prompt)).provider, "anthropic")
      assert.strictEqual((yield* llm.circuitState(openai))._tag, "Open")

      // open: skipped at once, no request reaches the server
      assertSkippedOpenAi(yield* llm.generate(prompt), "CircuitOpen")
      assert.strictEqual((yield* stats("openai")).requests, 2)

      // after the cool-down, one probe at a time: a slow probe, and a second call meanwhile
      yield* TestClock.adjust("30 seconds")
      // the probe is held 1 s of real time at the server (the mock's latency is real time): the second
      // call is admitted within milliseconds of the probe reaching the server, a wide margin under load
      yield* inject("openai", MockFault.latency(1_000))
      const probe = yield* Effect.forkChild(llm.generate(prompt))
      yield* eventually(Effect.map(stats("openai"), (s) => s.requests === 3))
      const during = yield* llm.generate(prompt)
      assert.deepStrictEqual(during.attempts.map(pick("provider", "outcome")), [
        ["openai", "skipped"],
        ["anthropic", "success"]
      ])
      assert.strictEqual((yield* Fiber.join(probe)).provider, "openai")
      assert.strictEqual((yield* stats("openai")).requests, 3)

      // the successful probe closed the circuit
      assert.strictEqual((yield* llm.circuitState(openai))._tag, "Closed")
      assert.strictEqual((yield* llm.generate(prompt)).provider, "openai")
    }).pipe(Effect.provide(Bench)))

  it.effect("reopens the circuit when the probe fails", () =>
    Effect.gen(function*() {
      const llm = yield* tripOnFirstFailure(5_000)
      yield* inject("openai", MockFault.status(503), { times: 2 })
      yield* llm.generate(prompt)
      yield* TestClock.adjust("5 seconds")
      const probe = yield* llm.generate(prompt)
      assert.deepStrictEqual(probe.attempts.map(pick("provider", "error")), [
        ["openai", "ProviderUnavailable"],
        ["anthropic", undefined]
      ])
      assert.strictEqual((yield* llm.circuitState(openai))._tag, "Open")
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager limits (TestClock, real HTTP)", () => {
  /** Waits (real I/O) until `provider` has received `count` requests. */
  const received = (provider: "openai" | "anthropic" | "gemini", count: number) =>
    eventually(Effect.map(stats(provider), (s) => s.requests === count))

  it.effect("a provider that never answers: one attempt, then the fallback answers at the first-byte limit", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 2, limits: { firstByteMs: 1_000, firstTokenMs: 5_000, idleMs: 5_000 } }
      })
      yield* inject("openai", MockFault.noResponse, { times: 5 })
      const fiber = yield* Effect.forkChild(llm.generate(prompt))
      yield* received("openai", 1)
      yield* TestClock.adjust(1_000)
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.provider, "anthropic")
      const first = result.attempts[0]
      assert.strictEqual(first?.error?._tag, "ProviderTimeout")
      if (first?.error?._tag === "ProviderTimeout") assert.strictEqual(first.error.phase, "first-byte")
      assert.strictEqual((yield* stats("openai")).requests, 1)
      // the fallback ran at once: no other wait under test
      assert.strictEqual(yield* Clock.currentTimeMillis, 1_000)
    }).pipe(Effect.provide(Bench)))

  it.effect("detects a slow first token within its limit", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { limits: { firstByteMs: 5_000, firstTokenMs: 300, idleMs: 5_000 } }
      })
      yield* inject("openai", MockFault.slowFirstToken(60_000))
      // headers arrive at once (real I/O); the first token never comes within the time under test
      const result = yield* runDriven(llm.generate(prompt), 100)
      assert.strictEqual(result.provider, "anthropic")
      const first = result.attempts[0]
      if (first?.error?._tag !== "ProviderTimeout") return assert.fail(`expected a timeout, got ${first?.error?._tag}`)
      assert.strictEqual(first.error.phase, "first-token")
      assert.isBelow(yield* Clock.currentTimeMillis, 5_000)
    }).pipe(Effect.provide(Bench)))

  it.effect("a request naming another model than its provider's is timed by that model's first-token limit", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { limits: { firstByteMs: 5_000, firstTokenMs: 300, thinkingFirstTokenMs: 2_000, idleMs: 5_000 } }
      })
      const firstTokenLimit = (input: LlmRequest.Input) =>
        Effect.gen(function*() {
          yield* inject("openai", MockFault.slowFirstToken(60_000))
          const first = (yield* runDriven(llm.generate(input), 100)).attempts[0]
          if (first?.error?._tag !== "ProviderTimeout") {
            return assert.fail(`expected a timeout, got ${first?.error?._tag}`)
          }
          return [first.model, first.error.phase, first.error.timeoutMs]
        })
      // the route's own model (gpt-4o-mini), then a thinking model named by the request
      assert.deepStrictEqual(yield* firstTokenLimit(prompt), ["gpt-4o-mini", "first-token", 300])
      assert.deepStrictEqual(yield* firstTokenLimit({ ...prompt, options: { model: "o3-mini" } }), [
        "o3-mini",
        "first-token",
        2_000
      ])
    }).pipe(Effect.provide(Bench)))

  it.effect("detects a stream that stalls mid-answer within the idle limit", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["gemini", "anthropic"],
        policy: { limits: { firstByteMs: 5_000, firstTokenMs: 5_000, idleMs: 300 } }
      })
      // Gemini's first event carries text; the stall comes after it
      yield* inject("gemini", MockFault.stallMidStream("forever"))
      const result = yield* runDriven(llm.generate(prompt), 100)
      assert.strictEqual(result.provider, "anthropic")
      const first = result.attempts[0]
      if (first?.error?._tag !== "ProviderTimeout") return assert.fail(`expected a timeout, got ${first?.error?._tag}`)
      assert.strictEqual(first.error.phase, "idle")
      assert.isBelow(yield* Clock.currentTimeMillis, 5_000)
    }).pipe(Effect.provide(Bench)))

  it.effect("a caller that stops pulling for longer than the idle limit is not a stalled provider", () =>
    Effect.gen(function*() {
      // the caller dwells for 30 idle limits
      const { exit, parts } = yield* dwellingCaller({}, 9_000)
      assert.isTrue(Exit.isSuccess(exit))
      const finish = parts.at(-1)
      if (finish?._tag !== "Finish") return assert.fail(`expected a Finish, got ${finish?._tag}`)
      assert.deepStrictEqual([finish.rescued, finish.sources?.map((s) => s.provider)], [false, ["openai"]])
      assert.isFalse(parts.some((part) => part._tag === "Restart"))
      assert.strictEqual(textOf(parts), slowAnswer)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
      assert.isAtLeast(yield* Clock.currentTimeMillis, 9_000)
    }).pipe(Effect.provide(Bench)))

  it.effect("a caller that stops pulling is bounded by the request deadline: the stream fails with the text it took", () =>
    Effect.gen(function*() {
      // the caller dwells past the deadline
      const { exit, parts } = yield* dwellingCaller({ timeout: 2_000 }, 2_000)
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
      if (Option.isNone(error) || error.value._tag !== "StreamInterrupted") {
        return assert.fail(`expected StreamInterrupted, got ${String(exit)}`)
      }
      const text = textOf(parts)
      // everything the caller was handed, and no more, is the text the error carries
      assert.strictEqual(error.value.partialText, text)
      assert.isAbove(text.length, 0)
      assert.isBelow(text.length, slowAnswer.length)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("rescue restart: a slow caller's wait for the Restart of an empty restarted answer is not idleness", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 1, limits: { firstByteMs: 5_000, firstTokenMs: 5_000, idleMs: 300 } }
      })
      // the answer breaks after two words; its retry finishes without a word
      yield* inject("openai", MockFault.cutStreamAfter(2))
      yield* inject("openai", MockFault.content(""))
      // the caller dwells on every part for more than the idle limit
      let taken = 0
      const slowly = llm.stream({ ...prompt, options: { rescue: "restart" } }).pipe(
        Stream.tap(() => Effect.andThen(Effect.sync(() => taken++), Effect.sleep(1_000)))
      )
      const fiber = yield* Effect.forkChild(Stream.runCollect(slowly))
      // a second under test at a time, from the first part on, once the replies in flight (real I/O) arrived: the
      // provider is never silent while the clock moves
      yield* eventually(Effect.sync(() => taken > 0))
      while (fiber.pollUnsafe() === undefined) {
        yield* liveWait(200)
        yield* TestClock.adjust(1_000)
      }
      const parts = yield* Fiber.join(fiber)
      assert.deepStrictEqual(parts.map((part) => part._tag === "TextDelta" ? part.text : part._tag), [
        "Mock",
        " answer",
        "Restart",
        "Finish"
      ])
      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      assert.deepStrictEqual(records.map((r) => [r.provider, r.outcome, r.errorTag]), [
        ["openai", "error", "ProviderConnectionFailed"],
        ["openai", "success", null]
      ])
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench), Effect.provide(RequestLog.layerMemory())))

  it.effect("fails with DeadlineExceeded, carrying the attempts so far, when the request's time runs out", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { limits: { attemptMs: 250 } } })
      yield* inject("openai", MockFault.noResponse)
      yield* inject("anthropic", MockFault.noResponse)
      const fiber = yield* Effect.forkChild(Effect.flip(llm.generate({ ...prompt, options: { timeout: 400 } })))
      yield* received("openai", 1)
      yield* TestClock.adjust(250)
      yield* received("anthropic", 1)
      yield* TestClock.adjust(150)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      if (error._tag !== "DeadlineExceeded") return
      assert.strictEqual(error.timeoutMs, 400)
      assert.deepStrictEqual(error.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "error", "ProviderTimeout"],
        ["anthropic", "cancelled", undefined]
      ])
      assert.strictEqual(yield* Clock.currentTimeMillis, 400)
    }).pipe(Effect.provide(Bench)))

  it.effect("a fractional timeout ends at the next whole millisecond, reported as such in DeadlineExceeded", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"], policy: { maxRetries: 0 } })
      yield* inject("openai", MockFault.noResponse)
      const fiber = yield* Effect.forkChild(Effect.flip(llm.generate({ ...prompt, options: { timeout: 399.5 } })))
      yield* received("openai", 1)
      yield* TestClock.adjust(400)
      const error = yield* Fiber.join(fiber)
      if (error._tag !== "DeadlineExceeded") return assert.fail(`expected DeadlineExceeded, got ${error._tag}`)
      assert.strictEqual(error.timeoutMs, 400)
      assert.isTrue(Schema.is(DeadlineExceeded)(error))
      assert.strictEqual(yield* Clock.currentTimeMillis, 400)
    }).pipe(Effect.provide(Bench)))

  it.effect("calls in flight together keep their own limits: a shorter deadline arriving later ends first", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai"],
        policy: { maxRetries: 0, limits: { firstByteMs: 5_000, firstTokenMs: 5_000, idleMs: 5_000 } }
      })
      yield* inject("openai", MockFault.noResponse, { times: 2 })
      const long = yield* Effect.forkChild(Effect.flip(llm.generate(prompt)))
      yield* received("openai", 1)
      // the watchdog already sleeps until the first call's first-byte limit (5 s); this deadline is earlier
      const short = yield* Effect.forkChild(Effect.flip(llm.generate({ ...prompt, options: { timeout: 400 } })))
      yield* received("openai", 2)
      yield* TestClock.adjust(400)
      const shortError = yield* Fiber.join(short)
      assert.strictEqual(shortError._tag, "DeadlineExceeded")
      assert.isUndefined(long.pollUnsafe())
      yield* TestClock.adjust(4_600)
      const longError = yield* Fiber.join(long)
      if (longError._tag !== "AllProvidersFailed") {
        return assert.fail(`expected AllProvidersFailed, got ${longError._tag}`)
      }
      const timeout = longError.attempts[0]?.error
      if (timeout?._tag !== "ProviderTimeout") return assert.fail(`expected a timeout, got ${timeout?._tag}`)
      assert.strictEqual(timeout.phase, "first-byte")
      assert.strictEqual(yield* Clock.currentTimeMillis, 5_000)
    }).pipe(Effect.provide(Bench)))

  it.effect("hedges a slow provider: the first success wins, the loser is interrupted and logged", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { hedgeDelayMs: 150 } })
      yield* inject("openai", MockFault.noResponse)
      const fiber = yield* Effect.forkChild(llm.generate(prompt))
      yield* received("openai", 1)
      yield* TestClock.adjust(150)
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "outcome")), [
        ["openai", "primary", "cancelled"],
        ["anthropic", "hedge", "success"]
      ])
      assert.strictEqual(yield* Clock.currentTimeMillis, 150)
      // the mock server saw the primary's connection closed
      yield* eventually(Effect.map(stats("openai"), (s) => s.cancelled === 1))
    }).pipe(Effect.provide(Bench)))

  it.effect("a primary refused by its content filter after the hedge started stops the hedge: its answer is not served", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { hedgeDelayMs: 150 } })
      // real time: the refusal comes while the hedge runs, the hedge's answer after it
      yield* inject("openai", MockFault.latency(300, MockFault.contentFilter))
      yield* inject("anthropic", MockFault.latency(1_500))
      const fiber = yield* Effect.forkChild(Effect.flip(llm.generate(prompt)))
      yield* received("openai", 1)
      yield* TestClock.adjust(150)
      yield* received("anthropic", 1)
      const error = yield* Fiber.join(fiber)
      if (error._tag !== "AllProvidersFailed") return assert.fail(`expected AllProvidersFailed, got ${error._tag}`)
      assert.deepStrictEqual(error.attempts.map(pick("provider", "role", "outcome")), [
        ["openai", "primary", "error"],
        ["anthropic", "hedge", "cancelled"]
      ])
      assert.strictEqual(error.attempts[0]?.error?._tag, "ContentFiltered")
    }).pipe(Effect.provide(Bench)))

  it.effect("does not hedge a provider that answers within the delay", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { hedgeDelayMs: 2_000 } })
      // the clock stands still until the answer is in, then passes the delay
      const result = yield* llm.generate(prompt)
      yield* TestClock.adjust(2_000)
      assert.strictEqual(result.provider, "openai")
      assert.strictEqual(result.attempts.length, 1)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("falls back at once, without waiting for the hedge delay, when the primary fails early", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { hedgeDelayMs: 5_000 } })
      yield* inject("openai", MockFault.status(500))
      // the clock never moves: waiting for the hedge delay would hang this test
      const result = yield* llm.generate(prompt)
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "outcome")), [
        ["openai", "primary", "error"],
        ["anthropic", "fallback", "success"]
      ])
    }).pipe(Effect.provide(Bench)))

  /** A primary whose first token comes late (real time) hedged by a provider that breaks after two tokens. */
  const brokenHedge = (firstTokenMs: number) =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.slowFirstToken(firstTokenMs))
      yield* inject("anthropic", MockFault.cutStreamAfter(2))
      return yield* manager({ chain: ["openai", "anthropic"], policy: { hedgeDelayMs: 150 } })
    })

  /** Runs `effect` once the primary's request is out, past the hedge delay. */
  const pastHedgeDelay = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(effect)
      yield* received("openai", 1)
      yield* TestClock.adjust(150)
      return yield* Fiber.join(fiber)
    })

  it.effect("generate: a hedge that breaks after its first tokens leaves the slow primary running: it answers", () =>
    Effect.gen(function*() {
      const llm = yield* brokenHedge(500)
      const result = yield* pastHedgeDelay(llm.generate(prompt))
      assert.strictEqual(result.content, "Mock answer from openai: Write one quiz question about volcanoes.")
      assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "outcome", "error")), [
        ["openai", "primary", "success", undefined],
        ["anthropic", "hedge", "error", "ProviderConnectionFailed"]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(Bench)))

  const textBefore = (parts: ReadonlyArray<StreamPart>, tag: StreamPart["_tag"]) => {
    const end = parts.findIndex((part) => part._tag === tag)
    return parts.slice(0, end).flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
  }

  it.effect("stream: a hedge that claimed the answer, then broke, is rescued on the primary it cancelled", () =>
    Effect.gen(function*() {
      const llm = yield* brokenHedge(60_000)
      const parts = yield* pastHedgeDelay(Stream.runCollect(llm.stream(prompt)))
      // the primary's new answer reproduces the hedge's two words, then only the rest is forwarded
      assert.strictEqual(
        textBefore(parts, "Finish"),
        "Mock answer from openai: Write one quiz question about volcanoes."
      )
      const finish = parts.at(-1)
      if (finish?._tag !== "Finish") return assert.fail(`expected a Finish, got ${finish?._tag}`)
      assert.deepStrictEqual([finish.rescued, finish.sources?.map((s) => s.provider)], [true, ["anthropic", "openai"]])
      assert.deepStrictEqual(finish.attempts?.map(pick("provider", "role", "outcome", "error")), [
        ["openai", "primary", "cancelled", undefined],
        ["anthropic", "hedge", "error", "ProviderConnectionFailed"],
        ["openai", "fallback", "success", undefined]
      ])
    }).pipe(Effect.provide(Bench)))

  it.effect("stream, rescue restart: after the claimed hedge broke, a Restart and the cancelled primary's answer", () =>
    Effect.gen(function*() {
      const llm = yield* brokenHedge(60_000)
      const parts = yield* pastHedgeDelay(Stream.runCollect(llm.stream({ ...prompt, options: { rescue: "restart" } })))
      assert.strictEqual(textBefore(parts, "Restart"), "Mock answer")
      const restart = parts.findIndex((part) => part._tag === "Restart")
      assert.strictEqual(
        textBefore(parts.slice(restart + 1), "Finish"),
        "Mock answer from openai: Write one quiz question about volcanoes."
      )
      const finish = parts.at(-1)
      if (finish?._tag !== "Finish") return assert.fail(`expected a Finish, got ${finish?._tag}`)
      assert.deepStrictEqual(finish.attempts?.map(pick("provider", "role", "outcome")), [
        ["openai", "primary", "cancelled"],
        ["anthropic", "hedge", "error"],
        ["openai", "fallback", "success"]
      ])
      // the caller discarded the broken text at the Restart: the answer it holds is openai's alone
      assert.deepStrictEqual([finish.rescued, finish.sources?.map((s) => s.provider)], [true, ["openai"]])
    }).pipe(Effect.provide(Bench)))

  it.effect("stream, rescue none: the claimed hedge's break is final, the caller keeps its text", () =>
    Effect.gen(function*() {
      const llm = yield* brokenHedge(60_000)
      const error = yield* pastHedgeDelay(
        Effect.flip(Stream.runDrain(llm.stream({ ...prompt, options: { rescue: "none" } })))
      )
      if (error._tag !== "StreamInterrupted") return assert.fail(`expected StreamInterrupted, got ${error._tag}`)
      assert.strictEqual(error.partialText, "Mock answer")
      assert.deepStrictEqual(error.attempts?.map(pick("provider", "role", "outcome")), [
        ["openai", "primary", "cancelled"],
        ["anthropic", "hedge", "error"]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager: one owner of time (TestClock, real HTTP)", () => {
  const textOf = (parts: Iterable<StreamPart>): string =>
    Array.from(parts).flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")

  /** Streams `input`, running `onDelta(n)` after the n-th delta reached the caller. */
  const streamWith = <E>(
    stream: Stream.Stream<StreamPart, E>,
    onDelta: (n: number) => Effect.Effect<void>
  ) =>
    Effect.gen(function*() {
      const parts: Array<StreamPart> = []
      let deltas = 0
      const exit = yield* Effect.exit(Stream.runForEach(stream, (part) =>
        Effect.suspend(() => {
          parts.push(part)
          return part._tag === "TextDelta" ? onDelta(++deltas) : Effect.void
        })))
      return { parts, exit }
    })

  it.effect("raising idleMs is enough: the adapter's own timeout does not race the manager's watchdog", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai"],
        providerTimeoutMs: 1_000,
        policy: { limits: { idleMs: 20_000 } }
      })
      yield* inject("openai", MockFault.stallMidStream(400, { after: 2 }))
      // during the stall (real time), 10 s of time under test pass: past the adapter's 1 s, within idleMs
      const { exit, parts } = yield* streamWith(
        llm.stream({ ...prompt, options: { rescue: "none" } }),
        (n) => n === 2 ? Effect.andThen(liveWait(100), TestClock.adjust("10 seconds")) : Effect.void
      )
      assert.strictEqual(exit._tag, "Success")
      assert.strictEqual(parts.at(-1)?._tag, "Finish")
      assert.match(textOf(parts), /^Mock answer from openai: Write one quiz question about volcanoes\.$/)
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(Bench)))

  it.effect("a stall past idleMs ends with a message naming the idle limit and what had arrived", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"], policy: { limits: { idleMs: 5_000 } } })
      yield* inject("openai", MockFault.stallMidStream("forever", { after: 2 }))
      const { exit, parts } = yield* streamWith(
        llm.stream({ ...prompt, options: { rescue: "none" } }),
        (n) => n === 2 ? Effect.andThen(liveWait(50), TestClock.adjust("6 seconds")) : Effect.void
      )
      const delivered = textOf(parts)
      assert.strictEqual(delivered, "Mock answer")
      if (exit._tag !== "Failure") return assert.fail("expected a failure")
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isNone(error) || error.value._tag !== "StreamInterrupted") {
        return assert.fail("expected StreamInterrupted")
      }
      assert.strictEqual(error.value.partialText, delivered)
      assert.strictEqual(error.value.reason, "openai went silent for 5000 ms after 11 characters (idle limit)")
      assert.notInclude(error.value.message, "sent nothing")
    }).pipe(Effect.provide(Bench)))

  it.effect("a stream whose deadline runs out after text fails with StreamInterrupted listing its attempts", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { requestTimeoutMs: 5_000, limits: { idleMs: 20_000 } }
      })
      yield* inject("openai", MockFault.stallMidStream("forever", { after: 2 }))
      const { exit, parts } = yield* streamWith(
        llm.stream(prompt),
        (n) => n === 2 ? Effect.andThen(liveWait(50), TestClock.adjust("6 seconds")) : Effect.void
      )
      if (exit._tag !== "Failure") return assert.fail("expected a failure")
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isNone(error) || error.value._tag !== "StreamInterrupted") {
        return assert.fail("expected StreamInterrupted")
      }
      assert.strictEqual(error.value.partialText, textOf(parts))
      assert.strictEqual(error.value.reason, "the request's deadline of 5000 ms ran out")
      assert.strictEqual(error.value.deadlineMs, 5_000)
      assert.deepStrictEqual(error.value.attempts?.map(pick("provider", "role", "outcome", "error")), [
        ["openai", "primary", "cancelled", undefined]
      ])
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("a healthy 45 s answer at one token per second completes under a 30 s attempt limit", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { requestTimeoutMs: 60_000, limits: { attemptMs: 30_000, idleMs: 15_000 } }
      })
      const answer = Array.from({ length: 45 }, (_, i) => `w${i}`).join(" ")
      yield* inject("openai", MockFault.slowTokens(15, { content: answer }))
      // each delta the caller receives is one second under test
      const { exit, parts } = yield* streamWith(llm.stream(prompt), () => TestClock.adjust("1 second"))
      assert.strictEqual(exit._tag, "Success")
      assert.strictEqual(textOf(parts), answer)
      const finish = parts.at(-1)
      if (finish?._tag !== "Finish") return assert.fail("expected a Finish")
      assert.strictEqual(finish.provider, "openai")
      assert.isFalse(finish.rescued)
      assert.strictEqual(yield* Clock.currentTimeMillis, 45_000)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.effect("the first-token limit follows the model: a thinking model waits longer", () =>
    Effect.gen(function*() {
      const limits = FallbackPolicy.make().limits
      assert.strictEqual(FallbackPolicy.firstTokenLimit(limits, "openai", "gpt-4o-mini"), 10_000)
      assert.strictEqual(FallbackPolicy.firstTokenLimit(limits, "deepseek", "deepseek-reasoner"), 60_000)
      assert.strictEqual(FallbackPolicy.firstTokenLimit(limits, "openai", "o3-mini"), 60_000)
      assert.strictEqual(FallbackPolicy.firstTokenLimit(limits, "gemini", "gemini-2.0-flash-thinking-exp"), 60_000)
      const custom = FallbackPolicy.make({ limits: { firstTokenMsByModel: { "openai/gpt-4o-mini": 3_000 } } }).limits
      assert.strictEqual(FallbackPolicy.firstTokenLimit(custom, "openai", "gpt-4o-mini"), 3_000)
    }))

  it.effect("an attempt's log record and ledger row carry its end, however long the writes before them take", () =>
    Effect.gen(function*() {
      const records: Array<RequestLog.LlmRequestLog> = []
      const rows: Array<UsageLedger.UsageEntry> = []
      // a log sink that takes a second: the ledger's row is written after it
      const log = yield* RequestLog.make([{
        name: "slow",
        write: (record) => Effect.andThen(Effect.sync(() => records.push(record)), Effect.sleep(1_000))
      }])
      const memory = yield* UsageLedger.makeMemoryStore
      const ledger = yield* UsageLedger.make({
        ...memory,
        append: (batch) => Effect.andThen(Effect.sync(() => rows.push(...batch)), memory.append(batch))
      })
      const llm = yield* manager({ chain: ["openai"] }).pipe(
        Effect.provideService(RequestLog.RequestLog, log),
        Effect.provideService(UsageLedger.UsageLedger, ledger)
      )
      yield* runDriven(llm.generate({ ...prompt, metadata: { subjectId: "teacher-3" } }), 250)
      yield* ledger.flush
      const ended = records.map((record) => record.timestamp)
      assert.strictEqual(ended.length, 1)
      assert.isAtLeast(yield* Clock.currentTimeMillis, Date.parse(ended[0] ?? "") + 1_000)
      assert.deepStrictEqual(rows.map((row) => row.timestamp), ended)
    }).pipe(Effect.provide(Bench)))
})
