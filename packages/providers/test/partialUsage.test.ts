/**
 * Usage a provider reports only in part is never billed as if exact: an
 * answer whose output count is missing is billed the estimate of its text
 * (four characters a token) where that is more, flagged `estimated`, on the
 * result, its request log record and its ledger row. That is an Anthropic
 * stream whose `message_delta` carries no `usage` (the `message_start`'s 1
 * output token is a placeholder), a Gemini stream whose finishing chunk
 * carries no `usageMetadata` (the earlier running total is stale), and a
 * Gemini `usageMetadata` without `candidatesTokenCount` and without a
 * `totalTokenCount` that says it. A `totalTokenCount` does say it
 * (prompt + candidates + tool-use prompt + thoughts): the candidates are what
 * it leaves, as reported. Well-formed replies stay exact. A reasoning count
 * above the output's it is part of (OpenAI's `reasoning_tokens`) is kept
 * within it, as a cached count is within the prompt's. Through
 * `LlmManager`, plain and streamed, over real HTTP from a server that sends
 * exactly the given reply.
 */
import type { TokenUsage } from "@baton/core/TokenUsage"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Anthropic from "../src/Anthropic.ts"
import * as Gemini from "../src/Gemini.ts"
import { anthropicMessage } from "./utils/anthropicMessage.ts"
import * as Manager from "./utils/manager.ts"
import * as Usage from "./utils/usage.ts"

const apiKey = Redacted.make("sk-test-key")

/** claude-haiku-4-5: $1 input, $5 output per million tokens. */
const anthropic = Manager.alone((baseUrl) => Anthropic.layer({ apiKey, baseUrl, model: "claude-haiku-4-5" }))
/** gemini-2.5-flash: $0.30 input, $2.50 output per million tokens. */
const gemini = Manager.alone((baseUrl) => Gemini.layer({ apiKey, baseUrl, model: "gemini-2.5-flash" }))

/** 4,000 characters: an estimate of 1,000 tokens. */
const long = "word ".repeat(800)

const anthropicEvents = (delta: Record<string, unknown>) => anthropicMessage(long, delta)

const geminiAnswer = (text: string, finishReason?: string, usageMetadata?: Record<string, number>) => ({
  candidates: [{ content: { role: "model", parts: [{ text }] }, ...(finishReason ? { finishReason } : {}) }],
  ...(usageMetadata ? { usageMetadata } : {})
})

/** Prompt tokens, completion tokens, cost in nano-USD, and whether it is Baton's estimate. */
type Billed = readonly [number, number, number, boolean]

const billedOf = (usage: TokenUsage | undefined): Billed => [
  usage?.promptTokens ?? -1,
  usage?.completionTokens ?? -1,
  usage?.costNanoUsd ?? -1,
  usage?.estimated === true
]

/**
 * The usage of one call made `way` through the manager `make` builds over a server sending `reply`, checked to
 * be what the request log and the usage ledger recorded.
 */
const billed = (
  make: typeof gemini,
  way: Usage.Way,
  reply: RawServer.Reply
) =>
  Effect.gen(function*() {
    const [generateVia, call] = Usage.calls[way]
    const server = yield* RawServer.start(reply)
    const llm = yield* make(server.url, { generateVia })
    const usage = billedOf(yield* call(llm))

    const { records, rows } = yield* Usage.recorded
    assert.deepStrictEqual(
      records.map((r): Billed => [r.promptTokens, r.completionTokens, r.costNanoUsd, r.usageEstimated]),
      [usage]
    )
    assert.deepStrictEqual(
      rows.map((row) => [row.promptTokens, row.completionTokens, row.costNanoUsd]),
      [usage.slice(0, 3)]
    )
    return usage
  }).pipe(Effect.provide(Usage.layer), Effect.scoped)

const streamed: ReadonlyArray<Usage.Way> = ["generate (generateVia: stream)", "stream"]

describe("Anthropic: a message_delta without usage", () => {
  for (const way of streamed) {
    it.live(`${way}: the output is the estimate of the text, flagged`, () =>
      Effect.gen(function*() {
        const usage = yield* billed(anthropic, way, { body: {}, events: anthropicEvents({}) })
        // 5 × 1,000 + 1,000 × 5,000 nano-USD
        assert.deepStrictEqual(usage, [5, 1_000, 5_005_000, true])
      }))

    it.live(`${way}: the output the message_delta counts is exact, below the estimate too`, () =>
      Effect.gen(function*() {
        const events = anthropicEvents({ usage: { output_tokens: 998 } })
        const usage = yield* billed(anthropic, way, { body: {}, events })
        // 5 × 1,000 + 998 × 5,000 nano-USD
        assert.deepStrictEqual(usage, [5, 998, 4_995_000, false])
      }))
  }
})

describe("Gemini: a finishing chunk without usageMetadata", () => {
  const early = geminiAnswer("a", undefined, { promptTokenCount: 5, candidatesTokenCount: 1, totalTokenCount: 6 })

  for (const way of streamed) {
    it.live(`${way}: the stale running total is raised to the estimate of the text, flagged`, () =>
      Effect.gen(function*() {
        const usage = yield* billed(gemini, way, { body: {}, events: [early, geminiAnswer(long, "STOP")] })
        // 4,001 characters: 1,001 tokens; 5 × 300 + 1,001 × 2,500 nano-USD
        assert.deepStrictEqual(usage, [5, 1_001, 2_504_000, true])
      }))

    it.live(`${way}: the usage of the finishing chunk is exact, below the estimate too`, () =>
      Effect.gen(function*() {
        const last = geminiAnswer(long, "STOP", {
          promptTokenCount: 5,
          candidatesTokenCount: 990,
          totalTokenCount: 995
        })
        const usage = yield* billed(gemini, way, { body: {}, events: [early, last] })
        // 5 × 300 + 990 × 2,500 nano-USD
        assert.deepStrictEqual(usage, [5, 990, 2_476_500, false])
      }))
  }
})

describe("Gemini: usageMetadata without candidatesTokenCount", () => {
  const reply = (usageMetadata: Record<string, number>): RawServer.Reply => {
    const body = geminiAnswer(long, "STOP", usageMetadata)
    return { body, events: [body] }
  }

  for (const way of ["generate (generateVia: generate)", ...streamed] as const) {
    it.live(`${way}: the candidates are what totalTokenCount leaves, as reported`, () =>
      Effect.gen(function*() {
        const usage = yield* billed(gemini, way, reply({ promptTokenCount: 5, totalTokenCount: 1_005 }))
        // 5 × 300 + 1,000 × 2,500 nano-USD
        assert.deepStrictEqual(usage, [5, 1_000, 2_501_500, false])
        const thinking = yield* billed(
          gemini,
          way,
          reply({ promptTokenCount: 5, toolUsePromptTokenCount: 10, thoughtsTokenCount: 20, totalTokenCount: 435 })
        )
        // 15 × 300 + (400 + 20) × 2,500 nano-USD
        assert.deepStrictEqual(thinking, [15, 420, 1_054_500, false])
      }))

    it.live(`${way}: without a total that says it, the output is the estimate of the text, flagged`, () =>
      Effect.gen(function*() {
        for (const usageMetadata of [{ promptTokenCount: 5 }, { promptTokenCount: 5, totalTokenCount: 5 }]) {
          const usage = yield* billed(gemini, way, reply(usageMetadata))
          // 5 × 300 + 1,000 × 2,500 nano-USD
          assert.deepStrictEqual(usage, [5, 1_000, 2_501_500, true], JSON.stringify(usageMetadata))
        }
      }))
  }
})

describe("Gemini: a whole usage without candidatesTokenCount and no answer", () => {
  // Gemini 2.5 thought until maxOutputTokens: no parts, and its JSON leaves the 0 candidates count out
  const spent = {
    candidates: [{ content: { role: "model" }, finishReason: "MAX_TOKENS" }],
    usageMetadata: { promptTokenCount: 12, thoughtsTokenCount: 200, totalTokenCount: 212 }
  }

  for (const way of ["generate (generateVia: generate)", ...streamed] as const) {
    it.live(`${way}: is what Gemini reported, not flagged estimated`, () =>
      Effect.gen(function*() {
        const usage = yield* billed(gemini, way, { body: spent, events: [spent] })
        // 12 × 300 + 200 × 2,500 nano-USD
        assert.deepStrictEqual(usage, [12, 200, 503_600, false])
      }))
  }
})

describe("OpenAI: reasoning_tokens above completion_tokens", () => {
  const usage = { prompt_tokens: 10, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 99 } }
  const answer = (delta: Record<string, unknown>, finish: string | null) => ({
    id: "chatcmpl-1",
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta, finish_reason: finish }]
  })
  const reply: RawServer.Reply = {
    body: {
      id: "chatcmpl-1",
      model: "gpt-4o-mini",
      choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
      usage
    },
    events: [answer({ content: "ok" }, null), answer({}, "stop"), { id: "chatcmpl-1", choices: [], usage }]
  }

  for (const way of ["generate (generateVia: generate)", ...streamed] as const) {
    it.live(`${way}: the reasoning counted is at most the output it is part of`, () =>
      Effect.gen(function*() {
        const [generateVia, call] = Usage.calls[way]
        const server = yield* RawServer.start(reply)
        const result = yield* call(yield* Manager.openAi(server.url, { generateVia }))
        const { records, rows } = yield* Usage.recorded
        assert.deepStrictEqual(
          [result, ...records, ...rows].map((r) => [r?.completionTokens, r?.reasoningTokens]),
          [[5, 5], [5, 5], [5, 5]]
        )
      }).pipe(Effect.provide(Usage.layer), Effect.scoped))
  }
})
