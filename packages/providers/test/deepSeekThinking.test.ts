/**
 * DeepSeek's default path: `DeepSeek.layer` without a model asks
 * `deepseek-flash`, which thinks unless a request turns thinking off
 * (DeepSeek's thinking mode is on by default), and so does the mock server's.
 * Through `LlmManager` over real HTTP, plain and streamed: the reasoning that
 * comes before the answer is never shown as text, its tokens are in the
 * usage and its cost, and a tool loop's second turn (which the server
 * refuses 400 unless the first turn's reasoning comes back with its calls)
 * goes through with that reasoning on the assistant message.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import type * as LlmRequest from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Turns from "./utils/turns.ts"

/** A manager over DeepSeek with its default model, on the mock server. */
const managerOver = (via: Turns.Via) =>
  Turns.managerOver(
    (server) => [DeepSeek.layer({ apiKey: Redacted.make("sk-test-key"), baseUrl: server.baseUrl("deepseek") })],
    via
  )

const ask = Turns.ask

/** The body of the last request the server received, as an object. */
const lastBody = Effect.gen(function*() {
  const server = yield* MockProviderServer.MockProviderServer
  const body = (yield* server.received("deepseek")).at(-1)?.body
  assert.isObject(body)
  return body as Record<string, unknown>
})

/** The `i`th message of a body. */
const messageAt = (body: Record<string, unknown>, i: number): Record<string, unknown> => {
  const messages = body.messages
  assert.isArray(messages)
  const message = (messages as ReadonlyArray<unknown>)[i]
  assert.isObject(message)
  return message as Record<string, unknown>
}

const question: LlmRequest.Message = { role: "user", content: "Weather in Oslo?" }

/** The reasoning the mock's DeepSeek writes before step `step` of a conversation opened by `question`. */
const reasoningOf = (step: number) => `Mock reasoning from deepseek, step ${step}: the user asked "Weather in Oslo?".`

const weather = {
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}

describe("DeepSeek's default model thinks", () => {
  for (const via of Turns.vias) {
    it.live(`(${via}) the reasoning is not text, and its tokens are billed`, () =>
      Effect.gen(function*() {
        const llm = yield* managerOver(via)
        const turn = yield* ask(llm, [question], via)
        assert.strictEqual(turn.finishReason, "stop")
        assert.strictEqual(turn.content, "Mock answer from deepseek: Weather in Oslo?")
        const body = yield* lastBody
        assert.strictEqual(body.model, "deepseek-flash")
        // nothing turns thinking on or off: DeepSeek's default, thinking
        assert.isUndefined(body.thinking)
        const server = yield* MockProviderServer.MockProviderServer
        const billed = yield* server.stats("deepseek")
        assert.isAbove(billed.reasoningTokens, 0)
        assert.deepStrictEqual(
          [turn.usage.promptTokens, turn.usage.completionTokens, turn.usage.reasoningTokens, turn.usage.estimated],
          [billed.promptTokens, billed.completionTokens, billed.reasoningTokens, undefined]
        )
        // the answer's own tokens and the reasoning's, all at the output price
        assert.strictEqual(turn.usage.completionTokens, Math.ceil(turn.content.length / 4) + billed.reasoningTokens)
        const pricing = yield* Pricing.Pricing
        const priced = pricing.usage(ProviderName.make("deepseek"), ModelId.make("deepseek-flash"), billed)
        assert.strictEqual(turn.usage.costNanoUsd, priced.costNanoUsd)
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.live(`(${via}) a two-turn tool loop sends the first turn's reasoning back`, () =>
      Effect.gen(function*() {
        const llm = yield* managerOver(via)
        const first = yield* ask(llm, [question], via, [weather])
        assert.strictEqual(first.finishReason, "tool_calls")
        assert.strictEqual(first.content, "")
        assert.isAbove(first.usage.reasoningTokens, 0)
        const calls = first.toolCalls ?? []
        assert.deepStrictEqual(calls.map((call) => call.name), ["get_weather"])
        const prompt: ReadonlyArray<LlmRequest.Message> = [
          question,
          { role: "assistant", content: "", toolCalls: calls },
          ...calls.map((call) => ({ role: "tool" as const, content: "rain", toolCallId: call.id, name: call.name }))
        ]
        // the server answers 400 "Missing `reasoning_content` field" unless the reasoning comes back
        const second = yield* ask(llm, prompt, via, [weather])
        assert.strictEqual(second.finishReason, "stop")
        assert.strictEqual(second.content, "Mock answer from deepseek: Weather in Oslo? [tool results: rain]")
        assert.notInclude(second.content, "Mock reasoning")
        assert.strictEqual(messageAt(yield* lastBody, 1).reasoning_content, reasoningOf(1))
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  // DeepSeek's thinking mode counts the chain of thought in max_tokens: a request for JSON whose reasoning
  // spends the limit comes back blank with finish_reason "length". That is an answer cut at max tokens, not
  // JSON mode's blank answer (a retryable MalformedResponse, asked again with the same budget).
  for (const via of ["generate", "generate over a stream"] as const) {
    it.live(`${via}: a JSON answer left blank by reasoning that spent maxTokens is that cut, asked once`, () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        yield* server.reset
        const llm = yield* LlmManager.make({
          providers: [DeepSeek.layer({ apiKey: Redacted.make("sk-test-key"), baseUrl: server.baseUrl("deepseek") })],
          policy: FallbackPolicy.make({
            maxRetries: 1,
            retryBaseDelayMs: 1,
            generateVia: via === "generate" ? "generate" : "stream"
          }),
          circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
          generationEnabled: true
        })
        const result = yield* llm.generate({
          prompt: "Give me a json object",
          options: { maxTokens: 5, responseFormat: "json" }
        })
        assert.deepStrictEqual([result.finishReason, result.content.trim()], ["length", ""])
        assert.isAbove(result.usage.reasoningTokens, 0)
        assert.strictEqual((yield* server.stats("deepseek")).requests, 1)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
