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
import { ModelId, ProviderName } from "../src/Ids.ts"
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

  it.live("a model the configuration does not know has its own circuit, up to 32 per provider, then they share one", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 0, maxRetriesByModel: { "o3-mini": 0 } },
        circuit: { failureThreshold: 1, cooldownMs: 60_000 }
      })
      const outcomes = (model: string) =>
        Effect.map(
          llm.generate({ prompt, options: { model } }),
          (result) => result.attempts.map(pick("provider", "model", "outcome", "error"))
        )
      // one caller's failing model opens its own circuit, not its neighbours'
      yield* inject("openai", MockFault.status(503), { times: 1 })
      assert.deepStrictEqual(yield* outcomes("user-chosen-a"), [
        ["openai", "user-chosen-a", "error", "ProviderUnavailable"],
        ["anthropic", "user-chosen-a", "success", undefined]
      ])
      assert.deepStrictEqual(yield* outcomes("user-chosen-b"), [["openai", "user-chosen-b", "success", undefined]])
      // 32 models of its own on openai (a and b among them); past them, every other one shares `openai/other`
      for (let i = 0; i < 30; i++) yield* outcomes(`user-chosen-${i}`)
      yield* inject("openai", MockFault.status(503), { times: 1 })
      yield* outcomes("user-chosen-overflow-1")
      const before = (yield* stats("openai")).requests
      assert.deepStrictEqual(yield* outcomes("user-chosen-overflow-2"), [
        ["openai", "user-chosen-overflow-2", "skipped", "CircuitOpen"],
        ["anthropic", "user-chosen-overflow-2", "success", undefined]
      ])
      assert.strictEqual((yield* stats("openai")).requests, before)
      // the models with a circuit of their own, the step's own and a model a policy key names are not behind it
      assert.strictEqual((yield* llm.generate({ prompt, options: { model: "user-chosen-b" } })).provider, "openai")
      assert.strictEqual((yield* llm.generate({ prompt })).provider, "openai")
      assert.strictEqual((yield* llm.generate({ prompt, options: { model: "o3-mini" } })).provider, "openai")
    }).pipe(Effect.provide(Bench)))

  it.live("reading circuit states takes none of the 32 own circuits that requests' models get", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 0 },
        circuit: { failureThreshold: 1, cooldownMs: 60_000 }
      })
      // a dashboard asks about 40 models no request has named yet
      for (let i = 0; i < 40; i++) {
        const state = yield* llm.circuitState(ProviderName.make("openai"), ModelId.make(`dashboard-${i}`))
        assert.strictEqual(state._tag, "Closed")
      }
      // then a caller's failing model still opens its own circuit only, not a shared one
      yield* inject("openai", MockFault.status(503), { times: 1 })
      assert.strictEqual((yield* llm.generate({ prompt, options: { model: "user-chosen-a" } })).provider, "anthropic")
      assert.strictEqual((yield* llm.generate({ prompt, options: { model: "user-chosen-b" } })).provider, "openai")
      assert.strictEqual(
        (yield* llm.circuitState(ProviderName.make("openai"), ModelId.make("user-chosen-a")))._tag,
        "Open"
      )
      assert.strictEqual(
        (yield* llm.circuitState(ProviderName.make("openai"), ModelId.make("user-chosen-b")))._tag,
        "Closed"
      )
    }).pipe(Effect.provide(Bench)))
})
