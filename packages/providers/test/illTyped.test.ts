/**
 * Ill-typed fields in a provider's reply are `MalformedResponse` (which
 * falls back), never a shorter answer billed as a success: plain and
 * streamed alike, through `LlmManager`, over real HTTP from a server that
 * sends exactly the given body.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"

type Kind = "openai" | "anthropic" | "gemini"

const apiKey = Redacted.make("sk-test-key")
const adapters = { openai: OpenAi.layer, anthropic: Anthropic.layer, gemini: Gemini.layer } as const

const openAiUsage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }
const openAiPlain = (message: unknown) => ({
  choices: [{ index: 0, message, finish_reason: "stop" }],
  usage: openAiUsage
})
const openAiChunks = (delta: unknown) => [
  { choices: [{ index: 0, delta, finish_reason: null }] },
  { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
  { choices: [], usage: openAiUsage },
  "[DONE]"
]
const anthropicEvents = (delta: unknown) => [
  { type: "message_start", message: { usage: { input_tokens: 3, output_tokens: 0 } } },
  { type: "content_block_delta", index: 0, delta },
  { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } },
  { type: "message_stop" }
]
const geminiReply = (content: unknown) => ({
  candidates: [{ content, finishReason: "STOP" }],
  usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 }
})

const cases: ReadonlyArray<
  readonly [string, Kind, { readonly body: unknown; readonly events: ReadonlyArray<unknown> }]
> = [
  ["openai content: null", "openai", {
    body: openAiPlain({ role: "assistant", content: null }),
    events: openAiChunks({ content: null, role: 5 })
  }],
  ["openai content: a number", "openai", {
    body: openAiPlain({ role: "assistant", content: 42 }),
    events: openAiChunks({ content: 42 })
  }],
  ["openai delta.content: []", "openai", {
    body: openAiPlain({ role: "assistant", content: ["a"] }),
    events: openAiChunks({ content: [] })
  }],
  ["anthropic delta: null", "anthropic", {
    body: {
      content: [{ type: "text", text: 5 }],
      stop_reason: "end_turn",
      usage: { input_tokens: 3, output_tokens: 2 }
    },
    events: anthropicEvents(null)
  }],
  ["anthropic text: a number", "anthropic", {
    body: { content: 5, stop_reason: "end_turn", usage: { input_tokens: 3, output_tokens: 2 } },
    events: anthropicEvents({ type: "text_delta", text: 7 })
  }],
  ["gemini parts: 5", "gemini", { body: geminiReply({ parts: 5 }), events: [geminiReply({ parts: 5 })] }],
  ["gemini text: a number", "gemini", {
    body: geminiReply({ parts: [{ text: 1 }] }),
    events: [geminiReply({ parts: [{ text: 1 }] })]
  }],
  ["openai tool call id: a number", "openai", {
    body: openAiPlain({
      role: "assistant",
      content: null,
      tool_calls: [{ id: 5, type: "function", function: { name: "f", arguments: "{}" } }]
    }),
    events: openAiChunks({ tool_calls: [{ index: 0, id: "call_1", function: { name: "f", arguments: 7 } }] })
  }],
  ["anthropic tool_use without a name", "anthropic", {
    body: {
      content: [{ type: "tool_use", id: "toolu_1", input: {} }],
      stop_reason: "tool_use",
      usage: { input_tokens: 3, output_tokens: 2 }
    },
    events: [
      anthropicEvents(null)[0],
      { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_1", input: {} } },
      ...anthropicEvents({ type: "text_delta", text: "" }).slice(2)
    ]
  }],
  ["gemini functionCall args: a string", "gemini", {
    body: geminiReply({ parts: [{ functionCall: { name: "f", args: "x" } }] }),
    events: [geminiReply({ parts: [{ functionCall: { args: {} } }] })]
  }]
]

const run = (kind: Kind, url: string, via: "stream" | "generate") =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const llm = yield* LlmManager.make({
      providers: [
        adapters[kind]({ apiKey, baseUrl: url }),
        kind === "openai"
          ? adapters.anthropic({ apiKey, baseUrl: mock.baseUrl("anthropic") })
          : adapters.openai({ apiKey, baseUrl: mock.baseUrl("openai") })
      ],
      policy: FallbackPolicy.make({ maxRetries: 0, generateVia: via }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
    return yield* llm.generate({ prompt: "hi" })
  })

describe("ill-typed replies through LlmManager", () => {
  for (const [name, kind, reply] of cases) {
    for (const via of ["generate", "stream"] as const) {
      it.live(`${name} (${via === "stream" ? "streamed" : "plain"}) is MalformedResponse and falls back`, () =>
        Effect.gen(function*() {
          const server = yield* RawServer.start(reply)
          const result = yield* run(kind, server.url, via)
          assert.notStrictEqual(String(result.provider), kind)
          const error = result.attempts[0]?.error
          assert.strictEqual(error?._tag, "MalformedResponse")
          if (via === "generate") {
            // the provider billed the reply it sent: its usage is recorded, though the answer is refused
            assert.strictEqual(error?._tag === "MalformedResponse" ? error.usage?.totalTokens : undefined, 5)
          }
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }
  }
})
