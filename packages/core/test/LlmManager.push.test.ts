/**
 * `LlmManager.generate`, streamed underneath, and `LlmManager.stream` read a
 * provider's stream by its push (`LlmProvider.withPush`) when the stream has
 * one, under the attempt's supervisor; a stream a hedge races (whose first
 * delta must claim the caller's answer first) and a stream without a push
 * are pulled. A provider built in code whose push and pull answer
 * differently tells which read was made.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import type { StreamPart } from "../src/GenerationResult.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmManager from "../src/LlmManager.ts"
import * as LlmProvider from "../src/LlmProvider.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as TokenUsage from "../src/TokenUsage.ts"
import * as Streaming from "./utils/streaming.ts"

const provider = ProviderName.make("deepseek")
const model = ModelId.make("deepseek-chat")

const finish = LlmProvider.finishPart({
  finishReason: "stop",
  usage: TokenUsage.make({ promptTokens: 3, completionTokens: 1 }, 0, "model"),
  provider,
  model
})

const answer = (text: string): ReadonlyArray<StreamPart> => [{ _tag: "TextDelta", text }, finish]

/** A provider answering by `stream` alone. */
const streaming = (stream: () => Stream.Stream<StreamPart>) => Streaming.streaming(provider, model, stream)

/** A provider whose stream says "pulled" when pulled and, when `pushes`, "pushed" when pushed (with a supervisor). */
const twoWay = (pushes: boolean) =>
  streaming(() => {
    const pulled = Stream.fromIterable(answer("pulled"))
    return pushes
      ? LlmProvider.withPush(pulled, (onParts) =>
        LlmProvider.Supervisor.use((supervisor) =>
          Effect.sync(() => {
            onParts(answer(supervisor === undefined ? "unsupervised" : "pushed"))
          })
        ))
      : pulled
  })

/** A provider wrapping {@link twoWay}'s stream with `LlmProvider.tapParts(stream, f)`. */
const tapping = (pushes: boolean, f: (part: StreamPart) => void) =>
  Layer.effect(
    LlmProvider.LlmProvider,
    LlmProvider.LlmProvider.useSync((inner) =>
      LlmProvider.LlmProvider.of({ ...inner, stream: (request) => LlmProvider.tapParts(inner.stream(request), f) })
    )
  ).pipe(Layer.provide(twoWay(pushes)))

const texts = (parts: ReadonlyArray<StreamPart>): string =>
  parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")

describe("LlmManager reads a provider's stream by its push", () => {
  it.effect("generate and stream push, under the attempt's supervisor", () =>
    Effect.gen(function*() {
      const llm = yield* LlmManager.make({ providers: [twoWay(true)] })
      assert.strictEqual((yield* llm.generate({ prompt: "hi" })).content, "pushed")
      assert.strictEqual(texts(yield* Stream.runCollect(llm.stream({ prompt: "hi" }))), "pushed")
    }))

  it.effect("a stream a hedge may race is pulled: its first delta claims the answer first", () =>
    Effect.gen(function*() {
      const llm = yield* LlmManager.make({
        providers: [twoWay(true), twoWay(true)],
        policy: FallbackPolicy.make({ hedgeDelayMs: 1_000 })
      })
      assert.strictEqual(texts(yield* Stream.runCollect(llm.stream({ prompt: "hi" }))), "pulled")
    }))

  it.effect("a hedged policy over one provider pushes: no hedge can race its only stream", () =>
    Effect.gen(function*() {
      const llm = yield* LlmManager.make({
        providers: [twoWay(true)],
        policy: FallbackPolicy.make({ hedgeDelayMs: 1_000 })
      })
      assert.strictEqual((yield* llm.generate({ prompt: "hi" })).content, "pushed")
      assert.strictEqual(texts(yield* Stream.runCollect(llm.stream({ prompt: "hi" }))), "pushed")
    }))

  it.effect("a stream without a push is pulled by both", () =>
    Effect.gen(function*() {
      const llm = yield* LlmManager.make({ providers: [twoWay(false)] })
      assert.strictEqual((yield* llm.generate({ prompt: "hi" })).content, "pulled")
      assert.strictEqual(texts(yield* Stream.runCollect(llm.stream({ prompt: "hi" }))), "pulled")
    }))

  it.effect("withPush marks a stream of its own: a provider sharing the stream it was given still pulls it", () =>
    Effect.gen(function*() {
      // one stream value two providers return: the first marks it with a push, the second returns it as it is
      const canned = Stream.fromIterable(answer("pulled"))
      const pushed = LlmProvider.withPush(canned, (onParts) =>
        Effect.sync(() => {
          onParts(answer("pushed"))
          return undefined
        }))
      const marking = yield* LlmManager.make({ providers: [streaming(() => pushed)] })
      const sharing = yield* LlmManager.make({ providers: [streaming(() => canned)] })
      assert.strictEqual((yield* marking.generate({ prompt: "hi" })).content, "pushed")
      assert.strictEqual((yield* sharing.generate({ prompt: "hi" })).content, "pulled")
      assert.isUndefined(LlmProvider.pushOf(canned))
    }))

  it.effect("a provider wrapping another's stream with tapParts keeps its push, and the tap sees what came", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const see = (part: StreamPart) => {
        seen.push(part._tag === "TextDelta" ? part.text : part._tag)
      }
      const pushed = yield* LlmManager.make({ providers: [tapping(true, see)] })
      assert.strictEqual((yield* pushed.generate({ prompt: "hi" })).content, "pushed")
      assert.strictEqual(texts(yield* Stream.runCollect(pushed.stream({ prompt: "hi" }))), "pushed")
      const pulled = yield* LlmManager.make({ providers: [tapping(false, see)] })
      assert.strictEqual((yield* pulled.generate({ prompt: "hi" })).content, "pulled")
      assert.deepStrictEqual(seen, ["pushed", "Finish", "pushed", "Finish", "pulled", "Finish"])
    }))

  it.effect("a throw in tapParts' function fails the attempt as a defect, pushed or pulled", () =>
    Effect.gen(function*() {
      const breaks = (part: StreamPart) => {
        if (part._tag === "TextDelta") throw new Error("the tap broke")
      }
      for (const pushes of [true, false]) {
        const llm = yield* LlmManager.make({
          providers: [tapping(pushes, breaks)],
          policy: FallbackPolicy.make({ maxRetries: 0 })
        })
        const error = yield* Effect.flip(llm.generate({ prompt: "hi" }))
        assert.strictEqual(error._tag, "AllProvidersFailed")
        assert.deepStrictEqual(
          error._tag === "AllProvidersFailed" ? error.attempts.map((attempt) => attempt.error?._tag) : [],
          ["Defect"]
        )
      }
    }))

  it.effect("a stream stalled after its whole answer ends at the deadline though its caller dwells on a batch", () =>
    Effect.gen(function*() {
      // "a", then, while the caller dwells on it, "b" and the finish; the end marker never comes
      const stalled = streaming(() =>
        LlmProvider.withPush(
          Stream.never,
          (onParts) =>
            LlmProvider.Supervisor.use((supervisor) =>
              Effect.gen(function*() {
                onParts([{ _tag: "TextDelta", text: "a" }])
                yield* Effect.sleep(10)
                onParts(answer("b"))
                return yield* Effect.never
              }).pipe(Effect.onInterrupt(() => Effect.sync(() => supervisor?.complete?.(finish))))
            )
        )
      )
      const llm = yield* LlmManager.make({
        providers: [stalled],
        policy: FallbackPolicy.make({ maxRetries: 0, requestTimeoutMs: 1_000 })
      })
      const parts = yield* Effect.forkChild(
        Stream.runCollect(
          Stream.tap(
            llm.stream({ prompt: "hi" }),
            (part) => part._tag === "TextDelta" && part.text === "a" ? Effect.sleep(60_000) : Effect.void
          )
        ),
        { startImmediately: true }
      )
      yield* TestClock.adjust(5_000)
      // the request settled at its deadline, as the answer it was: the caller still dwells on "a"
      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      assert.deepStrictEqual(records.map((record) => record.outcome), ["success"])
      yield* TestClock.adjust(60_000)
      assert.strictEqual(texts(yield* Fiber.join(parts)), "ab")
    }).pipe(Effect.provide(RequestLog.layerMemory())))
})
