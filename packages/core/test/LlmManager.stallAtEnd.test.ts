/**
 * A stream whose provider sent the whole answer, its finish reason and its
 * usage, then went silent before its end marker (`[DONE]`, `message_stop`):
 * the answer is complete, so the idle limit ends it there, as the answer it
 * is, rather than asking another provider to continue a finished answer. So
 * does a stream whose connection closed there, or was cut.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { StreamPart } from "../src/GenerationResult.ts"
import * as RequestLog from "../src/RequestLog.ts"
import { Bench, eventually, inject, type Kind, liveWait, manager, stats } from "./utils/chain.ts"

const prompt = "Explain tides to a child in three short sentences."

const textOf = (parts: ReadonlyArray<StreamPart>): string =>
  parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")

/** Primaries whose end marker follows their finish and usage, each with a fallback. */
const pairs = [["anthropic", "openai"], ["openai", "anthropic"], ["deepseek", "anthropic"]] as const

/** Asserts that `parts` are `primary`'s whole answer, one `Finish`, its one attempt a success, `fallback` not asked. */
const assertOwnAnswer = (primary: Kind, fallback: Kind, parts: ReadonlyArray<StreamPart>) =>
  Effect.gen(function*() {
    assert.strictEqual(textOf(parts), `Mock answer from ${primary}: ${prompt}`)
    const finishes = parts.filter((part) => part._tag === "Finish")
    assert.deepStrictEqual(
      finishes.map((f): ReadonlyArray<unknown> => [f.provider, f.finishReason, f.rescued]),
      [[primary, "stop", false]]
    )
    assert.strictEqual((yield* stats(fallback)).requests, 0)
    const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
    assert.deepStrictEqual(records.map((r) => [r.provider, r.outcome]), [[primary, "success"]])
    assert.strictEqual(records[0]?.completionTokens, finishes[0]?.usage.completionTokens)
    assert.isAbove(records[0]?.completionTokens ?? 0, 0)
  })

describe("a stream stalled after its finish, before its end marker", () => {
  for (const [primary, fallback] of pairs) {
    it.effect(`${primary}: ends with its own answer, once, at the idle limit; ${fallback} is not asked`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: [primary, fallback], policy: { limits: { idleMs: 300 } } })
        yield* inject(primary, MockFault.stallMidStream("forever", { after: "end" }))
        const answer = `Mock answer from ${primary}: ${prompt}`
        const parts: Array<StreamPart> = []
        const fiber = yield* Effect.forkChild(
          Stream.runForEach(llm.stream({ prompt }), (part) => Effect.sync(() => parts.push(part)))
        )
        // the whole answer, its finish and its usage came (real I/O); then the provider stays silent
        yield* eventually(Effect.sync(() => textOf(parts) === answer))
        yield* liveWait(50)
        yield* TestClock.adjust(300)
        yield* Fiber.join(fiber)
        yield* assertOwnAnswer(primary, fallback, parts)
      }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))
  }

  it.effect("a stall that the request's deadline ends (before the idle limit) ends as that answer too", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai", "anthropic"],
        policy: { requestTimeoutMs: 1_000, limits: { idleMs: 15_000 } }
      })
      yield* inject("openai", MockFault.stallMidStream("forever", { after: "end" }))
      const parts: Array<StreamPart> = []
      const fiber = yield* Effect.forkChild(
        Stream.runForEach(llm.stream({ prompt }), (part) => Effect.sync(() => parts.push(part)))
      )
      yield* eventually(Effect.sync(() => textOf(parts) === `Mock answer from openai: ${prompt}`))
      yield* liveWait(50)
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(parts.filter((part) => part._tag === "Finish").map((f) => f.provider), ["openai"])
      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      assert.deepStrictEqual(records.map((r) => [r.provider, r.outcome]), [["openai", "success"]])
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))

  it.effect("generate, which streams underneath, answers with that answer too", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["anthropic", "openai"], policy: { limits: { idleMs: 300 } } })
      yield* inject("anthropic", MockFault.stallMidStream("forever", { after: "end" }))
      const fiber = yield* Effect.forkChild(llm.generate({ prompt }))
      // the server sent the whole answer, its finish and its usage (real I/O); then it stays silent
      yield* eventually(Effect.map(stats("anthropic"), (s) => s.requests === 1))
      yield* liveWait(200)
      yield* TestClock.adjust(300)
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.content, `Mock answer from anthropic: ${prompt}`)
      assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.outcome]), [["anthropic", "success"]])
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))
})

describe("a stream closed or cut after its finish, before its end marker", () => {
  const ends = [["closed", MockFault.noTerminator], ["cut", MockFault.cutStreamAfter("end")]] as const
  for (const [how, fault] of ends) {
    for (const [primary, fallback] of pairs) {
      it.effect(`${primary}, ${how}: ends with its own answer, once; ${fallback} is not asked`, () =>
        Effect.gen(function*() {
          const llm = yield* manager({ chain: [primary, fallback] })
          yield* inject(primary, fault)
          yield* assertOwnAnswer(primary, fallback, Array.from(yield* Stream.runCollect(llm.stream({ prompt }))))
        }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))
    }

    it.effect(`generate, ${how} there: answers with that answer, the attempt a success`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["anthropic", "openai"] })
        yield* inject("anthropic", fault)
        const result = yield* llm.generate({ prompt })
        assert.strictEqual(result.content, `Mock answer from anthropic: ${prompt}`)
        assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.outcome]), [["anthropic", "success"]])
        assert.strictEqual((yield* stats("openai")).requests, 0)
      }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))
  }

  it.effect("gemini, whose finish is its last chunk: a stream closed before it is still cut", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini", "openai"] })
      yield* inject("gemini", MockFault.noTerminator)
      const result = yield* llm.generate({ prompt })
      assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.outcome]), [
        ["gemini", "error"],
        ["openai", "success"]
      ])
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))
})
