import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as GenerationOptions from "../src/GenerationOptions.ts"

const rejects = (input: unknown, field: string) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(GenerationOptions.decode(input))
    assert.strictEqual(error._tag, "InvalidOptions")
    assert.strictEqual(error.field, field)
    assert.include(error.message, field)
  })

describe("GenerationOptions", () => {
  it.effect("fills in the defaults", () =>
    Effect.gen(function*() {
      const options = yield* GenerationOptions.decode({})
      assert.deepStrictEqual(options, { temperature: 0.7, maxTokens: 2000 })
      assert.deepStrictEqual(GenerationOptions.defaults, options)
      assert.deepStrictEqual(yield* GenerationOptions.decode(undefined), options)
    }))

  it.effect("keeps valid values and reads timeouts as millis or text", () =>
    Effect.gen(function*() {
      const options = yield* GenerationOptions.decode({
        temperature: 0,
        maxTokens: 1,
        model: "gpt-4o-mini",
        responseFormat: "json",
        system: "You write quizzes.",
        stop: ["\n\n"],
        seed: 7,
        timeout: 1500
      })
      assert.strictEqual(options.temperature, 0)
      assert.strictEqual(options.model, "gpt-4o-mini")
      assert.strictEqual(Duration.toMillis(options.timeout ?? Duration.zero), 1500)
      const text = yield* GenerationOptions.decode({ timeout: "20 seconds" })
      assert.strictEqual(Duration.toMillis(text.timeout ?? Duration.zero), 20_000)
    }))

  it.effect("\"provider\" leaves maxTokens and temperature to the provider; nothing else but a number is taken", () =>
    Effect.gen(function*() {
      const options = yield* GenerationOptions.decode({ maxTokens: "provider", temperature: "provider" })
      assert.deepStrictEqual(options, { temperature: "provider", maxTokens: "provider" })
      assert.strictEqual((yield* GenerationOptions.decode({ maxTokens: "provider" })).temperature, 0.7)
      assert.strictEqual((yield* GenerationOptions.decode({ temperature: "provider" })).maxTokens, 2000)
      yield* rejects({ maxTokens: "model" }, "options.maxTokens")
      yield* rejects({ temperature: "Provider" }, "options.temperature")
    }))

  it.effect("rejects temperature out of 0..2", () => rejects({ temperature: 2.5 }, "options.temperature"))
  it.effect("rejects a negative temperature", () => rejects({ temperature: -0.1 }, "options.temperature"))
  it.effect("rejects a non-number temperature", () => rejects({ temperature: "hot" }, "options.temperature"))
  it.effect("rejects a non-positive maxTokens", () => rejects({ maxTokens: 0 }, "options.maxTokens"))
  it.effect("rejects a fractional maxTokens", () => rejects({ maxTokens: 10.5 }, "options.maxTokens"))
  it.effect("rejects an empty model", () => rejects({ model: "" }, "options.model"))
  it.effect("rejects an unknown responseFormat", () => rejects({ responseFormat: "xml" }, "options.responseFormat"))
  it.effect("rejects a non-string system prompt", () => rejects({ system: 42 }, "options.system"))
  it.effect("rejects more than four stop sequences", () => rejects({ stop: ["a", "b", "c", "d", "e"] }, "options.stop"))
  it.effect("rejects an empty stop sequence", () => rejects({ stop: [""] }, "options.stop.0"))
  it.effect("rejects a stop sequence with a lone surrogate", () =>
    rejects({ stop: ["ok", "a\uD83D"] }, "options.stop.1"))
  it.effect("keeps a stop sequence of a whole emoji", () =>
    Effect.map(GenerationOptions.decode({ stop: ["\uD83D\uDE00"] }), (options) => {
      assert.deepStrictEqual(options.stop, ["\uD83D\uDE00"])
    }))
  it.effect("rejects an unknown reasoning level", () => rejects({ reasoning: "max" }, "options.reasoning"))
  it.effect("rejects a fractional seed", () => rejects({ seed: 1.5 }, "options.seed"))
  it.effect("rejects a zero timeout", () => rejects({ timeout: 0 }, "options.timeout"))
  it.effect("rejects an unreadable timeout", () => rejects({ timeout: "soon" }, "options.timeout"))
})
