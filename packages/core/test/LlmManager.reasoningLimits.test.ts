/**
 * The first-token limit follows the request's `reasoning` level, not the
 * model's name alone: a level that asks for thinking gets
 * `thinkingFirstTokenMs`, `"none"` gets `firstTokenMs` where the adapter's
 * `"none"` turns thinking fully off (its `Capabilities.stopsThinking`:
 * DeepSeek's V4 models, OpenAI's gpt-5.1 and later, Gemini 2.5 Flash; not an
 * OpenAI-compatible endpoint, which is sent nothing for it, whatever its
 * name), and a per-model entry still wins. Through
 * `LlmManager` over the mock provider server, the first-token limit on the
 * `TestClock`.
 */
import * as OpenAiCompatible from "@baton/providers/OpenAiCompatible"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import type { Reasoning } from "../src/GenerationOptions.ts"
import * as LlmManager from "../src/LlmManager.ts"
import { Bench, type ChainOptions, inject, manager, pick, runDriven } from "./utils/chain.ts"

const limits = { firstByteMs: 5_000, firstTokenMs: 300, thinkingFirstTokenMs: 4_000, idleMs: 5_000 }

type Kind = ChainOptions["chain"][number]

/** The request: `model` when given (else the provider's own), at `reasoning` when given. */
const request = (model: string | undefined, reasoning: Reasoning | undefined): LlmManager.Input => ({
  prompt: "hi",
  options: { ...(model === undefined ? {} : { model }), ...(reasoning === undefined ? {} : { reasoning }) }
})

/** A manager over `kind` alone, with the limits above and `byModel` as its per-model first-token limits. */
const managerOn = (kind: Kind, byModel: FallbackPolicy.Limits["firstTokenMsByModel"] = {}) =>
  manager({ chain: [kind], policy: { limits: { ...limits, firstTokenMsByModel: byModel }, maxRetries: 0 } })

/** The first-token limit the first attempt of a request on `llm`'s `kind` timed out by, its first token never coming. */
const timedOut =
  (llm: LlmManager.Service, kind: Kind) => (model: string | undefined, reasoning: Reasoning | undefined) =>
    Effect.gen(function*() {
      yield* inject(kind, MockFault.slowFirstToken(60_000))
      // headers arrive at once (real I/O); the first token never comes within the time under test
      const failed = yield* Effect.flip(runDriven(llm.generate(request(model, reasoning)), 100))
      const first = "attempts" in failed ? failed.attempts[0] : undefined
      if (first?.error?._tag !== "ProviderTimeout") {
        return assert.fail(`${model} at ${reasoning}: expected a timeout, got ${String(failed)}`)
      }
      assert.strictEqual(first.error.phase, "first-token", `${model} at ${reasoning}`)
      return first.error.timeoutMs
    })

/** {@link timedOut} on a new manager over `kind`. */
const timedOutOn = (kind: Kind, byModel?: FallbackPolicy.Limits["firstTokenMsByModel"]) =>
  Effect.map(managerOn(kind, byModel), (llm) => timedOut(llm, kind))

describe("LlmManager: the first-token limit of a request's reasoning level", () => {
  it.effect("deepseek-flash asked for no thinking fails over at firstTokenMs; without a level it keeps the thinking limit", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek", "openai"], policy: { limits, maxRetries: 0 } })
      for (const [reasoning, limit] of [["none", 300], [undefined, 4_000], ["high", 4_000], ["none", 300]] as const) {
        yield* inject("deepseek", MockFault.slowFirstToken(60_000))
        const result = yield* runDriven(llm.generate(request(undefined, reasoning)), 100)
        assert.deepStrictEqual(result.attempts.map(pick("provider", "model", "outcome", "error")), [
          ["deepseek", "deepseek-flash", "error", "ProviderTimeout"],
          ["openai", "gpt-4o-mini", "success", undefined]
        ], String(reasoning))
        const timeout = result.attempts[0]?.error
        assert.deepStrictEqual(
          timeout?._tag === "ProviderTimeout" ? [timeout.phase, timeout.timeoutMs] : undefined,
          ["first-token", limit],
          String(reasoning)
        )
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("streams too: deepseek-flash asked for no thinking times out at firstTokenMs", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["deepseek", "openai"], policy: { limits, maxRetries: 0 } })
      yield* inject("deepseek", MockFault.slowFirstToken(60_000))
      const parts = yield* runDriven(Stream.runCollect(llm.stream(request(undefined, "none"))), 100)
      const finish = parts.at(-1)
      const timeout = finish?._tag === "Finish" ? finish.attempts?.[0]?.error : undefined
      assert.deepStrictEqual(timeout?._tag === "ProviderTimeout" ? [timeout.phase, timeout.timeoutMs] : undefined, [
        "first-token",
        300
      ])
    }).pipe(Effect.provide(Bench)))

  it.effect("\"none\" shortens the limit only where the adapter turns thinking fully off", () =>
    Effect.gen(function*() {
      const deepseek = yield* timedOutOn("deepseek")
      for (const model of ["deepseek-v4-pro", "deepseek-v4-flash"]) {
        assert.strictEqual(yield* deepseek(model, "none"), 300, model)
        assert.strictEqual(yield* deepseek(model, undefined), 4_000, model)
      }
      // R1 and the reasoner think whatever the request says
      assert.strictEqual(yield* deepseek("deepseek-reasoner", "none"), 4_000)
      const openai = yield* timedOutOn("openai")
      // each sent `reasoning_effort: "none"` (a dotted -pro model too: the adapter passes it the level as given)
      for (const model of ["gpt-5.1", "gpt-5.4-mini", "gpt-6-sol", "ft:gpt-5.1:org::id", "gpt-5.2-pro"]) {
        assert.strictEqual(yield* openai(model, "none"), 300, model)
      }
      // at their least, these still think: the o-series at "low", gpt-5 at "minimal", the -pro and -chat ones always
      for (const model of ["o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-pro", "gpt-5.1-chat-latest"]) {
        assert.strictEqual(yield* openai(model, "none"), 4_000, model)
      }
      const gemini = yield* timedOutOn("gemini")
      for (const model of ["gemini-2.5-flash", "gemini-2.5-flash-lite"]) {
        assert.strictEqual(yield* gemini(model, "none"), 300, model)
      }
      for (const model of ["gemini-2.5-pro", "gemini-3-flash-preview", "gemini-3-pro-preview"]) {
        assert.strictEqual(yield* gemini(model, "none"), 4_000, model)
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("a model that does not think by name, asked to think, gets thinkingFirstTokenMs", () =>
    Effect.gen(function*() {
      const openai = yield* timedOutOn("openai")
      assert.strictEqual(yield* openai("gpt-4o", undefined), 300)
      for (const reasoning of ["low", "medium", "high"] as const) {
        assert.strictEqual(yield* openai("gpt-4o", reasoning), 4_000, reasoning)
      }
      assert.strictEqual(yield* openai("gpt-4o", "none"), 300)
      const anthropic = yield* timedOutOn("anthropic")
      assert.strictEqual(yield* anthropic("claude-sonnet-4-5", undefined), 300)
      assert.strictEqual(yield* anthropic("claude-sonnet-4-5", "high"), 4_000)
      // the provider's own model, on the route's own target
      assert.strictEqual(yield* anthropic(undefined, "high"), 4_000)
      assert.strictEqual(yield* anthropic(undefined, undefined), 300)
    }).pipe(Effect.provide(Bench)))

  it.effect("a per-model entry in firstTokenMsByModel wins whatever the level", () =>
    Effect.gen(function*() {
      const deepseek = yield* timedOutOn("deepseek", { "deepseek-flash": 1_500 })
      for (const reasoning of [undefined, "none", "high"] as const) {
        assert.strictEqual(yield* deepseek(undefined, reasoning), 1_500, String(reasoning))
      }
      // beside it, a model without an entry is timed by its level
      assert.strictEqual(yield* deepseek("deepseek-v4-flash", "none"), 300)
      const openai = yield* timedOutOn("openai", { "openai/gpt-4o": 700 })
      for (const reasoning of [undefined, "none", "high"] as const) {
        assert.strictEqual(yield* openai("gpt-4o", reasoning), 700, String(reasoning))
      }
      assert.strictEqual(yield* openai("gpt-4.1", "high"), 4_000)
    }).pipe(Effect.provide(Bench)))

  it.effect("models past the circuits of their own share targets, each level still timed by its own model", () =>
    Effect.gen(function*() {
      const llm = yield* managerOn("deepseek")
      // 32 models only requests name take the circuits of their own; those after share one
      for (let i = 0; i < 32; i++) yield* llm.generate(request(`filler-${i}`, undefined))
      const shared = timedOut(llm, "deepseek")
      // the reasoner keeps thinking at "none"; the V4 model after it, sharing its slot by name, does not
      assert.strictEqual(yield* shared("deepseek-reasoner", "none"), 4_000)
      assert.strictEqual(yield* shared("deepseek-v4-flash", "none"), 300)
      assert.strictEqual(yield* shared("deepseek-v4-flash", undefined), 4_000)
      assert.strictEqual(yield* shared("gpt-4o", "high"), 4_000)
      assert.strictEqual(yield* shared("gpt-4o", "none"), 300)
    }).pipe(Effect.provide(Bench)))

  it.effect("an OpenAI-compatible endpoint named like a hosted provider keeps the thinking limit at \"none\"", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* LlmManager.make({
        providers: [
          OpenAiCompatible.layer({
            name: "deepseek",
            apiKey: Redacted.make("sk-test-key"),
            baseUrl: server.baseUrl("deepseek"),
            model: "deepseek-v4-flash"
          })
        ],
        policy: FallbackPolicy.make({ limits, maxRetries: 0 })
      })
      // it sends no `thinking` field for "none": the model goes on thinking
      const compatible = timedOut(llm, "deepseek")
      assert.strictEqual(yield* compatible(undefined, "none"), 4_000)
      assert.strictEqual(yield* compatible("deepseek-flash", "none"), 4_000)
      // the hosted adapter, which sends `thinking: disabled`, shortens it
      const hosted = yield* timedOutOn("deepseek")
      assert.strictEqual(yield* hosted("deepseek-v4-flash", "none"), 300)
      // on the Anthropic format, only the models DeepSeek's adapter says heed it
      const anthropic = yield* timedOutOn("anthropic")
      assert.strictEqual(yield* anthropic("deepseek-v4-pro", "none"), 300)
      for (const model of ["deepseek-reasoner", "kimi-k2-thinking"]) {
        assert.strictEqual(yield* anthropic(model, "none"), 4_000, model)
      }
    }).pipe(Effect.provide(Bench)))
})
