/**
 * Number variables are plain decimal digits, spaces around ignored (the
 * `\r` of a file written on Windows, a padded value), as the other
 * variables are trimmed; a blank one is unset. Anything else a number
 * parser would take (`1e3`, `+5`, `0x10`) is an error naming the variable.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"

const keys = { DEEPSEEK_API_KEY: "sk-deepseek", GEMINI_API_KEY: "g-key" }

const load = (variables: Record<string, string>) =>
  Effect.service(LlmConfig.LlmConfig).pipe(Effect.provide(LlmConfig.layerFromRecord({ ...keys, ...variables })))

describe("LlmConfig number variables", () => {
  it.effect("are read trimmed", () =>
    Effect.gen(function*() {
      const config = yield* load({
        AI_MAX_QUESTIONS_PER_REQUEST: "20\r",
        LLM_REQUEST_TIMEOUT_MS: " 20000 ",
        LLM_MAX_RETRIES: "\t3\n",
        LLM_HEDGE_DELAY_MS: " 1500\r\n"
      })
      assert.strictEqual(config.maxQuestionsPerRequest, 20)
      assert.strictEqual(config.requestTimeoutMs, 20_000)
      assert.strictEqual(config.maxRetries, 3)
      assert.deepStrictEqual(config.hedgeDelayMs, Option.some(1_500))
    }))

  it.effect("are their default, or unset, when blank", () =>
    Effect.gen(function*() {
      const config = yield* load({ LLM_REQUEST_TIMEOUT_MS: " ", LLM_MAX_RETRIES: "", LLM_HEDGE_DELAY_MS: "\r" })
      assert.strictEqual(config.requestTimeoutMs, 60_000)
      assert.strictEqual(config.maxRetries, 2)
      assert.isTrue(Option.isNone(config.hedgeDelayMs))
    }))

  const malformed: ReadonlyArray<readonly [string, string]> = [
    ["AI_DAILY_LIMIT_PER_TEACHER", "1e3"],
    ["AI_MAX_QUESTIONS_PER_REQUEST", "+5"],
    ["LLM_REQUEST_TIMEOUT_MS", "0x10"],
    ["LLM_MAX_RETRIES", "+1"],
    ["LLM_STRUCTURED_OUTPUT_RETRIES", "0b1"],
    ["LLM_HEDGE_DELAY_MS", "1e3"],
    ["LLM_MAX_BODY_BYTES", "0x100000"],
    ["LLM_CIRCUIT_COOLDOWN_MS", "30_000"],
    ["LLM_ATTEMPT_TIMEOUT_MS", "2 000"]
  ]
  for (const [variable, value] of malformed) {
    it.effect(`${variable}="${value}" is an error naming the variable`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(load({ [variable]: value }))
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, variable)
        assert.include(error.message, variable)
        assert.include(error.message, "decimal digits")
        assert.include(error.message, `"${value}"`)
      }))
  }

  const tooLarge: ReadonlyArray<readonly [string, string]> = [
    ["AI_DAILY_LIMIT_PER_TEACHER", "99999999999999999999"],
    ["LLM_FIRST_TOKEN_TIMEOUT_MS", "9007199254740992"],
    ["LLM_MAX_RETRIES", "9".repeat(400)]
  ]
  for (const [variable, value] of tooLarge) {
    it.effect(`${variable}="${value.slice(0, 24)}" is too large: an error naming the variable and the most it takes`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(load({ [variable]: value }))
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, variable)
        assert.match(error.message, new RegExp(`^${variable}: must be at most 9007199254740991, got "`))
      }))
  }

  it.effect("the largest safe integer is taken", () =>
    Effect.gen(function*() {
      const config = yield* load({ AI_DAILY_LIMIT_PER_TEACHER: "9007199254740991" })
      assert.strictEqual(config.dailyLimitPerTeacher, Number.MAX_SAFE_INTEGER)
    }))
})
