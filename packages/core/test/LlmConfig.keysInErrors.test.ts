/**
 * A configuration error never shows a configured key's value, though the
 * value be pasted into another variable (a base URL, a number, a boolean, a
 * store URL): built as a program builds it, `LlmConfig.layer` over the
 * process-style environment (`ConfigProvider.fromEnv`) or a map. And a
 * missing key is named only once every other variable reads, so a bad value
 * is named first.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"
import type { LlmConfigError } from "../src/LlmError.ts"

const key = "sk-CANARY-1234567"
const compatKey = "local-CANARY-7654321"

/** The configuration's error, built from `env` as the process environment. */
const errorOf = (env: Record<string, string>, layer = LlmConfig.layer) =>
  Effect.flip(
    Effect.service(LlmConfig.LlmConfig).pipe(
      Effect.provide(layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))))
    )
  )

const local = {
  LLM_CHAIN: "local",
  LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1",
  LLM_COMPAT_LOCAL_MODEL: "llama3"
}

describe("LlmConfig errors and keys", () => {
  it.effect("a hosted key pasted into another variable is [redacted] in that variable's error", () =>
    Effect.gen(function*() {
      const keys = { DEEPSEEK_API_KEY: key, GEMINI_API_KEY: "g-test-key" }
      const cases = [
        ["DEEPSEEK_BASE_URL", key],
        ["OPENAI_BASE_URL", `${key}/v1`],
        ["AI_GENERATION_ENABLED", key],
        ["LLM_MAX_RETRIES", ` ${key} `],
        ["AI_QUOTA_TIMEZONE", key],
        ["LLM_USAGE_STORE_URL", `${key}:x`],
        ["LLM_PRIMARY_PROVIDER", key]
      ] as const
      for (const [variable, value] of cases) {
        const error = yield* errorOf({ ...keys, [variable]: value })
        assert.strictEqual(error.variable, variable)
        assert.include(error.message, "[redacted]", variable)
        assert.notInclude(error.message, "CANARY", variable)
      }
    }))

  it.effect("so is an OpenAI-compatible endpoint's key, named by the chain or not", () =>
    Effect.gen(function*() {
      const named = yield* errorOf({ ...local, LLM_COMPAT_LOCAL_API_KEY: compatKey, LLM_MAX_RETRIES: compatKey })
      const other = yield* errorOf({
        DEEPSEEK_API_KEY: key,
        GEMINI_API_KEY: "g-test-key",
        LLM_COMPAT_OLLAMA_2_API_KEY: compatKey,
        AI_GENERATION_ENABLED: compatKey
      })
      for (const error of [named, other]) {
        assert.include(error.message, "[redacted]", error.variable)
        assert.notInclude(error.message, "CANARY", error.variable)
      }
    }))

  it.effect("and in LLM_CHAIN, whose step names are lower-cased and name their endpoint's variables", () =>
    Effect.gen(function*() {
      for (const chain of [key, `deepseek,${key}/llama3`]) {
        const error = yield* errorOf({ DEEPSEEK_API_KEY: key, GEMINI_API_KEY: "g-test-key", LLM_CHAIN: chain })
        assert.strictEqual(error.variable, "LLM_CHAIN")
        assert.include(error.message, "[redacted]", chain)
        assert.notMatch(error.message, /canary/i, chain)
      }
    }))

  it.effect("and in a map's configuration, the configuration without a chain, the quota zone and a port", () =>
    Effect.gen(function*() {
      const variables = { DEEPSEEK_API_KEY: key, GEMINI_API_KEY: "g-test-key", LLM_CIRCUIT_COOLDOWN_MS: key }
      const fromRecord = yield* Effect.flip(
        Effect.service(LlmConfig.LlmConfig).pipe(Effect.provide(LlmConfig.layerFromRecord({
          ...variables,
          LLM_COMPAT_LOCAL_API_KEY: compatKey,
          LLM_CIRCUIT_COOLDOWN_MS: `${key},${compatKey}`
        })))
      )
      const withoutChain = yield* errorOf(variables, LlmConfig.layerWithoutChain)
      const alone = (effect: Effect.Effect<unknown, LlmConfigError>, env: Record<string, string>) =>
        Effect.flip(effect.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))))
      const zone = yield* alone(LlmConfig.quotaZone, { DEEPSEEK_API_KEY: key, AI_QUOTA_TIMEZONE: key })
      const port = yield* alone(LlmConfig.port("PORT", 3000), { OPENAI_API_KEY: key, PORT: key })
      for (const error of [fromRecord, withoutChain, zone, port]) {
        assert.include(error.message, "[redacted]", error.variable)
        assert.notInclude(error.message, "CANARY", error.variable)
      }
    }))

  it.effect("a bad value is named before a missing key: the keys are checked once everything else reads", () =>
    Effect.gen(function*() {
      for (
        const [variable, value] of [
          ["LLM_MAX_RETRIES", "-1"],
          ["AI_QUOTA_TIMEZONE", "Mars/Olympus"],
          ["LLM_USAGE_STORE_URL", "mysql://root@127.0.0.1/test"],
          ["LLM_PRICES", "{"]
        ] as const
      ) {
        const error = yield* errorOf({ [variable]: value })
        assert.strictEqual(error.variable, variable)
      }
      const missing = yield* errorOf({ LLM_MAX_RETRIES: "3" })
      assert.strictEqual(missing.variable, "DEEPSEEK_API_KEY")
    }))

  it.effect("a credential in a base URL's query (Gemini's ?key=) pasted into another variable is [redacted] too", () =>
    Effect.gen(function*() {
      const inUrl = "AIzaSyCANARYinTheUrl0123"
      for (const [urlVariable, chain] of [["GEMINI_BASE_URL", {}], ["LLM_COMPAT_LOCAL_BASE_URL", local]] as const) {
        for (const variable of ["AI_QUOTA_TIMEZONE", "LLM_MAX_RETRIES", "DEEPSEEK_BASE_URL"]) {
          const error = yield* errorOf({
            DEEPSEEK_API_KEY: key,
            GEMINI_API_KEY: "g-test-key",
            ...chain,
            [urlVariable]: `http://127.0.0.1:1/v1?key=${inUrl}`,
            [variable]: inUrl
          })
          assert.strictEqual(error.variable, variable, `${urlVariable} ${variable}`)
          assert.notInclude(error.message, inUrl, `${urlVariable} ${variable}`)
        }
      }
    }))
})
