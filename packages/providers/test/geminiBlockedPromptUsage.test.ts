/**
 * A prompt Gemini blocks (`promptFeedback.blockReason`, no candidates) is
 * billed the prompt tokens Gemini reported beside the block
 * (`usageMetadata.promptTokenCount`): the `ContentFiltered` the manager
 * builds carries them, and so do its request log record and its ledger row,
 * whether the call was a plain `generateContent` or a stream. Through
 * `LlmManager`, over real HTTP from a server that sends exactly the given
 * reply, the mock server's OpenAI behind it (never asked: a blocked prompt is
 * not sent elsewhere).
 */
import type * as LlmManager from "@baton/core/LlmManager"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-test-key")

const gemini = Manager.withMockFallback((baseUrl) => Gemini.layer({ apiKey, baseUrl }))

/** Gemini's answer to a blocked prompt: no candidates, the block reason and the prompt's usage. */
const blocked = {
  promptFeedback: { blockReason: "PROHIBITED_CONTENT" },
  usageMetadata: { promptTokenCount: 638, totalTokenCount: 638 },
  modelVersion: "gemini-2.5-flash",
  responseId: "blocked-1"
}

const calls = {
  "generate (generateVia: generate)": ["generate", (llm: LlmManager.Service) => llm.generate({ prompt: "hi" })],
  "generate (generateVia: stream)": ["stream", (llm: LlmManager.Service) => llm.generate({ prompt: "hi" })],
  "stream": ["stream", (llm: LlmManager.Service) => Stream.runDrain(llm.stream({ prompt: "hi" }))]
} as const

describe("Gemini: a prompt blocked by promptFeedback.blockReason", () => {
  for (const [name, [generateVia, call]] of Object.entries(calls)) {
    it.live(`${name}: ContentFiltered billed the prompt tokens Gemini reported, in the log and the ledger`, () =>
      Effect.gen(function*() {
        const server = yield* RawServer.start({ body: blocked, events: [blocked] })
        const llm = yield* gemini(server.url, { maxRetries: 2, retryBaseDelayMs: 1, generateVia })
        const failure = yield* Effect.flip(call(llm))
        const attempts = failure._tag === "AllProvidersFailed" ? failure.attempts : []
        assert.deepStrictEqual(attempts.map((a) => [String(a.provider), a.error?._tag]), [
          ["gemini", "ContentFiltered"]
        ])
        assert.strictEqual((yield* (yield* MockProviderServer.MockProviderServer).stats("openai")).requests, 0)
        const error = attempts[0]?.error
        assert.deepStrictEqual(
          error?._tag === "ContentFiltered" ? [error.stage, error.usage?.promptTokens] : undefined,
          ["prompt", 638]
        )

        const records = yield* (yield* RequestLog.RequestLogMemory).records
        assert.deepStrictEqual(
          records.map((r) => [r.errorTag, r.promptTokens, r.completionTokens, r.usageReported]),
          [["ContentFiltered", 638, 0, true]]
        )
        const ledger = yield* UsageLedger.UsageLedger
        yield* ledger.flush
        const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
        const rows = yield* ledger.usageByProvider(day, day)
        assert.deepStrictEqual(rows.map((row) => [String(row.provider), row.promptTokens]), [["gemini", 638]])
      }).pipe(
        Effect.provide(Layer.mergeAll(Bench, RequestLog.layerMemory(), UsageLedger.layerMemory())),
        Effect.scoped
      ))
  }
})
