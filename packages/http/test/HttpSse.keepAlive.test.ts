/**
 * An SSE answer that goes silent (a model thinking, a restart on another
 * provider) is kept alive by a comment every `HttpSse.keepAliveMs`, so a
 * proxy's idle limit (nginx's 60 s) does not cut it; comments stop with the
 * body. A first part later than `keepAliveMs` (a slow first token) gets
 * them too: the response starts then, and a failure after it is an `error`
 * event. Time is the TestClock.
 */
import type { StreamPart } from "@baton/core/GenerationResult"
import { InvalidOptions } from "@baton/core/LlmError"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as HttpSse from "../src/HttpSse.ts"

const delta = (text: string): StreamPart => ({ _tag: "TextDelta", text })

describe("HttpSse keep-alive", () => {
  it.effect("a silence between events gets a comment every keepAliveMs, none after the body ends", () =>
    Effect.gen(function*() {
      const parts = Stream.concat(
        Stream.make(delta("Hello")),
        Stream.fromEffect(Effect.as(Effect.sleep(40_000), delta(" world")))
      )
      const response = yield* HttpSse.response(parts)
      if (response.body._tag !== "Stream") return assert.fail("not a stream body")
      const body = yield* Effect.forkChild(Stream.mkString(Stream.decodeText(response.body.stream)))
      for (let second = 0; second < 120; second++) yield* TestClock.adjust(1_000)
      const text = yield* Fiber.join(body)
      assert.strictEqual(HttpSse.keepAliveMs, 15_000)
      const blocks = text.split("\n\n").filter((block) => block !== "")
      assert.deepStrictEqual(blocks.map((block) => block.startsWith(":") ? block : block.split("\n")[0]), [
        "event: delta",
        ": keep-alive",
        ": keep-alive",
        "event: delta"
      ])
    }).pipe(Effect.scoped))

  it.effect("a first part later than keepAliveMs: the response starts at keepAliveMs, comments until it comes", () =>
    Effect.gen(function*() {
      const parts = Stream.fromEffect(Effect.as(Effect.sleep(40_000), delta("Hello")))
      const responding = yield* Effect.forkChild(HttpSse.response(parts))
      yield* TestClock.adjust(15_000)
      const response = yield* Fiber.join(responding)
      assert.strictEqual(response.status, 200)
      if (response.body._tag !== "Stream") return assert.fail("not a stream body")
      const body = yield* Effect.forkChild(Stream.mkString(Stream.decodeText(response.body.stream)))
      for (let second = 0; second < 60; second++) yield* TestClock.adjust(1_000)
      const blocks = (yield* Fiber.join(body)).split("\n\n").filter((block) => block !== "")
      assert.deepStrictEqual(blocks.map((block) => block.startsWith(":") ? block : block.split("\n")[0]), [
        ": keep-alive",
        "event: delta"
      ])
    }).pipe(Effect.scoped))

  it.effect("a failure within keepAliveMs is the effect's error; one after it, an error event", () =>
    Effect.gen(function*() {
      const refused = new InvalidOptions({ field: "prompt", message: "prompt is empty" })
      const late = (ms: number) => Stream.fromEffect(Effect.andThen(Effect.sleep(ms), Effect.fail(refused)))
      const early = yield* Effect.forkChild(Effect.flip(HttpSse.response(late(5_000))))
      yield* TestClock.adjust(5_000)
      assert.strictEqual((yield* Fiber.join(early))._tag, "InvalidOptions")

      const responding = yield* Effect.forkChild(HttpSse.response(late(20_000)))
      yield* TestClock.adjust(15_000)
      const response = yield* Fiber.join(responding)
      if (response.body._tag !== "Stream") return assert.fail("not a stream body")
      const body = yield* Effect.forkChild(Stream.mkString(Stream.decodeText(response.body.stream)))
      for (let second = 0; second < 10; second++) yield* TestClock.adjust(1_000)
      const blocks = (yield* Fiber.join(body)).split("\n\n").filter((block) => block !== "")
      assert.deepStrictEqual(blocks.map((block) => block.split("\n")[0]), ["event: error"])
    }).pipe(Effect.scoped))
})
