import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Schedule } from "effect"
import { CircuitBreaker } from "effect/persistence"
import * as CircuitPolicy from "../src/CircuitPolicy.ts"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmConfig from "../src/LlmConfig.ts"
import {
  CircuitOpen,
  ContentFiltered,
  InvalidRequest,
  type ProviderError,
  ProviderRateLimited,
  ProviderTimeout,
  ProviderUnavailable,
  StructuredOutputInvalid
} from "../src/ProviderError.ts"

const provider = ProviderName.make("openai")
const model = ModelId.make("gpt-4o-mini")
const invalid = (message: string, param?: string) =>
  new InvalidRequest(
    param === undefined ? { provider, model, status: 400, message } : {
      provider,
      model,
      status: 400,
      message,
      param
    }
  )

/** The delays a schedule asks for on successive inputs, until it stops. */
const delays = (schedule: Schedule.Schedule<Duration.Duration>, inputs: ReadonlyArray<ProviderError>) =>
  Effect.gen(function*() {
    const step = yield* Schedule.toStep(schedule)
    const out: Array<number> = []
    let now = 0
    for (const input of inputs) {
      const exit = yield* Effect.exit(step(now, input))
      if (Exit.isFailure(exit)) break
      const ms = Duration.toMillis(exit.value[1])
      out.push(ms)
      now += ms
    }
    return out
  })

describe("FallbackPolicy", () => {
  it("stops the chain only for a 400 rejecting the conversation itself, or a content filter by default", () => {
    const stops = (error: ProviderError) => FallbackPolicy.stopsChain(FallbackPolicy.defaults, error)
    assert.isTrue(stops(invalid("bad", "messages[3].content")))
    assert.isTrue(stops(invalid("anthropic answered HTTP 400: messages: at least one message")))
    assert.isFalse(stops(invalid("bad", "max_tokens")))
    assert.isFalse(stops(invalid("gemini answered HTTP 400: generationConfig.temperature: bad", undefined)))
    assert.isFalse(stops(invalid("bad", "model")))
    assert.isFalse(stops(invalid("openai answered HTTP 400: this model does not support prefill")))
    assert.isFalse(stops(invalid("messages: image input is not supported with this model", "messages")))
    const filtered = new ContentFiltered({ provider, stage: "prompt", message: "blocked" })
    assert.isTrue(stops(filtered))
    assert.isFalse(FallbackPolicy.stopsChain(FallbackPolicy.make({ fallbackOnContentFilter: true }), filtered))
  })

  it.effect("retries retryable errors with doubling, jittered backoff, at most maxRetries times", () =>
    Effect.gen(function*() {
      const policy = FallbackPolicy.make({ maxRetries: 3, retryBaseDelayMs: 100 })
      const down = new ProviderUnavailable({ provider, status: 503, message: "down" })
      const out = yield* delays(FallbackPolicy.retrySchedule(policy, Number.MAX_SAFE_INTEGER), [down, down, down, down])
      assert.strictEqual(out.length, 3)
      out.forEach((ms, i) => {
        const base = 100 * 2 ** i
        assert.isAtLeast(ms, base * 0.8)
        assert.isAtMost(ms, base * 1.2)
      })
    }))

  it.effect("waits at least Retry-After, and not at all past the deadline or for non-retryable errors", () =>
    Effect.gen(function*() {
      const policy = FallbackPolicy.make({ maxRetries: 3, retryBaseDelayMs: 100 })
      const limited = (seconds: number) =>
        new ProviderRateLimited({ provider, message: "slow", retryAfter: Duration.seconds(seconds) })
      assert.deepStrictEqual(yield* delays(FallbackPolicy.retrySchedule(policy, 10_000), [limited(2)]), [2_000])
      assert.deepStrictEqual(yield* delays(FallbackPolicy.retrySchedule(policy, 10_000), [limited(30)]), [])
      const silent = new ProviderTimeout({ provider, phase: "first-byte", timeoutMs: 100 })
      assert.deepStrictEqual(yield* delays(FallbackPolicy.retrySchedule(policy, 10_000), [silent]), [])
      const mismatch = new StructuredOutputInvalid({ provider, issue: "x", content: "{}" })
      assert.deepStrictEqual(yield* delays(FallbackPolicy.retrySchedule(policy, 10_000), [mismatch]), [])
    }))

  it.effect("waits at least the hint of a 503 or 529 as of a 429, within the deadline", () =>
    Effect.gen(function*() {
      const policy = FallbackPolicy.make({ maxRetries: 3, retryBaseDelayMs: 100 })
      const overloaded = (seconds: number) =>
        new ProviderUnavailable({ provider, status: 529, message: "overloaded", retryAfter: Duration.seconds(seconds) })
      assert.deepStrictEqual(yield* delays(FallbackPolicy.retrySchedule(policy, 10_000), [overloaded(2)]), [2_000])
      assert.deepStrictEqual(yield* delays(FallbackPolicy.retrySchedule(policy, 10_000), [overloaded(30)]), [])
      assert.strictEqual(Duration.toMillis(FallbackPolicy.retryAfter(overloaded(3)) ?? Duration.zero), 3_000)
      // Baton's own waits are not a server's hint
      const skipped = new CircuitOpen({ provider, retryAfter: Duration.seconds(5) })
      assert.isUndefined(FallbackPolicy.retryAfter(skipped))
      assert.deepStrictEqual(yield* delays(FallbackPolicy.retrySchedule(policy, 10_000), [skipped]), [])
    }))

  it.effect("reads the whole policy from LlmConfig", () =>
    Effect.gen(function*() {
      const settings = yield* LlmConfig.LlmConfig
      const policy = FallbackPolicy.fromConfig(settings)
      assert.strictEqual(policy.maxRetries, 1)
      assert.strictEqual(policy.hedgeDelayMs, 900)
      assert.strictEqual(policy.limits.idleMs, 700)
      assert.isTrue(policy.continueOnInterruption)
      assert.deepStrictEqual(CircuitPolicy.fromConfig(settings), { failureThreshold: 3, cooldownMs: 4_000 })
    }).pipe(Effect.provide(LlmConfig.layerFromRecord({
      DEEPSEEK_API_KEY: "k",
      GEMINI_API_KEY: "g",
      LLM_MAX_RETRIES: "1",
      LLM_HEDGE_DELAY_MS: "900",
      LLM_STREAM_IDLE_TIMEOUT_MS: "700",
      LLM_CONTINUE_ON_INTERRUPTION: "true",
      LLM_CIRCUIT_FAILURE_THRESHOLD: "3",
      LLM_CIRCUIT_COOLDOWN_MS: "4000"
    }))))

  it("per-model entries: provider/model first, then model, and only the record's own keys", () => {
    const policy = FallbackPolicy.make({
      maxRetries: 2,
      maxRetriesByModel: { "openai/gpt-4o-mini": 5, "gpt-4o-mini": 4, "o3": 0 },
      limits: {
        firstTokenMs: 100,
        thinkingFirstTokenMs: 900,
        firstTokenMsByModel: { "openai/o3": 50, "gpt-4o-mini": 70 }
      }
    })
    assert.strictEqual(FallbackPolicy.maxRetriesFor(policy, "openai", "gpt-4o-mini"), 5)
    assert.strictEqual(FallbackPolicy.maxRetriesFor(policy, "azure", "gpt-4o-mini"), 4)
    assert.strictEqual(FallbackPolicy.maxRetriesFor(policy, "openai", "o3"), 0)
    assert.strictEqual(FallbackPolicy.firstTokenLimit(policy.limits, "openai", "o3"), 50)
    assert.strictEqual(FallbackPolicy.firstTokenLimit(policy.limits, "azure", "o3"), 900)
    assert.strictEqual(FallbackPolicy.firstTokenLimit(policy.limits, "azure", "gpt-4o-mini"), 70)
    for (const model of ["constructor", "toString", "valueOf", "__proto__", "hasOwnProperty"]) {
      for (const byModel of [policy, FallbackPolicy.defaults]) {
        assert.strictEqual(FallbackPolicy.maxRetriesFor(byModel, "openai", model), byModel.maxRetries, model)
        assert.strictEqual(
          FallbackPolicy.firstTokenLimit(byModel.limits, "openai", model),
          byModel.limits.firstTokenMs,
          model
        )
      }
    }
    // an entry for such a name, given as an own key (as JSON.parse makes it), still applies
    const own = JSON.parse("{\"__proto__\": 7, \"constructor\": 3}") as Record<string, number>
    const named = FallbackPolicy.make({ maxRetriesByModel: own, limits: { firstTokenMsByModel: own } })
    assert.strictEqual(FallbackPolicy.maxRetriesFor(named, "openai", "__proto__"), 7)
    assert.strictEqual(FallbackPolicy.firstTokenLimit(named.limits, "openai", "constructor"), 3)
  })

  it("the first-token limit of a reasoning level: a level asking for thinking, \"none\" where the provider stops it, the entry first", () => {
    const limits = FallbackPolicy.make({
      limits: { firstTokenMs: 100, thinkingFirstTokenMs: 900, firstTokenMsByModel: { "openai/gpt-5.1": 50 } }
    }).limits
    const limit = FallbackPolicy.firstTokenLimit
    // OpenAI's gpt-N.M chat models reason (the adapter sends them "medium"); gpt-5-chat-latest does not
    assert.isTrue(FallbackPolicy.thinksSilently("gpt-5.1-chat-latest"))
    assert.isTrue(FallbackPolicy.thinksSilently("ft:gpt-5.2-chat-latest:org::id"))
    assert.isFalse(FallbackPolicy.thinksSilently("gpt-5-chat-latest"))
    assert.strictEqual(limit(limits, "openai", "gpt-5.1-chat-latest"), 900)
    assert.strictEqual(limit(limits, "openai", "gpt-5-chat-latest"), 100)
    for (const level of ["low", "medium", "high"] as const) {
      assert.strictEqual(limit(limits, "openai", "gpt-4o", level), 900, level)
      assert.strictEqual(limit(limits, "openai", "gpt-5.1", level), 50, level)
    }
    assert.strictEqual(limit(limits, "openai", "gpt-4o", "none"), 100)
    assert.strictEqual(limit(limits, "openai", "gpt-5.1", "none", true), 50)
    // "none" shortens the limit of a model that thinks by name only where the provider turns its thinking off
    assert.strictEqual(limit(limits, "openai", "gpt-5.2", "none", true), 100)
    assert.strictEqual(limit(limits, "openai", "gpt-5.2", "none"), 900)
    assert.strictEqual(limit(limits, "vllm", "deepseek-v4-flash", "none"), 900)
    assert.strictEqual(limit(limits, "openai", "o3", "none"), 900)
    assert.strictEqual(limit(limits, "openai", "gpt-4o", "none", true), 100)
  })
})

describe("CircuitPolicy", () => {
  it("counts provider failures, not answers the request could not use, and ignores interruptions", () => {
    const outcome = (error: ProviderError) => CircuitPolicy.classify(Exit.fail(error))._tag
    assert.strictEqual(outcome(new ProviderUnavailable({ provider, status: 503, message: "down" })), "Failure")
    assert.strictEqual(outcome(new ProviderTimeout({ provider, phase: "idle", timeoutMs: 1 })), "Failure")
    assert.strictEqual(outcome(invalid("bad")), "Success")
    assert.strictEqual(outcome(new ContentFiltered({ provider, stage: "response", message: "x" })), "Success")
    assert.strictEqual(CircuitPolicy.classify(Exit.succeed(1))._tag, "Success")
    assert.strictEqual(CircuitPolicy.classify(Exit.fail("not a provider error"))._tag, "Ignored")
    const hinted = CircuitPolicy.classify(
      Exit.fail(new ProviderRateLimited({ provider, message: "slow", retryAfter: Duration.seconds(90) }))
    )
    assert.deepStrictEqual(hinted, CircuitBreaker.failure({ retryAfter: Duration.seconds(90) }))
    const overloaded = CircuitPolicy.classify(
      Exit.fail(
        new ProviderUnavailable({ provider, status: 529, message: "overloaded", retryAfter: Duration.seconds(45) })
      )
    )
    assert.deepStrictEqual(overloaded, CircuitBreaker.failure({ retryAfter: Duration.seconds(45) }))
  })
})
