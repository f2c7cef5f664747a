/**
 * A Gemini model may be named by its resource name, as Google's model list
 * returns it (`models/gemini-2.5-flash`), or be a tuned model
 * (`tunedModels/<id>`). Through `LlmManager` over the mock server: the
 * request goes to the model's own route (not `models/models%2F...`), and a
 * base model is priced by its row of the price table, not the provider's
 * default.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"

const apiKey = Redacted.make("sk-test-key")

const manager = (model: string) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    return yield* LlmManager.make({
      providers: [Gemini.layer({ apiKey, baseUrl: mock.baseUrl("gemini"), model })],
      policy: FallbackPolicy.make({ maxRetries: 0 }),
      generationEnabled: true
    })
  })

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
})
