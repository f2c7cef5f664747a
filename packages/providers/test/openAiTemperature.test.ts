/**
 * OpenAI's gpt-5 and o-series models take only their default temperature: the
 * adapter sends them none, whatever the request asks for, while older models
 * still get Baton's default 0.7. Over real HTTP against the mock server, which
 * records the bodies it received.
 */
import * as LlmRequest from "@baton/core/LlmRequest"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Json from "../src/internal/json.ts"
import { onlyDefaultTemperature } from "../src/internal/openAi.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-test-key")

/** The body of the last request the mock server's OpenAI received. */
const lastBody = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const body = (yield* mock.received("openai")).at(-1)?.body
  return Json.isObject(body) ? body : assert.fail("no JSON body received")
})

/** Generates `input` on an OpenAI provider whose model is `model`, returning the body it sent. */
const sentBy = (model: string, input: LlmRequest.Input = { prompt: "Hi" }) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const provider = yield* OpenAi.make({ apiKey, baseUrl: mock.baseUrl("openai"), model })
    const result = yield* provider.generate(yield* LlmRequest.make(input))
    assert.include(result.content, "Mock answer from openai")
    return yield* lastBody
  }).pipe(Effect.provide(Bench), Effect.scoped)

describe("OpenAI temperature", () => {
  it("the models that take only their default temperature", () => {
    const only = [
      "gpt-5",
      "ft:gpt-5-mini:org::id",
      "gpt-5-mini",
      "gpt-5.4-mini",
      "gpt-5.6-luna",
      "gpt-5-2025-08-07",
      "gpt-6-sol",
      "gpt-10"
    ]
    const oSeries = [
      "o1",
      "o1-preview",
      "o3",
      "o3-mini",
      "o4-mini",
      "o4-mini-2025-04-16",
      "ft:o4-mini-2025-04-16:org::id"
    ]
    const others = [
      "gpt-4o-mini",
      "gpt-4o",
      "gpt-4.1",
      "gpt-3.5-turbo",
      "gpt-5-chat-latest",
      "o",
      "omni-moderation",
      "ft:gpt-4o-mini:org::id"
    ]
    for (const model of [...only, ...oSeries]) assert.isTrue(onlyDefaultTemperature(model), model)
    for (const model of others) assert.isFalse(onlyDefaultTemperature(model), model)
  })

  for (const model of ["gpt-5", "gpt-5.6-luna", "o3-mini"]) {
    it.live(`${model} with the default options is sent no temperature, and answers`, () =>
      Effect.gen(function*() {
        const body = yield* sentBy(model)
        assert.strictEqual(body.model, model)
        assert.notProperty(body, "temperature")
      }))
  }

  it.live("gpt-5 is sent no temperature even when the request asks for one", () =>
    Effect.gen(function*() {
      const body = yield* sentBy("gpt-5", { prompt: "Hi", options: { temperature: 0.2 } })
      assert.notProperty(body, "temperature")
    }))

  it.live("gpt-4o-mini is still sent the default temperature 0.7", () =>
    Effect.gen(function*() {
      const body = yield* sentBy("gpt-4o-mini")
      assert.strictEqual(body.temperature, 0.7)
    }))

  it.live("a request naming gpt-5 on a gpt-4o-mini provider is sent no temperature", () =>
    Effect.gen(function*() {
      const body = yield* sentBy("gpt-4o-mini", { prompt: "Hi", options: { model: "gpt-5" } })
      assert.strictEqual(body.model, "gpt-5")
      assert.notProperty(body, "temperature")
    }))

  it.live("through LlmManager, a default request to an OpenAI provider on gpt-5 is sent no temperature", () =>
    Effect.gen(function*() {
      const llm = yield* Manager.alone((baseUrl) => OpenAi.layer({ apiKey, baseUrl, model: "gpt-5" }))(
        (yield* MockProviderServer.MockProviderServer).baseUrl("openai")
      )
      const result = yield* llm.generate({ prompt: "Hi" })
      assert.deepStrictEqual([String(result.provider), String(result.model)], ["openai", "gpt-5"])
      const body = yield* lastBody
      assert.notProperty(body, "temperature")
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
