/**
 * Options that must take effect on every provider, through `LlmManager`.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { SubjectId } from "../src/Ids.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { Bench, eventually, inject, manager, stats } from "./utils/chain.ts"

const prompt = "Write one quiz question about glaciers."

describe("LlmManager options", () => {
  it.live("responseFormat json reaches Anthropic (as a system instruction: it has no JSON mode)", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["anthropic"], policy: { generateVia: "generate" } })
      const text = yield* llm.generate({ prompt })
      const json = yield* llm.generate({ prompt, options: { responseFormat: "json" } })
      // the mock bills the prompt it received: the JSON instruction made it longer
      assert.isAbove(json.usage.promptTokens, text.usage.promptTokens)
      const streamed = yield* manager({ chain: ["anthropic"] })
      const viaStream = yield* streamed.generate({ prompt, options: { responseFormat: "json" } })
      assert.strictEqual(viaStream.usage.promptTokens, json.usage.promptTokens)
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager usage a provider did not report", () => {
  for (const via of ["stream", "generate"] as const) {
    it.live(`is estimated and labelled in the result, the log and the ledger (generate via ${via})`, () =>
      Effect.gen(function*() {
        const teacher = SubjectId.make(`teacher-estimate-${via}`)
        const llm = yield* manager({ chain: ["openai"], policy: { generateVia: via } })
        yield* inject("openai", MockFault.noUsage)
        const result = yield* llm.generate({ prompt, metadata: { subjectId: teacher } })
        assert.isTrue(result.usage.estimated)
        assert.isAbove(result.usage.promptTokens, 0)
        assert.isAbove(result.usage.completionTokens, 0)
        assert.isAbove(result.usage.costNanoUsd, 0)
        const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
        assert.deepStrictEqual(records.map((r) => [r.usageReported, r.usageEstimated, r.totalTokens]), [
          [false, true, result.usage.totalTokens]
        ])
        const ledger = yield* UsageLedger.UsageLedger
        const rows = yield* ledger.usageByProvider(
          UsageLedger.Day.make("2000-01-01"),
          UsageLedger.Day.make("2100-01-01"),
          { subjectId: teacher }
        )
        assert.deepStrictEqual(rows.map((row) => [row.provider, row.totalTokens]), [
          ["openai", result.usage.totalTokens]
        ])
      }).pipe(Effect.provide(Bench), Effect.provide(Layer.merge(RequestLog.layerMemory(), UsageLedger.layerMemory()))))
  }

  it.live("of a stream cut after text, before its usage: estimated from the prompt and the text, and billed", () =>
    Effect.gen(function*() {
      const teacher = SubjectId.make("teacher-estimate-cut")
      const llm = yield* manager({ chain: ["openai"], policy: { maxRetries: 1 } })
      yield* inject("openai", MockFault.cutStreamAfter(3), { times: 1 })
      const result = yield* llm.generate({ prompt, metadata: { subjectId: teacher } })
      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      assert.deepStrictEqual(records.map((r) => [r.outcome, r.usageReported, r.usageEstimated]), [
        ["error", false, true],
        ["success", true, false]
      ])
      const [cut, served] = records
      assert.isAbove(cut?.promptTokens ?? 0, 0)
      assert.isAbove(cut?.completionTokens ?? 0, 0)
      assert.isAbove(cut?.costNanoUsd ?? 0, 0)
      // the request billed both attempts, the result says so and is marked estimated
      assert.strictEqual(result.usage.totalTokens, (cut?.totalTokens ?? 0) + (served?.totalTokens ?? 0))
      assert.isTrue(result.usage.estimated)
      const ledger = yield* UsageLedger.UsageLedger
      const rows = yield* ledger.usageByProvider(
        UsageLedger.Day.make("2000-01-01"),
        UsageLedger.Day.make("2100-01-01"),
        { subjectId: teacher }
      )
      assert.deepStrictEqual(rows.map((row) => [row.provider, row.totalTokens]), [["openai", result.usage.totalTokens]])
    }).pipe(Effect.provide(Bench), Effect.provide(Layer.merge(RequestLog.layerMemory(), UsageLedger.layerMemory()))))

  for (const kind of ["anthropic", "gemini"] as const) {
    it.live(`of a stream its caller stopped before its whole usage came (${kind}): not reported whole, estimated`, () =>
      Effect.gen(function*() {
        // Anthropic's message_start holds a placeholder output count, Gemini's chunks a running total: neither whole
        yield* inject(kind, MockFault.slowTokens(50))
        const llm = yield* manager({ chain: [kind] })
        const parts = yield* Stream.runCollect(Stream.take(llm.stream({ prompt }), 1))
        assert.strictEqual(parts.length, 1)
        yield* eventually(Effect.map(stats(kind), (s) => s.cancelled === 1))
        const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
        assert.deepStrictEqual(records.map((r) => [r.outcome, r.usageReported, r.usageEstimated]), [
          ["cancelled", false, true]
        ])
        assert.isAbove(records[0]?.completionTokens ?? 0, 0)
      }).pipe(Effect.provide(Bench), Effect.provide(RequestLog.layerMemory())))
  }
})
