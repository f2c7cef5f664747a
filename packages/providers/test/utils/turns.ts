/**
 * One turn of a conversation through `LlmManager`, asked the three ways a
 * caller may: `generate` over a plain reply, `generate` over a stream, or
 * `stream`; and what it answered, alike whichever way it was asked.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { GenerationResult, StreamPart } from "@baton/core/GenerationResult"
import * as LlmManager from "@baton/core/LlmManager"
import type * as LlmRequest from "@baton/core/LlmRequest"
import type { TokenUsage } from "@baton/core/TokenUsage"
import type * as Tool from "@baton/core/Tool"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert } from "@effect/vitest"
import { Effect, Stream } from "effect"

/** How a turn is asked for: `generate` over a plain reply or over a stream, or `stream`. */
export type Via = "generate" | "generate over a stream" | "stream"

/** The three ways. */
export const vias: ReadonlyArray<Via> = ["generate", "generate over a stream", "stream"]

/**
 * A manager over the providers `providersOf` builds on the mock server (reset first), asking `via`'s way: no
 * retries, a circuit that does not open within a test.
 */
export const managerOver = <E, R>(
  providersOf: (server: MockProviderServer.MockProviderServer["Service"]) => LlmManager.Options<E, R>["providers"],
  via: Via
) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    yield* server.reset
    return yield* LlmManager.make({
      providers: providersOf(server),
      policy: FallbackPolicy.make({ maxRetries: 0, generateVia: via === "generate" ? "generate" : "stream" }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
  })

/** What a turn answered, from a result or a stream's parts (the text its deltas, the rest its `Finish`'s). */
export interface Turn {
  readonly content: string
  readonly finishReason: GenerationResult["finishReason"]
  readonly provider: string
  readonly usage: TokenUsage
  readonly toolCalls?: ReadonlyArray<Tool.ToolCall> | undefined
}

const fromStream = (parts: ReadonlyArray<StreamPart>): Turn => {
  const finish = parts.at(-1)
  if (finish?._tag !== "Finish") return assert.fail(`the stream ended with ${finish?._tag}, not Finish`)
  return {
    content: parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join(""),
    finishReason: finish.finishReason,
    provider: finish.provider,
    usage: finish.usage,
    toolCalls: finish.toolCalls
  }
}

/** Asks `prompt`, with `tools` and `options` if any, `via`'s way. */
export const ask = (
  llm: LlmManager.Service,
  prompt: ReadonlyArray<LlmRequest.Message>,
  via: Via,
  tools?: ReadonlyArray<Tool.Input>,
  options?: LlmRequest.Input["options"]
): Effect.Effect<Turn, unknown> => {
  const request = { prompt, ...(tools === undefined ? {} : { tools }), ...(options === undefined ? {} : { options }) }
  return via === "stream"
    ? Effect.map(Stream.runCollect(llm.stream(request)), fromStream)
    : Effect.map(llm.generate(request), (result): Turn => result)
}
