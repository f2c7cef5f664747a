/**
 * Metrics and spans after real manager runs against the mock provider server
 * (a retry, a fallback, a circuit opening, quota refusals), read from the
 * global metric registry as deltas, and spans from a recording tracer.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Metric, Option, Schema, Tracer } from "effect"
import { PrometheusMetrics } from "effect/observability"
import * as LlmMetrics from "../src/LlmMetrics.ts"
import * as LlmRequest from "../src/LlmRequest.ts"
import * as QuotaLimiter from "../src/QuotaLimiter.ts"
import * as StructuredOutput from "../src/StructuredOutput.ts"
import { Bench, eventually, inject, manager, runDriven } from "./utils/chain.ts"
import { recordingTracer } from "./utils/tracer.ts"

const prompt = "Write one quiz question about the secret-prompt-canary."

const counter = (metric: Metric.Counter<number>, attributes: Record<string, string>) =>
  Effect.map(Metric.value(Metric.withAttributes(metric, attributes)), (state) => state.count)

/** Reads the counters now; `delta` gives how much each grew since. */
const watch = <K extends string>(counters: Record<K, readonly [Metric.Counter<number>, Record<string, string>]>) =>
  Effect.gen(function*() {
    const read = Effect.forEach(
      Object.entries(counters) as Array<[K, readonly [Metric.Counter<number>, Record<string, string>]]>,
      ([name, [metric, attributes]]) => Effect.map(counter(metric, attributes), (count) => [name, count] as const)
    ).pipe(Effect.map((entries) => Object.fromEntries(entries) as Record<K, number>))
    const before = yield* read
    return Effect.map(read, (after) => {
      const delta = {} as Record<K, number>
      for (const name of Object.keys(after) as Array<K>) delta[name] = after[name] - before[name]
      return delta
    })
  })

const openai = { provider: "openai", model: "gpt-4o-mini" }
const anthropic = { provider: "anthropic", model: "claude-haiku-4-5" }

describe("LlmMetrics after manager runs", () => {
  it.effect("a retry then a fallback: attempts, retries, fallbacks, tokens, cost, latency and the request", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { maxRetries: 1, retryBaseDelayMs: 0 } })
      yield* inject("openai", MockFault.status(503), { times: 2 })
      const delta = yield* watch({
        primaryErrors: [LlmMetrics.attempts, { ...openai, role: "primary", outcome: "error" }],
        retryErrors: [LlmMetrics.attempts, { ...openai, role: "retry", outcome: "error" }],
        fallbackSuccesses: [LlmMetrics.attempts, { ...anthropic, role: "fallback", outcome: "success" }],
        retries: [LlmMetrics.retries, openai],
        fallbacks: [LlmMetrics.fallbacks, anthropic],
        promptTokens: [LlmMetrics.tokens, { ...anthropic, kind: "prompt" }],
        completionTokens: [LlmMetrics.tokens, { ...anthropic, kind: "completion" }],
        cost: [LlmMetrics.costNanoUsd, anthropic],
        succeeded: [LlmMetrics.requests, { outcome: "success" }]
      })
      const latencyBefore = yield* Metric.value(
        Metric.withAttributes(LlmMetrics.attemptLatency, { provider: "openai", outcome: "error" })
      )
      const result = yield* llm.generate({ prompt })
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(yield* delta, {
        primaryErrors: 1,
        retryErrors: 1,
        fallbackSuccesses: 1,
        retries: 1,
        fallbacks: 1,
        promptTokens: result.usage.promptTokens,
        completionTokens: result.usage.completionTokens,
        cost: result.usage.costNanoUsd,
        succeeded: 1
      })
      const latency = yield* Metric.value(
        Metric.withAttributes(LlmMetrics.attemptLatency, { provider: "openai", outcome: "error" })
      )
      assert.strictEqual(latency.count - latencyBefore.count, 2)

      const text = yield* PrometheusMetrics.format()
      assert.isDefined(text.split("\n").find((l) => l.startsWith(`baton_llm_fallbacks_total{provider="anthropic"`)))
      assert.include(text, "# TYPE baton_llm_attempt_latency_ms histogram")
      assert.notInclude(text, "secret-prompt-canary")
    }).pipe(Effect.provide(Bench)))

  it.effect("attempt metrics go to the caller's registry with the caller's metric attributes, run after run", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      type Registry = Map<string, unknown>
      const ours: Registry = new Map()
      const theirs: Registry = new Map()
      // the same attribute objects every run, as a caller's layer would provide them
      const a = { tenant: "a" }
      const c = { tenant: "c" }
      /** `effect` with `registry` and, when given, the extra metric attributes `attributes`. */
      const under = <A, E, R>(
        registry: Registry,
        attributes: Record<string, string> | undefined,
        effect: Effect.Effect<A, E, R>
      ) => {
        const inRegistry = Effect.provideService(effect, Metric.MetricRegistry, registry)
        return attributes === undefined
          ? inRegistry
          : Effect.provideService(inRegistry, Metric.CurrentMetricAttributes, attributes)
      }
      const successes = (registry: Registry, attributes?: Record<string, string>) =>
        under(registry, attributes, counter(LlmMetrics.attempts, { ...openai, role: "primary", outcome: "success" }))
      const globalBefore = yield* counter(LlmMetrics.attempts, { ...openai, role: "primary", outcome: "success" })
      const run = (registry: Registry, attributes?: Record<string, string>) =>
        under(registry, attributes, llm.generate({ prompt }))
      // the same attributes in another registry, back to back; other attributes in the same registry;
      // no attributes (the default, the same every time) in two registries
      const first = yield* run(ours, a)
      yield* run(theirs, a)
      yield* run(ours, a)
      yield* run(ours, c)
      yield* run(ours)
      yield* run(theirs)
      yield* run(theirs)
      assert.strictEqual(yield* successes(ours, a), 2)
      assert.strictEqual(yield* successes(theirs, a), 1)
      assert.strictEqual(yield* successes(ours, c), 1)
      assert.strictEqual(yield* successes(ours), 1)
      assert.strictEqual(yield* successes(theirs), 2)
      assert.strictEqual(
        yield* under(ours, a, counter(LlmMetrics.tokens, { ...openai, kind: "prompt" })),
        2 * first.usage.promptTokens
      )
      assert.strictEqual(
        yield* counter(LlmMetrics.attempts, { ...openai, role: "primary", outcome: "success" }),
        globalBefore
      )
    }).pipe(Effect.provide(Bench)))

  it.effect("an attempt cut at the longest default attempt limit (80 s) lands in a finite latency bucket", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"], policy: { maxRetries: 0, requestTimeoutMs: 300_000 } })
      yield* inject("openai", MockFault.latency(600_000))
      const latency = Metric.withAttributes(LlmMetrics.attemptLatency, { provider: "openai", outcome: "error" })
      /** Observations up to the first finite boundary of at least 80 s (none: every such attempt is in `+Inf`). */
      const upTo80s = Effect.map(
        Metric.value(latency),
        (state) => state.buckets.find(([boundary]) => Number.isFinite(boundary) && boundary >= 80_000)?.[1] ?? 0
      )
      const before = yield* upTo80s
      const output = StructuredOutput.fromSchema(Schema.Struct({ answer: Schema.String }), { name: "answer" })
      const failed = yield* Effect.flip(
        runDriven(llm.generateStructured({ prompt, options: { model: "gpt-5" } }, output), 1_000)
      )
      assert.strictEqual("_tag" in failed ? failed._tag : undefined, "AllProvidersFailed")
      assert.strictEqual((yield* upTo80s) - before, 1)
    }).pipe(Effect.provide(Bench)))

  it.effect("a circuit opening is counted", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        circuit: { failureThreshold: 2, cooldownMs: 60_000 }
      })
      const delta = yield* watch({ opened: [LlmMetrics.circuitTransitions, { provider: "openai", state: "open" }] })
      yield* inject("openai", MockFault.status(503), { times: 2 })
      yield* llm.generate({ prompt })
      assert.strictEqual((yield* delta).opened, 0)
      yield* llm.generate({ prompt })
      yield* eventually(Effect.map(delta, (d) => d.opened === 1))
    }).pipe(Effect.provide(Bench)))

  it.effect("quota refusals are counted by reason, and the requests as rejected", () =>
    Effect.gen(function*() {
      const quota = QuotaLimiter.layerMemoryWith({
        maxQuestionsPerRequest: 3,
        dailyLimit: 100,
        dailyTokenBudget: 5,
        timeZone: "UTC",
        overrides: QuotaLimiter.overridesFromRecord({ "teacher-a": { daily: 1, dailyTokens: 1_000_000 } })
      })
      const llm = yield* manager({ chain: ["openai"] }).pipe(Effect.provide(quota))
      const delta = yield* watch({
        dailyLimit: [LlmMetrics.quotaRejections, { reason: "daily-limit" }],
        tokenBudget: [LlmMetrics.quotaRejections, { reason: "token-budget" }],
        requestSize: [LlmMetrics.quotaRejections, { reason: "request-size" }],
        rejected: [LlmMetrics.requests, { outcome: "rejected" }]
      })
      const refusal = (subjectId: string, units = 1) =>
        Effect.map(Effect.flip(llm.generate({ prompt, metadata: { subjectId, units } })), (error) => error._tag)
      // teacher-a may make one request a day; teacher-c spends its 5-token budget on its first
      yield* llm.generate({ prompt, metadata: { subjectId: "teacher-a" } })
      yield* llm.generate({ prompt, metadata: { subjectId: "teacher-c" } })
      assert.deepStrictEqual(
        [yield* refusal("teacher-a"), yield* refusal("teacher-c"), yield* refusal("teacher-b", 4)],
        ["RateLimitExceeded", "RateLimitExceeded", "TooManyQuestions"]
      )
      assert.deepStrictEqual(yield* delta, { dailyLimit: 1, tokenBudget: 1, requestSize: 1, rejected: 3 })
    }).pipe(Effect.provide(Bench)))

  it.effect("attempt spans carry GenAI attributes under the request span, and no prompt text", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({ chain: ["openai"] })
      const result = yield* llm.generate({ prompt, options: { maxTokens: 300 } }).pipe(
        Effect.provideService(Tracer.Tracer, tracer)
      )
      const span = spans.find((s) => s.name === "chat gpt-4o-mini")
      if (span === undefined) return assert.fail("no attempt span")
      assert.strictEqual(span.kind, "client")
      const attributes = Object.fromEntries(span.attributes)
      assert.deepInclude(attributes, {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": result.usage.promptTokens,
        "gen_ai.usage.output_tokens": result.usage.completionTokens,
        "gen_ai.request.max_tokens": 300
      })
      assert.deepStrictEqual(attributes["gen_ai.response.finish_reasons"], ["stop"])
      const parent = Option.getOrUndefined(span.parent)
      assert.strictEqual(parent?._tag === "Span" ? parent.name : undefined, "baton.request")
      assert.notInclude(JSON.stringify([...spans.flatMap((s) => [...s.attributes])]), "secret-prompt-canary")
    }).pipe(Effect.provide(Bench)))

  it.effect("a field left to the provider is no request attribute; Baton's defaults are", () =>
    Effect.gen(function*() {
      const left = yield* LlmRequest.make({ prompt, options: { maxTokens: "provider", temperature: "provider" } })
      assert.notProperty(LlmMetrics.requestAttributes(left), "gen_ai.request.max_tokens")
      assert.notProperty(LlmMetrics.requestAttributes(left), "gen_ai.request.temperature")
      assert.deepInclude(LlmMetrics.requestAttributes(yield* LlmRequest.make({ prompt })), {
        "gen_ai.request.max_tokens": 2000,
        "gen_ai.request.temperature": 0.7
      })
    }))

  it.effect("each attempt span gets its own response attributes: the failed one its error, the answer its usage", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { maxRetries: 0 } })
      yield* inject("openai", MockFault.status(503), { times: 1 })
      const result = yield* llm.generate({ prompt }).pipe(Effect.provideService(Tracer.Tracer, tracer))
      const attributesOf = (name: string) => Object.fromEntries(spans.find((s) => s.name === name)?.attributes ?? [])
      const failed = attributesOf("chat gpt-4o-mini")
      const answered = attributesOf("chat claude-haiku-4-5")
      assert.deepInclude(failed, {
        "baton.attempt.number": 1,
        "baton.attempt.role": "primary",
        "baton.attempt.outcome": "error",
        "error.type": "ProviderUnavailable"
      })
      // no response named a model
      assert.notProperty(failed, "gen_ai.response.model")
      assert.notProperty(failed, "gen_ai.response.finish_reasons")
      assert.deepInclude(answered, {
        "gen_ai.response.model": "claude-haiku-4-5",
        "baton.attempt.number": 2,
        "baton.attempt.role": "fallback",
        "baton.attempt.outcome": "success",
        "gen_ai.usage.input_tokens": result.usage.promptTokens,
        "gen_ai.usage.output_tokens": result.usage.completionTokens,
        "baton.usage.cost_nano_usd": result.usage.costNanoUsd
      })
      assert.deepStrictEqual(answered["gen_ai.response.finish_reasons"], ["stop"])
      assert.notProperty(answered, "error.type")
      // the request span is not annotated with an attempt's response
      assert.notProperty(attributesOf("baton.request"), "baton.attempt.outcome")
    }).pipe(Effect.provide(Bench)))

  it.effect("a skipped attempt has its ended client span and metrics, whether the store or the known-open memory refuses it", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { maxRetries: 0 },
        circuit: { failureThreshold: 1, cooldownMs: 60_000 }
      })
      yield* inject("openai", MockFault.status(503), { times: 1 })
      yield* llm.generate({ prompt })
      const delta = yield* watch({
        skipped: [LlmMetrics.attempts, { ...openai, role: "primary", outcome: "skipped" }],
        fallbacks: [LlmMetrics.fallbacks, anthropic]
      })
      // the first skip is the store's refusal, which the manager remembers: the second never asks the store
      for (let i = 0; i < 2; i++) {
        const result = yield* llm.generate({ prompt }).pipe(Effect.provideService(Tracer.Tracer, tracer))
        assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.outcome]), [["openai", "skipped"], [
          "anthropic",
          "success"
        ]])
      }
      assert.deepStrictEqual(yield* delta, { skipped: 2, fallbacks: 2 })
      const skips = spans.filter((s) => s.name === "chat gpt-4o-mini")
      assert.strictEqual(skips.length, 2)
      for (const span of skips) {
        assert.strictEqual(span.kind, "client")
        assert.deepInclude(Object.fromEntries(span.attributes), {
          "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "gpt-4o-mini",
          "baton.attempt.number": 1,
          "baton.attempt.role": "primary",
          "baton.attempt.outcome": "skipped",
          "error.type": "CircuitOpen"
        })
        assert.notProperty(Object.fromEntries(span.attributes), "gen_ai.response.model")
        const parent = Option.getOrUndefined(span.parent)
        assert.strictEqual(parent?._tag === "Span" ? parent.name : undefined, "baton.request")
        assert.isTrue(span.status._tag === "Ended" && Exit.isFailure(span.status.exit))
      }
      assert.strictEqual(spans.filter((s) => s.name === "chat claude-haiku-4-5").length, 2)
    }).pipe(Effect.provide(Bench)))

  it.effect("with no tracer installed Baton opens no span and leaves the caller's span as it was", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const [caller, inner] = yield* Effect.gen(function*() {
        const caller = yield* Effect.currentSpan
        yield* llm.generate({ prompt })
        return [caller, yield* Effect.currentSpan] as const
      }).pipe(Effect.withSpan("caller"))
      assert.strictEqual(inner, caller)
      if (!(caller instanceof Tracer.NativeSpan)) return assert.fail("expected Effect's native span")
      assert.deepStrictEqual([...caller.attributes.keys()].filter((key) => key.startsWith("gen_ai.")), [])
    }).pipe(Effect.provide(Bench)))
})
