/**
 * `LlmConfig.layerWithoutChain`: the configuration of a program that brings
 * its own providers (a gateway's config file) reads no chain and requires no
 * provider key, and checks every other variable as `layer` does.
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

  it.effect("checks the other variables as layer does", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(load({ AI_DAILY_LIMIT_PER_TEACHER: "0" }))
      assert.strictEqual(error.variable, "AI_DAILY_LIMIT_PER_TEACHER")
    }))
})
