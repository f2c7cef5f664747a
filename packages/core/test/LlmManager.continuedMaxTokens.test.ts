/**
 * A continued answer's text stays within the caller's `maxTokens`: the continuation
 * of a stream cut mid-answer (and of `generate`, which streams underneath and
 * rescues the same way) is sent what is left of it after the output already
 * delivered, and ends for `length` as the same request uncut does; an answer
 * whose cut attempt used it all ends there, without calling a provider again.
 * Through `LlmManager` over the mock, on the TestClock.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { Attempt } from "../src/Attempt.ts"
import type { FinishReason } from "../src/GenerationResult.ts"
import { SubjectId } from "../src/Ids.ts"
import type * as LlmManager from "../src/LlmManager.ts"
import * as RequestLog from "../src/RequestLog.ts"
import { Bench, inject, manager, managerWithQuota, pick } from "./utils/chain.ts"

const teacher = SubjectId.make("teacher-max-tokens")

/**
 * DeepSeek's mock answers "Mock answer from deepseek: " and the prompt's first
 * 12 words (56 characters, 14 tokens of 4 characters) in one stream delta a
 * word; at 12 tokens it stops after 48 characters, the 12th delta, for
 * `length`. Without thinking: a thinking model's reasoning would count in
 * `maxTokens` too.
 */
const request = {
  prompt: "Recite: a b c d e f g h i j k l",
  options: { maxTokens: 12, reasoning: "none" },
  metadata: { subjectId: teacher }
} as const

/** The answer within 12 tokens. */
const uncut = "Mock answer from deepseek: Recite: a b c d e f g"

/** The whole answer, within 38 tokens with the reasoning before it. */
const answer = "Mock answer from deepseek: Recite: a b c d e f g h i j k"

/** Ten deltas: 44 characters, 11 tokens by the mock's count and by Baton's estimate alike. */
const cutAtTen = "Mock answer from deepseek: Recite: a b c d e"

const policy = { maxRetries: 1, retryBaseDelayMs: 0 }

/** What the caller was served: the text, why it ended, the output tokens the request billed, its attempts. */
interface Served {
  readonly text: string
  readonly finishReason: FinishReason | undefined
  readonly completionTokens: number | undefined
  readonly attempts: ReadonlyArray<ReadonlyArray<string | undefined>>
}

const attemptsOf = (attempts: ReadonlyArray<Attempt> | undefined) =>
  (attempts ?? []).map(pick("role", "outcome", "error"))

const streamed = (llm: LlmManager.Service, input: LlmManager.Input = request) =>
  Effect.map(Stream.runCollect(llm.stream(input)), (parts): Served => {
    const finish = parts.at(-1)
    return {
      text: parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join(""),
      finishReason: finish?._tag === "Finish" ? finish.finishReason : undefined,
      completionTokens: finish?._tag === "Finish" ? finish.usage.completionTokens : undefined,
      attempts: attemptsOf(finish?._tag === "Finish" ? finish.attempts : undefined)
    }
  })

const generated = (llm: LlmManager.Service, input: LlmManager.Input = request) =>
  Effect.map(llm.generate(input), (result): Served => ({
    text: result.content,
    finishReason: result.finishReason,
    completionTokens: result.usage.completionTokens,
    attempts: attemptsOf(result.attempts)
  }))

/** The `max_tokens` and the assistant prefill (if any) of each call DeepSeek received, in order. */
const sent = Effect.map(
  Effect.flatMap(MockProviderServer.MockProviderServer, (server) => server.received("deepseek")),
  (received) =>
    received.map(({ body }) => {
      const { max_tokens, messages } = body as {
        readonly max_tokens: number
        readonly messages: ReadonlyArray<{ readonly role: string; readonly content: string }>
      }
      const last = messages.at(-1)
      return [max_tokens, last?.role === "assistant" ? last.content : undefined] as const
    })
)

/** The whole 12-token answer, ended for length, after `attempts` ([role, outcome, error tag]). */
const lengthAnswer = (attempts: Served["attempts"]): Served => ({
  text: uncut,
  finishReason: "length",
  completionTokens: 12,
  attempts
})

describe("LlmManager: a continued answer stays within maxTokens", () => {
  for (const [operation, ask] of [["stream", streamed], ["generate", generated]] as const) {
    it.effect(`${operation}: the continuation is sent what is left of maxTokens and ends for length, as uncut`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["deepseek"], policy })
        const whole = yield* ask(llm)
        yield* inject("deepseek", MockFault.cutStreamAfter(10))
        const continued = yield* ask(llm)
        assert.deepStrictEqual(whole, lengthAnswer([["primary", "success", undefined]]))
        // billed: the cut attempt's 11 tokens (Baton's estimate, rounded up: DeepSeek reports usage only at its end)
        // and the 1 the continuation was left (12 less those 11), exactly 12; the same text as uncut, the mock
        // counting 4 characters a token as the estimate does
        assert.deepStrictEqual(
          continued,
          lengthAnswer([["primary", "error", "ProviderConnectionFailed"], ["retry", "success", undefined]])
        )
        assert.deepStrictEqual(yield* sent, [[12, undefined], [12, undefined], [1, cutAtTen]])
      }).pipe(Effect.provide(Bench)))

    it.effect(`${operation}: an answer whose cut attempt used all of maxTokens ends for length, no provider called`, () =>
      Effect.gen(function*() {
        const { llm, store } = yield* managerWithQuota({ dailyTokenBudget: 1_000 }, { chain: ["deepseek"], policy })
        // cut after the 12th delta: the whole 12-token answer came, not its finish
        yield* inject("deepseek", MockFault.cutStreamAfter(12))
        const served = yield* ask(llm)
        assert.deepStrictEqual(served, lengthAnswer([["primary", "error", "ProviderConnectionFailed"]]))
        assert.deepStrictEqual(yield* sent, [[12, undefined]])
        // served like any answer: the log holds the one attempt, the quota spent a unit and its tokens
        const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
        assert.deepStrictEqual(
          records.map((r) => [r.outcome, r.errorTag, r.completionTokens, r.usageEstimated]),
          [["error", "ProviderConnectionFailed", 12, true]]
        )
        const tokens = records.reduce((sum, r) => sum + r.promptTokens + r.completionTokens, 0)
        const spent = yield* store.usage({ subjectId: teacher, day: "1970-01-01" })
        assert.deepStrictEqual([spent.units, spent.tokens], [1, tokens])
      }).pipe(Effect.provide(Bench), Effect.provide(RequestLog.layerMemory())))
  }

  /**
   * A model that thinks first (DeepSeek's, by default) spends some of `maxTokens` on its reasoning before its text,
   * and a continuation thinks again: it is sent `maxTokens` less the text's tokens, not less the cut attempt's
   * reasoning too, and completes the answer as the same request uncut does.
   */
  for (const [operation, ask] of [["stream", streamed], ["generate", generated]] as const) {
    it.effect(`${operation}: a thinking model's continuation keeps the room to think again`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["deepseek"], policy })
        const thinking = { ...request, options: { maxTokens: 38 } }
        const whole = yield* ask(llm, thinking)
        yield* inject("deepseek", MockFault.cutStreamAfter(3))
        const continued = yield* ask(llm, thinking)
        assert.deepStrictEqual([whole.text, whole.finishReason], [answer, "stop"])
        assert.deepStrictEqual([continued.text, continued.finishReason], [answer, "stop"])
        const calls = yield* sent
        // the cut attempt handed on three deltas, "Mock answer from": 4 tokens of text behind the continuation
        assert.deepStrictEqual(calls.at(-1), [34, "Mock answer from"])
      }).pipe(Effect.provide(Bench)))
  }
})
