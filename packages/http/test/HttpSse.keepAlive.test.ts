/**
 * An SSE answer that goes silent (a model thinking, a restart on another
 * provider) is kept alive by a comment every `HttpSse.keepAliveMs`, so a
 * proxy's idle limit (nginx's 60 s) does not cut it; comments stop with the
 * body. Every response opens with one, so its headers leave at once. A
 * first part later than `keepAliveMs` (a slow first token) gets them too:
 * the response starts then with a comment, and a failure after it is an
 * `error` event. Time is the TestClock.
 */
import type { StreamPart } from "@baton/core/GenerationResult"
import { InvalidOptions } from "@baton/core/LlmError"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Fiber, Scope, Stream } from "effect"
import type { HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import * as HttpSse from "../src/HttpSse.ts"

const delta = (text: string): StreamPart => ({ _tag: "TextDelta", text })

/** Each block of a response body (a comment whole, an event's first line) with the TestClock's time it was written at. */
const timedBlocks = (body: Stream.Stream<Uint8Array, unknown>) =>
  Stream.decodeText(body).pipe(
    Stream.mapEffect((text) =>
      Effect.map(Clock.currentTimeMillis, (ms) =>
        text.split("\n\n").filter((block) =>
          block !== ""
        ).map((block) => [ms, block.startsWith(":") ? block : block.split("\n")[0]] as const))
    ),
    Stream.runCollect,
    Effect.map((chunks) =>
      chunks.flat()
    )
  )

/** The timed blocks of `response`'s body, read while the TestClock moves on `seconds` seconds, one at a time. */
const blocksWithin = (response: HttpServerResponse.HttpServerResponse, seconds: number) =>
  Effect.gen(function*() {
    if (response.body._tag !== "Stream") return assert.fail("not a stream body")
    const body = yield* Effect.forkChild(timedBlocks(response.body.stream))
    yield* Effect.yieldNow
    for (let second = 0; second < seconds; second++) yield* TestClock.adjust(1_000)
    return yield* Fiber.join(body)
  })

describe("HttpSse keep-alive", () => {
  it.effect("a silence between events gets a comment every keepAliveMs, none after the body ends", () =>
    Effect.gen(function*() {
      const parts = Stream.concat(
        Stream.make(delta("Hello")),
        Stream.fromEffect(Effect.as(Effect.sleep(40_000), delta(" world")))
      )
      const response = yield* HttpSse.response(parts)
      assert.strictEqual(HttpSse.keepAliveMs, 15_000)
      assert.deepStrictEqual(yield* blocksWithin(response, 120), [
        [0, ": keep-alive"],
        [0, "event: delta"],
        [15_000, ": keep-alive"],
        [30_000, ": keep-alive"],
        [40_000, "event: delta"]
      ])
    }).pipe(Effect.scoped))

  it.effect("a first part later than keepAliveMs: the response starts at keepAliveMs with a comment, then one every keepAliveMs until it comes", () =>
    Effect.gen(function*() {
      const parts = Stream.fromEffect(Effect.as(Effect.sleep(40_000), delta("Hello")))
      const responding = yield* Effect.forkChild(HttpSse.response(parts))
      yield* TestClock.adjust(15_000)
      const response = yield* Fiber.join(responding)
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(yield* blocksWithin(response, 60), [
        [15_000, ": keep-alive"],
        [30_000, ": keep-alive"],
        [40_000, "event: delta"]
      ])
    }).pipe(Effect.scoped))

  it.effect("a keepAliveMs of 0, negative, fractional or NaN is a RangeError naming it, before anything starts", () =>
    Effect.gen(function*() {
      for (const keepAliveMs of [0, -5, 0.5, Number.NaN]) {
        assert.throws(() => HttpSse.streamResponse(Stream.empty, { keepAliveMs }), RangeError, "keepAliveMs")
        let pulled = false
        const parts = Stream.fromEffect(Effect.sync(() => pulled = true))
        const scope = yield* Scope.make()
        const defect = yield* Effect.flip(Effect.sandbox(HttpSse.start(parts, scope, { keepAliveMs })))
        const error = Cause.squash(defect)
        assert.include(error instanceof RangeError ? error.message : String(error), "keepAliveMs")
        assert.isFalse(pulled)
      }
    }))

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
      assert.deepStrictEqual(blocks.map((block) => block.split("\n")[0]), [": keep-alive", "event: error"])
    }).pipe(Effect.scoped))
})
