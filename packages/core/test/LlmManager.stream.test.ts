import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import type { StreamPart } from "../src/GenerationResult.ts"
import * as RequestLog from "../src/RequestLog.ts"
import { Bench, inject, manager, managerFromEnv, pick, stats } from "./utils/chain.ts"

const prompt = { prompt: "Explain the water cycle to a ten year old in a few sentences." }

const textOf = (parts: ReadonlyArray<StreamPart>): string =>
  parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")

const finishOf = (parts: ReadonlyArray<StreamPart>) => parts.filter((part) => part._tag === "Finish")

const collect = <E>(stream: Stream.Stream<StreamPart, E>) => Stream.runCollect(stream)

describe("LlmManager streams", () => {
  it.live("streams deltas then exactly one Finish from the primary", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      const parts = yield* collect(llm.stream(prompt))
      assert.include(textOf(parts), "Mock answer from openai")
      const finishes = finishOf(parts)
      assert.strictEqual(finishes.length, 1)
      assert.strictEqual(parts.at(-1)?._tag, "Finish")
      assert.strictEqual(finishes[0]?.provider, "openai")
    }).pipe(Effect.provide(Bench)))

  it.live("falls back transparently before the first delta", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.status(503))
      const parts = yield* collect(llm.stream(prompt))
      const text = textOf(parts)
      assert.include(text, "Mock answer from anthropic")
      assert.notInclude(text, "openai")
      assert.strictEqual(finishOf(parts)[0]?.provider, "anthropic")
    }).pipe(Effect.provide(Bench)))

  it.live("its Finish lists every attempt of the request, as a generate result does", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.status(503))
      const finish = finishOf(yield* collect(llm.stream(prompt)))[0]
      assert.deepStrictEqual(finish?.attempts?.map((a) => [a.provider, a.outcome, a.error?._tag]), [
        ["openai", "error", "ProviderUnavailable"],
        ["anthropic", "success", undefined]
      ])
    }).pipe(Effect.provide(Bench)))

  it.live("falls back when the primary breaks after an event without text", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.cutStream)
      const parts = yield* collect(llm.stream(prompt))
      assert.include(textOf(parts), "Mock answer from anthropic")
    }).pipe(Effect.provide(Bench)))

  // Gemini's first event carries text, so a stall after it breaks the stream mid-answer
  const stalledGemini = inject("gemini", MockFault.stallMidStream("forever"))
  const shortIdle = { limits: { idleMs: 300 } }

  it.live("with rescue \"none\", fails honestly with StreamInterrupted after the first delta, never as a success", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini", "anthropic"], policy: shortIdle })
      yield* stalledGemini
      const received: Array<StreamPart> = []
      const error = yield* Effect.flip(
        Stream.runForEach(
          llm.stream({ ...prompt, options: { rescue: "none" } }),
          (part) => Effect.sync(() => received.push(part))
        )
      )
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag !== "StreamInterrupted") return
      const delivered = textOf(received)
      assert.isAbove(delivered.length, 0)
      assert.isTrue("Mock answer from gemini".startsWith(delivered))
      assert.strictEqual(error.partialText, delivered)
      assert.include(error.reason, "idle")
      assert.strictEqual(finishOf(received).length, 0)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench)))

  it.live("treats a stream that ends without its terminator as cut: unrescuable alone, StreamInterrupted", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini"] })
      yield* inject("gemini", MockFault.noTerminator)
      const error = yield* Effect.flip(collect(llm.stream(prompt)))
      assert.strictEqual(error._tag, "StreamInterrupted")
    }).pipe(Effect.provide(Bench)))

  it.live("continues a cut answer seamlessly on a prefill-capable fallback", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini", "anthropic"], policy: shortIdle })
      yield* stalledGemini
      const parts = yield* collect(llm.stream(prompt))
      const text = textOf(parts)
      const finishes = finishOf(parts)
      assert.strictEqual(finishes.length, 1)
      assert.strictEqual(finishes[0]?.provider, "anthropic")
      assert.deepStrictEqual(finishes[0]?.sources?.map((s) => s.provider), ["gemini", "anthropic"])
      assert.isTrue(finishes[0]?.rescued)
      // Gemini delivered its first word ("Mock") before stalling; Anthropic got it as a prefill and
      // continued it, so the caller reads one answer with no repetition
      assert.match(text, /^Mock answer from anthropic: Explain the water cycle/)
      assert.strictEqual((yield* stats("anthropic")).requests, 1)
    }).pipe(Effect.provide(Bench)))

  it.live("restarts without the prefill on a provider that refuses it at run time", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini", "deepseek"], policy: shortIdle })
      yield* stalledGemini
      yield* inject("deepseek", MockFault.rejectPrefill)
      const parts = yield* collect(llm.stream(prompt))
      // the restarted answer reproduced the delivered "Mock", so only the rest was forwarded
      assert.match(textOf(parts), /^Mock answer from deepseek: Explain the water cycle/)
      assert.deepStrictEqual(finishOf(parts)[0]?.sources?.map((s) => s.provider), ["gemini", "deepseek"])
      assert.strictEqual((yield* stats("deepseek")).requests, 2)
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager prefill capability from the environment", () => {
  for (const [setting, requests] of [["unset", 2], ["true", 3]] as const) {
    it.live(`OPENAI_ASSISTANT_PREFILL ${setting}: a cut answer is ${setting === "true" ? "continued" : "restarted"}`, () =>
      Effect.gen(function*() {
        const llm = yield* managerFromEnv({
          LLM_PRIMARY_PROVIDER: "openai",
          LLM_FALLBACK_PROVIDER: "none",
          LLM_MAX_RETRIES: "1",
          LLM_RETRY_BASE_DELAY_MS: "1",
          ...(setting === "true" ? { OPENAI_ASSISTANT_PREFILL: "true" } : {})
        })
        // with the prefill on, the retry sends it and this endpoint refuses it: restarted without it
        yield* inject("openai", MockFault.cutStreamAfter(2))
        yield* inject("openai", MockFault.rejectPrefill)
        const parts = yield* collect(llm.stream(prompt))
        const words = prompt.prompt.split(/\s+/).slice(0, 12).join(" ")
        assert.strictEqual(textOf(parts), `Mock answer from openai: ${words}`)
        assert.strictEqual((yield* stats("openai")).requests, requests)
      }).pipe(Effect.provide(Bench)))
  }
})

describe("LlmManager structured output", () => {
  const Quiz = Schema.Struct({ answer: Schema.String })

  it.live("re-asks once on the same provider with the decode error, then succeeds", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.content("not json at all"))
      const result = yield* llm.generateStructured(prompt, Quiz)
      assert.strictEqual(result.provider, "openai")
      assert.isString(result.value.answer)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "error")), [
        ["openai", "primary", "StructuredOutputInvalid"],
        ["openai", "retry", undefined]
      ])
    }).pipe(Effect.provide(Bench)))

  it.live("falls back once the re-asks are spent", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { maxRetries: 3 } })
      yield* inject("openai", MockFault.content("{\"wrong\": 1}"), { times: 5 })
      const result = yield* llm.generateStructured(prompt, Quiz)
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "error")), [
        ["openai", "primary", "StructuredOutputInvalid"],
        ["openai", "retry", "StructuredOutputInvalid"],
        ["anthropic", "fallback", undefined]
      ])
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(Effect.provide(Bench)))
})

describe("LlmManager.generate streaming underneath follows the rescue rules", () => {
  it.live("a result names whose text it holds: a cut answer continued by the fallback names both, a plain call its own", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek", "anthropic"] })
      yield* inject("deepseek", MockFault.cutStreamAfter(3))
      const continued = yield* llm.generate(prompt)
      assert.deepStrictEqual(continued.sources?.map((s) => s.provider), ["deepseek", "anthropic"])
      assert.isTrue(continued.rescued)
      const plain = yield* manager({ chain: ["deepseek", "anthropic"], policy: { generateVia: "generate" } })
      const answered = yield* plain.generate(prompt)
      assert.deepStrictEqual([answered.sources, answered.rescued], [[{
        provider: answered.provider,
        model: answered.model
      }], false])
    }).pipe(Effect.provide(Bench)))

  it.live("a cut answer is continued from the text received on a prefill-capable provider, usage summed", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek", "anthropic"], policy: { maxRetries: 1 } })
      const whole = yield* llm.generate(prompt)
      yield* inject("deepseek", MockFault.cutStreamAfter(3))
      const rescued = yield* llm.generate(prompt)
      assert.strictEqual(rescued.content, whole.content)
      // the result says the answer was rescued, and whose text it holds (the retry continued its own provider's)
      assert.deepStrictEqual([whole.sources?.map((s) => s.provider), whole.rescued], [["deepseek"], false])
      assert.deepStrictEqual([rescued.sources?.map((s) => s.provider), rescued.rescued], [["deepseek"], true])
      assert.deepStrictEqual(rescued.attempts.map(pick("provider", "role", "error")), [
        ["deepseek", "primary", "ProviderConnectionFailed"],
        ["deepseek", "retry", undefined]
      ])
      // the retry produced only the rest of the answer: fewer output tokens than a whole answer
      // the log's last two records: the first request's came before
      const [cut, retry] = (yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)).slice(-2)
      assert.isBelow(retry?.completionTokens ?? 0, whole.usage.completionTokens)
      assert.isAbove(retry?.completionTokens ?? 0, 0)
      // the cut attempt billed what it sent before its usage came: estimated, and in the request's usage
      assert.deepStrictEqual([cut?.usageEstimated, retry?.usageEstimated], [true, false])
      assert.strictEqual(
        rescued.usage.completionTokens,
        (cut?.completionTokens ?? 0) + (retry?.completionTokens ?? 0)
      )
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(Bench), Effect.provide(RequestLog.layerMemory())))
})
