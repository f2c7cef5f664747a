/**
 * The `reasoning` option on the chat-completions family, through
 * `DeepSeek.layer`, `OpenAi.layer` and `OpenAiCompatible.layer`, plain and
 * streamed, over real HTTP against the mock server:
 *
 * - DeepSeek: `"none"` turns thinking mode off (`thinking: { type:
 *   "disabled" }`), the other levels turn it on at that `reasoning_effort`.
 * - OpenAI: `reasoning_effort` per model family (nothing to a model that
 *   does not reason; `"none"` is `"low"` on the o-series, `"minimal"` on
 *   gpt-5, `"none"` on gpt-5.1 and later; gpt-5-pro only `"high"`, the
 *   gpt-5.x chat models only `"medium"`). The mock's OpenAI answers 400 as the
 *   API does for an effort a model does not take, so a wrong mapping fails.
 * - OpenAI-compatible: `reasoning_effort` with the level as given, but
 *   nothing for `"none"` (most models there do not reason; some that do
 *   reject it).
 *
 * A level only adds those fields: the rest of the body is the one sent
 * without it (DeepSeek's `reasoning_content` padding included). Left out,
 * nothing is sent. Through `LlmManager`, DeepSeek's default model at
 * `"none"` answers without reasoning billed.
 */
import type { Reasoning } from "@baton/core/GenerationOptions"
import type * as LlmManager from "@baton/core/LlmManager"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Json from "../src/internal/json.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"
import * as Turns from "./utils/turns.ts"

const apiKey = Redacted.make("sk-test-key")

const levels: ReadonlyArray<Reasoning> = ["none", "low", "medium", "high"]

/** A conversation with an earlier answer, so DeepSeek's `reasoning_content` padding shows in the body. */
const prompt: ReadonlyArray<LlmRequest.Message> = [
  { role: "user", content: "Hi" },
  { role: "assistant", content: "Hello" },
  { role: "user", content: "Weather in Oslo?" }
]

/** A body's reasoning fields (`undefined` where absent), and the rest of it. */
const split = (body: Json.JsonObject) => {
  const { reasoning_effort: effort, thinking, ...rest } = body
  return { fields: { thinking, reasoning_effort: effort }, rest }
}

/** A provider's layer on the mock server's route at `baseUrl`. */
type LayerAt = (baseUrl: string) => ReturnType<typeof OpenAi.layer>

/**
 * One call through the `LlmProvider` of `layer` (built on the mock server's
 * `mock` route), plain or streamed, asking `model` at `reasoning`: the body
 * the server received. The call must answer.
 */
const call = (
  mock: "openai" | "deepseek",
  layer: LayerAt,
  model: string | undefined,
  reasoning: Reasoning | undefined,
  stream: boolean
) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const request = yield* LlmRequest.make({
      prompt,
      options: { ...(model === undefined ? {} : { model }), ...(reasoning === undefined ? {} : { reasoning }) }
    })
    const content = yield* Effect.gen(function*() {
      const provider = yield* LlmProvider.LlmProvider
      return stream
        ? (yield* Stream.runCollect(provider.stream(request)))
          .flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
        : (yield* provider.generate(request)).content
    }).pipe(Effect.provide(layer(server.baseUrl(mock))))
    assert.include(content, "Weather in Oslo?", `${model} at ${reasoning}`)
    const body = (yield* server.received(mock)).at(-1)?.body
    return Json.isObject(body) ? body : assert.fail("no JSON body received")
  })

/** The reasoning fields each level sends, `{}` for none at all. */
type Expected = Record<Reasoning, { readonly thinking?: unknown; readonly reasoning_effort?: unknown }>

/**
 * Asks `model` at each level and with the level left out, plain and
 * streamed: each level sends its expected fields and nothing else differs
 * from the body without it, which has none of them.
 */
const checkLevels = (
  mock: "openai" | "deepseek",
  layer: LayerAt,
  model: string | undefined,
  expected: Expected
) =>
  Effect.gen(function*() {
    for (const stream of [false, true]) {
      const left = split(yield* call(mock, layer, model, undefined, stream))
      assert.deepStrictEqual(left.fields, { thinking: undefined, reasoning_effort: undefined }, `${model} left out`)
      for (const level of levels) {
        const sent = split(yield* call(mock, layer, model, level, stream))
        const how = `${model} at ${level}${stream ? ", streamed" : ""}`
        assert.deepStrictEqual(
          sent.fields,
          { thinking: undefined, reasoning_effort: undefined, ...expected[level] },
          how
        )
        assert.deepStrictEqual(sent.rest, left.rest, how)
      }
    }
  }).pipe(Effect.provide(Bench), Effect.scoped)

const effort = (none: string | undefined, low: string, medium: string, high: string): Expected => ({
  none: none === undefined ? {} : { reasoning_effort: none },
  low: { reasoning_effort: low },
  medium: { reasoning_effort: medium },
  high: { reasoning_effort: high }
})

const nothing: Expected = { none: {}, low: {}, medium: {}, high: {} }

describe("DeepSeek.layer: reasoning as thinking mode and reasoning_effort", () => {
  it.live("deepseek-flash (the default): none turns thinking off, the others turn it on at their effort", () =>
    checkLevels("deepseek", (baseUrl) => DeepSeek.layer({ apiKey, baseUrl }), undefined, {
      none: { thinking: { type: "disabled" } },
      low: { thinking: { type: "enabled" }, reasoning_effort: "low" },
      medium: { thinking: { type: "enabled" }, reasoning_effort: "medium" },
      high: { thinking: { type: "enabled" }, reasoning_effort: "high" }
    }))

  it.live("the earlier answer still carries its empty reasoning_content, thinking off or on", () =>
    Effect.gen(function*() {
      for (const level of levels) {
        const body = yield* call("deepseek", (baseUrl) => DeepSeek.layer({ apiKey, baseUrl }), undefined, level, false)
        const messages = body.messages
        assert.isArray(messages)
        assert.deepStrictEqual((messages as ReadonlyArray<unknown>)[1], {
          role: "assistant",
          content: "Hello",
          reasoning_content: ""
        }, level)
      }
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

describe("OpenAi.layer: reasoning as reasoning_effort, per model family", () => {
  const layer = (baseUrl: string) => OpenAi.layer({ apiKey, baseUrl })
  const families: ReadonlyArray<readonly [string, Expected]> = [
    ["gpt-4o-mini", nothing],
    ["gpt-4.1", nothing],
    ["gpt-5-chat-latest", nothing],
    ["ft:gpt-4o-mini:org::id", nothing],
    ["o1-mini", nothing],
    ["o1", effort("low", "low", "medium", "high")],
    ["o3-mini", effort("low", "low", "medium", "high")],
    ["o4-mini-2025-04-16", effort("low", "low", "medium", "high")],
    ["ft:o4-mini-2025-04-16:org::id", effort("low", "low", "medium", "high")],
    ["ft:gpt-5.1:org::id", effort("none", "low", "medium", "high")],
    ["ft:gpt-5:org:custom:id", effort("minimal", "low", "medium", "high")],
    ["gpt-5", effort("minimal", "low", "medium", "high")],
    ["gpt-5-mini", effort("minimal", "low", "medium", "high")],
    ["gpt-5-nano-2025-08-07", effort("minimal", "low", "medium", "high")],
    ["gpt-5.1", effort("none", "low", "medium", "high")],
    ["gpt-5.4-mini", effort("none", "low", "medium", "high")],
    ["gpt-6-sol", effort("none", "low", "medium", "high")],
    ["gpt-5-pro", effort("high", "high", "high", "high")],
    ["gpt-5-pro-2025-10-06", effort("high", "high", "high", "high")],
    ["gpt-5.1-chat-latest", effort("medium", "medium", "medium", "medium")]
  ]
  for (const [model, expected] of families) {
    it.live(`${model}: ${JSON.stringify(expected)}`, () => checkLevels("openai", layer, model, expected))
  }
})

describe("OpenAiCompatible.layer: reasoning_effort, the level as given", () => {
  it.live("any model is sent a level that asks for thinking as it is, and nothing for none", () =>
    checkLevels(
      "openai",
      (baseUrl) => OpenAiCompatible.layer({ name: "local-llm", baseUrl, model: "qwen3-8b", apiKey }),
      undefined,
      effort(undefined, "low", "medium", "high")
    ))
})

/** Posts `reasoning_effort` to the mock's OpenAI `model`: the status and, on an error, its `code` and `param`. */
const post = (model: string, effort: string) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    return yield* Effect.promise(async () => {
      const response = await fetch(`${server.baseUrl("openai")}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-test-key" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], reasoning_effort: effort })
      })
      const body = await response.json() as { readonly error?: { readonly code?: string; readonly param?: string } }
      return { status: response.status, code: body.error?.code, param: body.error?.param }
    })
  })

describe("the mock's OpenAI takes the reasoning_effort a model takes, else 400", () => {
  it.live("rejected and accepted efforts", () =>
    Effect.gen(function*() {
      const unsupported = (code: string) => ({ status: 400, code, param: "reasoning_effort" })
      const rejected: ReadonlyArray<readonly [string, string, string]> = [
        ["gpt-4o-mini", "low", "unsupported_parameter"],
        ["gpt-4.1", "high", "unsupported_parameter"],
        ["gpt-5-chat-latest", "medium", "unsupported_parameter"],
        ["o1-mini", "low", "unsupported_parameter"],
        ["o3-mini", "none", "unsupported_value"],
        ["o3", "minimal", "unsupported_value"],
        ["gpt-5", "none", "unsupported_value"],
        ["gpt-5-mini-2025-08-07", "none", "unsupported_value"],
        ["gpt-5.1", "minimal", "unsupported_value"],
        ["gpt-5-pro", "medium", "unsupported_value"],
        ["gpt-5.1-chat-latest", "low", "unsupported_value"],
        ["gpt-5.2", "max", "unsupported_value"]
      ]
      for (const [model, effort, code] of rejected) {
        assert.deepStrictEqual(yield* post(model, effort), unsupported(code), `${model} at ${effort}`)
      }
      const accepted: ReadonlyArray<readonly [string, string]> = [
        ["o3-mini", "low"],
        ["gpt-5", "minimal"],
        ["gpt-5.1", "none"],
        ["gpt-5-pro", "high"],
        ["gpt-5.1-chat-latest", "medium"],
        ["llama-3.1-8b", "none"]
      ]
      for (const [model, effort] of accepted) {
        assert.strictEqual((yield* post(model, effort)).status, 200, `${model} at ${effort}`)
      }
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

describe("LlmManager over DeepSeek's default model", () => {
  const managerOver = (via: Turns.Via) =>
    Turns.managerOver((server) => [DeepSeek.layer({ apiKey, baseUrl: server.baseUrl("deepseek") })], via)

  /** Asks "Weather in Oslo?" `via`'s way at `reasoning`. */
  const ask = (llm: LlmManager.Service, via: Turns.Via, reasoning: Reasoning | undefined) =>
    Turns.ask(
      llm,
      [{ role: "user", content: "Weather in Oslo?" }],
      via,
      undefined,
      reasoning === undefined ? {} : { reasoning }
    )

  /** The body of the last request the mock's DeepSeek received. */
  const lastBody = Effect.gen(function*() {
    const body = (yield* (yield* MockProviderServer.MockProviderServer).received("deepseek")).at(-1)?.body
    return Json.isObject(body) ? body : assert.fail("no JSON body received")
  })

  for (const via of Turns.vias) {
    it.live(`(${via}) none: thinking off, an answer with no reasoning billed; left out: no thinking field`, () =>
      Effect.gen(function*() {
        const llm = yield* managerOver(via)
        const quick = yield* ask(llm, via, "none")
        assert.strictEqual(quick.content, "Mock answer from deepseek: Weather in Oslo?")
        assert.strictEqual(quick.finishReason, "stop")
        assert.strictEqual(quick.usage.reasoningTokens, 0)
        const off = yield* lastBody
        assert.strictEqual(off.model, "deepseek-flash")
        assert.deepStrictEqual(off.thinking, { type: "disabled" })
        assert.notProperty(off, "reasoning_effort")
        assert.strictEqual((yield* (yield* MockProviderServer.MockProviderServer).stats("deepseek")).reasoningTokens, 0)

        const thought = yield* ask(llm, via, undefined)
        assert.strictEqual(thought.content, quick.content)
        assert.isAbove(thought.usage.reasoningTokens, 0)
        const left = yield* lastBody
        assert.notProperty(left, "thinking")
        assert.notProperty(left, "reasoning_effort")
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})

describe("LlmManager over OpenAI", () => {
  it.live("a request naming gpt-5 at none on a gpt-4o-mini provider is sent minimal, and answers", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* Turns.managerOver(
        (server) => [OpenAi.layer({ apiKey, baseUrl: server.baseUrl("openai") })],
        "generate"
      )
      const result = yield* llm.generate({ prompt: "Hi", options: { model: "gpt-5", reasoning: "none" } })
      assert.deepStrictEqual([String(result.provider), String(result.model)], ["openai", "gpt-5"])
      assert.include(result.content, "Mock answer from openai")
      const body = (yield* server.received("openai")).at(-1)?.body
      assert.deepStrictEqual(Json.isObject(body) ? body.reasoning_effort : undefined, "minimal")
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
