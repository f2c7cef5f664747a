/**
 * The error table (`ErrorPolicy`) as the manager lives it: for each failure
 * the mock server can play, the retries, the fallback and the circuit the
 * table promises, checked through `LlmManager` over real HTTP.
 */
import * as Anthropic from "@baton/providers/Anthropic"
import * as OpenAi from "@baton/providers/OpenAi"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema, Stream } from "effect"
import * as ErrorPolicy from "../src/ErrorPolicy.ts"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmManager from "../src/LlmManager.ts"
import { LlmProvider } from "../src/LlmProvider.ts"
import type { ProviderError } from "../src/ProviderError.ts"
import * as RequestLog from "../src/RequestLog.ts"
import { Bench, inject, manager, pick, stats } from "./utils/chain.ts"

const apiKey = Redacted.make("sk-test-key")
const prompt = { prompt: "Write one quiz question about photosynthesis." }

const cases: ReadonlyArray<readonly [string, MockFault.MockFault, ProviderError["_tag"]]> = [
  ["503", MockFault.status(503), "ProviderUnavailable"],
  ["429", MockFault.rateLimited(), "ProviderRateLimited"],
  ["spent account", MockFault.quotaExhausted, "ProviderQuotaExhausted"],
  ["401", MockFault.status(401), "ProviderAuthenticationFailed"],
  ["context length", MockFault.contextLengthExceeded, "ContextLengthExceeded"],
  ["content filter", MockFault.contentFilter, "ContentFiltered"],
  ["an HTML page", MockFault.notJson, "MalformedResponse"],
  ["a reset connection", MockFault.resetBeforeHeaders, "ProviderConnectionFailed"],
  ["a malformed stream event", MockFault.malformedEvent, "MalformedResponse"],
  [
    "a malformed conversation",
    MockFault.status(400, { message: "messages: the conversation is malformed" }),
    "InvalidRequest"
  ]
]

describe("LlmManager follows the one error table", () => {
  for (const [name, fault, tag] of cases) {
    const row = ErrorPolicy.table[tag]
    it.live(`${name}: ${tag} retry=${row.retry} fallback=${row.fallback} circuit=${row.circuit}`, () =>
      Effect.gen(function*() {
        // retries and fallback
        const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { maxRetries: 1 } })
        yield* inject("openai", fault, { times: 2 })
        const attempts = yield* llm.generate(prompt).pipe(
          Effect.map((result) => result.attempts),
          Effect.catchTag("AllProvidersFailed", (error) => Effect.succeed(error.attempts))
        )
        const error = attempts[0]?.error
        assert.strictEqual(error?._tag, tag)
        if (error === undefined) return
        const tries = row.retry === "backoff" ? 2 : 1
        assert.strictEqual((yield* stats("openai")).requests, tries, "attempts on the same provider")
        const fellBack = (yield* stats("anthropic")).requests > 0
        assert.strictEqual(fellBack, ErrorPolicy.fallsBack(error, FallbackPolicy.defaults), "fell back")

        // the circuit: one failure opens it when the table counts it
        const fragile = yield* manager({ chain: ["openai"], circuit: { failureThreshold: 1, cooldownMs: 60_000 } })
        yield* inject("openai", fault, { times: 1 })
        yield* Effect.exit(fragile.generate(prompt))
        const state = yield* fragile.circuitState(ProviderName.make("openai"))
        assert.strictEqual(state._tag, row.circuit === "failure" ? "Open" : "Closed", "circuit")
      }).pipe(Effect.provide(Bench)))
  }

  it.live("a request naming another model fails that model's circuit, not its provider's own model's", () =>
    Effect.gen(function*() {
      const llm = yield* manager({
        chain: ["openai"],
        policy: { maxRetries: 0 },
        circuit: { failureThreshold: 1, cooldownMs: 60_000 }
      })
      yield* inject("openai", MockFault.status(503), { times: 1 })
      yield* Effect.exit(llm.generate({ ...prompt, options: { model: "o3-mini" } }))
      const openai = ProviderName.make("openai")
      assert.strictEqual((yield* llm.circuitState(openai, ModelId.make("o3-mini")))._tag, "Open")
      assert.strictEqual((yield* llm.circuitState(openai))._tag, "Closed")
      assert.strictEqual((yield* llm.generate(prompt)).provider, "openai")
    }).pipe(Effect.provide(Bench)))

  it.live("a request naming another model is retried by that model's maxRetriesByModel, not its provider's own", () =>
    Effect.gen(function*() {
      // the route's own model (gpt-4o-mini) is never retried; o3-mini twice
      const llm = yield* manager({
        chain: ["openai"],
        policy: { maxRetries: 0, maxRetriesByModel: { "openai/o3-mini": 2 }, retryBaseDelayMs: 1 }
      })
      yield* inject("openai", MockFault.status(503), { times: 2 })
      const result = yield* llm.generate({ ...prompt, options: { model: "o3-mini" } })
      assert.deepStrictEqual(result.attempts.map(pick("model", "role", "outcome")), [
        ["o3-mini", "primary", "error"],
        ["o3-mini", "retry", "error"],
        ["o3-mini", "retry", "success"]
      ])
      // and the other way round: the own model's retries do not apply to a model the request names
      const ownRetried = yield* manager({
        chain: ["openai"],
        policy: { maxRetries: 0, maxRetriesByModel: { "gpt-4o-mini": 2 }, retryBaseDelayMs: 1 }
      })
      yield* inject("openai", MockFault.status(503), { times: 1 })
      const error = yield* Effect.flip(ownRetried.generate({ ...prompt, options: { model: "o3-mini" } }))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      assert.strictEqual(error._tag === "AllProvidersFailed" ? error.attempts.length : 0, 1)
      yield* inject("openai", MockFault.status(503), { times: 2 })
      assert.strictEqual((yield* ownRetried.generate(prompt)).attempts.length, 3)
    }).pipe(Effect.provide(Bench)))

  it.live("a model-specific 400 (unsupported_value ... with this model) falls back", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject(
        "openai",
        MockFault.status(400, {
          errorCode: "unsupported_value",
          param: "temperature",
          message:
            "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported."
        })
      )
      const result = yield* llm.generate({ ...prompt, options: { temperature: 0.2 } })
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "error", "InvalidRequest"],
        ["anthropic", "success", undefined]
      ])
    }).pipe(Effect.provide(Bench)))

  it.live("a rejected parameter (Anthropic's temperature range) falls back; a rejected conversation stops", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["anthropic", "openai"] })
      yield* inject("anthropic", MockFault.status(400, { message: "temperature: range: 0..1" }))
      assert.strictEqual((yield* llm.generate(prompt)).provider, "openai")
      yield* inject("anthropic", MockFault.status(400, { message: "messages: at least one message is required" }))
      const error = yield* Effect.flip(llm.generate(prompt))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(Bench)))
})

describe("content policy", () => {
  const policyRejections: ReadonlyArray<readonly [string, "openai" | "anthropic" | "gemini", MockFault.MockFault]> = [
    [
      "OpenAI content_policy_violation",
      "openai",
      MockFault.status(400, {
        errorCode: "content_policy_violation",
        message: "Your request was rejected as a result of our safety system."
      })
    ],
    ["Azure content_filter", "openai", MockFault.status(400, { errorCode: "content_filter", message: "Filtered." })],
    [
      "Anthropic output blocked",
      "anthropic",
      MockFault.status(400, { message: "Output blocked by content filtering policy" })
    ],
    ["Gemini prohibited content", "gemini", MockFault.status(400, { message: "Request contains prohibited content." })],
    ["a 200 with a safety block", "openai", MockFault.contentFilter]
  ]
  for (const [name, kind, fault] of policyRejections) {
    it.live(`${name} is ContentFiltered, one attempt, not sent to the next provider`, () =>
      Effect.gen(function*() {
        const next = kind === "openai" ? "anthropic" : "openai"
        const llm = yield* manager({ chain: [kind, next], policy: { maxRetries: 2 } })
        yield* inject(kind, fault, { times: 3 })
        const error = yield* Effect.flip(llm.generate(prompt))
        assert.strictEqual(error._tag, "AllProvidersFailed")
        if (error._tag !== "AllProvidersFailed") return
        assert.deepStrictEqual(error.attempts.map(pick("provider", "outcome", "error")), [
          [kind, "error", "ContentFiltered"]
        ])
        assert.strictEqual((yield* stats(next)).requests, 0)
      }).pipe(Effect.provide(Bench)))
  }

  it.live("fallbackOnContentFilter sends the refused prompt to the next provider", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"], policy: { fallbackOnContentFilter: true } })
      yield* inject("openai", MockFault.status(400, { errorCode: "content_policy_violation", message: "Rejected." }))
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(result.attempts.map(pick("error")), [["ContentFiltered"], [undefined]])
    }).pipe(Effect.provide(Bench)))
})

/** The real OpenAI adapter, pointed at the mock server, with a bug in its decoding: it dies on every part. */
const buggyOpenAi = Layer.effect(
  LlmProvider,
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const real = yield* OpenAi.make({ apiKey, baseUrl: server.baseUrl("openai") })
    const bug = (): never => {
      throw new TypeError("Cannot read properties of undefined (reading 'choices')")
    }
    return {
      ...real,
      generate: (request) => Effect.map(real.generate(request), bug),
      stream: (request) => Stream.map(real.stream(request), bug)
    }
  })
)

describe("a defect in an adapter", () => {
  it.live("is an error attempt (errorTag Defect), counts against the circuit and falls back", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const memory = yield* RequestLog.RequestLogMemory
      const llm = yield* LlmManager.make({
        providers: [buggyOpenAi, Anthropic.layer({ apiKey, baseUrl: server.baseUrl("anthropic") })],
        policy: FallbackPolicy.make({ maxRetries: 2 }),
        circuitPolicy: { failureThreshold: 1, cooldownMs: 60_000 }
      })
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
        ["openai", "error", "Defect"],
        ["anthropic", "success", undefined]
      ])
      assert.include(result.attempts[0]?.error?.message, "Cannot read properties of undefined")
      const records = yield* memory.records
      assert.deepStrictEqual(records.map((r) => [r.provider, r.outcome, r.errorTag]), [
        ["openai", "error", "Defect"],
        ["anthropic", "success", null]
      ])
      assert.strictEqual((yield* llm.circuitState(ProviderName.make("openai")))._tag, "Open")
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory()))))

  it.live("alone in the chain, reaches the caller as AllProvidersFailed, not as an interruption or a defect", () =>
    Effect.gen(function*() {
      const llm = yield* LlmManager.make({ providers: [buggyOpenAi] })
      const error = yield* Effect.flip(llm.generate(prompt))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      const streamed = yield* Effect.flip(Stream.runCollect(llm.stream(prompt)))
      assert.strictEqual(streamed._tag, "AllProvidersFailed")
    }).pipe(Effect.provide(Bench)))
})

describe("structured output", () => {
  it.live("compiles a raw JSON Schema once, however many calls use it", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      let compilations = 0
      // Ajv reads `$async` once per compilation; nothing else on the call path does
      const schema = new Proxy({
        type: "object",
        properties: { answer: { type: "string" } },
        required: ["answer"],
        additionalProperties: false
      }, {
        get: (target, key): unknown => {
          if (key === "$async") compilations++
          return Reflect.get(target, key) as unknown
        }
      })
      for (let i = 0; i < 3; i++) yield* llm.generateStructured(prompt, schema)
      assert.strictEqual(compilations, 1)
    }).pipe(Effect.provide(Bench)))

  it.live("generates the JSON Schema of an Effect Schema once, however many calls use it", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      let generations = 0
      // the JSON Schema generator calls a check's toJsonSchema; decoding does not
      const nonEmpty = Schema.makeFilter((text: string) => text.length > 0, {
        toJsonSchema: () => {
          generations++
          return { minLength: 1 }
        }
      })
      const Quiz = Schema.Struct({ answer: Schema.String.check(nonEmpty) })
      for (let i = 0; i < 3; i++) yield* llm.generateStructured(prompt, Quiz)
      assert.strictEqual(generations, 1)
    }).pipe(Effect.provide(Bench)))
})
