/**
 * A policy's numbers are whole milliseconds and counts: a manager built with
 * one that is not (`NaN`, a fraction, `Infinity`, zero or a negative where
 * that means nothing) fails to build with an `LlmConfigError` naming the
 * field, instead of serving requests that never time out (a `NaN` deadline)
 * or die with a defect (a fractional limit the `ProviderTimeout` it makes
 * cannot hold).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import type * as CircuitPolicy from "../src/CircuitPolicy.ts"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmConfig from "../src/LlmConfig.ts"
import * as LlmManager from "../src/LlmManager.ts"
import { LlmProvider } from "../src/LlmProvider.ts"

/** A provider that never answers: these managers fail before any call. */
const silent = (name: string) =>
  Layer.succeed(
    LlmProvider,
    LlmProvider.of({
      name: ProviderName.make(name),
      model: ModelId.make(`${name}-model`),
      capabilities: { assistantPrefill: false, streamUsage: true, structuredOutput: "json-schema" },
      generate: () => Effect.never,
      generateStructured: () => Effect.never,
      generateStructuredOutput: () => Effect.never,
      stream: () => Stream.never
    })
  )

const build = (
  policy: FallbackPolicy.FallbackPolicy,
  circuitPolicy?: CircuitPolicy.CircuitPolicy
) => LlmManager.make({ providers: [silent("deepseek")], policy, circuitPolicy })

/** Building fails with an `LlmConfigError` naming `field` and showing the value. */
const failsOn = (
  policy: FallbackPolicy.FallbackPolicy,
  field: string,
  shown: string,
  circuitPolicy?: CircuitPolicy.CircuitPolicy
) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(build(policy, circuitPolicy))
    assert.strictEqual(error._tag, "LlmConfigError")
    assert.strictEqual(error.variable, field)
    assert.include(error.message, field)
    assert.include(error.message, `got ${shown}`)
  })

const make = FallbackPolicy.make

const keys = { DEEPSEEK_API_KEY: "sk-d", GEMINI_API_KEY: "g" }

describe("LlmManager.make checks its policies' numbers", () => {
  it.effect("a NaN request deadline is an error at construction, not a request that never times out", () =>
    failsOn(make({ requestTimeoutMs: Number.NaN }), "policy.requestTimeoutMs", "NaN"))

  it.effect("a fractional first-token limit is an error at construction, not a defect when it runs out", () =>
    failsOn(make({ limits: { firstTokenMs: 1_500.5 } }), "policy.limits.firstTokenMs", "1500.5"))

  const cases: ReadonlyArray<readonly [string, FallbackPolicy.FallbackPolicy, string]> = [
    ["policy.requestTimeoutMs", make({ requestTimeoutMs: 0 }), "0"],
    ["policy.requestTimeoutMs", make({ requestTimeoutMs: -1 }), "-1"],
    ["policy.requestTimeoutMs", make({ requestTimeoutMs: Number.POSITIVE_INFINITY }), "Infinity"],
    ["policy.maxRetries", make({ maxRetries: -1 }), "-1"],
    ["policy.maxRetries", make({ maxRetries: 1.5 }), "1.5"],
    ["policy.maxRetries", make({ maxRetries: Number.POSITIVE_INFINITY }), "Infinity"],
    ["policy.retryBaseDelayMs", make({ retryBaseDelayMs: Number.NaN }), "NaN"],
    ["policy.retryBaseDelayMs", make({ retryBaseDelayMs: -250 }), "-250"],
    ["policy.structuredOutputRetries", make({ structuredOutputRetries: -1 }), "-1"],
    ["policy.hedgeDelayMs", make({ hedgeDelayMs: 0 }), "0"],
    ["policy.hedgeDelayMs", make({ hedgeDelayMs: Number.NaN }), "NaN"],
    ["policy.limits.attemptMs", make({ limits: { attemptMs: Number.POSITIVE_INFINITY } }), "Infinity"],
    ["policy.limits.firstByteMs", make({ limits: { firstByteMs: -5 } }), "-5"],
    ["policy.limits.firstTokenMs", make({ limits: { firstTokenMs: 0 } }), "0"],
    ["policy.limits.thinkingFirstTokenMs", make({ limits: { thinkingFirstTokenMs: Number.NaN } }), "NaN"],
    ["policy.limits.idleMs", make({ limits: { idleMs: 0.5 } }), "0.5"],
    [
      "policy.limits.firstTokenMsByModel[\"deepseek/deepseek-reasoner\"]",
      make({ limits: { firstTokenMsByModel: { "deepseek/deepseek-reasoner": 90_000.5 } } }),
      "90000.5"
    ],
    ["policy.maxRetriesByModel[\"gpt-4o\"]", make({ maxRetriesByModel: { "gpt-4o": -1 } }), "-1"]
  ]
  for (const [field, policy, shown] of cases) {
    it.effect(`${field} = ${shown} is an error naming the field`, () => failsOn(policy, field, shown))
  }

  const circuits: ReadonlyArray<readonly [string, CircuitPolicy.CircuitPolicy, string]> = [
    ["circuitPolicy.failureThreshold", { failureThreshold: 0, cooldownMs: 30_000 }, "0"],
    ["circuitPolicy.failureThreshold", { failureThreshold: 2.5, cooldownMs: 30_000 }, "2.5"],
    ["circuitPolicy.cooldownMs", { failureThreshold: 5, cooldownMs: Number.NaN }, "NaN"],
    ["circuitPolicy.cooldownMs", { failureThreshold: 5, cooldownMs: -1 }, "-1"]
  ]
  for (const [field, circuitPolicy, shown] of circuits) {
    it.effect(`${field} = ${shown} is an error naming the field`, () =>
      failsOn(FallbackPolicy.defaults, field, shown, circuitPolicy))
  }

  it.effect("zero retries, re-asks and backoff, and no hedging, are a policy", () =>
    Effect.gen(function*() {
      const manager = yield* build(
        make({ maxRetries: 0, retryBaseDelayMs: 0, structuredOutputRetries: 0, maxRetriesByModel: { x: 0 } }),
        { failureThreshold: 1, cooldownMs: 1 }
      )
      assert.strictEqual(manager.policy.maxRetries, 0)
      assert.isUndefined(manager.policy.hedgeDelayMs)
    }))

  it.effect("a backoff of 0 (retries at once) is the same setting from the environment", () =>
    Effect.gen(function*() {
      const settings = yield* Effect.provide(
        Effect.service(LlmConfig.LlmConfig),
        LlmConfig.layerFromRecord({ ...keys, LLM_RETRY_BASE_DELAY_MS: "0" })
      )
      const manager = yield* build(FallbackPolicy.fromConfig(settings))
      assert.strictEqual(manager.policy.retryBaseDelayMs, 0)
    }))

  it.effect("LlmManager.layerConfig checks the policy its override returns", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(
        LlmManager.layerConfig(
          { deepseek: silent("deepseek"), gemini: silent("gemini") },
          { policy: (configured) => ({ ...configured, requestTimeoutMs: Number.NaN }) }
        ).pipe(Layer.provide(LlmConfig.layerFromRecord(keys)))
      ))
      assert.strictEqual(error._tag, "LlmConfigError")
      assert.strictEqual(error.variable, "policy.requestTimeoutMs")
    }))
})
