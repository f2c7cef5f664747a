/**
 * Property tests (fast-check): whatever a caller passes, whatever the
 * configuration says and whatever a provider sends back, Baton answers with
 * a result or a typed error, never a defect (a throw, a die, a `Defect`
 * attempt). Runs without Redis or PostgreSQL; `CHAOS_SIZE=full` runs more
 * cases.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmConfig from "@baton/core/LlmConfig"
import * as LlmManager from "@baton/core/LlmManager"
import * as Pricing from "@baton/core/Pricing"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as Anthropic from "@baton/providers/Anthropic"
import * as Gemini from "@baton/providers/Gemini"
import * as OpenAi from "@baton/providers/OpenAi"
import * as Providers from "@baton/providers/Providers"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option, Redacted, Schema, Stream } from "effect"
import fc from "fast-check"
import { full } from "./services.ts"

const runs = full ? 1_000 : 100

const Http = Layer.mergeAll(NodeHttpClient.layerUndici, Pricing.layerDefault)

/** What is wrong with an exit: `undefined` for a result or a typed error in `allowed`. */
const problem = (exit: Exit.Exit<unknown, unknown>, allowed: ReadonlySet<string>): string | undefined => {
  if (Exit.isSuccess(exit)) return defectAttempt(exit.value)
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) return Cause.hasInterruptsOnly(exit.cause) ? undefined : Cause.pretty(exit.cause)
  const tag = typeof error.value === "object" && error.value !== null && "_tag" in error.value
    ? String(error.value._tag)
    : "untagged"
  return allowed.has(tag) ? defectAttempt(error.value) : `unexpected error ${tag}: ${String(error.value)}`
}

const defectAttempt = (value: unknown): string | undefined => {
  const attempts = typeof value === "object" && value !== null && "attempts" in value && Array.isArray(value.attempts)
    ? value.attempts as ReadonlyArray<{ readonly error?: { readonly _tag: string; readonly message: string } }>
    : []
  const defect = attempts.find((attempt) => attempt.error?._tag === "Defect")
  return defect === undefined ? undefined : `a Defect attempt: ${defect.error?.message ?? ""}`
}

const managerErrors = new Set([
  "InvalidOptions",
  "AllProvidersFailed",
  "DeadlineExceeded",
  "RateLimitExceeded",
  "TooManyQuestions",
  "QuotaStoreUnavailable",
  "StreamInterrupted"
])

const drain = (stream: Stream.Stream<unknown, unknown>) => Stream.runDrain(stream)

/** Each of the manager's three calls on one input. */
const callAll = (manager: LlmManager.Service, input: unknown) =>
  Effect.forEach([
    manager.generate(input as LlmManager.Input),
    manager.generateStructured(input as LlmManager.Input, Schema.Struct({ answer: Schema.String })),
    drain(manager.stream(input as LlmManager.Input))
  ], Effect.exit)

const weird = fc.oneof(
  fc.anything(),
  fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, 1.5, 1e12, 1e300, "", " ", "\u0000", "a\nb", null, undefined)
)
const number = fc.oneof(fc.double(), fc.integer(), weird)
const message = fc.record({
  role: fc.oneof(fc.constantFrom("user", "assistant", "system", "tool"), weird),
  content: fc.oneof(fc.string(), weird)
}, { requiredKeys: [] })
const callerInput = fc.oneof(
  weird,
  fc.record({
    prompt: fc.oneof(fc.string(), fc.array(message, { maxLength: 4 }), weird),
    options: fc.oneof(
      weird,
      fc.record({
        temperature: number,
        maxTokens: number,
        topP: number,
        timeout: number,
        seed: number,
        stop: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), weird),
        system: fc.oneof(fc.string(), weird),
        responseFormat: fc.oneof(fc.constantFrom("text", "json"), weird),
        rescue: fc.oneof(fc.constantFrom("auto", "restart", "none"), weird),
        model: fc.oneof(fc.string(), weird)
      }, { requiredKeys: [] })
    ),
    metadata: fc.oneof(
      weird,
      fc.record({
        subjectId: fc.oneof(fc.string(), weird),
        requestId: fc.oneof(fc.string(), weird),
        units: number,
        tags: fc.oneof(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), weird)
      }, { requiredKeys: [] })
    )
  }, { requiredKeys: [] })
)

const apiKey = Redacted.make("sk-property-key-0000")

describe("properties", () => {
  it.live("caller options: every input gives a result or a typed error, never a defect", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      const quota = yield* Layer.build(
        QuotaLimiter.layerMemoryWith({ maxQuestionsPerRequest: 20, dailyLimit: 1_000_000, timeZone: "UTC" })
      )
      const manager = yield* LlmManager.make({
        providers: [
          OpenAi.layer({ apiKey, baseUrl: server.baseUrl("openai") }),
          Anthropic.layer({ apiKey, baseUrl: server.baseUrl("anthropic") })
        ],
        policy: FallbackPolicy.make({ maxRetries: 0, requestTimeoutMs: 5_000 })
      }).pipe(Effect.provideContext(quota))
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(callerInput, async (input) => {
            const exits = await Effect.runPromise(callAll(manager, input))
            for (const exit of exits) assert.isUndefined(problem(exit, managerErrors), JSON.stringify(input))
          }),
          { numRuns: runs }
        )
      )
    }).pipe(Effect.provide(Http), Effect.scoped), 120_000)

  const variables = [
    "LLM_PRIMARY_PROVIDER",
    "LLM_FALLBACK_PROVIDER",
    "LLM_FALLBACK_PROVIDERS",
    "OPENAI_MODEL",
    "OPENAI_BASE_URL",
    "DEEPSEEK_ASSISTANT_PREFILL",
    "AI_GENERATION_ENABLED",
    "AI_MAX_QUESTIONS_PER_REQUEST",
    "AI_DAILY_LIMIT_PER_TEACHER",
    "AI_QUOTA_TIMEZONE",
    "LLM_REQUEST_TIMEOUT_MS",
    "LLM_ATTEMPT_TIMEOUT_MS",
    "LLM_MAX_RETRIES",
    "LLM_RETRY_BASE_DELAY_MS",
    "LLM_CIRCUIT_FAILURE_THRESHOLD",
    "LLM_CIRCUIT_COOLDOWN_MS",
    "LLM_FIRST_BYTE_TIMEOUT_MS",
    "LLM_FIRST_TOKEN_TIMEOUT_MS",
    "LLM_THINKING_FIRST_TOKEN_TIMEOUT_MS",
    "LLM_STREAM_IDLE_TIMEOUT_MS",
    "LLM_HEDGE_DELAY_MS",
    "LLM_STRUCTURED_OUTPUT_RETRIES",
    "LLM_CONTINUE_ON_INTERRUPTION",
    "LLM_FALLBACK_ON_CONTENT_FILTER",
    "LLM_LOG_PROMPTS",
    "LLM_PRICES",
    "REDIS_URL"
  ] as const
  const value = fc.oneof(
    fc.string(),
    fc.integer().map(String),
    fc.double().map(String),
    fc.constantFrom(
      "",
      " ",
      "0",
      "-1",
      "1.5",
      "1e300",
      "NaN",
      "Infinity",
      "true",
      "no",
      "none",
      "gemini",
      "openai,anthropic",
      "deepseek,deepseek",
      "UTC",
      "Mars/Olympus_Mons",
      "{}",
      "[]",
      "{\"openai\":{\"default\":{\"input\":1,\"output\":2}}}",
      "{\"openai\":{\"defualt\":{}}}",
      "redis://",
      "redis://:@:0",
      "http://127.0.0.1:1",
      "not a url"
    )
  )
  const environment = fc.dictionary(fc.constantFrom(...variables), value, { maxKeys: 6 })

  it.live(
    "configuration values: the stack builds or fails with LlmConfigError, never a defect",
    () =>
      Effect.gen(function*() {
        const keys: Record<string, string> = {}
        for (const kind of ["deepseek", "gemini", "openai", "anthropic"]) keys[`${kind.toUpperCase()}_API_KEY`] = "sk-x"
        const build = (variables: Record<string, string>) =>
          Layer.build(
            Layer.mergeAll(
              LlmManager.layerConfig({
                deepseek: Providers.layerFromConfig("deepseek"),
                gemini: Providers.layerFromConfig("gemini"),
                openai: Providers.layerFromConfig("openai"),
                anthropic: Providers.layerFromConfig("anthropic")
              }),
              QuotaLimiter.layerMemory()
            ).pipe(
              Layer.provide(LlmConfig.layerPricing),
              Layer.provideMerge(LlmConfig.layerFromRecord({ ...keys, ...variables })),
              Layer.provide(NodeHttpClient.layerUndici)
            )
          ).pipe(Effect.map((context) => Context.get(context, LlmManager.LlmManager)), Effect.scoped)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(environment, async (variables) => {
              const exit = await Effect.runPromiseExit(build(variables))
              assert.isUndefined(problem(exit, new Set(["LlmConfigError"])), JSON.stringify(variables))
            }),
            { numRuns: runs }
          )
        )
      }),
    120_000
  )

  type Kind = "openai" | "anthropic" | "gemini"
  const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }
  const good: Record<Kind, { readonly body: unknown; readonly events: ReadonlyArray<unknown> }> = {
    openai: {
      body: { choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage },
      events: [
        { choices: [{ index: 0, delta: { content: "hi" }, finish_reason: null }] },
        { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
        { choices: [], usage },
        "[DONE]"
      ]
    },
    anthropic: {
      body: {
        content: [{ type: "text", text: "hi" }],
        stop_reason: "end_turn",
        usage: { input_tokens: 3, output_tokens: 2 }
      },
      events: [
        { type: "message_start", message: { usage: { input_tokens: 3, output_tokens: 0 } } },
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hi" } },
        { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } },
        { type: "message_stop" }
      ]
    },
    gemini: {
      body: {
        candidates: [{ content: { parts: [{ text: "hi" }] }, finishReason: "STOP" }],
        usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 }
      },
      events: [{
        candidates: [{ content: { parts: [{ text: "hi" }] }, finishReason: "STOP" }],
        usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 }
      }]
    }
  }

  /** `value` with the `n`-th node (depth first, modulo the node count) replaced by `replacement`. */
  const mutate = (value: unknown, n: number, replacement: unknown): unknown => {
    let index = 0
    const count = (node: unknown): number =>
      1 +
      (typeof node === "object" && node !== null ? Object.values(node).reduce((a: number, v) => a + count(v), 0) : 0)
    const target = n % count(value)
    const walk = (node: unknown): unknown => {
      if (index++ === target) return replacement
      if (Array.isArray(node)) return node.map(walk)
      if (typeof node === "object" && node !== null) {
        return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]))
      }
      return node
    }
    return walk(value)
  }

  const reply = (kind: Kind) =>
    fc.record({
      status: fc.constantFrom(200, 200, 200, 200, 400, 401, 404, 408, 429, 500, 503, 529),
      body: fc.oneof(
        fc.tuple(fc.nat(), fc.jsonValue()).map(([n, v]) => JSON.stringify(mutate(good[kind].body, n, v))),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.string()
      ),
      events: fc.oneof(
        fc.tuple(fc.nat(), fc.nat(), fc.jsonValue()).map(([i, n, v]) =>
          good[kind].events.map((event, k) =>
            k === i % good[kind].events.length
              ? JSON.stringify(mutate(event, n, v))
              : typeof event === "string"
              ? event
              : JSON.stringify(event)
          )
        ),
        fc.array(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v))), { maxLength: 5 })
      )
    })

  const adapters = { openai: OpenAi.layer, anthropic: Anthropic.layer, gemini: Gemini.layer } as const
  for (const kind of ["openai", "anthropic", "gemini"] as const) {
    it.live(`${kind} bodies: any reply gives a result or a typed error, never a defect`, () =>
      Effect.gen(function*() {
        const server = yield* RawServer.start({ body: {}, events: [] })
        const manager = yield* LlmManager.make({
          providers: [adapters[kind]({ apiKey, baseUrl: server.url })],
          policy: FallbackPolicy.make({ maxRetries: 0, requestTimeoutMs: 3_000 })
        })
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(reply(kind), async (r) => {
              server.set(r)
              const exits = await Effect.runPromise(callAll(manager, { prompt: "hi" }))
              for (const exit of exits) assert.isUndefined(problem(exit, managerErrors), JSON.stringify(r))
            }),
            { numRuns: runs }
          )
        )
      }).pipe(Effect.provide(Http), Effect.scoped), 120_000)
  }
})
