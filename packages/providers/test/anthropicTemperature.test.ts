/**
 * Claude models after Opus 4.6 take only temperature 1 on the API version
 * Baton sends (`2023-06-01`; any other is a 400): the adapter sends them no
 * temperature, whatever the request asks for, as OpenAI's for gpt-5, while
 * older models still get Baton's default 0.7. Over real HTTP against the
 * mock server, which records the bodies it received.
 */
import * as LlmRequest from "@baton/core/LlmRequest"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import { onlyDefaultTemperature } from "../src/internal/anthropic.ts"
import * as Json from "../src/internal/json.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-ant-test-key")

/** The body of the last request the mock server's Anthropic received. */
const lastBody = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  const body = (yield* mock.received("anthropic")).at(-1)?.body
  return Json.isObject(body) ? body : assert.fail("no JSON body received")
})

/** Generates `input` on an Anthropic provider whose model is `model`, returning the body it sent. */
const sentBy = (model: string, input: LlmRequest.Input = { prompt: "q" }) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const provider = yield* Anthropic.make({ apiKey, baseUrl: mock.baseUrl("anthropic"), model })
    const result = yield* provider.generate(yield* LlmRequest.make(input))
    assert.include(result.content, "Mock answer from anthropic")
    return yield* lastBody
  }).pipe(Effect.provide(Bench), Effect.scoped)

describe("Anthropic temperature", () => {
  it("the models that take only their default temperature: every Claude after Opus 4.6", () => {
    const after = [
      "claude-sonnet-5-5",
      "claude-haiku-5-5",
      "claude-sonnet-5-5-20261001",
      "claude-opus-4-7",
      "claude-opus-4-7-20260415",
      "claude-sonnet-4-7",
      "claude-haiku-4-10",
      "claude-opus-5",
      "claude-sonnet-5-20261001",
      "claude-sonnet-5-5@20261001",
      "claude-opus-6-1-latest",
      "anthropic.claude-sonnet-5-5-20261001-v1:0",
      "us.anthropic.claude-opus-4-7-v1:0",
      "anthropic/claude-opus-4.7",
      "Claude-Sonnet-5-5"
    ]
    const upTo = [
      "claude-haiku-4-5",
      "claude-sonnet-4-6",
      "claude-opus-4-6",
      "claude-opus-4-6-20260205",
      "claude-sonnet-4-5-20250929",
      "claude-sonnet-4-20250514",
      "claude-opus-4-1",
      "claude-opus-4-0",
      "claude-3-7-sonnet-latest",
      "claude-3-5-haiku-20241022",
      "claude-3-opus-20240229",
      "claude-2.1",
      "claude-instant-1.2",
      "claude-sonnet-4-5@20250929",
      "anthropic.claude-3-5-sonnet-20240620-v1:0",
      "deepseek-v4-pro",
      "claude",
      "my-claude-sonnet-5-5",
      "claude-sonnet-five"
    ]
    for (const model of after) assert.isTrue(onlyDefaultTemperature(model), model)
    for (const model of upTo) assert.isFalse(onlyDefaultTemperature(model), model)
  })

  for (const model of ["claude-sonnet-5-5", "claude-haiku-5-5", "claude-sonnet-5-5-20261001"]) {
    it.live(`${model} with the default options is sent no temperature, and answers`, () =>
      Effect.gen(function*() {
        const body = yield* sentBy(model)
        assert.strictEqual(body.model, model)
        assert.notProperty(body, "temperature")
      }))
  }

  it.live("claude-sonnet-5-5 is sent no temperature even when the request asks for one", () =>
    Effect.gen(function*() {
      const body = yield* sentBy("claude-sonnet-5-5", { prompt: "q", options: { temperature: 0.2 } })
      assert.notProperty(body, "temperature")
    }))

  it.live("claude-sonnet-4-6 and claude-haiku-4-5 are still sent the default temperature 0.7", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* sentBy("claude-sonnet-4-6")).temperature, 0.7)
      assert.strictEqual((yield* sentBy("claude-haiku-4-5")).temperature, 0.7)
    }))

  it.live("a request naming claude-sonnet-5-5 on a claude-haiku-4-5 provider is sent no temperature", () =>
    Effect.gen(function*() {
      const body = yield* sentBy("claude-haiku-4-5", { prompt: "q", options: { model: "claude-sonnet-5-5" } })
      assert.strictEqual(body.model, "claude-sonnet-5-5")
      assert.notProperty(body, "temperature")
    }))

  it.live("through LlmManager, a default request to Anthropic on claude-sonnet-5-5 is sent no temperature", () =>
    Effect.gen(function*() {
      const baseUrl = (yield* MockProviderServer.MockProviderServer).baseUrl("anthropic")
      const manager = Manager.alone((baseUrl) => Anthropic.layer({ apiKey, baseUrl, model: "claude-sonnet-5-5" }))
      for (const generateVia of ["stream", "generate"] as const) {
        const llm = yield* manager(baseUrl, { generateVia })
        const result = yield* llm.generate({ prompt: "q" })
        assert.deepStrictEqual([String(result.provider), String(result.model)], ["anthropic", "claude-sonnet-5-5"])
        assert.notProperty(yield* lastBody, "temperature", generateVia)
      }
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
