/**
 * A Gemini stream chunk may carry neither `candidates` nor `usageMetadata`,
 * only `modelVersion` and `responseId`: it says nothing Baton reads, so it
 * is skipped, not a malformed event that fails the whole answer. A chunk
 * whose `candidates` is there but ill-typed is still malformed, and a stream
 * of such bare chunks alone never finishes (no `finishReason`). Through
 * `LlmManager`, over real HTTP from a server that sends exactly these events.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"

const apiKey = Redacted.make("sk-test-key")

const bare = { modelVersion: "gemini-3.5-flash", responseId: "resp-1" }

const text = (text: string, finishReason?: string) => ({
  candidates: [{ content: { role: "model", parts: [{ text }] }, index: 0, ...(finishReason ? { finishReason } : {}) }],
  usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 2, totalTokenCount: 7 },
  ...bare
})

/** `generate` (streamed underneath) on Gemini alone over a raw server sending `events`. */
const generatedOver = (events: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start({ body: {}, events })
    const llm = yield* LlmManager.make({
      providers: [Gemini.layer({ apiKey, baseUrl: server.url })],
      policy: FallbackPolicy.make({ maxRetries: 0 }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
    return yield* Effect.result(llm.generate({ prompt: "hi" }))
  }).pipe(Effect.provide(Bench), Effect.scoped)

describe("a Gemini stream chunk with only modelVersion and responseId", () => {
  it.live("is skipped: the answer around it succeeds", () =>
    Effect.gen(function*() {
      const result = yield* generatedOver([bare, text("Hel"), bare, text("lo", "STOP")])
      assert.strictEqual(result._tag, "Success")
      if (result._tag === "Success") {
        assert.strictEqual(result.success.content, "Hello")
        assert.strictEqual(result.success.finishReason, "stop")
        assert.strictEqual(result.success.usage.totalTokens, 7)
      }
    }))

  it.live("a stream of bare chunks alone never finishes: MalformedResponse", () =>
    Effect.gen(function*() {
      const result = yield* generatedOver([bare, bare])
      const error = result._tag === "Failure" ? result.failure : assert.fail("the call succeeded")
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag === "AllProvidersFailed") {
        assert.strictEqual(error.attempts[0]?.error?._tag, "MalformedResponse")
        assert.include(error.attempts[0]?.error?.message, "end marker")
      }
    }))

  it.live("a chunk whose candidates is not a list is still malformed", () =>
    Effect.gen(function*() {
      const result = yield* generatedOver([{ ...bare, candidates: "none" }, text("Hello", "STOP")])
      const error = result._tag === "Failure" ? result.failure : assert.fail("the call succeeded")
      if (error._tag === "AllProvidersFailed") {
        assert.strictEqual(error.attempts[0]?.error?._tag, "MalformedResponse")
        assert.include(error.attempts[0]?.error?.message, "candidates")
      } else {
        assert.fail(`unexpected ${error._tag}`)
      }
    }))
})
