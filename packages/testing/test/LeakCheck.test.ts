import { assert, describe, it } from "@effect/vitest"
import { Data, Effect } from "effect"
import * as LeakCheck from "../src/LeakCheck.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly detail: string }> {}

describe("LeakCheck", () => {
  it.effect(
    "sees a secret in a log line, a logged cause, a span attribute, name, event or failure, and an error",
    () =>
      Effect.gen(function*() {
        const places = [
          "log",
          "cause",
          "span",
          "spanObject",
          "spanName",
          "spanEvent",
          "spanEventError",
          "spanFailure",
          "error"
        ] as const
        for (const place of places) {
          const check = LeakCheck.make()
          // a quote and a line break, as a prompt may hold: escaped as JSON, it would not be found
          const secret = `secret-in-"${place}"\nnext line`
          yield* Effect.gen(function*() {
            if (place === "log") yield* Effect.logInfo(`leaking ${secret}`)
            if (place === "cause") yield* Effect.logError("failed", new Boom({ detail: secret }))
            if (place === "span") yield* Effect.annotateCurrentSpan("leak", secret)
            if (place === "spanObject") yield* Effect.annotateCurrentSpan("leak", { nested: { detail: secret } })
            if (place === "spanName") yield* Effect.void.pipe(Effect.withSpan(`named ${secret}`))
            if (place === "spanEvent") {
              const span = yield* Effect.currentSpan
              span.event("leak", 0n, { detail: secret })
            }
            // an error among an event's attributes (JSON shows `{}`), beside a bigint (no JSON at all)
            if (place === "spanEventError") {
              const span = yield* Effect.currentSpan
              span.event("failed", 0n, { error: new Error(`boom ${secret}`), at: 1n })
            }
            // a span that ends failed: an OTLP exporter sends its error as an `exception` event
            if (place === "spanFailure") {
              yield* Effect.ignore(Effect.fail(new Boom({ detail: secret })).pipe(Effect.withSpan("inner")))
            }
          }).pipe(Effect.withSpan("work"), check.capture)
          if (place === "error") check.addErrors([new Boom({ detail: secret })])
          assert.isTrue(check.texts().some((text) => text.includes(secret)), place)
        }
      })
  )

  it.effect("keeps logs as events of the span they were written in, as Effect's default logger does", () =>
    Effect.gen(function*() {
      const check = LeakCheck.make()
      yield* Effect.logInfo("noted").pipe(Effect.withSpan("work"), check.capture)
      assert.isTrue(check.texts().some((text) => text.startsWith("event ") && text.includes("noted")))
    }))

  it.effect("sees nothing when nothing leaks", () =>
    Effect.gen(function*() {
      const check = LeakCheck.make()
      yield* Effect.logInfo("all good").pipe(Effect.withSpan("work"), check.capture)
      assert.deepStrictEqual(check.counts(), { lines: 1, spans: 1 })
      assert.isFalse(check.texts().some((text) => text.includes("secret")))
    }))
})
