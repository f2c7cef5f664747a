import type * as Attempt from "@baton/core/Attempt"
import { ModelId, ProviderName } from "@baton/core/Ids"
import {
  AllProvidersFailed,
  DeadlineExceeded,
  GenerationDisabled,
  InvalidOptions,
  QuotaStoreUnavailable
} from "@baton/core/LlmError"
import { CircuitOpen, ProviderUnavailable, StreamInterrupted, StructuredOutputInvalid } from "@baton/core/ProviderError"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration } from "effect"
import * as HttpProblem from "../src/HttpProblem.ts"

const now = DateTime.makeUnsafe("2026-03-01T12:00:00Z")

const skipped = (provider: string, retryAfter: Duration.Duration): Attempt.Attempt => ({
  provider: ProviderName.make(provider),
  model: ModelId.make(`${provider}-model`),
  role: "primary",
  outcome: "skipped",
  latencyMs: 0,
  error: new CircuitOpen({ provider: ProviderName.make(provider), retryAfter })
})

describe("HttpProblem", () => {
  it("a stream the request's deadline ended is a 504, one the provider broke a 502", () => {
    const cut = { provider: ProviderName.make("openai"), partialText: "Mock ans", reason: "cut" }
    const broken = HttpProblem.toProblem(new StreamInterrupted(cut), now).problem
    assert.deepStrictEqual([broken.status, broken.title], [502, "Answer interrupted"])
    const late = HttpProblem.toProblem(new StreamInterrupted({ ...cut, deadlineMs: 60_000 }), now).problem
    assert.deepStrictEqual([late.status, late.title, late.detail], [
      504,
      "Deadline exceeded",
      "No whole answer within 60000 ms."
    ])
  })

  it("maps each error to its status as Problem Details, without internal detail", () => {
    const cases = [
      [new GenerationDisabled(), 503],
      [new DeadlineExceeded({ timeoutMs: 60_000, attempts: [] }), 504],
      [new QuotaStoreUnavailable({ message: "redis://user:hunter2@10.0.0.5:6379 refused" }), 503],
      [new InvalidOptions({ field: "topic", message: "topic: expected a non-empty string" }), 400]
    ] as const
    for (const [error, status] of cases) {
      const { headers, problem } = HttpProblem.toProblem(error, now)
      assert.strictEqual(problem.status, status, error._tag)
      assert.strictEqual(problem.type, `urn:baton:problem:${error._tag}`)
      assert.notInclude(JSON.stringify(problem), "hunter2")
      assert.deepStrictEqual(headers, {})
    }
    assert.strictEqual(HttpProblem.toProblem(cases[3][0], now).problem["field"], "topic")
  })

  it("AllProvidersFailed is a 503 with Retry-After only when every provider was skipped by an open circuit", () => {
    const open = new AllProvidersFailed({
      attempts: [skipped("deepseek", Duration.seconds(12.2)), skipped("gemini", Duration.seconds(30))]
    })
    const { headers, problem } = HttpProblem.toProblem(open, now)
    assert.strictEqual(problem.status, 503)
    assert.deepStrictEqual(headers, { "Retry-After": "13" })

    const failed = new AllProvidersFailed({
      attempts: [skipped("deepseek", Duration.seconds(12)), {
        provider: ProviderName.make("gemini"),
        model: ModelId.make("gemini-model"),
        role: "fallback",
        outcome: "error",
        latencyMs: 40,
        error: new ProviderUnavailable({ provider: ProviderName.make("gemini"), status: 503, message: "sk-live-123" })
      }]
    })
    const answer = HttpProblem.toProblem(failed, now)
    assert.deepStrictEqual(answer.headers, {})
    assert.notInclude(JSON.stringify(answer.problem), "sk-live-123")
  })

  it("AllProvidersFailed on answers cut at the token limit before they matched is a 400 saying to raise maxTokens", () => {
    const cut = (provider: string, truncated: boolean): Attempt.Attempt => ({
      provider: ProviderName.make(provider),
      model: ModelId.make(`${provider}-model`),
      role: "primary",
      outcome: "error",
      latencyMs: 40,
      error: new StructuredOutputInvalid({
        provider: ProviderName.make(provider),
        issue: "expected a JSON value",
        content: "{\"ci",
        ...(truncated ? { truncated } : {})
      })
    })
    const { problem } = HttpProblem.toProblem(
      new AllProvidersFailed({ attempts: [cut("openai", true), cut("gemini", true)] }),
      now
    )
    assert.deepStrictEqual([problem.status, problem.title], [400, "Answer cut at the token limit"])
    assert.include(problem.detail, "raise maxTokens")
    // an answer that did not match though it was whole: a retry may, the request is not at fault
    const mixed = HttpProblem.toProblem(
      new AllProvidersFailed({ attempts: [cut("openai", true), cut("gemini", false)] }),
      now
    )
    assert.strictEqual(mixed.problem.status, 503)
  })
})
