/**
 * `LlmConfig.layerWithoutChain`: the configuration of a program that brings
 * its own providers (a gateway's config file) reads no chain and requires no
 * provider key, and checks every other variable as `layer` does; its
 * secrets, the keys such a program scrubs and refuses elsewhere, are every
 * key variable set.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"

const load = (variables: Record<string, string>) =>
  Effect.service(LlmConfig.LlmConfig).pipe(
    Effect.provide(
      LlmConfig.layerWithoutChain.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(variables))))
    )
  )

describe("LlmConfig.layerWithoutChain", () => {
  it.effect("requires no key of the chain, reads no chain variable, and keeps the providers' settings", () =>
    Effect.gen(function*() {
      // `layer` fails on each of these: DEEPSEEK_API_KEY missing, an unknown provider, both chain styles
      const config = yield* load({
        OPENAI_API_KEY: "sk-openai",
        LLM_PRIMARY_PROVIDER: "nope",
        LLM_CHAIN: "deepseek",
        LLM_MAX_RETRIES: "4"
      })
      assert.deepStrictEqual(config.steps, [])
      assert.deepStrictEqual(config.chain, [])
      assert.deepStrictEqual(config.compatible, {})
      assert.strictEqual(Redacted.value(Option.getOrThrow(config.providers.openai.apiKey)), "sk-openai")
      assert.isTrue(Option.isNone(config.providers.deepseek.apiKey))
      assert.strictEqual(config.maxRetries, 4)
    }))

  it.effect("secrets holds every key variable set, an OpenAI-compatible endpoint's outside any chain too", () =>
    Effect.gen(function*() {
      const variables = { OPENAI_API_KEY: "sk-openai", LLM_COMPAT_LOCAL_API_KEY: " canary-compat-local-0123 " }
      const withoutChain = yield* load(variables)
      // `layer`, its chain naming another endpoint
      const withChain = yield* Effect.service(LlmConfig.LlmConfig).pipe(
        Effect.provide(LlmConfig.layerFromRecord({
          ...variables,
          LLM_CHAIN: "openai,other/llama3",
          LLM_COMPAT_OTHER_BASE_URL: "http://127.0.0.1:11434/v1"
        }))
      )
      for (const settings of [withoutChain, withChain]) {
        const values = LlmConfig.secrets(settings).map(Redacted.value)
        assert.includeMembers(values, ["sk-openai", "canary-compat-local-0123"])
      }
    }))

  it.effect("secrets lists each key once, a chain endpoint's (also among every compatible key set) too", () =>
    Effect.gen(function*() {
      const settings = yield* Effect.service(LlmConfig.LlmConfig).pipe(
        Effect.provide(LlmConfig.layerFromRecord({
          OPENAI_API_KEY: "sk-openai",
          LLM_CHAIN: "openai,local/llama3",
          LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:11434/v1",
          LLM_COMPAT_LOCAL_API_KEY: "canary-compat-local-0123"
        }))
      )
      assert.deepStrictEqual(LlmConfig.secrets(settings).map(Redacted.value), ["sk-openai", "canary-compat-local-0123"])
    }))

  it.effect("checks the other variables as layer does", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(load({ AI_DAILY_LIMIT_PER_TEACHER: "0" }))
      assert.strictEqual(error.variable, "AI_DAILY_LIMIT_PER_TEACHER")
    }))
})
