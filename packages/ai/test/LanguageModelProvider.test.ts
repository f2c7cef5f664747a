import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import { SubjectId } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as Anthropic from "@baton/providers/Anthropic"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Redacted, Schema, Stream } from "effect"
import * as LanguageModelProvider from "../src/LanguageModelProvider.ts"
import * as ChatLanguageModel from "./chatLanguageModel.ts"
import { inject, services, stats } from "./stack.ts"

const Question = Schema.Struct({
  question: Schema.String,
  choices: Schema.Array(Schema.String),
  answer: Schema.Int
})

type Step = "effect-ai" | "anthropic"

/** A manager whose chain mixes an effect/ai LanguageModel step and a Baton adapter. */
const managerOf = (chain: ReadonlyArray<Step>) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const step = (kind: Step) =>
      kind === "anthropic"
        ? Anthropic.layer({ apiKey: Redacted.make("sk-test-key"), baseUrl: server.baseUrl("anthropic") })
        : LanguageModelProvider.layer({
          name: "openai",
          model: "gpt-4o-mini",
          languageModel: ChatLanguageModel.layer(server.baseUrl("openai"), "gpt-4o-mini")
        })
    return yield* LlmManager.make({
      providers: chain.map(step),
      policy: FallbackPolicy.make({ maxRetries: 0, retryBaseDelayMs: 10 }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 }
    })
  })

const attemptsOf = (attempts: ReadonlyArray<{ provider: string; outcome: string; error?: { _tag: string } }>) =>
  attempts.map((attempt) => [attempt.provider, attempt.outcome, attempt.error?._tag])

describe("LanguageModelProvider", () => {
  it.live("an effect/ai LanguageModel answers as a chain step: priced, quota spent, ledger row", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      const result = yield* manager.generate({
        prompt: "Write one quiz question about photosynthesis.",
        metadata: { subjectId: "teacher-lm-1" }
      })
      assert.strictEqual(result.provider, "openai")
      assert.include(result.content, "Mock answer from openai")
      assert.strictEqual(result.finishReason, "stop")
      const billed = yield* stats("openai")
      assert.strictEqual(result.usage.promptTokens, billed.promptTokens)
      assert.strictEqual(result.usage.completionTokens, billed.completionTokens)
      assert.strictEqual(result.usage.pricing, "model")
      assert.isAbove(result.usage.costNanoUsd, 0)

      const quota = yield* QuotaLimiter.QuotaLimiter
      assert.strictEqual((yield* quota.remaining(SubjectId.make("teacher-lm-1"))).used, 1)
      const ledger = yield* UsageLedger.UsageLedger
      yield* ledger.flush
      const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const rows = yield* ledger.usageByProvider(day, day)
      assert.deepStrictEqual(rows.map((row) => [row.provider, row.completionTokens]), [
        ["openai", billed.completionTokens]
      ])
    }).pipe(Effect.provide(services(100))))

  it.live("a failing LanguageModel step falls back to the next provider, its AiError read by Baton's table", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      yield* inject("openai", MockFault.status(503), { times: 10 })
      const result = yield* manager.generate({ prompt: "Hello" })
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(attemptsOf(result.attempts), [
        ["openai", "error", "ProviderUnavailable"],
        ["anthropic", "success", undefined]
      ])
    }).pipe(Effect.provide(services(100))))

  it.live("a content filter stops a LanguageModel step's stream as its generate: ContentFiltered, not a Finish", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      // `generate` streams underneath by default: both paths meet the same rule
      yield* inject("openai", MockFault.contentFilter, { times: 2 })
      const generated = yield* Effect.flip(manager.generate({ prompt: "Hello" }))
      const streamed = yield* Effect.flip(Stream.runDrain(manager.stream({ prompt: "Hello" })))
      for (const error of [generated, streamed]) {
        assert.strictEqual(error._tag, "AllProvidersFailed")
        assert.deepStrictEqual(error._tag === "AllProvidersFailed" ? attemptsOf(error.attempts) : [], [
          ["openai", "error", "ContentFiltered"]
        ])
      }
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(services(100))))

  it.live("a content filter that stops a LanguageModel step's stream after text: interrupted, billed what it reported", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      // the answer's first two words, then `finish_reason: "content_filter"` with the usage of what was sent
      yield* inject("openai", MockFault.contentFilterAfter(2))
      const shown: Array<string> = []
      const error = yield* Effect.flip(Stream.runForEach(
        manager.stream({ prompt: "Tell a story" }),
        (part) => Effect.sync(() => part._tag === "TextDelta" && shown.push(part.text))
      ))
      assert.strictEqual(shown.join(""), "Mock answer")
      // text reached the caller: the filter's `ContentFiltered` becomes a `StreamInterrupted` keeping text and usage
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag !== "StreamInterrupted") return
      assert.strictEqual(error.partialText, "Mock answer")
      assert.strictEqual(error.reason, "the provider's content filter stopped the answer")
      assert.deepStrictEqual(attemptsOf(error.attempts ?? []), [["openai", "error", "StreamInterrupted"]])
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
      // the usage the filter's finish reported rides on the error, priced, and reaches the ledger
      const billed = yield* stats("openai")
      assert.isAbove(billed.completionTokens, 0)
      assert.strictEqual(error.usage?.promptTokens, billed.promptTokens)
      assert.strictEqual(error.usage?.completionTokens, billed.completionTokens)
      assert.strictEqual(error.usage?.pricing, "model")
      assert.isAbove(error.usage?.costNanoUsd ?? 0, 0)
      const ledger = yield* UsageLedger.UsageLedger
      const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const rows = yield* ledger.usageByProvider(day, day)
      assert.deepStrictEqual(rows.map((row) => [row.provider, row.attempts, row.completionTokens, row.costNanoUsd]), [
        ["openai", 1, billed.completionTokens, error.usage?.costNanoUsd]
      ])
    }).pipe(Effect.provide(services(100))))

  it.live("a retryable AiError is retried on the LanguageModel step, a 401 is not", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const manager = yield* LlmManager.make({
        providers: [
          LanguageModelProvider.layer({
            name: "openai",
            model: "gpt-4o-mini",
            languageModel: ChatLanguageModel.layer(server.baseUrl("openai"), "gpt-4o-mini")
          })
        ],
        policy: FallbackPolicy.make({ maxRetries: 2, retryBaseDelayMs: 1 })
      })
      yield* inject("openai", MockFault.status(503), { times: 2 })
      const retried = yield* manager.generate({ prompt: "Hello" })
      assert.deepStrictEqual(attemptsOf(retried.attempts).map(([, outcome]) => outcome), ["error", "error", "success"])
      yield* inject("openai", MockFault.status(401), { times: 3 })
      const error = yield* Effect.flip(manager.generate({ prompt: "Hello" }))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      assert.deepStrictEqual(
        error._tag === "AllProvidersFailed" ? attemptsOf(error.attempts) : [],
        [["openai", "error", "ProviderAuthenticationFailed"]]
      )
    }).pipe(Effect.provide(services(100))))

  it.live("structured output and streams run through the LanguageModel step after a failing primary", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["anthropic", "effect-ai"])
      yield* inject("anthropic", MockFault.status(401), { times: 10 })
      const quiz = yield* manager.generateStructured({ prompt: "One question about Mars" }, Question)
      assert.strictEqual(quiz.provider, "openai")
      assert.isTrue(Schema.is(Question)(quiz.value))

      const parts = yield* Stream.runCollect(manager.stream({ prompt: "Tell a story" }))
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.include(text, "Mock answer from openai")
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      assert.isAbove(finish?._tag === "Finish" ? finish.usage.completionTokens : 0, 0)
    }).pipe(Effect.provide(services(100))))

  it.live("an answer that does not match the schema is re-asked on the LanguageModel step", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai"])
      yield* inject("openai", MockFault.content("{\"question\": 1}"))
      const quiz = yield* manager.generateStructured({ prompt: "One question about Mars" }, Question)
      assert.isTrue(Schema.is(Question)(quiz.value))
      assert.deepStrictEqual(attemptsOf(quiz.attempts), [
        ["openai", "error", "StructuredOutputInvalid"],
        ["openai", "success", undefined]
      ])
    }).pipe(Effect.provide(services(100))))
})
