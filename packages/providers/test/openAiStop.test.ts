/**
 * OpenAI's o3, o4-mini and gpt-5 reasoning models reject `stop` (a 400
 * `unsupported_parameter`): the adapter sends them none, as it sends no
 * temperature to the models that take only their default, while other
 * models (o3-mini among them) still get the request's stop sequences. Over
 * real HTTP against the mock server, which records the bodies it received.
 */
import * as LlmRequest from "@baton/core/LlmRequest"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Json from "../src/internal/json.ts"
import { rejectsStop } from "../src/internal/openAi.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-test-key")

const stop = ["END"]

/** The body of the last request the mock server's OpenAI received. */
const lastBody = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const body = (yield* mock.received("openai")).at(-1)?.body
  return Json.isObject(body) ? body : assert.fail("no JSON body received")
})

/** Generates with stop sequences on an OpenAI provider whose model is `model`, returning the body it sent. */
const sentBy = (model: string) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const provider = yield* OpenAi.make({ apiKey, baseUrl: mock.baseUrl("openai"), model })
    const result = yield* provider.generate(yield* LlmRequest.make({ prompt: "Hi", options: { stop } }))
    assert.include(result.content, "Mock answer from openai")
    return yield* lastBody
  }).pipe(Effect.provide(Bench), Effect.scoped)

describe("OpenAI stop sequences", () => {
  it("the models that reject stop", () => {
    const rejecting = [
      "o3",
      "o3-2025-04-16",
      "o3-pro",
      "o4-mini",
      "o4-mini-2025-04-16",
      "ft:o4-mini-2025-04-16:org::id",
      "gpt-5",
      "gpt-5-mini",
      "gpt-5-nano",
      "gpt-5-2025-08-07",
      "ft:gpt-5-mini:org::id",
      "gpt-5.1",
      "gpt-5.2",
      "gpt-5.4-mini",
      "gpt-5.6-luna"
    ]
    const accepting = [
      "gpt-4o-mini",
      "gpt-4.1",
      "o1",
      "o3-mini",
      "o3-mini-2025-01-31",
      "gpt-5-chat-latest",
      "gpt-5.1-chat-latest",
      "o30",
      "gpt-6-sol"
    ]
    for (const model of rejecting) assert.isTrue(rejectsStop(model), model)
    for (const model of accepting) assert.isFalse(rejectsStop(model), model)
  })

  for (const model of ["o3", "o4-mini", "gpt-5"]) {
    it.live(`${model} is sent no stop, and answers`, () =>
      Effect.gen(function*() {
        const body = yield* sentBy(model)
        assert.strictEqual(body.model, model)
        assert.notProperty(body, "stop")
      }))
  }

  for (const model of ["gpt-4o-mini", "o3-mini"]) {
    it.live(`${model} is still sent the stop sequences`, () =>
      Effect.gen(function*() {
        const body = yield* sentBy(model)
        assert.deepStrictEqual(body.stop, stop)
      }))
  }

  it.live("through LlmManager, a request naming o4-mini on a gpt-4o-mini provider is sent no stop", () =>
    Effect.gen(function*() {
      const llm = yield* Manager.openAi((yield* MockProviderServer.MockProviderServer).baseUrl("openai"))
      const result = yield* llm.generate({ prompt: "Hi", options: { model: "o4-mini", stop } })
      assert.deepStrictEqual([String(result.provider), String(result.model)], ["openai", "o4-mini"])
      const body = yield* lastBody
      assert.notProperty(body, "stop")
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
