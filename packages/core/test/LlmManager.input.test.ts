/**
 * Bad caller input through the API a user calls: every mistake is a typed
 * error naming the field, before any network call, never a thrown
 * exception or a defect.
 */
import * as OpenAiCompatible from "@baton/providers/OpenAiCompatible"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"
import * as LlmManager from "../src/LlmManager.ts"
import type * as LlmRequest from "../src/LlmRequest.ts"
import { Bench, manager, stats } from "./utils/chain.ts"

const keys = { DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "g" }
const tool = { name: "lookup", description: "Looks a word up", parameters: { type: "object", properties: {} } }

describe("bad caller input", () => {
  it.live("requests: null, a huge maxTokens, a blank model, control characters → InvalidOptions naming the field", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const before = (yield* stats("openai")).requests
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [null, "request"],
        [undefined, "request"],
        [42, "request"],
        // a blank prompt asks nothing (Anthropic answers it 400, stopping the chain), as an empty one
        [{ prompt: " \n\t" }, "prompt"],
        [{ prompt: [{ role: "system", content: "Be brief." }, { role: "user", content: " \n" }] }, "prompt"],
        [{ prompt: "hi", options: { maxTokens: 1e12 } }, "options.maxTokens"],
        [{ prompt: "hi", options: { model: "   " } }, "options.model"],
        [{ prompt: "hi", options: { model: "gpt\n4" } }, "options.model"],
        [{ prompt: "hi", metadata: { requestId: "r\u0000" } }, "metadata.requestId"],
        [{ prompt: "hi", metadata: { subjectId: "t\nDEL *" } }, "metadata.subjectId"],
        // a lone surrogate: the SQL drivers store it as U+FFFD, merging two subjects' ledger rows
        [{ prompt: "hi", metadata: { subjectId: "teacher-\uD800" } }, "metadata.subjectId"],
        [{ prompt: "hi", metadata: { subjectId: "teacher-\uDC00x" } }, "metadata.subjectId"],
        // blank, or white space at an end: one quota for every blank caller, a second one beside "t-1"
        [{ prompt: "hi", metadata: { subjectId: " " } }, "metadata.subjectId"],
        [{ prompt: "hi", metadata: { subjectId: "t-1 " } }, "metadata.subjectId"],
        [{ prompt: "hi", metadata: { subjectId: "\u00a0t-1" } }, "metadata.subjectId"],
        [{ prompt: "hi", metadata: { requestId: " r-1" } }, "metadata.requestId"],
        // an invisible format character at an end (a zero-width space, a byte-order mark pasted with the id)
        [{ prompt: "hi", metadata: { subjectId: "t-1\u200b" } }, "metadata.subjectId"],
        [{ prompt: "hi", metadata: { subjectId: "\u2060t-1" } }, "metadata.subjectId"],
        [{ prompt: "hi", metadata: { requestId: "r-1\u200d" } }, "metadata.requestId"],
        // half an emoji: no model writes one, and Baton's own stop cut would split a character at it
        [{ prompt: "hi", options: { stop: ["\n\n", "\uD83D"] } }, "options.stop.1"],
        [{ prompt: "hi", options: { reasoning: "xhigh" } }, "options.reasoning"],
        // found by the chaos suite's property test: a TypeError (a defect) before
        [{ prompt: "hi", metadata: null }, "metadata"],
        // a message field hidden from enumeration is checked all the same
        [{ prompt: [Object.defineProperty({ role: "user", content: "hi" }, "name", { value: 7 })] }, "prompt.0.name"],
        // tools and a tool choice from untyped code (JSON built by hand): each a TypeError, a defect, before
        [{ prompt: "hi", tools: null }, "tools"],
        [{ prompt: "hi", tools: "abc" }, "tools"],
        [{ prompt: "hi", tools: {} }, "tools"],
        [{ prompt: "hi", tools: [null] }, "tools[0]"],
        [{ prompt: "hi", tools: [tool, 7] }, "tools[1]"],
        [{ prompt: "hi", tools: [{ ...tool, name: ["abc"] }] }, "tools[0]"],
        [{ prompt: "hi", tools: [{ ...tool, description: 42 }] }, "tools[0].description"],
        [{ prompt: "hi", tools: [{ ...tool, parameters: null }] }, "tools[0].parameters"],
        [{ prompt: "hi", tools: [tool], toolChoice: null }, "toolChoice"],
        [{ prompt: "hi", tools: [tool], toolChoice: "bogus" }, "toolChoice"],
        [{ prompt: "hi", tools: [tool], toolChoice: { tool: 7 } }, "toolChoice"],
        // a named tool the request does not carry, no tools at all: it was dropped without a word
        [{ prompt: "hi", toolChoice: { tool: "lookup" } }, "toolChoice"]
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

  it.live("generateStructured and stream: a schema that is no schema, bad tools → InvalidOptions, no call", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const before = (yield* stats("openai")).requests
      for (const output of [null, undefined, 5, "abc", true]) {
        const error = yield* Effect.flip(llm.generateStructured({ prompt: "hi" }, output as never))
        assert.deepStrictEqual([error._tag, "field" in error ? error.field : undefined], ["InvalidOptions", "schema"])
      }
      const streamed = yield* Effect.flip(Stream.runDrain(llm.stream({ prompt: "hi", tools: [null] } as never)))
      assert.deepStrictEqual(
        [streamed._tag, "field" in streamed ? streamed.field : undefined],
        ["InvalidOptions", "tools[0]"]
      )
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

  it.live("LLM_PRICES prices a provider built in code under its own name (no variable declares it)", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const groq = OpenAiCompatible.layer({
        name: "groq",
        baseUrl: mock.baseUrl("openai"),
        model: "gpt-4o-mini",
        apiKey: Redacted.make("sk-groq")
      })
      const prices = { groq: { default: { input: 1000, output: 2000 } } }
      const result = yield* LlmManager.LlmManager.use((llm) => llm.generate({ prompt: "hi" })).pipe(
        Effect.provide(
          LlmManager.layer({ providers: [groq] }).pipe(
            Layer.provide([LlmConfig.layerPricing, NodeHttpClient.layerUndici]),
            Layer.provide(LlmConfig.layerFromRecord({ ...keys, LLM_PRICES: JSON.stringify(prices) }))
          )
        )
      )
      const { completionTokens, promptTokens } = result.usage
      // USD per 1M tokens: 1000 and 2000 USD are 1,000,000 and 2,000,000 nano-USD per token
      assert.strictEqual(result.usage.costNanoUsd, promptTokens * 1_000_000 + completionTokens * 2_000_000)
    }).pipe(Effect.provide(MockProviderServer.layer())))
})
