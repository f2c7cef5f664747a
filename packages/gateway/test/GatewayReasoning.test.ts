/**
 * OpenAI's `reasoning_effort`, as the official openai client and the Vercel
 * AI SDK send it, reaches the provider as Baton's `reasoning`: `"none"` and
 * `"minimal"` are `"none"` (DeepSeek's thinking off, Gemini 2.5 Flash's
 * budget 0), `"low"`, `"medium"` and `"high"` are themselves, `"xhigh"`
 * and `"max"` are `"high"`; left out or `null`, nothing is asked. Any other
 * value is a 400 naming the field, before any provider call. The level also
 * sets the first token's time limit (`FallbackPolicy.firstTokenLimit`).
 */
import { createOpenAICompatible } from "@ai-sdk/openai-compatible"
import * as MockFault from "@baton/testing/MockFault"
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { generateText } from "ai"
import { Effect, Schema } from "effect"
import * as Fixture from "./fixture.ts"

const extra = { GEMINI_API_KEY: "g-secret" }

/** The fixture's gateway, with a Gemini provider besides OpenAI and DeepSeek. */
const TestLayer = Fixture.gatewayBeside(
  (mock) => ({ gemini: { baseUrl: mock.baseUrl("gemini"), models: ["gemini-2.5-flash"] } }),
  extra
)

const messages = [{ role: "user", content: "Say hello" }]

const Completion = Schema.Struct({
  usage: Schema.Struct({ completion_tokens_details: Schema.Struct({ reasoning_tokens: Schema.Number }) })
})

/** The body `provider` received for `request` (answered 200), and the reasoning tokens the answer reported. */
const sent = (provider: MockProviderServer.MockProvider, request: Record<string, unknown>) =>
  Effect.map(Fixture.sent(provider, request), ({ answer, body }) => ({
    body,
    reasoningTokens:
      Schema.decodeUnknownSync(Completion)(JSON.parse(answer.text)).usage.completion_tokens_details.reasoning_tokens
  }))

/** Gemini's `thinkingConfig.thinkingBudget` in the body the gateway sent for `reasoning_effort`. */
const geminiBudget = (effort: string | null | undefined) =>
  Effect.map(
    sent("gemini", { model: "gemini/gemini-2.5-flash", ...(effort === undefined ? {} : { reasoning_effort: effort }) }),
    ({ body }) => Fixture.record(Fixture.record(body.generationConfig).thinkingConfig).thinkingBudget
  )

const disabled = { type: "disabled" }

layer(TestLayer, { excludeTestServices: true })("Gateway: reasoning_effort", (it) => {
  it.effect("none and minimal turn DeepSeek's thinking off: the answer bills no reasoning", () =>
    Effect.gen(function*() {
      for (const effort of ["none", "minimal"]) {
        const { body, reasoningTokens } = yield* sent("deepseek", {
          model: "deepseek/deepseek-flash",
          reasoning_effort: effort
        })
        assert.deepStrictEqual(body.thinking, disabled, effort)
        assert.strictEqual(reasoningTokens, 0, effort)
      }
    }))

  it.effect("left out or null, nothing is asked: DeepSeek thinks, as its API does by default", () =>
    Effect.gen(function*() {
      for (const request of [{}, { reasoning_effort: null }]) {
        const { body, reasoningTokens } = yield* sent("deepseek", { model: "deepseek/deepseek-flash", ...request })
        assert.notProperty(body, "thinking")
        assert.notProperty(body, "reasoning_effort")
        assert.isAbove(reasoningTokens, 0)
      }
    }))

  it.effect("each level reaches the provider as Baton's: Gemini 2.5 Flash's thinking budgets", () =>
    Effect.gen(function*() {
      const budgets: Record<string, number> = {
        none: 0,
        minimal: 0,
        low: 1024,
        medium: 4096,
        high: 16_384,
        xhigh: 16_384,
        max: 16_384
      }
      for (const [effort, budget] of Object.entries(budgets)) {
        assert.strictEqual(yield* geminiBudget(effort), budget, effort)
      }
      assert.isUndefined(yield* geminiBudget(undefined))
      assert.isUndefined(yield* geminiBudget(null))
    }))

  it.effect("the official openai client's reasoning_effort, streamed too", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const client = Fixture.client(url)
      const asked = { model: "deepseek/deepseek-flash", messages: [{ role: "user" as const, content: "Hi" }] }
      const whole = yield* Effect.promise(() =>
        client.chat.completions.create({ ...asked, reasoning_effort: "minimal" })
      )
      const streamed = yield* Effect.promise(() =>
        client.chat.completions.stream({ ...asked, reasoning_effort: "none" }).finalChatCompletion()
      )
      assert.deepStrictEqual([whole, streamed].map((answer) => answer.choices[0]?.finish_reason), ["stop", "stop"])
      assert.strictEqual(whole.usage?.completion_tokens_details?.reasoning_tokens, 0)
      const bodies = (yield* mock.received("deepseek")).map((request) => Fixture.record(request.body))
      assert.deepStrictEqual(bodies.map((body) => body.thinking), [disabled, disabled])
    }))

  it.effect("the Vercel AI SDK's reasoning setting", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      const model = createOpenAICompatible({ name: "baton", baseURL: `${url}/v1`, apiKey: Fixture.clientKey })
        .chatModel("gemini/gemini-2.5-flash")
      yield* Effect.promise(() => generateText({ model, prompt: "Say hello", reasoning: "xhigh", maxRetries: 0 }))
      const received = yield* mock.received("gemini")
      const config = Fixture.record(Fixture.record(received[0]?.body).generationConfig)
      assert.strictEqual(Fixture.record(config.thinkingConfig).thinkingBudget, 16_384)
    }))

  it.effect("any other value is a 400 naming reasoning_effort and the values it takes; no provider is called", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      for (const effort of ["extreme", "", "NONE", 3, true]) {
        const answer = yield* Fixture.post(url, { model: "fast", messages, reasoning_effort: effort })
        assert.strictEqual(answer.status, 400, answer.text)
        const { error } = Schema.decodeUnknownSync(Fixture.ErrorResponse)(JSON.parse(answer.text))
        assert.strictEqual(error.param, "reasoning_effort", answer.text)
        assert.strictEqual(error.type, "invalid_request_error", answer.text)
        assert.include(error.message, "reasoning_effort", answer.text)
        assert.include(error.message, "minimal", answer.text)
        assert.notInclude(error.message, "unknown field", answer.text)
      }
      assert.strictEqual((yield* mock.stats("openai")).requests + (yield* mock.stats("deepseek")).requests, 0)
    }))

  it.effect("the level sets the first token's time limit: the plain one at none on DeepSeek, the thinking one when asked", () =>
    Effect.gen(function*() {
      const { mock, url } = yield* Fixture.setup
      // the first token comes after 2.5 s: past the plain limit (1 s here), within the thinking one (60 s)
      const status = (provider: MockProviderServer.MockProvider, model: string, effort?: string) =>
        Effect.gen(function*() {
          yield* mock.inject(provider, MockFault.slowFirstToken(2_500))
          const body = { model, messages, ...(effort === undefined ? {} : { reasoning_effort: effort }) }
          return (yield* Fixture.post(url, body)).status
        })
      // deepseek-flash thinks by default: the thinking limit, unless asked for none, which turns its thinking off
      assert.strictEqual(yield* status("deepseek", "deepseek/deepseek-flash"), 200)
      assert.strictEqual(yield* status("deepseek", "deepseek/deepseek-flash", "none"), 504)
      // gpt-4o-mini does not think by name: the plain limit, unless asked to think
      assert.strictEqual(yield* status("openai", "openai/gpt-4o-mini"), 504)
      assert.strictEqual(yield* status("openai", "openai/gpt-4o-mini", "low"), 200)
    }))
})
