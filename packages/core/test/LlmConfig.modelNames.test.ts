/**
 * A model name read from the environment that cannot be a `ModelId` (over
 * 256 characters, a control character inside, blank) is an `LlmConfigError`
 * naming the variable and saying what is wrong, when the configuration is
 * loaded: never a thrown exception, never a message that repeats a long
 * value whole. Through `LlmConfig.layerFromRecord` and, as an application
 * builds it, `LlmManager.layerConfig`. An `LLM_PRICES` provider or model
 * key an error repeats is cut and escaped the same way.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"
import { Bench, managerFromEnv } from "./utils/chain.ts"

const keys = { DEEPSEEK_API_KEY: "sk-deepseek", GEMINI_API_KEY: "g-key", OPENAI_API_KEY: "sk-openai" }

const long = "x".repeat(300)

const load = (variables: Record<string, string>) =>
  Effect.service(LlmConfig.LlmConfig).pipe(Effect.provide(LlmConfig.layerFromRecord({ ...keys, ...variables })))

/** Loading fails with an `LlmConfigError` naming `variable`, saying `text`, without a long value in it. */
const failsOn = (variables: Record<string, string>, variable: string, text: string | RegExp) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(load(variables))
    assert.strictEqual(error._tag, "LlmConfigError")
    assert.strictEqual(error.variable, variable, error.message)
    assert.include(error.message, variable)
    if (typeof text === "string") assert.include(error.message, text)
    else assert.match(error.message, text)
    assert.notInclude(error.message, long)
    assert.isBelow(error.message.length, 400, error.message)
    return error
  })

const control = /control character/

describe("LlmConfig: model names", () => {
  it.effect("<KIND>_MODEL over 256 characters names the variable, says the limit, does not repeat the value", () =>
    Effect.gen(function*() {
      yield* failsOn({ OPENAI_MODEL: long }, "OPENAI_MODEL", "at most 256 characters")
      yield* failsOn({ GEMINI_MODEL: "g".repeat(1_000_000) }, "GEMINI_MODEL", "at most 256 characters")
    }))

  it.effect("<KIND>_MODEL with a control character inside names the variable", () =>
    Effect.gen(function*() {
      yield* failsOn({ DEEPSEEK_MODEL: "deepseek\u0000flash" }, "DEEPSEEK_MODEL", control)
      yield* failsOn({ ANTHROPIC_MODEL: "claude\nhaiku" }, "ANTHROPIC_MODEL", control)
    }))

  it.effect("<KIND>_MODEL: 256 characters and the spaces around a name (trimmed) are fine", () =>
    Effect.gen(function*() {
      const config = yield* load({ OPENAI_MODEL: "m".repeat(256), DEEPSEEK_MODEL: "  deepseek-pro\n" })
      assert.strictEqual(config.providers.openai.model, "m".repeat(256))
      assert.strictEqual(config.providers.deepseek.model, "deepseek-pro")
    }))

  it.effect("LLM_CHAIN: a model over 256 characters says so, not that it is blank, and is not repeated", () =>
    Effect.gen(function*() {
      const error = yield* failsOn({ LLM_CHAIN: `deepseek/${long},gemini` }, "LLM_CHAIN", "at most 256 characters")
      assert.notInclude(error.message, "blank")
      assert.notInclude(error.message, "required")
    }))

  it.effect("LLM_CHAIN: a model with a control character says so", () =>
    Effect.gen(function*() {
      const error = yield* failsOn({ LLM_CHAIN: "deepseek/deepseek\u001bflash,gemini" }, "LLM_CHAIN", control)
      assert.notInclude(error.message, "blank")
      assert.notInclude(error.message, "\u001b")
    }))

  it.effect("LLM_CHAIN: a long step that is no provider name is not repeated", () =>
    failsOn({ LLM_CHAIN: `deepseek,${long}` }, "LLM_CHAIN", "provider/model"))

  it.effect("an unknown LLM_PRIMARY_PROVIDER of any length is not repeated", () =>
    failsOn({ LLM_PRIMARY_PROVIDER: long }, "LLM_PRIMARY_PROVIDER", "unknown provider"))

  it.effect("LLM_COMPAT_<NAME>_MODEL over 256 characters or with a control character says so, not 'is required'", () =>
    Effect.gen(function*() {
      const endpoint = { LLM_CHAIN: "local", LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1" }
      for (const [model, text] of [[long, "at most 256 characters"], ["qwen\u00003", control]] as const) {
        const error = yield* failsOn({ ...endpoint, LLM_COMPAT_LOCAL_MODEL: model }, "LLM_COMPAT_LOCAL_MODEL", text)
        assert.notInclude(error.message, "required")
      }
      // a chain step's model checked the same way
      yield* failsOn({ ...endpoint, LLM_CHAIN: `local/${long}` }, "LLM_CHAIN", "at most 256 characters")
    }))

  it.effect("LlmManager.layerConfig fails to build with the same LlmConfigError", () =>
    Effect.gen(function*() {
      for (
        const [variables, variable] of [
          [{ LLM_PRIMARY_PROVIDER: "openai", OPENAI_MODEL: long }, "OPENAI_MODEL"],
          [{ LLM_PRIMARY_PROVIDER: "openai", OPENAI_MODEL: "gpt\u00004o" }, "OPENAI_MODEL"],
          [{ LLM_CHAIN: `openai/${long}` }, "LLM_CHAIN"]
        ] as const
      ) {
        const error = yield* Effect.flip(managerFromEnv(variables))
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, variable)
        assert.notInclude(error.message, long)
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("a long base URL or time zone is cut in its error, a bidirectional control escaped", () =>
    Effect.gen(function*() {
      yield* failsOn({ DEEPSEEK_BASE_URL: `not a url ${long}` }, "DEEPSEEK_BASE_URL", "more characters")
      yield* failsOn({ AI_QUOTA_TIMEZONE: `Europe/${long}` }, "AI_QUOTA_TIMEZONE", "more characters")
      const error = yield* failsOn({ LLM_CHAIN: "openai/gpt\u202e-4o\u0007" }, "LLM_CHAIN", control)
      assert.include(error.message, "gpt\\u202e-4o\\u0007")
    }))
})

describe("LlmConfig: a key pasted as a model name", () => {
  const key = "sk-CANARY-1234567890"
  const compatKey = "local-CANARY-7654321"
  const endpoint = {
    LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1",
    LLM_COMPAT_LOCAL_API_KEY: compatKey
  }

  it.effect("is refused naming the variable, neither the key nor its prefix shown, as LlmManager.layerConfig builds it", () =>
    Effect.gen(function*() {
      for (
        const [variables, variable] of [
          [{ DEEPSEEK_API_KEY: key, DEEPSEEK_MODEL: key }, "DEEPSEEK_MODEL"],
          [{ DEEPSEEK_API_KEY: key, DEEPSEEK_MODEL: ` ${key}\n` }, "DEEPSEEK_MODEL"],
          // another provider's key, and a cut paste (the key's first characters)
          [{ DEEPSEEK_API_KEY: key, GEMINI_MODEL: key }, "GEMINI_MODEL"],
          [{ DEEPSEEK_API_KEY: key, DEEPSEEK_MODEL: key.slice(0, 12) }, "DEEPSEEK_MODEL"],
          [{ DEEPSEEK_API_KEY: key, LLM_CHAIN: `deepseek/${key},gemini` }, "LLM_CHAIN"],
          [{ ...endpoint, LLM_CHAIN: "local", LLM_COMPAT_LOCAL_MODEL: compatKey }, "LLM_COMPAT_LOCAL_MODEL"],
          [{ ...endpoint, LLM_CHAIN: `local/${compatKey}` }, "LLM_CHAIN"]
        ] as const
      ) {
        const error = yield* Effect.flip(managerFromEnv(variables))
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, variable, error.message)
        assert.include(error.message, "API key", variable)
        assert.notInclude(error.message, key.slice(0, 8), variable)
        assert.notInclude(error.message, compatKey.slice(0, 8), variable)
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("and without a chain (a gateway's environment); a model merely like a key's shape is fine", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.service(LlmConfig.LlmConfig).pipe(Effect.provide(
          LlmConfig.layerWithoutChain.pipe(
            Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ OPENAI_API_KEY: key, OPENAI_MODEL: key })))
          )
        ))
      )
      assert.strictEqual(error.variable, "OPENAI_MODEL")
      assert.notInclude(error.message, key.slice(0, 8))
      const config = yield* load({ DEEPSEEK_API_KEY: key, DEEPSEEK_MODEL: "sk-CANARY-other-model" })
      assert.strictEqual(config.providers.deepseek.model, "sk-CANARY-other-model")
    }))

  it.effect("a key's first characters count only where the model starts: a model ending with them is fine", () =>
    Effect.gen(function*() {
      const lms = {
        LLM_CHAIN: "lms",
        LLM_COMPAT_LMS_BASE_URL: "http://127.0.0.1:1/v1",
        LLM_COMPAT_LMS_API_KEY: "instructkey-secret"
      }
      const config = yield* load({ ...lms, LLM_COMPAT_LMS_MODEL: "llama-3.1-8b-instruct" })
      assert.strictEqual(config.compatible.lms?.model, "llama-3.1-8b-instruct")
      for (const model of ["instructkey", "instructk****cret"]) {
        const error = yield* Effect.flip(load({ ...lms, LLM_COMPAT_LMS_MODEL: model }))
        assert.strictEqual(error.variable, "LLM_COMPAT_LMS_MODEL", model)
        assert.include(error.message, "API key", model)
      }
    }))
})

describe("LlmConfig: LLM_PRICES keys", () => {
  const key = "k".repeat(3000)
  const bad = { input: -1, output: 2 }

  it.effect("a long provider or model key an error repeats is cut, saying what is wrong", () =>
    Effect.gen(function*() {
      for (
        const [prices, text] of [
          [{ [key]: { default: bad } }, "Expected a value between 0 and"],
          [{ openai: { models: { [key]: bad } } }, "Expected a value between 0 and"],
          [{ [key]: { default: { input: 1, output: 2 }, bogus: 1 } }, "Expected no excess property"]
        ] as const
      ) {
        const error = yield* failsOn({ LLM_PRICES: JSON.stringify(prices) }, "LLM_PRICES", text)
        assert.notInclude(error.message, key)
        assert.include(error.message, "more characters")
      }
    }))

  it.effect("a key's control characters and bidirectional controls are escaped", () =>
    Effect.gen(function*() {
      const prices = { openai: { models: { "gpt\u202e\u061c-4o\u0007\n": bad } } }
      const error = yield* failsOn({ LLM_PRICES: JSON.stringify(prices) }, "LLM_PRICES", "between 0 and")
      assert.include(error.message, "openai.models.gpt\\u202e\\u061c-4o\\u0007\\u000a.input")
      assert.notMatch(error.message, /[\p{Cc}\p{Bidi_Control}]/u)
    }))
})
