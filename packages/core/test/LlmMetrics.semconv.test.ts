/**
 * Baton's spans against the OpenTelemetry GenAI semantic conventions
 * (`gen-ai-spans.md`, the inference client span), read from a recording
 * tracer after real manager runs against the mock provider server: the
 * well-known `gen_ai.provider.name` values, one GenAI span per provider call
 * (the request span is Baton's own), and a cancelled attempt that is no error.
 */
import * as OpenAiCompatible from "@baton/providers/OpenAiCompatible"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Fiber, Redacted, Tracer } from "effect"
import { TestClock } from "effect/testing"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import * as LlmManager from "../src/LlmManager.ts"
import { Bench, eventually, inject, manager, stats } from "./utils/chain.ts"
import { recordingTracer } from "./utils/tracer.ts"

const prompt = { prompt: "Write one quiz question about glaciers." }

/** The attributes of the first span named `name`. */
const attributesOf = (spans: ReadonlyArray<Tracer.NativeSpan>, name: string) =>
  Object.fromEntries(spans.find((span) => span.name === name)?.attributes ?? [])

/** The keys of `span`'s attributes in the `gen_ai.` namespace. */
const genAiKeys = (span: Tracer.NativeSpan) => [...span.attributes.keys()].filter((key) => key.startsWith("gen_ai."))

/** Whether `span` ended interrupted (Effect's OTLP exporter: status unset, no error). */
const endedInterrupted = (span: Tracer.NativeSpan | undefined) =>
  span?.status._tag === "Ended" && span.status.exit._tag === "Failure" &&
  Cause.hasInterruptsOnly(span.status.exit.cause)

describe("LlmMetrics spans and the GenAI semantic conventions", () => {
  it.effect("gen_ai.provider.name is the conventions' well-known value; Baton's own name stays in baton.provider.name", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({ chain: ["gemini", "deepseek", "openai", "anthropic"] })
      for (const kind of ["gemini", "deepseek", "openai"] as const) yield* inject(kind, MockFault.status(503))
      const result = yield* llm.generate(prompt).pipe(Effect.provideService(Tracer.Tracer, tracer))
      assert.strictEqual(result.provider, "anthropic")
      const named = (name: string) => {
        const attributes = attributesOf(spans, name)
        return [attributes["gen_ai.provider.name"], attributes["baton.provider.name"]]
      }
      assert.deepStrictEqual(
        ["chat gemini-2.5-flash", "chat deepseek-flash", "chat gpt-4o-mini", "chat claude-haiku-4-5"].map(named),
        [["gcp.gemini", "gemini"], ["deepseek", undefined], ["openai", undefined], ["anthropic", undefined]]
      )
    }).pipe(Effect.provide(Bench)))

  it.effect("an OpenAI-compatible endpoint's gen_ai.provider.name is the name it was given", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const server = yield* MockProviderServer.MockProviderServer
      const llm = yield* LlmManager.make({
        providers: [
          OpenAiCompatible.layer({
            name: "groq",
            baseUrl: server.baseUrl("openai"),
            model: "llama-3.3",
            apiKey: Redacted.make("sk-test-key")
          })
        ],
        policy: FallbackPolicy.make({ maxRetries: 0 }),
        circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
        generationEnabled: true
      })
      yield* llm.generate(prompt).pipe(Effect.provideService(Tracer.Tracer, tracer))
      const attributes = attributesOf(spans, "chat llama-3.3")
      assert.strictEqual(attributes["gen_ai.provider.name"], "groq")
      assert.notProperty(attributes, "baton.provider.name")
    }).pipe(Effect.provide(Bench)))

  it.effect("the request span is Baton's own: no gen_ai attribute, one GenAI operation per provider call", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.status(503))
      const result = yield* llm.generate(prompt).pipe(Effect.provideService(Tracer.Tracer, tracer))
      const request = spans.find((span) => span.name === "baton.request")
      if (request === undefined) return assert.fail("no request span")
      assert.strictEqual(request.kind, "internal")
      assert.deepStrictEqual(genAiKeys(request), [])
      assert.strictEqual(request.attributes.get("baton.request.id"), result.requestId)
      // every span claiming a GenAI operation is a provider call, and names its provider (required)
      const operations = spans.filter((span) => span.attributes.has("gen_ai.operation.name"))
      assert.deepStrictEqual(
        operations.map((span) => [span.name, span.kind, span.attributes.get("gen_ai.provider.name")]),
        [["chat gpt-4o-mini", "client", "openai"], ["chat claude-haiku-4-5", "client", "anthropic"]]
      )
    }).pipe(Effect.provide(Bench)))

  it.effect("an attempt cut by the request's deadline is cancelled, not failed: its span ends interrupted, with no error.type", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { limits: { attemptMs: 250 } } })
      yield* inject("openai", MockFault.noResponse)
      yield* inject("anthropic", MockFault.noResponse)
      const fiber = yield* Effect.forkChild(
        Effect.flip(llm.generate({ ...prompt, options: { timeout: 400 } })).pipe(
          Effect.provideService(Tracer.Tracer, tracer)
        )
      )
      yield* eventually(Effect.map(stats("openai"), (s) => s.requests === 1))
      yield* TestClock.adjust(250)
      yield* eventually(Effect.map(stats("anthropic"), (s) => s.requests === 1))
      yield* TestClock.adjust(150)
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "DeadlineExceeded")
      // the attempt that ran out of its own limit failed, with its error.type
      assert.strictEqual(attributesOf(spans, "chat gpt-4o-mini")["error.type"], "ProviderTimeout")
      const cut = spans.find((span) => span.name === "chat claude-haiku-4-5")
      assert.strictEqual(cut?.attributes.get("baton.attempt.outcome"), "cancelled")
      assert.isFalse(cut?.attributes.has("error.type"))
      assert.isTrue(endedInterrupted(cut), "the cancelled attempt's span ends interrupted, not failed")
    }).pipe(Effect.provide(Bench)))

  it.effect("a hedge loser is cancelled, not failed: its span ends interrupted, with no error.type", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { hedgeDelayMs: 150 } })
      yield* inject("openai", MockFault.noResponse)
      const fiber = yield* Effect.forkChild(llm.generate(prompt).pipe(Effect.provideService(Tracer.Tracer, tracer)))
      yield* eventually(Effect.map(stats("openai"), (s) => s.requests === 1))
      yield* TestClock.adjust(150)
      assert.strictEqual((yield* Fiber.join(fiber)).provider, "anthropic")
      const loser = spans.find((span) => span.name === "chat gpt-4o-mini")
      assert.strictEqual(loser?.attributes.get("baton.attempt.outcome"), "cancelled")
      assert.isFalse(loser?.attributes.has("error.type"))
      assert.isTrue(endedInterrupted(loser), "the hedge loser's span ends interrupted, not failed")
    }).pipe(Effect.provide(Bench)))
})
