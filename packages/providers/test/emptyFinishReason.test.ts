/**
 * Some OpenAI-compatible servers send `finish_reason: ""` on every chunk in
 * place of `null`. An empty reason is no reason: a stream of such chunks cut
 * before `[DONE]` is a cut stream, never a complete answer, and a real
 * reason is kept when a later chunk carries an empty one. Through
 * `LlmManager`, over real HTTP from a server that sends exactly the given
 * events, the mock server's OpenAI behind it as the fallback.
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

const chunk = (content: string, finish_reason = "") => ({
  choices: [{ index: 0, delta: { content }, finish_reason }]
})
const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }

/** Text in chunks whose `finish_reason` is empty, then the connection ends: no real reason, no `[DONE]`. */
const cut = [chunk("Hel"), chunk("lo")]

describe("finish_reason \"\" (OpenAI-compatible)", () => {
  it.live("stream cut before a real finish_reason: StreamInterrupted with the text so far", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({ body: {}, events: cut })
      const llm = yield* Manager.withMockFallback(primary)(server.url)
      const failure = yield* Effect.flip(Stream.runCollect(llm.stream({ prompt: "hi" })))
      assert.strictEqual(failure._tag, "StreamInterrupted")
      if (failure._tag === "StreamInterrupted") assert.strictEqual(failure.partialText, "Hello")
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("generate over the cut stream: never served by it, the fallback answers", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({ body: {}, events: cut })
      const llm = yield* Manager.withMockFallback(primary)(server.url)
      const result = yield* llm.generate({ prompt: "hi" })
      assert.deepStrictEqual(result.attempts.map((a) => [String(a.provider), a.error?._tag]), [
        ["local-llm", "MalformedResponse"],
        ["openai", undefined]
      ])
      assert.include(result.attempts[0]?.error?.message, "end marker")
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("a real finish_reason on the last text chunk finishes the answer, a later empty one kept out", () =>
    Effect.gen(function*() {
      const events = [chunk("Hel"), chunk("lo", "stop"), { ...chunk(""), usage }]
      const server = yield* RawServer.start({ body: {}, events })
      const llm = yield* LlmManager.make({
        providers: [primary(server.url)],
        policy: FallbackPolicy.make({ maxRetries: 0, generateVia: "stream" }),
        generationEnabled: true
      })
      const result = yield* llm.generate({ prompt: "hi" })
      assert.strictEqual(result.content, "Hello")
      assert.strictEqual(result.finishReason, "stop")
      assert.strictEqual(result.usage.totalTokens, 5)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
