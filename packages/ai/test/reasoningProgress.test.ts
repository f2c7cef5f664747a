/**
 * An effect/ai model that streams its reasoning (`reasoning-delta` parts)
 * before its answer is not cut by the manager's first-token limit: the
 * reasoning is not handed on, but it keeps the stream alive, as Baton's own
 * adapters' reasoning deltas do (`@baton/providers`'
 * `reasoningProgress.test.ts`). A model silent as long is still cut.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as Pricing from "@baton/core/Pricing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { LanguageModel, type Response } from "effect/ai"
import { TestClock } from "effect/testing"
import * as LanguageModelProvider from "../src/LanguageModelProvider.ts"

const limitMs = 300
const policy = FallbackPolicy.make({
  maxRetries: 0,
  limits: { firstByteMs: 5_000, firstTokenMs: limitMs, thinkingFirstTokenMs: limitMs, idleMs: limitMs }
})

const answer: ReadonlyArray<Response.StreamPartEncoded> = [
  { type: "text-start", id: "1" },
  { type: "text-delta", id: "1", delta: "The answer is 42." },
  { type: "text-end", id: "1" },
  { type: "finish", reason: "stop", usage: { inputTokens: { total: 3 }, outputTokens: { total: 9 } } }
]

/** A model that streams 12 parts made by `before`, 100 ms apart (1.2 s, 4 times the limits), then the answer. */
const slowModel = (before: (i: number) => ReadonlyArray<Response.StreamPartEncoded>) =>
  Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: () => Effect.die("not called"),
      streamText: () =>
        Stream.concat(
          Stream.fromIterable(Array.from({ length: 12 }, (_, i) => i)).pipe(
            Stream.mapEffect((i) => Effect.as(Effect.sleep(100), before(i))),
            Stream.flatMap(Stream.fromIterable)
          ),
          Stream.fromIterable(answer)
        )
    })
  )

/**
 * Runs `effect` while the test clock moves 10 ms at a time, up to 3 s (the model's 1.2 s and the limits), so
 * however late the model's next sleep begins, no step of the clock outruns it by more than a step.
 */
const driven = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let ms = 0; ms < 3_000 && fiber.pollUnsafe() === undefined; ms += 10) yield* TestClock.adjust(10)
    assert.isDefined(fiber.pollUnsafe(), "the stream ended within 3 s of test time")
    return yield* Fiber.join(fiber)
  })

const streamed = (languageModel: Layer.Layer<LanguageModel.LanguageModel>) =>
  Effect.gen(function*() {
    const llm = yield* LlmManager.make({
      providers: [LanguageModelProvider.layer({ name: "openai", model: "gpt-5-mini", languageModel })],
      policy
    })
    return yield* Stream.runCollect(llm.stream({ prompt: "What is 6 x 7?" })).pipe(
      Effect.map((parts) => parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")),
      Effect.result
    )
  }).pipe(Effect.provide(Pricing.layerDefault), Effect.scoped, driven)

describe("LanguageModelProvider: reasoning keeps a stream alive", () => {
  it.effect("reasoning longer than the first-token limit, then the answer, is not cut; the caller gets the answer", () =>
    Effect.gen(function*() {
      const result = yield* streamed(slowModel((i) => [
        ...(i === 0 ? [{ type: "reasoning-start", id: "0" } as const] : []),
        { type: "reasoning-delta", id: "0", delta: `step ${i}. ` }
      ]))
      assert.strictEqual(result._tag, "Success", String(result._tag === "Failure" ? result.failure : ""))
      if (result._tag === "Success") assert.strictEqual(result.success, "The answer is 42.")
    }))

  it.effect("silence as long is cut at the first-token limit", () =>
    Effect.gen(function*() {
      const result = yield* streamed(slowModel(() => []))
      assert.strictEqual(result._tag, "Failure")
      if (result._tag !== "Failure") return
      const error = result.failure
      const first = "attempts" in error ? error.attempts[0]?.error : undefined
      assert.strictEqual(first?._tag, "ProviderTimeout")
      if (first?._tag === "ProviderTimeout") assert.strictEqual(first.phase, "first-token")
    }))
})
