/**
 * Bad caller input through the API a user calls: every mistake is a typed
 * error naming the field, before any network call, never a thrown
 * exception or a defect.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"
import type * as LlmRequest from "../src/LlmRequest.ts"
import { Bench, manager, stats } from "./utils/chain.ts"

const keys = { DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "g" }

describe("bad caller input", () => {
  it.live("requests: null, a huge maxTokens, a blank model, control characters → InvalidOptions naming the field", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const before = (yield* stats("openai")).requests
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [null, "request"],
        [undefined, "request"],
        [42, "request"],
        [{ prompt: "hi", options: { maxTokens: 1e12 } }, "options.maxTokens"],
        [{ prompt: "hi", options: { model: "   " } }, "options.model"],
        [{ prompt: "hi", options: { model: "gpt\n4" } }, "options.model"],
        [{ prompt: "hi", metadata: { requestId: "r\u0000" } }, "metadata.requestId"],
        [{ prompt: "hi", metadata: { subjectId: "t\nDEL *" } }, "metadata.subjectId"],
        // found by the chaos suite's property test: a TypeError (a defect) before
        [{ prompt: "hi", metadata: null }, "metadata"],
        // a message field hidden from enumeration is checked all the same
        [{ prompt: [Object.defineProperty({ role: "user", content: "hi" }, "name", { value: 7 })] }, "prompt.0.name"]
      ]
      for (const [input, field] of cases) {
        const error = yield* Effect.flip(llm.generate(input as LlmRequest.Input))
        assert.strictEqual(error._tag, "InvalidOptions", field)
        if (error._tag === "InvalidOptions") {
          assert.strictEqual(error.field, field)
          assert.notMatch(error.message, /\p{Cc}/u)
        }
      }
      assert.strictEqual((yield* stats("openai")).requests, before, "no call reached the provider")
    }).pipe(Effect.provide(Bench)))

  it.effect("LLM_PRICES: a typo'd key and a price too large to bill are LlmConfigErrors naming LLM_PRICES", () =>
    Effect.gen(function*() {
      for (
        const prices of [
          `{"openai":{"modles":{"gpt-4.1":{"input":2,"output":8}}}}`,
          `{"openai":{"models":{"gpt-4.1":{"inptu":2,"output":8}}}}`,
          `{"openai":{"default":{"input":1e300,"output":8}}}`
        ]
      ) {
        const error = yield* Effect.flip(
          LlmConfig.LlmConfig.use(() => Effect.void).pipe(
            Effect.provide(LlmConfig.layerFromRecord({ ...keys, LLM_PRICES: prices }))
          )
        )
        assert.strictEqual(error.variable, "LLM_PRICES", prices)
      }
    }))

  it.effect("LLM_PRICES: a provider no configuration can name is an LlmConfigError naming it (its prices would never bill)", () =>
    Effect.gen(function*() {
      const row = { default: { input: 1, output: 2 } }
      const config = (record: Record<string, string>) =>
        LlmConfig.LlmConfig.use((config) => Effect.succeed(config)).pipe(
          Effect.provide(LlmConfig.layerFromRecord({ ...keys, ...record }))
        )
      for (const provider of ["opneai", "OpenAI", "ollama"]) {
        const error = yield* Effect.flip(config({ LLM_PRICES: JSON.stringify({ [provider]: row }) }))
        assert.strictEqual(error.variable, "LLM_PRICES", provider)
        assert.include(error.message, `"${provider}"`)
        assert.include(error.message, "LLM_COMPAT_")
      }
      // an OpenAI-compatible endpoint declared by its base URL may be priced, in the chain or not
      const priced = yield* config({
        LLM_PRICES: JSON.stringify({ ollama: row, anthropic: row }),
        LLM_COMPAT_OLLAMA_BASE_URL: "http://127.0.0.1:11434/v1"
      })
      assert.deepStrictEqual(priced.prices["ollama"]?.default, row.default)
      // without the chain (a gateway's config file brings its providers), any provider may be priced
      const withoutChain = yield* LlmConfig.LlmConfig.use((config) => Effect.succeed(config)).pipe(
        Effect.provide(
          LlmConfig.layerWithoutChain.pipe(
            Layer.provide(
              ConfigProvider.layer(ConfigProvider.fromUnknown({ LLM_PRICES: JSON.stringify({ local: row }) }))
            )
          )
        )
      )
      assert.deepStrictEqual(withoutChain.prices["local"]?.default, row.default)
    }))
})
