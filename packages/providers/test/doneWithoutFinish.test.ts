/**
 * An OpenAI-compatible stream that ends with `data: [DONE]` but never sent a
 * `finish_reason` is complete: its answer is served with finish reason
 * `other`, as the same reply without `finish_reason` is when not streamed
 * (and as OpenAI and DeepSeek streams are). Through `LlmManager`, over real
 * HTTP from a server that sends exactly the given events, the mock server's
 * OpenAI behind it as the fallback.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-test-key")

const primary = (baseUrl: string) =>
  OpenAiCompatible.layer({ name: "local-llm", baseUrl, model: "llama-3.1-8b", apiKey })

const chunk = (content: string) => ({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })
const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }

/** Text, usage, the terminator: no chunk carries a `finish_reason`. */
const events = [chunk("Hel"), chunk("lo"), { choices: [], usage }, "[DONE]"]

/** The same answer not streamed, without `finish_reason`. */
const body = { choices: [{ index: 0, message: { role: "assistant", content: "Hello" } }], usage }

describe("[DONE] without a finish_reason (OpenAI-compatible)", () => {
  it.live("stream: the answer finishes with reason other", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({ body, events })
      const llm = yield* Manager.withMockFallback(primary)(server.url)
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "hi" }))
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.strictEqual(text, "Hello")
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      if (finish?._tag === "Finish") {
        assert.strictEqual(finish.finishReason, "other")
        assert.strictEqual(String(finish.provider), "local-llm")
        assert.strictEqual(finish.rescued, false)
        assert.strictEqual(finish.usage.totalTokens, 5)
      }
    }).pipe(Effect.provide(Bench), Effect.scoped))

  for (const via of ["stream", "generate"] as const) {
    it.live(`generate (generateVia: ${via}): served by the provider, finish reason other`, () =>
      Effect.gen(function*() {
        const server = yield* RawServer.start({ body, events })
        const llm = yield* LlmManager.make({
          providers: [primary(server.url)],
          policy: FallbackPolicy.make({ maxRetries: 0, generateVia: via }),
          generationEnabled: true
        })
        const result = yield* llm.generate({ prompt: "hi" })
        assert.strictEqual(result.content, "Hello")
        assert.strictEqual(result.finishReason, "other")
        assert.strictEqual(result.usage.totalTokens, 5)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
