/**
 * The `reasoning` option on Gemini, sent as `generationConfig.thinkingConfig`:
 * a `thinkingBudget` for Gemini 2.5 (0 turns thinking off on Flash and
 * Flash-Lite; Pro's least is 128), a `thinkingLevel` for Gemini 3 and later
 * (Flash: MINIMAL, LOW, MEDIUM, HIGH; Pro: LOW and HIGH only), nothing for
 * models that do not think or when the option is left out. Through
 * `Gemini.layer`, plain and streamed, over real HTTP against the mock
 * server, which answers 400 as the API does for a config a model does not
 * take and bills the thoughts of a model asked to think; and through
 * `LlmManager`, where `"none"` on Gemini 2.5 Flash bills no thinking and
 * `"high"` bills its thoughts as output.
 */
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"
import * as Turns from "./utils/turns.ts"

const apiKey = Redacted.make("sk-test-key")

type Level = "none" | "low" | "medium" | "high"

const levels: ReadonlyArray<Level> = ["none", "low", "medium", "high"]

/** The `thinkingConfig` each level sends to a model of a family (`undefined`: none at all). */
const flash25 = {
  none: { thinkingBudget: 0 },
  low: { thinkingBudget: 1024 },
  medium: { thinkingBudget: 4096 },
  high: { thinkingBudget: 16_384 }
}
const pro25 = { ...flash25, none: { thinkingBudget: 128 } }
const flash3 = {
  none: { thinkingLevel: "MINIMAL" },
  low: { thinkingLevel: "LOW" },
  medium: { thinkingLevel: "MEDIUM" },
  high: { thinkingLevel: "HIGH" }
}
const pro3 = {
  none: { thinkingLevel: "LOW" },
  low: { thinkingLevel: "LOW" },
  medium: { thinkingLevel: "HIGH" },
  high: { thinkingLevel: "HIGH" }
}
const nothing = { none: undefined, low: undefined, medium: undefined, high: undefined }

const expected: ReadonlyArray<readonly [string, Record<Level, object | undefined>]> = [
  ["gemini-2.5-flash", flash25],
  ["gemini-2.5-flash-lite", flash25],
  ["gemini-2.5-flash-preview-09-2025", flash25],
  ["gemini-2.5-flash-lite-preview-06-17", flash25],
  ["gemini-2.5-pro", pro25],
  ["models/gemini-2.5-pro", pro25],
  ["gemini-2.5-pro-preview-06-05", pro25],
  ["gemini-3-flash-preview", flash3],
  ["gemini-3.5-flash", flash3],
  ["gemini-3.8-flash", flash3],
  ["gemini-3.1-flash-lite-preview", flash3],
  ["gemini-3-pro-preview", pro3],
  ["gemini-3.1-pro", pro3],
  ["gemini-3.1-pro-latest", pro3],
  ["gemini-2.0-flash", nothing],
  ["gemini-2.0-flash-001", nothing],
  ["gemini-1.5-pro-latest", nothing]
]

/** Whether the mock's model thinks with the config it was sent: a level, or a budget but 0. */
const thinks = (config: object | undefined): boolean =>
  config !== undefined && !("thinkingBudget" in config && config.thinkingBudget === 0)

/** One call through `Gemini.layer` on the mock server, plain or streamed, asking `model` at `reasoning`. */
const call = (model: string, reasoning: Level | undefined, stream: boolean) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    yield* server.reset
    const provider = yield* LlmProvider.LlmProvider
    const request = yield* LlmRequest.make({
      prompt: "Why is the sky blue?",
      options: { model, ...(reasoning === undefined ? {} : { reasoning }) }
    })
    const usage = stream
      ? yield* Stream.runCollect(provider.stream(request)).pipe(
        Effect.map((parts) => {
          const finish = parts.at(-1)
          return finish?._tag === "Finish" ? finish.usage : assert.fail("the stream ended without Finish")
        })
      )
      : (yield* provider.generate(request)).usage
    const received = (yield* server.received("gemini")).at(-1)?.body as { generationConfig: object }
    const { thinkingConfig } = received.generationConfig as { thinkingConfig?: object }
    return { usage, thinkingConfig, billed: yield* server.stats("gemini") }
  })

/** `Gemini.layer` on the mock server, with the bench. */
const GeminiBench = Layer.unwrap(
  MockProviderServer.MockProviderServer.useSync((server) => Gemini.layer({ apiKey, baseUrl: server.baseUrl("gemini") }))
).pipe(Layer.provideMerge(Bench))

describe("Gemini.layer: reasoning as thinkingConfig", () => {
  for (const stream of [false, true]) {
    const how = stream ? "streamed" : "plain"
    for (const [model, configs] of expected) {
      it.live(`(${how}) ${model}`, () =>
        Effect.gen(function*() {
          for (const level of levels) {
            const result = yield* call(model, level, stream)
            assert.deepStrictEqual(result.thinkingConfig, configs[level], `${model} at ${level}`)
            assert.strictEqual(result.usage.reasoningTokens > 0, thinks(configs[level]), `${model} at ${level}`)
            assert.strictEqual(result.usage.reasoningTokens, result.billed.reasoningTokens, `${model} at ${level}`)
            assert.strictEqual(result.usage.completionTokens, result.billed.completionTokens, `${model} at ${level}`)
          }
          // left out: nothing sent, the model decides (the mock's answers at once)
          const left = yield* call(model, undefined, stream)
          assert.isUndefined(left.thinkingConfig, `${model} without reasoning`)
          assert.strictEqual(left.usage.reasoningTokens, 0, `${model} without reasoning`)
        }).pipe(Effect.provide(GeminiBench), Effect.scoped))
    }
  }
})

/** Posts `generationConfig` to the mock's Gemini `model`: the status and, on an error, its body's `error`. */
const post = (model: string, generationConfig: object) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    return yield* Effect.promise(async () => {
      const response = await fetch(`${server.baseUrl("gemini")}/models/${model}:generateContent`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-goog-api-key": "key" },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }], generationConfig })
      })
      const body = await response.json() as { readonly error?: { readonly status?: string } }
      return { status: response.status, error: body.error?.status }
    })
  })

describe("the mock's Gemini takes the thinkingConfig a model takes, else 400 INVALID_ARGUMENT", () => {
  const rejected: ReadonlyArray<readonly [string, object]> = [
    ["gemini-2.5-flash", { thinkingBudget: 1024, thinkingLevel: "LOW" }],
    ["gemini-3.5-flash", { thinkingBudget: 1024, thinkingLevel: "LOW" }],
    ["gemini-2.5-flash", { thinkingLevel: "LOW" }],
    ["gemini-2.5-pro", { thinkingLevel: "HIGH" }],
    ["gemini-2.5-pro", { thinkingBudget: 0 }],
    ["gemini-3.1-pro", { thinkingBudget: 0 }],
    ["gemini-3.1-pro", { thinkingLevel: "MINIMAL" }],
    ["gemini-3-pro-preview", { thinkingLevel: "MEDIUM" }],
    ["gemini-3.5-flash", { thinkingLevel: "low" }],
    ["gemini-2.0-flash", { thinkingBudget: 1024 }]
  ]
  const accepted: ReadonlyArray<readonly [string, object]> = [
    ["gemini-2.5-flash", { thinkingBudget: 0 }],
    ["gemini-2.5-flash-lite", { thinkingBudget: 0 }],
    ["gemini-2.5-pro", { thinkingBudget: 128 }],
    ["gemini-2.5-flash", { thinkingBudget: -1 }],
    ["gemini-3.5-flash", { thinkingLevel: "MINIMAL" }],
    ["gemini-3.1-flash-lite-preview", { thinkingLevel: "MEDIUM" }],
    ["gemini-3.1-pro", { thinkingLevel: "LOW" }],
    ["gemini-2.0-flash", {}]
  ]
  it.live("rejected and accepted configs", () =>
    Effect.gen(function*() {
      for (const [model, config] of rejected) {
        assert.deepStrictEqual(yield* post(model, { thinkingConfig: config }), {
          status: 400,
          error: "INVALID_ARGUMENT"
        }, `${model} ${JSON.stringify(config)}`)
      }
      for (const [model, config] of accepted) {
        assert.strictEqual(
          (yield* post(model, { thinkingConfig: config })).status,
          200,
          `${model} ${JSON.stringify(config)}`
        )
      }
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

describe("LlmManager over Gemini 2.5 Flash, DeepSeek behind it", () => {
  const managerOver = (via: Turns.Via) =>
    Turns.managerOver((server) => [
      Gemini.layer({ apiKey, baseUrl: server.baseUrl("gemini") }),
      DeepSeek.layer({ apiKey, baseUrl: server.baseUrl("deepseek") })
    ], via)

  /** One answer `via`'s way at `reasoning`: its usage and provider. */
  const ask = (via: Turns.Via, reasoning: Level) =>
    Effect.gen(function*() {
      const llm = yield* managerOver(via)
      const request = { prompt: "Why is the sky blue?", options: { reasoning } }
      if (via !== "stream") return yield* llm.generate(request)
      const parts = yield* Stream.runCollect(llm.stream(request))
      const finish = parts.at(-1)
      return finish?._tag === "Finish" ? finish : assert.fail("the stream ended without Finish")
    })

  for (const via of Turns.vias) {
    it.live(`(${via}) "none" bills no thinking; "high" bills its thoughts at the output price`, () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        const pricing = yield* Pricing.Pricing
        const off = yield* ask(via, "none")
        assert.strictEqual(off.provider, "gemini")
        assert.strictEqual(off.usage.reasoningTokens, 0)
        assert.strictEqual((yield* server.stats("gemini")).reasoningTokens, 0)
        const body = (yield* server.received("gemini")).at(-1)?.body as {
          generationConfig: { thinkingConfig?: object }
        }
        assert.deepStrictEqual(body.generationConfig.thinkingConfig, { thinkingBudget: 0 })

        const free = yield* ask(via, "high")
        const billed = yield* server.stats("gemini")
        assert.strictEqual(free.provider, "gemini")
        assert.isAbove(free.usage.reasoningTokens, 0)
        assert.deepStrictEqual(
          [free.usage.completionTokens, free.usage.reasoningTokens],
          [billed.completionTokens, billed.reasoningTokens]
        )
        const priced = pricing.usage(ProviderName.make("gemini"), ModelId.make("gemini-2.5-flash"), billed)
        assert.strictEqual(free.usage.costNanoUsd, priced.costNanoUsd)
        assert.isAbove(free.usage.costNanoUsd, off.usage.costNanoUsd)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
