/**
 * Options that must take effect on every provider, through `LlmManager`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Bench, manager } from "./utils/chain.ts"

const prompt = "Write one quiz question about glaciers."

describe("LlmManager options", () => {
  it.live("responseFormat json reaches Anthropic (as a system instruction: it has no JSON mode)", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["anthropic"], policy: { generateVia: "generate" } })
      const text = yield* llm.generate({ prompt })
      const json = yield* llm.generate({ prompt, options: { responseFormat: "json" } })
      // the mock bills the prompt it received: the JSON instruction made it longer
      assert.isAbove(json.usage.promptTokens, text.usage.promptTokens)
      const streamed = yield* manager({ chain: ["anthropic"] })
      const viaStream = yield* streamed.generate({ prompt, options: { responseFormat: "json" } })
      assert.strictEqual(viaStream.usage.promptTokens, json.usage.promptTokens)
    }).pipe(Effect.provide(Bench)))
})
