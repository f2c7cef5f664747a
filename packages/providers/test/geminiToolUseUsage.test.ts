/**
 * Gemini bills the tokens of tool-use results in the prompt
 * (`usageMetadata.toolUsePromptTokenCount`, outside `promptTokenCount`;
 * `totalTokenCount` = prompt + candidates + toolUse + thoughts) as input: a
 * call that used tools counts them in its input tokens, its total and its
 * cost, on the result, its request log record and its ledger row, plain or
 * streamed. Through `LlmManager`, over real HTTP from a server that sends
 * exactly the given reply.
 */
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Gemini from "../src/Gemini.ts"
import * as Manager from "./utils/manager.ts"
import * as Usage from "./utils/usage.ts"

const apiKey = Redacted.make("sk-test-key")

/** gemini-2.5-flash: $0.30 input, $2.50 output per million tokens. */
const gemini = Manager.alone((baseUrl) => Gemini.layer({ apiKey, baseUrl, model: "gemini-2.5-flash" }))

const answer = (text: string, finishReason?: string) => ({
  candidates: [{ content: { role: "model", parts: [{ text }] }, ...(finishReason ? { finishReason } : {}) }],
  modelVersion: "gemini-2.5-flash"
})

/** 10 prompt tokens, 90 of tool-use results, 2 of answer and 3 of thoughts: 105 in all. */
const usageMetadata = {
  promptTokenCount: 10,
  toolUsePromptTokenCount: 90,
  candidatesTokenCount: 2,
  thoughtsTokenCount: 3,
  totalTokenCount: 105
}

const body = { ...answer("Mars.", "STOP"), usageMetadata }
const events = [
  // a running total: the first chunk's counts are provisional
  { ...answer("Ma"), usageMetadata: { promptTokenCount: 10, toolUsePromptTokenCount: 90, totalTokenCount: 100 } },
  { ...answer("rs.", "STOP"), usageMetadata }
]

describe("Gemini: toolUsePromptTokenCount", () => {
  for (const [name, [generateVia, call]] of Object.entries(Usage.calls)) {
    it.live(`${name}: tool-use prompt tokens are input tokens, in the result, the log and the ledger`, () =>
      Effect.gen(function*() {
        const server = yield* RawServer.start({ body, events })
        const llm = yield* gemini(server.url, { generateVia })
        const usage = yield* call(llm)
        // 100 × 300 + 5 × 2,500 nano-USD
        const expected = [100, 5, 105, 42_500]
        assert.deepStrictEqual(
          [usage?.promptTokens, usage?.completionTokens, usage?.totalTokens, usage?.costNanoUsd],
          expected
        )
        assert.isUndefined(usage?.estimated)

        const { records, rows } = yield* Usage.recorded
        assert.deepStrictEqual(
          records.map((r) => [r.promptTokens, r.completionTokens, r.totalTokens, r.costNanoUsd]),
          [expected]
        )
        assert.deepStrictEqual(
          rows.map((row) => [row.promptTokens, row.completionTokens, row.totalTokens, row.costNanoUsd]),
          [expected]
        )
      }).pipe(Effect.provide(Usage.layer), Effect.scoped))
  }
})
