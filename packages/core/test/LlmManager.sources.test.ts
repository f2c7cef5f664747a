/**
 * A `generate` or `generateStructured` result says whose text (or tool
 * calls) its answer holds (`sources`) and whether it survived a broken
 * attempt (`rescued`), as the manager saw it, whatever the provider's own
 * result says: a plain call that answers after a streamed attempt broke is
 * a rescue, and an answer of tool calls alone that broke is answered again
 * whole. Providers built in code: streams that break after their first
 * delta or answer, a provider that only answers whole.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema, Stream } from "effect"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import type { GenerationResult, StreamPart } from "../src/GenerationResult.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmManager from "../src/LlmManager.ts"
import * as LlmProvider from "../src/LlmProvider.ts"
import { ProviderConnectionFailed } from "../src/ProviderError.ts"
import * as StructuredOutput from "../src/StructuredOutput.ts"
import * as TokenUsage from "../src/TokenUsage.ts"
import * as Streaming from "./utils/streaming.ts"

const usage = TokenUsage.make({ promptTokens: 3, completionTokens: 1 }, 0, "model")

/** A provider answering by `stream` alone: `parts`, then a break when `breaks`. */
const streaming = (name: string, modelName: string, parts: ReadonlyArray<StreamPart>, breaks: boolean) => {
  const provider = ProviderName.make(name)
  const model = ModelId.make(modelName)
  const cut = new ProviderConnectionFailed({ provider, model, message: "the connection was cut" })
  return Streaming.streaming(
    provider,
    model,
    () => breaks ? Stream.concat(Stream.fromIterable(parts), Stream.fail(cut)) : Stream.fromIterable(parts)
  )
}

/** A provider whose stream hands `parts` on, then breaks. */
const breaking = (parts: ReadonlyArray<StreamPart>) => streaming("deepseek", "deepseek-chat", parts, true)

/** A provider that answers whole only (no usage in its streams), its result claiming sources of its own. */
const whole = () => {
  const provider = ProviderName.make("openai")
  const model = ModelId.make("gpt-4o-mini")
  const result = (request: { readonly requestId: GenerationResult["requestId"] }): GenerationResult => ({
    content: "whole answer",
    usage,
    model,
    provider,
    latencyMs: 0,
    finishReason: "stop",
    requestId: request.requestId,
    attempts: [],
    // a provider's own claims: the manager says whose the answer is
    sources: [{ provider: ProviderName.make("elsewhere"), model }],
    rescued: true
  })
  return Layer.succeed(
    LlmProvider.LlmProvider,
    LlmProvider.make({
      name: provider,
      model,
      capabilities: { assistantPrefill: false, streamUsage: false, structuredOutput: "json-schema" },
      generate: (request) => Effect.succeed(result(request)),
      generateStructured: (request, output) =>
        Effect.fromResult(StructuredOutput.decodeResult(output, { ...result(request), content: "{\"n\":1}" })),
      stream: () => Stream.die("streamed without usage: never streamed underneath")
    })
  )
}

const openai = [{ provider: "openai", model: "gpt-4o-mini" }]
const noRetry = FallbackPolicy.make({ maxRetries: 0 })

describe("LlmManager: a result says whose answer it is", () => {
  it.effect("a plain call answering after a streamed attempt broke is a rescue, its own source alone", () =>
    Effect.gen(function*() {
      const llm = yield* LlmManager.make({
        providers: [breaking([{ _tag: "TextDelta", text: "half an ans" }]), whole()],
        policy: noRetry
      })
      const result = yield* llm.generate({ prompt: "hi" })
      assert.deepStrictEqual([result.content, result.sources, result.rescued], ["whole answer", openai, true])
    }))

  it.effect("a plain call alone is no rescue, whatever the provider's result claims", () =>
    Effect.gen(function*() {
      const llm = yield* LlmManager.make({ providers: [whole()], policy: noRetry })
      const result = yield* llm.generate({ prompt: "hi" })
      assert.deepStrictEqual([result.sources, result.rescued], [openai, false])
      const structured = yield* llm.generateStructured({ prompt: "hi" }, Schema.Struct({ n: Schema.Number }))
      assert.deepStrictEqual([structured.value, structured.sources, structured.rescued], [{ n: 1 }, openai, false])
    }))

  it.effect("an answer of tool calls alone that broke is answered again whole: the new attempt's calls, a rescue", () =>
    Effect.gen(function*() {
      const call = { id: "call-1", name: "lookup", arguments: "{}" }
      const delta = (id: string, argumentsDelta: string): StreamPart => ({
        _tag: "ToolCallDelta",
        index: 0,
        id,
        name: "lookup",
        argumentsDelta
      })
      const provider = ProviderName.make("openai")
      const model = ModelId.make("gpt-4o-mini")
      const finish = LlmProvider.finishPart({ finishReason: "tool_calls", usage, provider, model, toolCalls: [call] })
      const llm = yield* LlmManager.make({
        providers: [
          breaking([delta("call-0", "{\"q\":")]),
          streaming(provider, model, [delta("call-1", "{}"), finish], false)
        ],
        policy: noRetry
      })
      const result = yield* llm.generate({
        prompt: "hi",
        tools: [{ name: "lookup", description: "looks up", parameters: { type: "object" } }]
      })
      assert.deepStrictEqual(result.toolCalls?.map((c) => c.id), ["call-1"])
      assert.deepStrictEqual([result.sources, result.rescued], [openai, true])
    }))
})
