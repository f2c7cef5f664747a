/**
 * When the bundled mock provider server stands in (`needsMock`): only when
 * the configuration has no provider to call, every step of its chain a
 * hosted provider without its key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as MockEnvironment from "../src/MockEnvironment.ts"

const compat = {
  LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:8787/openai/v1",
  LLM_COMPAT_LOCAL_MODEL: "gpt-4o-mini"
}

describe("MockEnvironment.needsMock", () => {
  it.effect("true when every step of the chain is a hosted provider without its key", () =>
    Effect.gen(function*() {
      for (
        const env of [
          {},
          { LLM_PRIMARY_PROVIDER: "openai", LLM_FALLBACK_PROVIDER: "none" },
          { LLM_CHAIN: "deepseek/deepseek-flash,gemini" },
          // an endpoint declared but not in the chain calls nothing
          { ...compat, LLM_CHAIN: "deepseek" },
          { ...compat },
          { DEEPSEEK_API_KEY: "  " }
        ]
      ) {
        assert.isTrue(yield* MockEnvironment.needsMock(env), JSON.stringify(env))
      }
    }))

  it.effect("false when a key is set or the chain names an OpenAI-compatible endpoint, keyed or not", () =>
    Effect.gen(function*() {
      for (
        const env of [
          { GEMINI_API_KEY: "g-test" },
          { ...compat, LLM_CHAIN: "local" },
          { ...compat, LLM_COMPAT_LOCAL_API_KEY: "sk-canary-compat-1", LLM_CHAIN: "local" },
          // the hosted step then fails on its missing key, as without the mock
          { ...compat, LLM_CHAIN: "local,deepseek" }
        ]
      ) {
        assert.isFalse(yield* MockEnvironment.needsMock(env), JSON.stringify(env))
      }
    }))

  it.effect("false when the configuration does not read: the real run names what to fix", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* MockEnvironment.needsMock({ LLM_CHAIN: "local" }))
      assert.isFalse(yield* MockEnvironment.needsMock({ AI_QUOTA_TIMEZONE: "Mars/Olympus" }))
    }))
})
