/**
 * A Gemini model may be named by its resource name, as Google's model list
 * returns it (`models/gemini-2.5-flash`), or be a tuned model
 * (`tunedModels/<id>`). Through `LlmManager` over the mock server: the
 * request goes to the model's own route (not `models/models%2F...`), a
 * base model is priced by its row of the price table, not the provider's
 * default, and both names of a model are one model to the manager: one
 * circuit, one policy entry.
 */
import type * as CircuitPolicy from "@baton/core/CircuitPolicy"
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench, inject, pick, runDriven, stats } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

const apiKey = Redacted.make("sk-test-key")

const manager = (
  model: string,
  policy: Parameters<typeof FallbackPolicy.make>[0] = {},
  circuitPolicy?: CircuitPolicy.CircuitPolicy
) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    return yield* LlmManager.make({
      providers: [Gemini.layer({ apiKey, baseUrl: mock.baseUrl("gemini"), model })],
      policy: FallbackPolicy.make({ maxRetries: 0, ...policy }),
      circuitPolicy,
      generationEnabled: true
    })
  })

const gemini = ProviderName.make("gemini")

/** A circuit that opens at its first failure. */
const fragile: CircuitPolicy.CircuitPolicy = { failureThreshold: 1, cooldownMs: 60_000 }

/** The state of the gemini circuit of each name of gemini-2.5-flash. */
const flashStates = (llm: LlmManager.Service) =>
  Effect.forEach(
    ["gemini-2.5-flash", "models/gemini-2.5-flash"],
    (model) => Effect.map(llm.circuitState(gemini, ModelId.make(model)), (state) => state._tag)
  )

/** The paths of the requests the mock's Gemini received. */
const paths = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  return (yield* mock.received("gemini")).map((request) => request.path)
})

describe("Gemini model names", () => {
  it.effect("models/gemini-2.5-flash: the model's route, its price, its name in the result", () =>
    Effect.gen(function*() {
      const llm = yield* manager("models/gemini-2.5-flash")
      const result = yield* llm.generate({ prompt: "hi" })
      yield* Stream.runDrain(llm.stream({ prompt: "hi" }))
      assert.deepStrictEqual(yield* paths, [
        "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"
      ])
      assert.strictEqual(result.usage.pricing, "model")
      assert.strictEqual(result.model, "gemini-2.5-flash")
    }).pipe(Effect.provide(Bench)))

  it.effect("a request naming models/gemini-2.5-flash-lite: the same", () =>
    Effect.gen(function*() {
      const llm = yield* manager("gemini-2.5-flash")
      const result = yield* llm.generate({ prompt: "hi", options: { model: "models/gemini-2.5-flash-lite" } })
      assert.deepStrictEqual(yield* paths, ["/gemini/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent"])
      assert.strictEqual(result.usage.pricing, "model")
    }).pipe(Effect.provide(Bench)))

  it.effect("tunedModels/<id>: the tuned model's route", () =>
    Effect.gen(function*() {
      const llm = yield* manager("tunedModels/quiz-writer-7f3k")
      yield* llm.generate({ prompt: "hi" })
      assert.deepStrictEqual(yield* paths, ["/gemini/v1beta/tunedModels/quiz-writer-7f3k:streamGenerateContent"])
    }).pipe(Effect.provide(Bench)))
  it.effect("a circuit opened by requests naming models/gemini-2.5-flash refuses one naming gemini-2.5-flash", () =>
    Effect.gen(function*() {
      const llm = yield* manager("gemini-2.5-pro", {}, fragile)
      yield* inject("gemini", MockFault.status(503), { times: 1 })
      yield* Effect.flip(llm.generate({ prompt: "hi", options: { model: "models/gemini-2.5-flash" } }))
      assert.deepStrictEqual(yield* flashStates(llm), ["Open", "Open"])
      const refused = yield* Effect.flip(llm.generate({ prompt: "hi", options: { model: "gemini-2.5-flash" } }))
      assert.deepStrictEqual(
        refused._tag === "AllProvidersFailed" ? refused.attempts.map(pick("model", "error")) : refused._tag,
        [["gemini-2.5-flash", "CircuitOpen"]]
      )
      assert.strictEqual((yield* stats("gemini")).requests, 1)
      // the provider's own model keeps its circuit
      assert.strictEqual((yield* llm.circuitState(gemini))._tag, "Closed")
    }).pipe(Effect.provide(Bench)))

  it.effect("a default configured as models/gemini-2.5-flash: one circuit with requests naming gemini-2.5-flash", () =>
    Effect.gen(function*() {
      const llm = yield* manager("models/gemini-2.5-flash", {}, fragile)
      assert.deepStrictEqual(llm.steps.map((step) => `${step.provider}/${step.model}`), ["gemini/gemini-2.5-flash"])
      yield* inject("gemini", MockFault.status(503), { times: 1 })
      yield* Effect.flip(llm.generate({ prompt: "hi", options: { model: "gemini-2.5-flash" } }))
      assert.deepStrictEqual(yield* flashStates(llm), ["Open", "Open"])
      assert.strictEqual((yield* llm.circuitState(gemini))._tag, "Open")
      yield* Effect.flip(llm.generate({ prompt: "hi" }))
      assert.strictEqual((yield* stats("gemini")).requests, 1)
    }).pipe(Effect.provide(Bench)))

  /** Generates `request` on `llm` after two 503s: each attempt's model, role and outcome. */
  const twiceUnavailable = (llm: LlmManager.Service, request: LlmManager.Input) =>
    Effect.gen(function*() {
      yield* inject("gemini", MockFault.status(503), { times: 2 })
      const result = yield* runDriven(llm.generate(request), 10)
      return result.attempts.map(pick("model", "role", "outcome"))
    })

  const retriedTwice = [
    ["gemini-2.5-flash", "primary", "error"],
    ["gemini-2.5-flash", "retry", "error"],
    ["gemini-2.5-flash", "retry", "success"]
  ]

  it.effect("maxRetriesByModel's gemini-2.5-flash retries a request naming models/gemini-2.5-flash", () =>
    Effect.gen(function*() {
      const llm = yield* manager("gemini-2.5-pro", {
        maxRetriesByModel: { "gemini-2.5-flash": 2 },
        retryBaseDelayMs: 10
      })
      const request = { prompt: "hi", options: { model: "models/gemini-2.5-flash" } }
      assert.deepStrictEqual(yield* twiceUnavailable(llm, request), retriedTwice)
    }).pipe(Effect.provide(Bench)))

  it.effect("a bare key models/gemini-2.5-flash is Gemini's, not another provider's gemini-2.5-flash", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const llm = yield* LlmManager.make({
        providers: [
          Gemini.layer({ apiKey, baseUrl: mock.baseUrl("gemini"), model: "gemini-2.5-flash" }),
          OpenAiCompatible.layer({ name: "proxy", apiKey, baseUrl: mock.baseUrl("openai"), model: "gemini-2.5-flash" })
        ],
        policy: FallbackPolicy.make({ maxRetriesByModel: { "models/gemini-2.5-flash": 0 } }),
        generationEnabled: true
      })
      assert.deepStrictEqual(llm.policy.maxRetriesByModel, {
        "models/gemini-2.5-flash": 0,
        "gemini/gemini-2.5-flash": 0
      })
    }).pipe(Effect.provide(Bench)))

  it.effect("a policy key written gemini/models/gemini-2.5-flash applies to both names", () =>
    Effect.gen(function*() {
      const llm = yield* manager("models/gemini-2.5-flash", {
        maxRetriesByModel: { "gemini/models/gemini-2.5-flash": 2 },
        retryBaseDelayMs: 10
      })
      assert.deepStrictEqual(yield* twiceUnavailable(llm, { prompt: "hi" }), retriedTwice)
      const request = { prompt: "hi", options: { model: "gemini-2.5-flash" } }
      assert.deepStrictEqual(yield* twiceUnavailable(llm, request), retriedTwice)
    }).pipe(Effect.provide(Bench)))
})
