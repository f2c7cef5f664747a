/**
 * How long an attempt may wait for its answer under the default limits
 * (attempt 30 s, first byte 10 s, first token 10 s, thinking first token
 * 60 s), through `LlmManager` over the mock server on the `TestClock`:
 * - a model that thinks first gets its whole thinking first-token limit:
 *   its attempt limit is longer by what that limit adds to the plain one
 *   (80 s), where the 30 s attempt limit cut a stream whose first token the
 *   60 s limit still allowed, and a structured answer (a plain call) that
 *   thought 40 s before it, as far as the deadline leaves a fallback
 *   behind it the plain 30 s;
 * - a plain call (`generateVia: "generate"`, `generateStructured`) has no
 *   first-byte limit where its headers come with the whole answer (OpenAI,
 *   Anthropic, Gemini): a 20 s answer failed at 10 s. The attempt limit
 *   bounds it (30 s). DeepSeek sends a plain call's headers at once, so
 *   there the first-byte limit still moves a silent provider's request on.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as StructuredOutput from "../src/StructuredOutput.ts"
import { Bench, eventually, inject, liveWait, manager, runDriven, stats } from "./utils/chain.ts"

/** The default limits, a deadline past every limit under test, no retries. */
const policy = { maxRetries: 0, requestTimeoutMs: 300_000 }

const Answer = Schema.Struct({ answer: Schema.String })
const output = StructuredOutput.fromSchema(Answer, { name: "answer" })
/** A request for gpt-5, a model that thinks first: its first token may take 60 s, its attempt 80 s. */
const gpt5 = { prompt: "hi", options: { model: "gpt-5" } }

/**
 * `effect`'s result when its provider answers after `waitMs` on the test
 * clock: the request reaches the mock, its headers (a stream's) the client,
 * the clock moves `waitMs` at once (the watchdog checks every limit passed),
 * then the mock's short real delay ends and the answer comes.
 */
const servedAfter = <A, E, R>(effect: Effect.Effect<A, E, R>, waitMs: number) =>
  Effect.gen(function*() {
    const before = (yield* stats("openai")).requests
    const fiber = yield* Effect.forkChild(effect)
    yield* eventually(Effect.map(stats("openai"), (s) => s.requests > before))
    yield* liveWait(50)
    yield* TestClock.adjust(waitMs)
    return yield* Fiber.join(fiber)
  })

/** The first attempt's timeout of a failed request, as [phase, limit]. */
const timeoutOf = (failed: unknown) => {
  const first = (failed as { readonly attempts?: ReadonlyArray<{ readonly error?: unknown }> }).attempts?.[0]?.error
  return first !== null && typeof first === "object" && "phase" in first && "timeoutMs" in first
    ? [first.phase, first.timeoutMs]
    : assert.fail(`expected a ProviderTimeout, got ${String(failed)}`)
}

describe("LlmManager: the attempt limit and the wait for an answer", () => {
  it.effect("gpt-5 streamed: a first token at 45 s is served; none by 60 s fails on the first-token limit", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"], policy })
      const request = gpt5
      yield* inject("openai", MockFault.slowFirstToken(300))
      const text = yield* servedAfter(Stream.runCollect(llm.stream(request)), 45_000)
      assert.strictEqual(text.at(-1)?._tag, "Finish")
      yield* inject("openai", MockFault.slowFirstToken(600_000))
      const failed = yield* Effect.flip(runDriven(Stream.runDrain(llm.stream(request)), 1_000))
      assert.deepStrictEqual(timeoutOf(failed), ["first-token", 60_000])
    }).pipe(Effect.provide(Bench)))

  it.effect("a plain call answered after 20 s is served; one silent past 30 s fails on the attempt limit", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"], policy: { ...policy, generateVia: "generate" } })
      yield* inject("openai", MockFault.latency(300))
      const result = yield* servedAfter(llm.generate({ prompt: "hi" }), 20_000)
      assert.strictEqual(result.provider, "openai")
      yield* inject("openai", MockFault.latency(600_000))
      const failed = yield* Effect.flip(runDriven(llm.generate({ prompt: "hi" }), 1_000))
      assert.deepStrictEqual(timeoutOf(failed), ["attempt", 30_000])
    }).pipe(Effect.provide(Bench)))

  it.effect("generateStructured on gpt-5 answered after 45 s is served; silent, it fails at the 80 s attempt limit", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"], policy })
      const request = gpt5
      yield* inject("openai", MockFault.latency(300))
      const result = yield* servedAfter(llm.generateStructured(request, output), 45_000)
      assert.isString(result.value.answer)
      yield* inject("openai", MockFault.latency(600_000))
      const failed = yield* Effect.flip(runDriven(llm.generateStructured(request, output), 1_000))
      assert.deepStrictEqual(timeoutOf(failed), ["attempt", 80_000])
    }).pipe(Effect.provide(Bench)))

  it.effect("with a fallback behind it and the default 60 s deadline, gpt-5 silent hands over at 30 s, not 80 s", () =>
    Effect.gen(function*() {
      const request = gpt5
      for (const requestTimeoutMs of [60_000, 110_000]) {
        const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { maxRetries: 0, requestTimeoutMs } })
        yield* inject("openai", MockFault.latency(600_000))
        const result = yield* runDriven(llm.generateStructured(request, output), 1_000)
        assert.strictEqual(result.provider, "anthropic")
        // the fallback keeps the plain 30 s: the rest of a longer deadline is gpt-5's, up to its 80 s
        assert.deepStrictEqual(timeoutOf(result), ["attempt", requestTimeoutMs === 60_000 ? 30_000 : 80_000])
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("hedged, the fallback already tried: gpt-5 answering at 45 s of a 60 s deadline is served", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 0, requestTimeoutMs: 60_000, hedgeDelayMs: 5_000 }
      })
      yield* inject("openai", MockFault.latency(1_500))
      yield* inject("anthropic", MockFault.quotaExhausted)
      const fiber = yield* Effect.forkChild(
        llm.generateStructured(gpt5, output)
      )
      yield* eventually(Effect.map(stats("openai"), (s) => s.requests > 0))
      yield* liveWait(20)
      yield* TestClock.adjust(5_000) // the hedge starts, and fails
      yield* eventually(Effect.map(stats("anthropic"), (s) => s.requests > 0))
      yield* liveWait(100)
      yield* TestClock.adjust(40_000)
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.provider, "openai")
    }).pipe(Effect.provide(Bench)))

  it.effect("the fallback's circuit known open: gpt-5 answering at 45 s of a 60 s deadline is served", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 0, requestTimeoutMs: 60_000 },
        circuit: { failureThreshold: 1, cooldownMs: 600_000 }
      })
      const request = gpt5
      yield* inject("openai", MockFault.contextLengthExceeded, { times: 2 }) // the circuit counts it a success
      yield* inject("anthropic", MockFault.quotaExhausted) // opens anthropic's circuit
      yield* Effect.flip(llm.generateStructured(request, output))
      // the store refuses the next try of it: from then on the manager knows it open
      const refused = yield* Effect.flip(llm.generateStructured(request, output))
      assert.strictEqual(refused._tag === "AllProvidersFailed" ? refused.attempts[1]?.outcome : refused._tag, "skipped")
      yield* inject("openai", MockFault.latency(300))
      const result = yield* servedAfter(llm.generateStructured(request, output), 45_000)
      assert.strictEqual(result.provider, "openai")
    }).pipe(Effect.provide(Bench)))

  it.effect("DeepSeek sends a plain call's headers at once: silent, it fails at the first-byte limit and the fallback answers", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek", "gemini"], policy: { ...policy, generateVia: "generate" } })
      yield* inject("deepseek", MockFault.noResponse)
      const result = yield* runDriven(llm.generate({ prompt: "hi" }), 500)
      assert.strictEqual(result.provider, "gemini")
      assert.deepStrictEqual(timeoutOf(result), ["first-byte", 10_000])
    }).pipe(Effect.provide(Bench)))
})
