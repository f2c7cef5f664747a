import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Schema } from "effect"
import type * as Attempt from "../src/Attempt.ts"
import { ModelId, ProviderName, SubjectId } from "../src/Ids.ts"
import * as LlmError from "../src/LlmError.ts"
import * as ProviderError from "../src/ProviderError.ts"

const provider = ProviderName.make("deepseek")

// [error, retryable on the same provider, fall back to the next provider]
const table: ReadonlyArray<readonly [LlmError.LlmError, boolean, boolean]> = [
  [
    new ProviderError.ProviderRateLimited({ provider, message: "slow down", retryAfter: Duration.seconds(3) }),
    true,
    true
  ],
  [new ProviderError.ProviderQuotaExhausted({ provider, status: 402, message: "Insufficient Balance" }), false, true],
  [new ProviderError.ProviderUnavailable({ provider, status: 503, message: "overloaded" }), true, true],
  [new ProviderError.ProviderTimeout({ provider, phase: "first-byte", timeoutMs: 1000 }), false, true],
  [new ProviderError.ProviderConnectionFailed({ provider, message: "ECONNRESET" }), true, true],
  [new ProviderError.ProviderAuthenticationFailed({ provider, status: 401, message: "bad key" }), false, true],
  [new ProviderError.InvalidRequest({ provider, status: 400, message: "unknown model" }), false, true],
  [new ProviderError.ContextLengthExceeded({ provider, message: "too long" }), false, true],
  [new ProviderError.ContentFiltered({ provider, stage: "response", message: "blocked" }), false, false],
  [new ProviderError.MalformedResponse({ provider, message: "not JSON" }), true, true],
  [new ProviderError.StructuredOutputInvalid({ provider, issue: "missing answer", content: "{}" }), true, true],
  [
    new ProviderError.StreamInterrupted({ provider, partialText: "Once upon", reason: "connection reset" }),
    false,
    true
  ],
  [new ProviderError.Defect({ provider, message: "bug in the adapter" }), false, true],
  [new ProviderError.CircuitOpen({ provider }), false, true],
  [new ProviderError.ProviderThrottled({ provider, limit: "requests-per-minute" }), false, true],
  [new LlmError.InvalidOptions({ field: "options.temperature", message: "bad" }), false, false],
  [new LlmError.AllProvidersFailed({ attempts: [] }), false, false],
  [new LlmError.DeadlineExceeded({ timeoutMs: 1000, attempts: [] }), false, false],
  [new LlmError.GenerationDisabled(), false, false],
  [new LlmError.TooManyQuestions({ requested: 25, max: 20 }), false, false],
  [new LlmError.QuotaStoreUnavailable({ message: "redis down" }), false, false],
  [new LlmError.LlmConfigError({ variable: "X", message: "X: bad" }), false, false]
]

describe("LlmError", () => {
  it("classifies every error as data", () => {
    for (const [error, retryable, fallback] of table) {
      assert.strictEqual(LlmError.isRetryable(error), retryable, `${error._tag} retryable`)
      assert.strictEqual(LlmError.shouldFallback(error), fallback, `${error._tag} fallback`)
      assert.isTrue(error.message.length > 0, `${error._tag} has a message`)
      assert.isTrue(ProviderError.isProviderError(error) === ("provider" in error), `${error._tag} membership`)
    }
  })

  it("lists every attempt in AllProvidersFailed", () => {
    const attempt = (p: string, error: ProviderError.ProviderError): Attempt.Attempt => ({
      provider: ProviderName.make(p),
      model: ModelId.make("m"),
      role: "fallback",
      outcome: "error",
      latencyMs: 12.4,
      error
    })
    const failed = new LlmError.AllProvidersFailed({
      attempts: [
        attempt("deepseek", new ProviderError.ProviderUnavailable({ provider, status: 503, message: "down" })),
        attempt("gemini", new ProviderError.ProviderTimeout({ provider, phase: "attempt", timeoutMs: 500 }))
      ]
    })
    assert.include(failed.message, "deepseek/m [fallback] ProviderUnavailable: down after 12 ms")
    assert.include(failed.message, "gemini/m [fallback] ProviderTimeout")
  })

  it("round-trips a StreamInterrupted with its attempts through the LlmError schema", () => {
    const cut = new ProviderError.StreamInterrupted({ provider, partialText: "Once", reason: "reset" })
    const interrupted = new ProviderError.StreamInterrupted({
      provider,
      partialText: "Once upon",
      reason: "reset",
      attempts: [{ provider, model: ModelId.make("m"), role: "primary", outcome: "error", latencyMs: 3, error: cut }]
    })
    const json = JSON.parse(JSON.stringify(Schema.encodeSync(LlmError.LlmError)(interrupted))) as unknown
    const decoded = Schema.decodeUnknownSync(LlmError.LlmError)(json)
    assert.deepStrictEqual(decoded, interrupted)
    assert.instanceOf(
      decoded._tag === "StreamInterrupted" ? decoded.attempts?.[0]?.error : undefined,
      ProviderError.StreamInterrupted
    )
  })

  it("gives RateLimitExceeded the header fields", () => {
    const now = DateTime.makeUnsafe("2026-11-25T22:00:00Z")
    const error = new LlmError.RateLimitExceeded({
      subjectId: SubjectId.make("teacher-1"),
      limit: 100,
      used: 100,
      remaining: 0,
      resetsAt: DateTime.makeUnsafe("2026-11-26T00:00:00Z")
    })
    assert.strictEqual(Duration.toSeconds(error.retryAfter(now)), 7200)
    assert.include(error.message, "2026-11-26T00:00:00.000Z")
  })

  it("builds errors without a stack trace, still checked and typed, round-tripping through the schema", () => {
    for (const [error] of table) {
      assert.instanceOf(error, Error)
      assert.strictEqual(error.name, error._tag)
      assert.notMatch(error.stack ?? "", /\n\s+at /, `${error._tag} has no stack frames`)
      const encoded = Schema.encodeSync(LlmError.LlmError)(error)
      const decoded = Schema.decodeUnknownSync(LlmError.LlmError)(encoded)
      assert.strictEqual(decoded.constructor, error.constructor)
      assert.deepStrictEqual(Schema.encodeSync(LlmError.LlmError)(decoded), encoded)
    }
    const limit = Error.stackTraceLimit
    assert.throws(() => new LlmError.TooManyQuestions({ requested: 1.5, max: 20 }))
    assert.strictEqual(Error.stackTraceLimit, limit, "the limit is restored after a failed check")
  })
})
