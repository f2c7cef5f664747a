/**
 * A tool-call stream stopped right after the delta that opens the call (its
 * id and name, no arguments yet), cut or stalled: the provider billed the
 * name it sent, so the attempt is billed at least the estimate of it, as a
 * stream stopped after text is, in the error's or result's usage, the
 * request log and the usage ledger.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { StreamPart } from "../src/GenerationResult.ts"
import type * as LlmRequest from "../src/LlmRequest.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { Bench, eventually, inject, liveWait, manager, pick, stats } from "./utils/chain.ts"

const request: LlmRequest.Input = {
  prompt: "What is the weather in Paris?",
  tools: [{ name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }],
  toolChoice: { tool: "get_weather" }
}

/** The least a call named `get_weather` is billed: its name, four characters a token. */
const nameTokens = Math.ceil("get_weather".length / 4)

const Services = Layer.merge(RequestLog.layerMemory(), UsageLedger.layerMemory())

/** The request log's rows of `provider`, and the ledger's output tokens for it today. */
const recorded = (provider: string) =>
  Effect.gen(function*() {
    const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
    const ledger = yield* UsageLedger.UsageLedger
    yield* ledger.flush
    const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
    const rows = yield* ledger.usageByProvider(day, day)
    return {
      log: records.filter((r) => r.provider === provider).map((r) => [r.usageEstimated, r.completionTokens] as const),
      ledger: rows.filter((row) => row.provider === provider).reduce((sum, row) => sum + row.completionTokens, 0)
    }
  })

describe("a tool-call stream stopped after the call's id and name", () => {
  // the mock's events after the format's leading ones, up to the call's opening: OpenAI's opening chunk follows
  // them, Anthropic's `content_block_start` of the `tool_use` is the last of them
  for (const [kind, after] of [["openai", 1], ["anthropic", 0]] as const) {
    it.effect(`${kind}: stream, cut there: StreamInterrupted billed the estimate of the name`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: [kind] })
        yield* inject(kind, MockFault.cutStreamAfter(after))
        const parts: Array<StreamPart> = []
        const error = yield* Effect.flip(
          Stream.runForEach(llm.stream(request), (part) => Effect.sync(() => parts.push(part)))
        )
        assert.deepStrictEqual(
          parts.map((part) => part._tag === "ToolCallDelta" ? [part.name, part.argumentsDelta] : part._tag),
          [["get_weather", ""]]
        )
        assert.strictEqual(error._tag, "StreamInterrupted")
        const usage = error._tag === "StreamInterrupted" ? error.usage : undefined
        assert.strictEqual(usage?.estimated, true)
        assert.isAtLeast(usage?.completionTokens ?? 0, nameTokens)
        const { ledger, log } = yield* recorded(kind)
        assert.deepStrictEqual(log, [[true, usage?.completionTokens ?? -1]])
        assert.strictEqual(ledger, usage?.completionTokens)
      }).pipe(Effect.provide(Bench), Effect.provide(Services)))
  }

  it.effect("generate, stalled there past the idle limit: the result's usage counts the estimate of the name", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { limits: { idleMs: 300 } } })
      yield* inject("openai", MockFault.stallMidStream("forever", { after: 1 }))
      const fiber = yield* Effect.forkChild(llm.generate(request))
      yield* eventually(Effect.map(stats("openai"), (s) => s.requests === 1))
      // real time for the call's first delta to reach the client; then the stall runs on the test clock
      yield* liveWait(200)
      yield* TestClock.adjust(300)
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "error", "ProviderTimeout"],
        ["anthropic", "success", undefined]
      ])
      assert.strictEqual(result.toolCalls?.[0]?.name, "get_weather")
      const { ledger, log } = yield* recorded("openai")
      assert.strictEqual(log.length, 1)
      assert.strictEqual(log[0]?.[0], true)
      assert.isAtLeast(log[0]?.[1] ?? 0, nameTokens)
      assert.strictEqual(ledger, log[0]?.[1])
      assert.isTrue(result.usage.estimated)
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))
})
