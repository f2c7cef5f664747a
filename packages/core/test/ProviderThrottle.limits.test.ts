/**
 * A throttle's limits are checked when its layer is built, as every other
 * store option is: a limit that is no positive whole number (0, -5 or 0.5
 * refused every call with a Retry-After of a minute, `NaN` was no limit), a
 * key that is no provider name (`OpenAI` for `openai` left openai
 * unthrottled) or a field that is no limit (`requestPerMinute`) fails the
 * build with an `LlmConfigError` naming the option (a limit given as the
 * string `"5"` is named a string). Through `LlmManager`, a limit naming
 * neither a hosted provider nor one of its chain is warned about once, as
 * `LLM_PRICES` is (a pasted key `[redacted]`), never refused: a chain
 * chosen by the environment without an endpoint a shared throttle limits
 * starts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ProviderName } from "../src/Ids.ts"
import type { LlmConfigError } from "../src/LlmError.ts"
import * as ProviderThrottle from "../src/ProviderThrottle.ts"
import { Bench, manager, managerFromEnv, warningsOf } from "./utils/chain.ts"

const openai = ProviderName.make("openai")

/** The `LlmConfigError` building `layer` fails with, as `[variable, message]`. */
const refusal = <A>(layer: Layer.Layer<A, LlmConfigError>) =>
  Effect.map(Effect.flip(Effect.scoped(Layer.build(layer))), (error) => {
    assert.strictEqual(error._tag, "LlmConfigError")
    return [error.variable, error.message] as const
  })

const refusedLimits: ReadonlyArray<number> = [0, -5, 0.5, Number.NaN, Number.POSITIVE_INFINITY]

describe("ProviderThrottle limits", () => {
  it.effect("a limit that is no positive whole number fails the build, naming the option", () =>
    Effect.gen(function*() {
      for (const limit of refusedLimits) {
        for (const field of ["requestsPerMinute", "tokensPerMinute"] as const) {
          const [variable, message] = yield* refusal(ProviderThrottle.layerMemory({ openai: { [field]: limit } }))
          assert.strictEqual(variable, `ProviderThrottle.limits.openai.${field}`)
          assert.match(message, new RegExp(`^${variable}: must be (a positive integer|at most \\d+), got ${limit}$`))
        }
      }
    }))

  it.effect("a key that is no provider name fails the build, naming it", () =>
    Effect.gen(function*() {
      for (const key of ["OpenAI", "open ai", ""]) {
        const [variable, message] = yield* refusal(ProviderThrottle.layerMemory({ [key]: { requestsPerMinute: 1 } }))
        assert.strictEqual(variable, `ProviderThrottle.limits.${key}`)
        assert.include(message, "a provider name is 1-64 lower-case letters")
      }
    }))

  it.effect("a field that is no limit, or an entry that is no object, fails the build, naming it", () =>
    Effect.gen(function*() {
      const misspelt = { openai: { requestPerMinute: 5 } } as ProviderThrottle.LimitTable
      assert.deepStrictEqual(yield* refusal(ProviderThrottle.layerMemory(misspelt)), [
        "ProviderThrottle.limits.openai.requestPerMinute",
        "ProviderThrottle.limits.openai.requestPerMinute: not a limit; a provider's limits are requestsPerMinute " +
        "and tokensPerMinute"
      ])
      // a table read from a file is untyped
      for (const entry of [5, null, [1]]) {
        const notAnObject = { openai: entry } as unknown as ProviderThrottle.LimitTable
        assert.strictEqual(
          (yield* refusal(ProviderThrottle.layerMemory(notAnObject)))[0],
          "ProviderThrottle.limits.openai"
        )
      }
      const text = { openai: { tokensPerMinute: "5" } } as unknown as ProviderThrottle.LimitTable
      assert.deepStrictEqual(yield* refusal(ProviderThrottle.layerMemory(text)), [
        "ProviderThrottle.limits.openai.tokensPerMinute",
        "ProviderThrottle.limits.openai.tokensPerMinute: must be a number (a positive integer), got the string \"5\""
      ])
    }))

  it.effect("limits that are positive whole numbers, or absent, are taken", () =>
    Effect.gen(function*() {
      const throttle = yield* ProviderThrottle.ProviderThrottle
      yield* throttle.check(openai)
      assert.strictEqual((yield* Effect.flip(throttle.check(openai))).limit, "requests-per-minute")
      assert.deepStrictEqual<ReadonlyArray<string> | undefined>(throttle.limited, ["openai", "gemini"])
    }).pipe(
      Effect.provide(
        ProviderThrottle.layerMemory({ openai: { requestsPerMinute: 1 }, gemini: { tokensPerMinute: undefined } })
      )
    ))
})

describe("LlmManager with a ProviderThrottle's limits", () => {
  it.effect("a bad limit fails the manager's build, naming the option", () =>
    Effect.gen(function*() {
      const throttle = ProviderThrottle.layerMemory({ openai: { requestsPerMinute: 0 } })
      const error = yield* Effect.flip(manager({ chain: ["openai", "anthropic"] }).pipe(Effect.provide(throttle)))
      assert.strictEqual(error._tag, "LlmConfigError")
      assert.strictEqual(error.variable, "ProviderThrottle.limits.openai.requestsPerMinute")
    }).pipe(Effect.provide(Bench)))

  it.effect("a limit naming neither a hosted provider nor one of the chain is warned about once; the manager serves", () =>
    Effect.gen(function*() {
      const throttle = ProviderThrottle.layerMemory({
        openai: { requestsPerMinute: 5 },
        gemini: { requestsPerMinute: 5 },
        "open-ai": { tokensPerMinute: 9 },
        ollama: { requestsPerMinute: 5 }
      })
      const warnings = yield* warningsOf(
        Effect.gen(function*() {
          const llm = yield* manager({ chain: ["openai", "anthropic"] })
          assert.strictEqual((yield* llm.generate({ prompt: "Name a planet." })).provider, "openai")
        }).pipe(Effect.provide(throttle))
      )
      assert.deepStrictEqual(warnings, [
        "ProviderThrottle.limits limits \"open-ai\", \"ollama\": neither a hosted provider nor a step of the chain " +
        "(openai, anthropic); a typo there limits nothing; only a provider built in code under that name is " +
        "throttled by it"
      ])
      const chainOnly = ProviderThrottle.layerMemory({ openai: { requestsPerMinute: 5 }, gemini: {} })
      assert.deepStrictEqual(
        yield* warningsOf(manager({ chain: ["openai"] }).pipe(Effect.provide(chainOnly))),
        []
      )
    }).pipe(Effect.provide(Bench)))

  it.effect("a chain chosen by the environment without an endpoint the shared throttle limits builds, warning", () =>
    Effect.gen(function*() {
      const throttle = ProviderThrottle.layerMemory({
        deepseek: { requestsPerMinute: 5 },
        ollama: { requestsPerMinute: 5 }
      })
      const warnings = yield* warningsOf(
        Effect.gen(function*() {
          const llm = yield* managerFromEnv({ LLM_CHAIN: "deepseek/deepseek-chat,gemini/gemini-2.5-flash" })
          assert.strictEqual((yield* llm.generate({ prompt: "Name a planet." })).provider, "deepseek")
        }).pipe(Effect.provide(throttle))
      )
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "ProviderThrottle.limits limits \"ollama\"")
    }).pipe(Effect.provide(Bench)))

  it.effect("a key pasted as a limit's provider is [redacted] in the warning", () =>
    Effect.gen(function*() {
      const key = "sk-canary-0123456789abcdef"
      const throttle = ProviderThrottle.layerMemory({ [key]: { requestsPerMinute: 5 } })
      const warnings = yield* warningsOf(managerFromEnv({ DEEPSEEK_API_KEY: key }).pipe(Effect.provide(throttle)))
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "[redacted]")
      assert.notInclude(warnings[0], key.slice(0, 8))
    }).pipe(Effect.provide(Bench)))
})
