import { assert, describe, it } from "@effect/vitest"
import { Data, Effect } from "effect"
import * as LeakCheck from "../src/LeakCheck.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly detail: string }> {}

describe("LeakCheck", () => {
  it.effect("sees a secret in a log line, a logged cause, a span attribute and an error", () =>
    Effect.gen(function*() {
      const places = ["log", "cause", "span", "error"] as const
      for (const place of places) {
        const check = LeakCheck.make()
        const secret = `secret-in-${place}`
        yield* Effect.gen(function*() {
          if (place === "log") yield* Effect.logInfo(`leaking ${secret}`)
          if (place === "cause") yield* Effect.logError("failed", new Boom({ detail: secret }))
          if (place === "span") yield* Effect.annotateCurrentSpan("leak", secret)
        }).pipe(Effect.withSpan("work"), check.capture)
        if (place === "error") check.addErrors([new Boom({ detail: secret })])
        assert.isTrue(check.texts().some((text) => text.includes(secret)), place)
      }
    }))

  it.effect("sees nothing when nothing leaks", () =>
    Effect.gen(function*() {
      const check = LeakCheck.make()
      yield* Effect.logInfo("all good").pipe(Effect.withSpan("work"), check.capture)
      assert.deepStrictEqual(check.counts(), { lines: 1, spans: 1 })
      assert.isFalse(check.texts().some((text) => text.includes("secret")))
    }))
})
