/**
 * An SSE answer that goes silent (a model thinking, a restart on another
 * provider) is kept alive by a comment every `HttpSse.keepAliveMs`, so a
 * proxy's idle limit (nginx's 60 s) does not cut it; comments stop with the
 * body. Time is the TestClock.
 */
import type { StreamPart } from "@baton/core/GenerationResult"
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
})
