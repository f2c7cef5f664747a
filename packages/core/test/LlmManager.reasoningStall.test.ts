/**
 * A model that streams reasoning and then falls silent, with a fallback
 * behind it: once the attempt reaches the point where the fallback needs
 * what is left of the deadline (its plain attempt limit), a silence of the
 * idle limit ends it and the fallback answers in that time, not its own
 * attempt limit (a deadline that holds both leaves the model its longer
 * wait). Before that point, and without a fallback, a silence after
 * reasoning gets the longer of the first-token and idle limits (a model may think silently between
 * two bursts of reasoning). Through `LlmManager` over the mock provider
 * server, on the `TestClock`. That a model that keeps reasoning is not cut
 * before the deadline, a fallback behind it or not, is
 * `providers/test/reasoningProgress.test.ts`'s (a server paced on the live clock).
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Bench, inject, manager, pick, runDriven } from "./utils/chain.ts"

const limits = {
  attemptMs: 1_500,
  firstByteMs: 500,
  firstTokenMs: 500,
  thinkingFirstTokenMs: 3_000,
  firstTokenMsByModel: {},
  idleMs: 750
}
const policy = { requestTimeoutMs: 3_000, maxRetries: 0, limits }
const prompt = { prompt: "Think, then answer" }

describe("LlmManager: a model silent after its reasoning", () => {
  it.effect("with a fallback: ended once the fallback needs the rest of the deadline, and the fallback answers", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek", "openai"], policy })
      // deepseek-flash thinks first: its reasoning, then nothing
      yield* inject("deepseek", MockFault.stallMidStream("forever", { after: 0 }))
      const result = yield* runDriven(llm.generate(prompt), 50)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
        ["deepseek", "error", "ProviderTimeout"],
        ["openai", "success", undefined]
      ])
      const [first] = result.attempts
      const timeout = first?.error
      // ended by the attempt limit, which keeps the fallback's 1,500 ms of the deadline
      assert.deepStrictEqual(
        timeout?._tag === "ProviderTimeout" ? [timeout.phase, timeout.timeoutMs] : undefined,
        ["attempt", 1_500]
      )
      assert.strictEqual(first?.latencyMs, 1_500)
    }).pipe(Effect.provide(Bench)))

  it.effect("with a fallback and a deadline that holds both: the silence gets the longer limit, then the fallback", () =>
    Effect.gen(function*() {
      // 10 s: the fallback's 1,500 ms are left only at 8,500 ms, after the 3,000 ms a thinking model may be silent
      const llm = yield* manager({ chain: ["deepseek", "openai"], policy: { ...policy, requestTimeoutMs: 10_000 } })
      yield* inject("deepseek", MockFault.stallMidStream("forever", { after: 0 }))
      const result = yield* runDriven(llm.generate(prompt), 50)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome")), [
        ["deepseek", "error"],
        ["openai", "success"]
      ])
      const [first] = result.attempts
      const timeout = first?.error
      assert.deepStrictEqual(
        timeout?._tag === "ProviderTimeout" ? [timeout.phase, timeout.timeoutMs] : undefined,
        ["first-token", 3_000]
      )
    }).pipe(Effect.provide(Bench)))

  it.effect("alone: the silence gets the longer of the first-token and idle limits, up to the deadline", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek"], policy })
      yield* inject("deepseek", MockFault.stallMidStream("forever", { after: 0 }))
      const failed = yield* Effect.flip(runDriven(llm.generate(prompt), 50))
      assert.strictEqual("_tag" in failed ? failed._tag : failed.message, "DeadlineExceeded")
    }).pipe(Effect.provide(Bench)))
})
