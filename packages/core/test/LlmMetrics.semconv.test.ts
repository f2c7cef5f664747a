/**
 * Baton's spans against the OpenTelemetry GenAI semantic conventions
 * (`gen-ai-spans.md`, the inference client span), read from a recording
 * tracer after real manager runs against the mock provider server: the
 * well-known `gen_ai.provider.name` values, one GenAI span per provider call
 * (the request span is Baton's own), a cancelled attempt that is no error,
 * the server an attempt called (`server.address`, `server.port`), the id of
 * the response (`gen_ai.response.id`) and the model it names
 * (`gen_ai.response.model`) over each wire format, plain and streamed, and
 * `error.type` on a failed request's span.
 */
import * as OpenAiCompatible from "@baton/providers/OpenAiCompatible"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Fiber, Redacted, Stream, Tracer } from "effect"
import { TestClock } from "effect/testing"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import * as LlmManager from "../src/LlmManager.ts"
import * as LlmProvider from "../src/LlmProvider.ts"
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

/** The attempt span of each wire format the mock speaks (the chat-completions wire: openai). */
const wires = [
  { kind: "openai", span: "chat gpt-4o-mini" },
  { kind: "anthropic", span: "chat claude-haiku-4-5" },
  { kind: "gemini", span: "chat gemini-2.5-flash" }
] as const

/**
 * The spans of a request whose primary (openai) an open circuit skips, its
 * fallback (anthropic) answering: the circuit opened by a 503 before.
 */
const skippedThenAnswered = Effect.gen(function*() {
  const { spans, tracer } = recordingTracer()
  const llm = yield* manager({
    chain: ["openai", "anthropic"],
    circuit: { failureThreshold: 1, cooldownMs: 60_000 }
  })
  yield* inject("openai", MockFault.status(503))
  yield* llm.generate(prompt)
  yield* llm.generate(prompt).pipe(Effect.provideService(Tracer.Tracer, tracer))
  return spans
})

describe("LlmMetrics spans and the GenAI semantic conventions", () => {
  for (const { kind, span } of wires) {
    it.effect(`${kind}: server.address, server.port and gen_ai.response.id (the mock's id): plain, generated over a stream, streamed`, () =>
      Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        const port = Number(new URL(server.baseUrl(kind)).port)
        const traced = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.gen(function*() {
            const { spans, tracer } = recordingTracer()
            const value = yield* effect.pipe(Effect.provideService(Tracer.Tracer, tracer))
            return { value, attributes: attributesOf(spans, span) }
          })
        const plain = yield* manager({ chain: [kind], policy: { generateVia: "generate" } })
        const overStream = yield* manager({ chain: [kind], policy: { generateVia: "stream" } })
        const runs = [
          yield* Effect.map(traced(plain.generate(prompt)), (run) => ({ ...run, id: run.value.responseId })),
          yield* Effect.map(traced(overStream.generate(prompt)), (run) => ({ ...run, id: run.value.responseId })),
          yield* Effect.map(traced(Stream.runCollect(overStream.stream(prompt))), (run) => ({
            ...run,
            id: run.value.find((part) => part._tag === "Finish")?.responseId
          }))
        ]
        for (const [i, run] of runs.entries()) {
          const way = ["plain", "generated over a stream", "streamed"][i]
          assert.match(run.id ?? "", new RegExp(`^mock-${kind}-\\d+$`), `the ${way} answer carries the mock's id`)
          assert.deepStrictEqual(
            [run.attributes["server.address"], run.attributes["server.port"], run.attributes["gen_ai.response.id"]],
            ["127.0.0.1", port, run.id],
            way
          )
        }
        assert.strictEqual(new Set(runs.map((run) => run.id)).size, 3, "each response has its own id")
      }).pipe(Effect.provide(Bench)))
  }

  for (const { kind, span } of wires) {
    it.effect(`${kind}: gen_ai.response.model is the model the response names, plain, generated over a stream, streamed`, () =>
      Effect.gen(function*() {
        // the mock answers as the model before its fault suffix: a response naming another model than the one asked
        const asked = `${span.slice("chat ".length)}@latency=1`
        const named = span.slice("chat ".length)
        const input = { ...prompt, options: { model: asked } }
        const traced = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.gen(function*() {
            const { spans, tracer } = recordingTracer()
            const value = yield* effect.pipe(Effect.provideService(Tracer.Tracer, tracer))
            return { value, attributes: attributesOf(spans, `chat ${asked}`) }
          })
        const plain = yield* manager({ chain: [kind], policy: { generateVia: "generate" } })
        const overStream = yield* manager({ chain: [kind], policy: { generateVia: "stream" } })
        const runs = [
          yield* Effect.map(traced(plain.generate(input)), (run) => ({ ...run, model: run.value.responseModel })),
          yield* Effect.map(traced(overStream.generate(input)), (run) => ({ ...run, model: run.value.responseModel })),
          yield* Effect.map(traced(Stream.runCollect(overStream.stream(input))), (run) => ({
            ...run,
            model: run.value.find((part) => part._tag === "Finish")?.responseModel
          }))
        ]
        for (const [i, run] of runs.entries()) {
          assert.deepStrictEqual(
            [run.model, run.attributes["gen_ai.request.model"], run.attributes["gen_ai.response.model"]],
            [named, asked, named],
            ["plain", "generated over a stream", "streamed"][i]
          )
        }
      }).pipe(Effect.provide(Bench)))
  }

  it("LlmProvider.serverOf: the base URL's host and port (the scheme's default when it names none), nothing else", () => {
    const of = (url: string) => LlmProvider.serverOf(new URL(url))
    assert.deepStrictEqual(of("https://user:pw@generativelanguage.googleapis.com/v1beta?key=secret"), {
      address: "generativelanguage.googleapis.com",
      port: 443
    })
    assert.deepStrictEqual(of("http://localhost/v1"), { address: "localhost", port: 80 })
    assert.deepStrictEqual(of("http://[::1]:11434/v1"), { address: "::1", port: 11434 })
  })

  it.effect("a skipped attempt's span names its server, and no response model", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const spans = yield* skippedThenAnswered
      const skipped = attributesOf(spans, "chat gpt-4o-mini")
      assert.strictEqual(skipped["baton.attempt.outcome"], "skipped")
      assert.deepStrictEqual(
        [skipped["server.address"], skipped["server.port"]],
        ["127.0.0.1", Number(new URL(server.baseUrl("openai")).port)]
      )
      assert.notProperty(skipped, "gen_ai.response.model")
      assert.notProperty(skipped, "gen_ai.response.id")
    }).pipe(Effect.provide(Bench)))

  it.effect("each attribute of an attempt's span is set once, a skipped attempt's and an answered one's", () =>
    Effect.gen(function*() {
      const spans = yield* skippedThenAnswered
      for (const name of ["chat gpt-4o-mini", "chat claude-haiku-4-5"]) {
        const span = spans.find((span) => span.name === name)
        assert.isDefined(span, name)
        assert.isAbove(span.sets.size, 0, name)
        const again = [...span.sets].filter(([, count]) => count > 1)
        assert.deepStrictEqual(again, [], name)
      }
    }).pipe(Effect.provide(Bench)))

  it.effect("server.address and server.port are the base URL's host and port, never its userinfo or query", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const server = yield* MockProviderServer.MockProviderServer
      const url = new URL(server.baseUrl("openai"))
      url.username = "user"
      url.password = "secret-password"
      url.search = "?key=secret-key"
      const llm = yield* LlmManager.make({
        providers: [
          OpenAiCompatible.layer({ name: "groq", baseUrl: url.href, model: "llama-3.3", apiKey: Redacted.make("sk-k") })
        ],
        policy: FallbackPolicy.make({ maxRetries: 0 }),
        circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
        generationEnabled: true
      })
      yield* inject("openai", MockFault.status(503))
      yield* Effect.flip(llm.generate(prompt).pipe(Effect.provideService(Tracer.Tracer, tracer)))
      const attributes = attributesOf(spans, "chat llama-3.3")
      assert.deepStrictEqual([attributes["server.address"], attributes["server.port"]], ["127.0.0.1", Number(url.port)])
      const values = JSON.stringify(spans.map((span) => [...span.attributes.values()]))
      assert.notInclude(values, "secret")
    }).pipe(Effect.provide(Bench)))

  it.effect("a failed attempt has no gen_ai.response.model or gen_ai.response.id: no response said which model answered", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.status(503))
      yield* llm.generate(prompt).pipe(Effect.provideService(Tracer.Tracer, tracer))
      const failed = attributesOf(spans, "chat gpt-4o-mini")
      assert.strictEqual(failed["error.type"], "ProviderUnavailable")
      assert.notProperty(failed, "gen_ai.response.model")
      assert.notProperty(failed, "gen_ai.response.id")
      assert.strictEqual(attributesOf(spans, "chat claude-haiku-4-5")["gen_ai.response.model"], "claude-haiku-4-5")
    }).pipe(Effect.provide(Bench)))

  it.effect("a failed request's span carries error.type, the failure's tag", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({ chain: ["openai"] })
      yield* inject("openai", MockFault.status(503))
      const error = yield* Effect.flip(llm.generate(prompt).pipe(Effect.provideService(Tracer.Tracer, tracer)))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      const request = spans.find((span) => span.name === "baton.request")
      assert.strictEqual(request?.status._tag === "Ended" && request.status.exit._tag, "Failure")
      assert.strictEqual(request?.attributes.get("error.type"), "AllProvidersFailed")
    }).pipe(Effect.provide(Bench)))

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
