/**
 * Anthropic refuses a stop sequence of whitespace alone (400: "each stop
 * sequence must contain non-whitespace"), which Baton's options allow
 * (`"\n"` is among the most used). Through `LlmManager` over the mock server,
 * which refuses them as Anthropic does: such a request is answered by
 * Anthropic, not failed over, and the adapter cuts the answer at them itself.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as Gemini from "../src/Gemini.ts"

const apiKey = Redacted.make("sk-test-key")

/** Anthropic first, the mock's Gemini behind it: a refused request would be answered by Gemini. */
const manager = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  return yield* LlmManager.make({
    providers: [
      Anthropic.layer({ apiKey, baseUrl: mock.baseUrl("anthropic"), model: "claude-haiku-4-5" }),
      Gemini.layer({ apiKey, baseUrl: mock.baseUrl("gemini") })
    ],
    policy: FallbackPolicy.make({ maxRetries: 0 }),
    circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
    generationEnabled: true
  })
})

/** The `stop_sequences` of every request the mock's Anthropic received. */
const sentStops = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  return (yield* mock.received("anthropic")).map((request) =>
    (request.body as { readonly stop_sequences?: unknown }).stop_sequences
  )
})

describe("Anthropic and stop sequences of whitespace alone", () => {
  it.effect("generate: answered by Anthropic, cut at the first space by the adapter", () =>
    Effect.gen(function*() {
      const llm = yield* manager
      // the mock answers "Mock answer from anthropic: ..."
      const result = yield* llm.generate({ prompt: "name a plant", options: { stop: [" ", "\n"] } })
      assert.deepStrictEqual(result.attempts.map((attempt) => [attempt.provider, attempt.outcome]), [[
        "anthropic",
        "success"
      ]])
      assert.strictEqual(result.content, "Mock")
      assert.strictEqual(result.finishReason, "stop")
      assert.deepStrictEqual(yield* sentStops, [undefined])
    }).pipe(Effect.provide(Bench)))

  it.effect("stream: the same cut, and the stop sequences with other characters still sent", () =>
    Effect.gen(function*() {
      const llm = yield* manager
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "name a plant", options: { stop: ["zzz", " "] } }))
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.strictEqual(text, "Mock")
      const finish = parts.find((part) => part._tag === "Finish")
      assert.strictEqual(finish?._tag === "Finish" ? finish.provider : undefined, "anthropic")
      assert.strictEqual(finish?._tag === "Finish" ? finish.finishReason : undefined, "stop")
      assert.deepStrictEqual(yield* sentStops, [["zzz"]])
    }).pipe(Effect.provide(Bench)))
})
