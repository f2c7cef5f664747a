/**
 * Provider body and stream event size caps through `LlmManager`: a reply
 * body or a single stream event over the adapter's cap is a
 * `MalformedResponse` attempt (logged as `error`, not `cancelled`), and the
 * chain falls back, instead of reading without bound into one string.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as RequestLog from "../src/RequestLog.ts"
import { Bench, eventually, inject, manager, managerFromEnv, pick, stats } from "./utils/chain.ts"

const cap = 64 * 1024
const over = 4 * cap
// room for the whole oversized answer (the mock cuts an answer at maxTokens)
const prompt = { prompt: "Write one quiz question about photosynthesis.", options: { maxTokens: over } }

const logged = Effect.flatMap(
  RequestLog.RequestLogMemory,
  (memory) => Effect.map(memory.records, (records) => records.map((r) => [r.provider, r.outcome, r.errorTag]))
)

/** OpenAI then Anthropic, both capped; `generate` reads plain bodies. */
const capped = manager({
  chain: ["openai", "anthropic"],
  policy: { generateVia: "generate" },
  maxBodyBytes: cap,
  maxEventBytes: cap
})

describe("a provider reply over the size cap", () => {
  it.live("a plain body over maxBodyBytes is a MalformedResponse attempt and the fallback answers", () =>
    Effect.gen(function*() {
      const llm = yield* capped
      yield* inject("openai", MockFault.oversized(over))
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "error", "MalformedResponse"],
        ["anthropic", "success", undefined]
      ])
      assert.include(result.attempts[0]?.error?.message, `limit of ${cap} bytes`)
      assert.deepStrictEqual(yield* logged, [["openai", "error", "MalformedResponse"], ["anthropic", "success", null]])
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))

  it.live("a stream event over maxEventBytes is a MalformedResponse attempt and the fallback streams", () =>
    Effect.gen(function*() {
      const llm = yield* capped
      yield* inject("openai", MockFault.oversized(over))
      const parts = yield* Stream.runCollect(llm.stream(prompt))
      const finish = parts.find((part) => part._tag === "Finish")
      assert.strictEqual(finish?._tag === "Finish" ? finish.provider : undefined, "anthropic")
      assert.isFalse(parts.some((part) => part._tag === "TextDelta" && part.text.includes("xxxx")))
      assert.deepStrictEqual(yield* logged, [["openai", "error", "MalformedResponse"], ["anthropic", "success", null]])
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))

  it.live("an endless body or event is cut at its cap, the connection closed, and the fallback answers", () =>
    Effect.gen(function*() {
      const llm = yield* capped
      yield* inject("openai", MockFault.oversized("forever"))
      const result = yield* llm.generate(prompt)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "error", "MalformedResponse"],
        ["anthropic", "success", undefined]
      ])
      yield* inject("openai", MockFault.oversized("forever"))
      const parts = yield* Stream.runCollect(llm.stream(prompt))
      const finish = parts.find((part) => part._tag === "Finish")
      assert.strictEqual(finish?._tag === "Finish" ? finish.provider : undefined, "anthropic")
      assert.deepStrictEqual(yield* logged, [
        ["openai", "error", "MalformedResponse"],
        ["anthropic", "success", null],
        ["openai", "error", "MalformedResponse"],
        ["anthropic", "success", null]
      ])
      // the client closed both endless replies
      yield* eventually(Effect.map(stats("openai"), (s) => s.cancelled === 2))
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))

  it.live("within the default caps, the same replies are read whole", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { generateVia: "generate" } })
      yield* inject("openai", MockFault.oversized(over))
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "openai")
      assert.strictEqual(result.content.length, over)
      yield* inject("openai", MockFault.oversized(over))
      const parts = yield* Stream.runCollect(llm.stream(prompt))
      const text = parts.map((part) => part._tag === "TextDelta" ? part.text : "").join("")
      assert.strictEqual(text.length, over)
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))

  it.live("LLM_MAX_BODY_BYTES and LLM_MAX_EVENT_BYTES set the caps of a manager built by layerConfig", () =>
    Effect.gen(function*() {
      const llm = yield* managerFromEnv({
        LLM_PRIMARY_PROVIDER: "openai",
        LLM_FALLBACK_PROVIDER: "anthropic",
        LLM_MAX_RETRIES: "0",
        LLM_MAX_BODY_BYTES: String(cap),
        LLM_MAX_EVENT_BYTES: String(cap)
      }, { policy: (configured) => ({ ...configured, generateVia: "generate" }) })
      yield* inject("openai", MockFault.oversized(over))
      const result = yield* llm.generate(prompt)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "error", "MalformedResponse"],
        ["anthropic", "success", undefined]
      ])
      assert.include(result.attempts[0]?.error?.message, `limit of ${cap} bytes`)
      yield* inject("openai", MockFault.oversized(over))
      const parts = yield* Stream.runCollect(llm.stream(prompt))
      const finish = parts.find((part) => part._tag === "Finish")
      assert.strictEqual(finish?._tag === "Finish" ? finish.provider : undefined, "anthropic")
    }).pipe(Effect.provide(Bench)))
})
