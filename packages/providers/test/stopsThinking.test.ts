/**
 * `Capabilities.stopsThinking` of each adapter says what its own request
 * body does: a model it claims `reasoning: "none"` turns thinking off for is
 * sent the field that turns it off (DeepSeek's `thinking: disabled`,
 * OpenAI's `reasoning_effort: "none"`, Gemini's `thinkingBudget: 0`,
 * Anthropic's `thinking: disabled`), so the manager never gives a model that
 * still thinks the plain first-token limit. Through each layer over real
 * HTTP against the mock server, reading the body it received. The
 * OpenAI-compatible adapter sends nothing for `"none"` and claims nothing.
 */
import type { LlmConfigError } from "@baton/core/LlmError"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import type * as Pricing from "@baton/core/Pricing"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import type { HttpClient } from "effect/http"
import { Bench, type Kind } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

const apiKey = Redacted.make("sk-test-key")

type Body = Record<string, unknown>

/** What a provider layer needs: the HTTP client and the prices (the bench gives both). */
type Deps = HttpClient.HttpClient | Pricing.Pricing

/** DeepSeek's and Anthropic's field: `thinking: { type: "disabled" }`. */
const thinkingDisabled = (body: Body): boolean => (body.thinking as Body | undefined)?.type === "disabled"

/** Whether a body sent for `"none"` turns the model's thinking off, by each provider's field. */
const turnsOff: Record<Kind, (body: Body) => boolean> = {
  deepseek: thinkingDisabled,
  anthropic: thinkingDisabled,
  openai: (body) => body.reasoning_effort === "none",
  gemini: (body) =>
    ((body.generationConfig as Body | undefined)?.thinkingConfig as Body | undefined)?.thinkingBudget === 0
}

/** Each adapter, and the models it is expected to stop thinking for at `"none"` (true) or not (false). */
const cases: ReadonlyArray<
  readonly [
    Kind,
    (baseUrl: string) => Layer.Layer<LlmProvider.LlmProvider, LlmConfigError, Deps>,
    Record<string, boolean>
  ]
> = [
  ["deepseek", (baseUrl) => DeepSeek.layer({ apiKey, baseUrl }), {
    "deepseek-flash": true,
    "deepseek-v4-pro": true,
    "deepseek-v4-flash": true,
    "deepseek-reasoner": false
  }],
  ["openai", (baseUrl) => OpenAi.layer({ apiKey, baseUrl }), {
    "gpt-5.1": true,
    "gpt-5.4-mini": true,
    "gpt-6-sol": true,
    "ft:gpt-5.1:org::id": true,
    "gpt-5": false,
    "gpt-5-mini": false,
    "gpt-5-pro": false,
    "gpt-5.1-chat-latest": false,
    "o4-mini": false,
    "gpt-4o": false
  }],
  ["gemini", (baseUrl) => Gemini.layer({ apiKey, baseUrl }), {
    "gemini-2.5-flash": true,
    "gemini-2.5-flash-lite": true,
    "models/gemini-2.5-flash": true,
    "gemini-2.5-flash-preview-09-2025": true,
    "gemini-2.5-pro": false,
    "gemini-3-flash-preview": false,
    "gemini-3-pro-preview": false,
    "gemini-2.0-flash": false
  }],
  ["anthropic", (baseUrl) => Anthropic.layer({ apiKey, baseUrl }), {
    "claude-sonnet-4-6": true,
    "claude-sonnet-4-5": true,
    "deepseek-v4-pro": true,
    // other vendors' thinking models on the Anthropic format: sent `disabled`, but they think whatever they are sent
    "deepseek-reasoner": false,
    "kimi-k2-thinking": false,
    "claude-3-5-haiku-latest": false
  }]
]

/** The `stopsThinking` capability of the provider in context. */
const claimed = LlmProvider.LlmProvider.useSync((provider) => provider.capabilities.stopsThinking)

/** The body `kind`'s mock received for a `"none"` request to `model` through the provider in context. */
const sentForNone = (kind: Kind, model: string) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    yield* server.reset
    const provider = yield* LlmProvider.LlmProvider
    yield* provider.generate(yield* LlmRequest.make({ prompt: "hi", options: { model, reasoning: "none" } }))
    return (yield* server.received(kind)).at(-1)?.body as Body
  })

describe("Capabilities.stopsThinking: what each adapter sends for reasoning \"none\"", () => {
  for (const [kind, layer, models] of cases) {
    it.live(kind, () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        const provider = yield* Layer.build(layer(server.baseUrl(kind)))
        const claim = yield* Effect.provide(claimed, provider)
        for (const [model, expected] of Object.entries(models)) {
          const body = yield* Effect.provide(sentForNone(kind, model), provider)
          assert.strictEqual(claim?.(model), expected, model)
          // the claim never goes beyond what the body does
          if (expected) assert.isTrue(turnsOff[kind](body), `${model}: ${JSON.stringify(body)}`)
        }
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.live("an OpenAI-compatible endpoint, whatever its name, claims nothing: it is sent nothing for \"none\"", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const provider = yield* Layer.build(
        OpenAiCompatible.layer({
          name: "deepseek",
          apiKey,
          baseUrl: server.baseUrl("deepseek"),
          model: "deepseek-flash"
        })
      )
      const body = yield* Effect.provide(sentForNone("deepseek", "deepseek-flash"), provider)
      assert.isUndefined(body.thinking)
      assert.isUndefined(body.reasoning_effort)
      assert.isUndefined(yield* Effect.provide(claimed, provider))
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
