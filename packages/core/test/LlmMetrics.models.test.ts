/**
 * The metric `model` label and the circuits of models a request names
 * (`options.model`): a model the configuration knows keeps its own series
 * and circuit; any other model is counted as `"other"` and shares one
 * circuit per provider, so callers choosing models cannot grow the metric
 * series or the circuits without bound. The request log keeps the real model.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import * as RequestLog from "../src/RequestLog.ts"
import { Bench, inject, manager, pick, stats } from "./utils/chain.ts"

const prompt = "One quiz question about Mars."

/** The Prometheus lines of `metric` (with attributes) in `exposition`. */
const linesOf = (exposition: string, metric: string) =>
  exposition.split("\n").filter((line) => line.startsWith(`${metric}{`))

/** The distinct values of the `model` label on the lines of `metric`. */
const modelsOf = (exposition: string, metric: string) =>
  [...new Set(linesOf(exposition, metric).map((line) => /model="([^"]*)"/.exec(line)?.[1]))].sort()

describe("the metric model label", () => {
  it.effect("50 distinct requested models add one series per metric, configured and policy models keep theirs", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        // a per-model policy key names o3-mini: the configuration knows it
        policy: { maxRetriesByModel: { "openai/o3-mini": 0 } }
      })
      yield* llm.generate({ prompt })
      yield* llm.generate({ prompt, options: { model: "o3-mini" } })
      // the anthropic step's model, asked of the openai step: a configured model too
      yield* llm.generate({ prompt, options: { model: "claude-haiku-4-5" } })
      for (let i = 0; i < 50; i++) {
        const result = yield* llm.generate({ prompt, options: { model: `user-chosen-${i}` } })
        // the result (and the request log, below) keep the model that was asked for
        assert.deepStrictEqual(result.attempts.map(pick("provider", "model", "outcome")), [
          ["openai", `user-chosen-${i}`, "success"]
        ])
      }
      const exposition = yield* PrometheusMetrics.format()
      const known = ["claude-haiku-4-5", "gpt-4o-mini", "o3-mini", "other"]
      assert.deepStrictEqual(modelsOf(exposition, "baton_llm_attempts_total"), known)
      assert.deepStrictEqual(modelsOf(exposition, "baton_llm_tokens_total"), known)
      assert.deepStrictEqual(modelsOf(exposition, "baton_llm_cost_nano_usd_total"), known)
      // one series per model and kind: 4 models, 4 kinds
      assert.lengthOf(linesOf(exposition, "baton_llm_tokens_total"), 16)
      assert.include(
        exposition,
        `baton_llm_attempts_total{provider="openai",model="other",role="primary",outcome="success"} 50`
      )
      assert.notInclude(exposition, "user-chosen-")

      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      assert.strictEqual(records.filter((record) => record.model.startsWith("user-chosen-")).length, 50)
    }).pipe(
      Effect.provide(Layer.merge(Bench, RequestLog.layerMemory())),
      // a registry of its own: the exposition holds this test's series only
      Effect.provideService(Metric.MetricRegistry, new Map())
    ))

  it.live("models the configuration does not know share one circuit per provider; known models keep their own", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 0, maxRetriesByModel: { "o3-mini": 0 } },
        circuit: { failureThreshold: 1, cooldownMs: 60_000 }
      })
      // one failure of a model nobody configured opens the circuit of every such model on openai
      yield* inject("openai", MockFault.status(503), { times: 1 })
      const failed = yield* llm.generate({ prompt, options: { model: "user-chosen-a" } })
      assert.deepStrictEqual(failed.attempts.map(pick("provider", "model", "outcome", "error")), [
        ["openai", "user-chosen-a", "error", "ProviderUnavailable"],
        ["anthropic", "user-chosen-a", "success", undefined]
      ])
      const before = (yield* stats("openai")).requests
      const skipped = yield* llm.generate({ prompt, options: { model: "user-chosen-b" } })
      assert.deepStrictEqual(skipped.attempts.map(pick("provider", "model", "outcome", "error")), [
        ["openai", "user-chosen-b", "skipped", "CircuitOpen"],
        ["anthropic", "user-chosen-b", "success", undefined]
      ])
      assert.strictEqual((yield* stats("openai")).requests, before)
      // the step's own model and a model a policy key names are not behind that circuit
      assert.strictEqual((yield* llm.generate({ prompt })).provider, "openai")
      assert.strictEqual((yield* llm.generate({ prompt, options: { model: "o3-mini" } })).provider, "openai")
    }).pipe(Effect.provide(Bench)))
})
