import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Option } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmMetrics from "../src/LlmMetrics.ts"
import { report, request, unavailable, usage } from "./RequestLog.fixtures.ts"

// A provider name of its own keeps these numbers apart from other tests'.
const provider = ProviderName.make("metrics-test")
const model = ModelId.make("m-1")

const counter = (metric: Metric.Counter<number>, attributes: Record<string, string>) =>
  Effect.map(Metric.value(Metric.withAttributes(metric, attributes)), (state) => state.count)

describe("LlmMetrics", () => {
  it.effect("recordAttempt updates attempts, fallbacks, tokens, cost and latency, readable and in Prometheus", () =>
    Effect.gen(function*() {
      const req = yield* request("metrics-1", "teacher-9")
      const billed = usage(provider, model, 1000, 200, 100)
      yield* LlmMetrics.recordAttempt(
        report(req, 1, {
          provider,
          model,
          role: "primary",
          outcome: "error",
          latencyMs: 40,
          error: unavailable(provider)
        }, billed)
      )
      yield* LlmMetrics.recordAttempt(
        report(req, 2, { provider, model, role: "fallback", outcome: "success", latencyMs: 300 }, billed, "stop")
      )
      yield* LlmMetrics.recordAttempt(
        report(req, 3, { provider, model, role: "retry", outcome: "skipped", latencyMs: 0 })
      )
      yield* LlmMetrics.recordRequest("success")
      yield* LlmMetrics.recordCircuitTransition(provider, "open")
      yield* LlmMetrics.recordQuotaRejection("metrics-test-limit")

      const byModel = { provider, model }
      assert.strictEqual(yield* counter(LlmMetrics.attempts, { ...byModel, role: "primary", outcome: "error" }), 1)
      assert.strictEqual(yield* counter(LlmMetrics.attempts, { ...byModel, role: "retry", outcome: "skipped" }), 1)
      assert.strictEqual(yield* counter(LlmMetrics.fallbacks, byModel), 1)
      assert.strictEqual(yield* counter(LlmMetrics.retries, byModel), 1)
      assert.strictEqual(yield* counter(LlmMetrics.tokens, { ...byModel, kind: "prompt" }), 2000)
      assert.strictEqual(yield* counter(LlmMetrics.tokens, { ...byModel, kind: "completion" }), 400)
      assert.strictEqual(yield* counter(LlmMetrics.tokens, { ...byModel, kind: "cached" }), 200)
      assert.strictEqual(yield* counter(LlmMetrics.costNanoUsd, byModel), 2 * billed.costNanoUsd)
      assert.strictEqual(yield* counter(LlmMetrics.circuitTransitions, { provider, state: "open" }), 1)
      assert.strictEqual(yield* counter(LlmMetrics.quotaRejections, { reason: "metrics-test-limit" }), 1)
      const latency = yield* Metric.value(
        Metric.withAttributes(LlmMetrics.attemptLatency, { provider, outcome: "success" })
      )
      assert.deepStrictEqual([latency.count, latency.sum], [1, 300])

      const text = yield* PrometheusMetrics.format()
      const line = (prefix: string) => text.split("\n").find((l) => l.startsWith(prefix))
      assert.strictEqual(
        line(`baton_llm_tokens_total{provider="metrics-test",model="m-1",kind="prompt"}`)?.split(" ")[1],
        "2000"
      )
      assert.isDefined(line(`baton_llm_fallbacks_total{provider="metrics-test",model="m-1"}`))
      assert.isDefined(line(`baton_llm_attempt_latency_ms_bucket{provider="metrics-test",outcome="success",le="400"}`))
      assert.include(text, "# TYPE baton_llm_attempt_latency_ms histogram")
      assert.notInclude(text, "teacher-9")
    }))

  it.effect("attempt spans carry GenAI attributes and no prompt text", () =>
    Effect.gen(function*() {
      const req = yield* request("metrics-span", "teacher-9")
      const billed = usage(provider, model, 50, 10)
      const span = yield* LlmMetrics.recordAttempt(
        report(req, 1, { provider, model, role: "primary", outcome: "success", latencyMs: 12 }, billed, "stop")
      ).pipe(
        Effect.andThen(Effect.currentSpan),
        LlmMetrics.withAttemptSpan({ request: req, provider, model, role: "primary", attemptNumber: 1 }),
        LlmMetrics.withRequestSpan(req)
      )
      assert.strictEqual(span.name, "chat m-1")
      assert.strictEqual(span.kind, "client")
      const attributes = Object.fromEntries(span.attributes)
      assert.deepInclude(attributes, {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "metrics-test",
        "gen_ai.request.model": "m-1",
        "gen_ai.response.model": "m-1",
        "gen_ai.usage.input_tokens": 50,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.request.max_tokens": 2000
      })
      assert.deepStrictEqual(attributes["gen_ai.response.finish_reasons"], ["stop"])
      const parent = Option.getOrUndefined(span.parent)
      assert.strictEqual(parent?._tag === "Span" ? parent.name : undefined, "baton.request")
      assert.notInclude(JSON.stringify(attributes), "secret-prompt-canary")
    }))
})
