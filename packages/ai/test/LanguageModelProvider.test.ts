import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import { ModelId, ProviderName, SubjectId } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as ProviderError from "@baton/core/ProviderError"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as StructuredOutput from "@baton/core/StructuredOutput"
import * as TokenUsage from "@baton/core/TokenUsage"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as Anthropic from "@baton/providers/Anthropic"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Layer, Redacted, Schema, Stream } from "effect"
import { AiError, LanguageModel, type Response, Telemetry } from "effect/ai"
import * as LanguageModelProvider from "../src/LanguageModelProvider.ts"
import * as ChatLanguageModel from "./chatLanguageModel.ts"
import { inject, manager, services, stats } from "./stack.ts"

const Question = Schema.Struct({
  question: Schema.String,
  choices: Schema.Array(Schema.String),
  answer: Schema.Int
})

type Step = "effect-ai" | "anthropic"

/**
 * A manager whose chain mixes an effect/ai LanguageModel step and a Baton adapter. The LanguageModel step is
 * `ChatLanguageModel` on the mock server unless `languageModel` names another model (the user's own).
 */
const managerOf = (
  chain: ReadonlyArray<Step>,
  options: {
    readonly languageModel?: Layer.Layer<LanguageModel.LanguageModel> | undefined
    readonly policy?: Parameters<typeof FallbackPolicy.make>[0] | undefined
  } = {}
) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const step = (kind: Step) =>
      kind === "anthropic"
        ? Anthropic.layer({ apiKey: Redacted.make("sk-test-key"), baseUrl: server.baseUrl("anthropic") })
        : LanguageModelProvider.layer({
          name: "openai",
          model: "gpt-4o-mini",
          languageModel: options.languageModel ?? ChatLanguageModel.layer(server.baseUrl("openai"), "gpt-4o-mini")
        })
    return yield* LlmManager.make({
      providers: chain.map(step),
      policy: FallbackPolicy.make({ maxRetries: 0, retryBaseDelayMs: 10, ...options.policy }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 }
    })
  })

/**
 * The user's own effect/ai model whose answers break: "Hello " then a network failure (a whole call fails at
 * once). `calls` counts the calls it was given.
 */
const brokenAfterText = (calls: { count: number }): Layer.Layer<LanguageModel.LanguageModel> => {
  const broken = AiError.make({
    module: "BrokenModel",
    method: "streamText",
    reason: new AiError.NetworkError({ reason: "TransportError", method: "POST", url: "https://llm.example/v1" })
  })
  return Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: () => Effect.suspend(() => (calls.count++, Effect.fail(broken))),
      streamText: () =>
        Stream.suspend(() => {
          calls.count++
          return Stream.concat(
            Stream.make<ReadonlyArray<Response.StreamPartEncoded>>(
              { type: "text-start", id: "0" },
              { type: "text-delta", id: "0", delta: "Hello " }
            ),
            Stream.fail(broken)
          )
        })
    })
  )
}

/**
 * The user's own effect/ai model whose provider fails its answers in the response itself: "Hello ", then a finish
 * with reason `error` (as a Responses API `response.failed` event ends one), after an `error` part when streaming.
 */
const failedInStream: Layer.Layer<LanguageModel.LanguageModel> = Layer.effect(
  LanguageModel.LanguageModel,
  LanguageModel.make({
    generateText: () =>
      Effect.succeed<Array<Response.PartEncoded>>([
        { type: "text", text: "Hello " },
        { type: "finish", reason: "error", usage: { inputTokens: { total: 3 }, outputTokens: { total: 2 } } }
      ]),
    streamText: () =>
      Stream.fromIterable<Response.StreamPartEncoded>([
        { type: "text-start", id: "0" },
        { type: "text-delta", id: "0", delta: "Hello " },
        { type: "error", error: { message: "upstream overloaded" } },
        { type: "finish", reason: "error", usage: { inputTokens: { total: 3 }, outputTokens: { total: 2 } } }
      ])
  })
)

/** The user's own effect/ai model that records what it is asked and answers `answers` in turn, then "{}". */
const recording = (
  seen: Array<LanguageModel.ProviderOptions>,
  answers: Array<string> = []
): Layer.Layer<LanguageModel.LanguageModel> => {
  const finish: Response.FinishPartEncoded = {
    type: "finish",
    reason: "stop",
    usage: { inputTokens: { total: 3 }, outputTokens: { total: 1 } }
  }
  const answer = (options: LanguageModel.ProviderOptions) => {
    seen.push(options)
    return answers.shift() ?? "{}"
  }
  return Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: (options) => Effect.sync(() => [{ type: "text", text: answer(options) }, finish]),
      streamText: (options) =>
        Stream.suspend(() =>
          Stream.fromIterable<Response.StreamPartEncoded>([
            { type: "text-start", id: "0" },
            { type: "text-delta", id: "0", delta: answer(options) },
            { type: "text-end", id: "0" },
            finish
          ])
        )
    })
  )
}

/** The city a GetWeather call's arguments (JSON text) name. */
const cityOf = (args: string | undefined): string =>
  Schema.decodeUnknownSync(Schema.fromJsonString(Schema.Struct({ city: Schema.String })))(args).city

const GetWeather = {
  name: "GetWeather",
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String })
}

const attemptsOf = (attempts: ReadonlyArray<{ provider: string; outcome: string; error?: { _tag: string } }>) =>
  attempts.map((attempt) => [attempt.provider, attempt.outcome, attempt.error?._tag])

describe("LanguageModelProvider", () => {
  it.live("an effect/ai LanguageModel answers as a chain step: priced, quota spent, ledger row", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      const result = yield* manager.generate({
        prompt: "Write one quiz question about photosynthesis.",
        metadata: { subjectId: "teacher-lm-1" }
      })
      assert.strictEqual(result.provider, "openai")
      assert.include(result.content, "Mock answer from openai")
      assert.strictEqual(result.finishReason, "stop")
      const billed = yield* stats("openai")
      assert.strictEqual(result.usage.promptTokens, billed.promptTokens)
      assert.strictEqual(result.usage.completionTokens, billed.completionTokens)
      assert.strictEqual(result.usage.pricing, "model")
      assert.isAbove(result.usage.costNanoUsd, 0)

      const quota = yield* QuotaLimiter.QuotaLimiter
      assert.strictEqual((yield* quota.remaining(SubjectId.make("teacher-lm-1"))).used, 1)
      const ledger = yield* UsageLedger.UsageLedger
      yield* ledger.flush
      const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const rows = yield* ledger.usageByProvider(day, day)
      assert.deepStrictEqual(rows.map((row) => [row.provider, row.completionTokens]), [
        ["openai", billed.completionTokens]
      ])
    }).pipe(Effect.provide(services(100))))

  it.live("a failing LanguageModel step falls back to the next provider, its AiError read by Baton's table", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      yield* inject("openai", MockFault.status(503), { times: 10 })
      const result = yield* manager.generate({ prompt: "Hello" })
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(attemptsOf(result.attempts), [
        ["openai", "error", "ProviderUnavailable"],
        ["anthropic", "success", undefined]
      ])
    }).pipe(Effect.provide(services(100))))

  it.live("a content filter stops a LanguageModel step's stream as its generate: ContentFiltered, not a Finish", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      // `generate` streams underneath by default: both paths meet the same rule
      yield* inject("openai", MockFault.contentFilter, { times: 2 })
      const generated = yield* Effect.flip(manager.generate({ prompt: "Hello" }))
      const streamed = yield* Effect.flip(Stream.runDrain(manager.stream({ prompt: "Hello" })))
      for (const error of [generated, streamed]) {
        assert.strictEqual(error._tag, "AllProvidersFailed")
        assert.deepStrictEqual(error._tag === "AllProvidersFailed" ? attemptsOf(error.attempts) : [], [
          ["openai", "error", "ContentFiltered"]
        ])
      }
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(services(100))))

  it.live("a content filter that stops a LanguageModel step's stream after text: ContentFiltered with its usage, final", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      // the answer's first two words, then `finish_reason: "content_filter"` with the usage of what was sent
      yield* inject("openai", MockFault.contentFilterAfter(2))
      const shown: Array<string> = []
      const error = yield* Effect.flip(Stream.runForEach(
        manager.stream({ prompt: "Tell a story" }),
        (part) => Effect.sync(() => part._tag === "TextDelta" && shown.push(part.text))
      ))
      assert.strictEqual(shown.join(""), "Mock answer")
      // the step hands the manager the filter's `ContentFiltered`; text reached the caller, so the manager ends the
      // stream with a `StreamInterrupted` keeping the text, and the filter does not fall back
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag !== "StreamInterrupted") return
      assert.strictEqual(error.partialText, "Mock answer")
      assert.strictEqual(error.reason, "openai's content filter stopped the answer")
      assert.deepStrictEqual(attemptsOf(error.attempts ?? []), [["openai", "error", "ContentFiltered"]])
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
      // the usage the filter's finish reported rides on the attempt's error, priced, and reaches the ledger
      const billed = yield* stats("openai")
      assert.isAbove(billed.completionTokens, 0)
      const filtered = error.attempts?.[0]?.error
      const usage = filtered?._tag === "ContentFiltered" ? filtered.usage : undefined
      assert.strictEqual(usage?.promptTokens, billed.promptTokens)
      assert.strictEqual(usage?.completionTokens, billed.completionTokens)
      assert.strictEqual(usage?.pricing, "model")
      assert.isAbove(usage?.costNanoUsd ?? 0, 0)
      const ledger = yield* UsageLedger.UsageLedger
      const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const rows = yield* ledger.usageByProvider(day, day)
      assert.deepStrictEqual(rows.map((row) => [row.provider, row.attempts, row.completionTokens, row.costNanoUsd]), [
        ["openai", 1, billed.completionTokens, usage?.costNanoUsd]
      ])
    }).pipe(Effect.provide(services(100))))

  it.live("on its own, a LanguageModel step whose stream a content filter stops after text is interrupted, billed", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const provider = yield* LanguageModelProvider.make({ name: "openai", model: "gpt-4o-mini" }).pipe(
        Effect.provide(ChatLanguageModel.layer(server.baseUrl("openai"), "gpt-4o-mini"))
      )
      yield* inject("openai", MockFault.contentFilterAfter(2))
      const error = yield* Effect.flip(
        Stream.runDrain(provider.stream(yield* LlmRequest.make({ prompt: "Tell a story" })))
      )
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag !== "StreamInterrupted") return
      assert.strictEqual(error.partialText, "Mock answer")
      assert.strictEqual(error.reason, "the provider's content filter stopped the answer")
      const billed = yield* stats("openai")
      assert.strictEqual(error.usage?.completionTokens, billed.completionTokens)
      assert.isAbove(error.usage?.costNanoUsd ?? 0, 0)
    }).pipe(Effect.provide(services(100))))

  it.live("a LanguageModel step that fails after its first text falls back under the manager: generate and stream", () =>
    Effect.gen(function*() {
      const calls = { count: 0 }
      const manager = yield* managerOf(["effect-ai", "anthropic"], { languageModel: brokenAfterText(calls) })
      // the model's stream breaks after "Hello ": the manager, not the step, decides what the break means
      const result = yield* manager.generate({ prompt: "Hello" })
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(attemptsOf(result.attempts), [
        ["openai", "error", "ProviderConnectionFailed"],
        ["anthropic", "success", undefined]
      ])
      assert.include(result.content, "Mock answer from anthropic")

      const parts = yield* Stream.runCollect(manager.stream({ prompt: "Tell a story" }))
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      // the answer is rescued on the next step, continued from the text the caller holds
      assert.isTrue(text.startsWith("Hello "))
      assert.include(text, "Mock answer from anthropic")
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      if (finish?._tag !== "Finish") return
      assert.isTrue(finish.rescued)
      assert.deepStrictEqual(finish.sources?.map((source) => source.provider), ["openai", "anthropic"])
      assert.deepStrictEqual(attemptsOf(finish.attempts ?? []), [
        ["openai", "error", "ProviderConnectionFailed"],
        ["anthropic", "success", undefined]
      ])
      assert.strictEqual(calls.count, 2)
      assert.strictEqual((yield* stats("anthropic")).requests, 2)
    }).pipe(Effect.provide(services(100))))

  it.live("a LanguageModel step whose answer ends in error is a failed attempt: it falls back, never an answer", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"], { languageModel: failedInStream })
      const result = yield* manager.generate({ prompt: "Hello" })
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(attemptsOf(result.attempts), [
        ["openai", "error", "ProviderUnavailable"],
        ["anthropic", "success", undefined]
      ])
      const parts = yield* Stream.runCollect(manager.stream({ prompt: "Tell a story" }))
      const finish = parts.at(-1)
      assert.deepStrictEqual(finish?._tag === "Finish" ? attemptsOf(finish.attempts ?? []) : [], [
        ["openai", "error", "ProviderUnavailable"],
        ["anthropic", "success", undefined]
      ])
      // what the failed answer billed is charged, on the plain path as on the streamed one
      const plain = yield* managerOf(["effect-ai", "anthropic"], {
        languageModel: failedInStream,
        policy: { generateVia: "generate" }
      })
      yield* plain.generate({ prompt: "Hello" })
      const ledger = yield* UsageLedger.UsageLedger
      yield* ledger.flush
      const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const openai = (yield* ledger.usageByProvider(day, day)).find((row) => row.provider === "openai")
      assert.deepStrictEqual([openai?.attempts, openai?.promptTokens, openai?.completionTokens], [3, 9, 6])
      // the step's own generate (a plain `generateText`) reads the answer alike; on its own, its stream, which sent
      // text, is interrupted, with what the error part said
      const provider = yield* LanguageModelProvider.make({ name: "openai", model: "gpt-4o-mini" }).pipe(
        Effect.provide(failedInStream)
      )
      const request = yield* LlmRequest.make({ prompt: "Hello" })
      assert.strictEqual((yield* Effect.flip(provider.generate(request)))._tag, "ProviderUnavailable")
      const interrupted = yield* Effect.flip(Stream.runDrain(provider.stream(request)))
      assert.strictEqual(interrupted._tag, "StreamInterrupted")
      assert.strictEqual(
        interrupted._tag === "StreamInterrupted" ? interrupted.reason : "",
        "openai ended its answer with an error: upstream overloaded"
      )
    }).pipe(Effect.provide(services(100))))

  it.live("on its own, a LanguageModel step that fails after its first text is StreamInterrupted", () =>
    Effect.gen(function*() {
      const provider = yield* LanguageModelProvider.make({ name: "openai", model: "gpt-4o-mini" }).pipe(
        Effect.provide(brokenAfterText({ count: 0 }))
      )
      const shown: Array<string> = []
      const error = yield* Effect.flip(Stream.runForEach(
        provider.stream(yield* LlmRequest.make({ prompt: "Hello" })),
        (part) => Effect.sync(() => part._tag === "TextDelta" && shown.push(part.text))
      ))
      assert.strictEqual(shown.join(""), "Hello ")
      assert.strictEqual(error._tag, "StreamInterrupted")
      assert.strictEqual(error._tag === "StreamInterrupted" ? error.partialText : "", "Hello ")
    }).pipe(Effect.provide(services(100))))

  for (const generateVia of ["stream", "generate"] as const) {
    it.live(`a LanguageModel step is given the request's tools and answers with tool calls (generate via ${generateVia})`, () =>
      Effect.gen(function*() {
        const manager = yield* managerOf(["effect-ai", "anthropic"], { policy: { generateVia } })
        const question = "What is the weather in Paris?"
        const result = yield* manager.generate({ prompt: question, tools: [GetWeather] })
        assert.strictEqual(result.provider, "openai")
        assert.strictEqual(result.finishReason, "tool_calls")
        const call = result.toolCalls?.[0]
        assert.deepStrictEqual(result.toolCalls?.map((toolCall) => toolCall.name), ["GetWeather"])
        assert.isNotEmpty(cityOf(call?.arguments))

        // the caller runs the call and sends its result back: the model answers with it
        const answer = yield* manager.generate({
          prompt: [
            { role: "user", content: question },
            { role: "assistant", content: "", toolCalls: result.toolCalls ?? [] },
            { role: "tool", toolCallId: call?.id ?? "", name: "GetWeather", content: "\"sunny in Paris\"" }
          ],
          tools: [GetWeather]
        })
        assert.strictEqual(answer.finishReason, "stop")
        assert.include(answer.content, "sunny in Paris")

        // a tool choice of none is passed on too: the model answers with text
        const none = yield* manager.generate({ prompt: question, tools: [GetWeather], toolChoice: "none" })
        assert.strictEqual(none.finishReason, "stop")
        assert.isUndefined(none.toolCalls)
        assert.strictEqual((yield* stats("anthropic")).requests, 0)
      }).pipe(Effect.provide(services(100))))
  }

  it.live("a LanguageModel step streams the model's tool calls as ToolCallDeltas, assembled on the Finish", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      const parts = yield* Stream.runCollect(
        manager.stream({
          prompt: "What is the weather in Paris?",
          tools: [GetWeather],
          toolChoice: { tool: "GetWeather" }
        })
      )
      const deltas = parts.flatMap((part) => part._tag === "ToolCallDelta" ? [part] : [])
      assert.isAbove(deltas.length, 0)
      assert.deepStrictEqual([...new Set(deltas.map((delta) => `${delta.index}:${delta.name}`))], ["0:GetWeather"])
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      if (finish?._tag !== "Finish") return
      assert.strictEqual(finish.finishReason, "tool_calls")
      assert.strictEqual(finish.provider, "openai")
      assert.deepStrictEqual(finish.toolCalls?.map((call) => [call.id, call.name]), [[deltas[0]?.id, "GetWeather"]])
      assert.strictEqual(deltas.map((delta) => delta.argumentsDelta).join(""), finish.toolCalls?.[0]?.arguments)
      assert.isNotEmpty(cityOf(finish.toolCalls?.[0]?.arguments))
    }).pipe(Effect.provide(services(100))))

  it.live("a LanguageModel step is given a failed tool result (isError) as a failure, a plain one as a success", () =>
    Effect.gen(function*() {
      const seen: Array<LanguageModel.ProviderOptions> = []
      const manager = yield* managerOf(["effect-ai"], { languageModel: recording(seen) })
      yield* manager.generate({
        prompt: [
          { role: "user", content: "Enrol Ada and Alan" },
          {
            role: "assistant",
            content: "",
            toolCalls: [
              { id: "call-1", name: "Enrol", arguments: "{\"student\":\"Ada\"}" },
              { id: "call-2", name: "Enrol", arguments: "{\"student\":\"Alan\"}" }
            ]
          },
          { role: "tool", toolCallId: "call-1", name: "Enrol", content: "{\"code\":\"E42\"}", isError: true },
          { role: "tool", toolCallId: "call-2", name: "Enrol", content: "\"enrolled\"" }
        ]
      })
      const results = seen[0]?.prompt.content.flatMap((message) =>
        message.role === "tool" ? message.content.flatMap((part) => part.type === "tool-result" ? [part] : []) : []
      )
      assert.deepStrictEqual(results?.map((part) => [part.id, part.isFailure, part.result]), [
        ["call-1", true, { code: "E42" }],
        ["call-2", false, "enrolled"]
      ])
    }).pipe(Effect.provide(services(100))))

  it.live("a LanguageModel step asked for JSON tells the model so in its system prompt", () =>
    Effect.gen(function*() {
      const seen: Array<LanguageModel.ProviderOptions> = []
      const manager = yield* managerOf(["effect-ai"], { languageModel: recording(seen) })
      yield* manager.generate({
        prompt: "List three planets",
        options: { responseFormat: "json", system: "Be brief." }
      })
      yield* Stream.runDrain(manager.stream({ prompt: "List three planets", options: { responseFormat: "json" } }))
      yield* manager.generate({ prompt: "List three planets" })
      const systems = seen.map((options) =>
        options.prompt.content.flatMap((message) => message.role === "system" ? [message.content] : []).join("\n")
      )
      assert.strictEqual(systems.length, 3)
      assert.isTrue(systems[0]?.startsWith("Be brief."))
      assert.include(systems[0], "JSON")
      assert.include(systems[1], "JSON")
      assert.strictEqual(systems[2], "")
    }).pipe(Effect.provide(services(100))))

  it.live("a retryable AiError is retried on the LanguageModel step, a 401 is not", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const manager = yield* LlmManager.make({
        providers: [
          LanguageModelProvider.layer({
            name: "openai",
            model: "gpt-4o-mini",
            languageModel: ChatLanguageModel.layer(server.baseUrl("openai"), "gpt-4o-mini")
          })
        ],
        policy: FallbackPolicy.make({ maxRetries: 2, retryBaseDelayMs: 1 })
      })
      yield* inject("openai", MockFault.status(503), { times: 2 })
      const retried = yield* manager.generate({ prompt: "Hello" })
      assert.deepStrictEqual(attemptsOf(retried.attempts).map(([, outcome]) => outcome), ["error", "error", "success"])
      yield* inject("openai", MockFault.status(401), { times: 3 })
      const error = yield* Effect.flip(manager.generate({ prompt: "Hello" }))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      assert.deepStrictEqual(
        error._tag === "AllProvidersFailed" ? attemptsOf(error.attempts) : [],
        [["openai", "error", "ProviderAuthenticationFailed"]]
      )
    }).pipe(Effect.provide(services(100))))

  it.live("a status effect/ai does not name (an UnknownError with its status) follows Baton's rule: a 408 is retried", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai"], { policy: { maxRetries: 2, retryBaseDelayMs: 1 } })
      yield* inject("openai", MockFault.status(408))
      const retried = yield* manager.generate({ prompt: "Hello" })
      assert.deepStrictEqual(attemptsOf(retried.attempts), [
        ["openai", "error", "ProviderUnavailable"],
        ["openai", "success", undefined]
      ])
    }).pipe(Effect.provide(services(100))))

  it.live("structured output and streams run through the LanguageModel step after a failing primary", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["anthropic", "effect-ai"])
      yield* inject("anthropic", MockFault.status(401), { times: 10 })
      const quiz = yield* manager.generateStructured({ prompt: "One question about Mars" }, Question)
      assert.strictEqual(quiz.provider, "openai")
      assert.isTrue(Schema.is(Question)(quiz.value))

      const parts = yield* Stream.runCollect(manager.stream({ prompt: "Tell a story" }))
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.include(text, "Mock answer from openai")
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      assert.isAbove(finish?._tag === "Finish" ? finish.usage.completionTokens : 0, 0)
    }).pipe(Effect.provide(services(100))))

  it.live("an answer that does not match the schema is re-asked on the LanguageModel step", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai"])
      yield* inject("openai", MockFault.content("{\"question\": 1}"))
      const quiz = yield* manager.generateStructured({ prompt: "One question about Mars" }, Question)
      assert.isTrue(Schema.is(Question)(quiz.value))
      assert.deepStrictEqual(attemptsOf(quiz.attempts), [
        ["openai", "error", "StructuredOutputInvalid"],
        ["openai", "success", undefined]
      ])
    }).pipe(Effect.provide(services(100))))
})

/** The system prompt a LanguageModel step was given. */
const systemOf = (options: LanguageModel.ProviderOptions | undefined): string =>
  options?.prompt.content.flatMap((message) => message.role === "system" ? [message.content] : []).join("\n") ?? ""

/** The JSON Schema a LanguageModel step's model derives from the schema of a `generateObject` call. */
const jsonSchemaOf = (options: LanguageModel.ProviderOptions | undefined) =>
  options?.responseFormat.type === "json"
    ? LanguageModel.defaultCodecTransformer(options.responseFormat.schema).jsonSchema
    : undefined

/**
 * A raw JSON Schema a caller may send (the title names it), a valid answer, one that does not match, and whether
 * effect/ai's JSON Schema import can express it (else it goes to the model in the system prompt), with a keyword the
 * model's JSON Schema then holds.
 */
const rawSchemas: ReadonlyArray<{
  readonly title: string
  readonly schema: Record<string, unknown>
  readonly valid: unknown
  readonly invalid: unknown
  readonly imported: boolean
  readonly keyword?: string
}> = [
  {
    title: "a pattern",
    schema: {
      type: "object",
      properties: { code: { type: "string", pattern: "^[A-Z]{3}$" } },
      required: ["code"],
      additionalProperties: false
    },
    valid: { code: "MRS" },
    invalid: { code: "mars" },
    imported: true
  },
  {
    title: "draft-07 definitions, as zodResponseFormat sends them",
    schema: {
      $schema: "http://json-schema.org/draft-07/schema#",
      type: "object",
      properties: { question: { $ref: "#/definitions/Question" } },
      required: ["question"],
      additionalProperties: false,
      definitions: {
        Question: {
          type: "object",
          properties: { text: { type: "string" }, answer: { type: "integer" } },
          required: ["text", "answer"],
          additionalProperties: false
        }
      }
    },
    valid: { question: { text: "Which planet is red?", answer: 4 } },
    invalid: { question: { text: "Which planet is red?" } },
    imported: true,
    keyword: "$defs"
  },
  {
    title: "a draft-07 tuple",
    schema: {
      $schema: "http://json-schema.org/draft-07/schema#",
      type: "object",
      properties: { point: { type: "array", items: [{ type: "number" }, { type: "string" }], additionalItems: false } },
      required: ["point"]
    },
    valid: { point: [4, "Mars"] },
    invalid: { point: ["Mars", 4] },
    imported: true,
    keyword: "prefixItems"
  },
  {
    title: "if / then",
    schema: {
      type: "object",
      properties: { kind: { enum: ["count", "name"] }, count: { type: "integer" } },
      required: ["kind"],
      if: { properties: { kind: { const: "count" } } },
      then: { required: ["count"] }
    },
    valid: { kind: "count", count: 2 },
    invalid: { kind: "count" },
    imported: false
  },
  {
    title: "contains",
    schema: {
      type: "object",
      properties: { planets: { type: "array", items: { type: "string" }, contains: { const: "Mars" } } },
      required: ["planets"]
    },
    valid: { planets: ["Venus", "Mars"] },
    invalid: { planets: ["Venus"] },
    imported: false
  },
  {
    title: "not",
    schema: {
      type: "object",
      properties: { planet: { type: "string", not: { const: "Pluto" } } },
      required: ["planet"]
    },
    valid: { planet: "Mars" },
    invalid: { planet: "Pluto" },
    imported: false
  }
]

describe("LanguageModelProvider raw JSON Schemas", () => {
  for (const { imported, invalid, keyword, schema, title, valid } of rawSchemas) {
    it.live(`a raw JSON Schema with ${title} is served by a LanguageModel step, checked and re-asked by Baton`, () =>
      Effect.gen(function*() {
        const seen: Array<LanguageModel.ProviderOptions> = []
        const answers = [JSON.stringify(invalid), JSON.stringify(valid)]
        const manager = yield* managerOf(["effect-ai"], { languageModel: recording(seen, answers) })
        const result = yield* manager.generateStructured({ prompt: "One question about Mars" }, schema)
        assert.deepStrictEqual(result.value, valid)
        assert.deepStrictEqual(attemptsOf(result.attempts), [
          ["openai", "error", "StructuredOutputInvalid"],
          ["openai", "success", undefined]
        ])
        const asked = JSON.stringify(schema)
        if (imported) {
          // the model's own structured output is given the schema (every property it names), no instruction
          assert.notInclude(systemOf(seen[0]), asked)
          const sent = JSON.stringify(jsonSchemaOf(seen[0]))
          for (const key of [...JSON.stringify(valid).match(/"\w+":/g) ?? [], ...(keyword ? [`"${keyword}":`] : [])]) {
            assert.include(sent, key.slice(0, -1))
          }
        } else {
          // what effect/ai cannot express goes to the model in words: the request's JSON Schema in the system prompt,
          // no codec of effect/ai's (a model's own transformer may re-shape one)
          assert.include(systemOf(seen[0]), asked)
          assert.strictEqual(seen[0]?.responseFormat.type, "text")
        }
      }).pipe(Effect.provide(services(100))))
  }

  it.live("requests with raw JSON Schemas a LanguageModel step cannot import never open its circuit", () =>
    Effect.gen(function*() {
      const seen: Array<LanguageModel.ProviderOptions> = []
      const manager = yield* LlmManager.make({
        providers: [
          LanguageModelProvider.layer({ name: "openai", model: "gpt-4o-mini", languageModel: recording(seen) })
        ],
        policy: FallbackPolicy.make({ maxRetries: 0, retryBaseDelayMs: 1 }),
        circuitPolicy: { failureThreshold: 2, cooldownMs: 60_000 }
      })
      const schema = { type: "object", properties: { tags: { type: "array", contains: { const: "Mars" } } } }
      for (let i = 0; i < 3; i++) {
        const result = yield* manager.generateStructured({ prompt: "Tag this question" }, schema)
        assert.deepStrictEqual(attemptsOf(result.attempts), [["openai", "success", undefined]])
      }
      assert.strictEqual((yield* manager.generate({ prompt: "Hello" })).provider, "openai")
      assert.strictEqual(seen.length, 4)
    }).pipe(Effect.provide(services(100))))
})

describe("LanguageModelProvider billing of structured answers", () => {
  for (const answer of ["{\"question\": 1}", "Here is a question about Mars."]) {
    it.live(`a LanguageModel step's answer that does not match is billed: ${answer}`, () =>
      Effect.gen(function*() {
        const manager = yield* managerOf(["effect-ai"])
        yield* inject("openai", MockFault.content(answer))
        const quiz = yield* manager.generateStructured({ prompt: "One question about Mars" }, Question)
        assert.isTrue(Schema.is(Question)(quiz.value))
        const rejected = quiz.attempts[0]?.error
        assert.strictEqual(rejected?._tag, "StructuredOutputInvalid")
        const usage = rejected?._tag === "StructuredOutputInvalid" ? rejected.usage : undefined
        assert.isAbove(usage?.completionTokens ?? 0, 0)
        assert.strictEqual(usage?.pricing, "model")
        // both answers, the rejected one too, reach the ledger
        const billed = yield* stats("openai")
        const ledger = yield* UsageLedger.UsageLedger
        yield* ledger.flush
        const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
        const rows = yield* ledger.usageByProvider(day, day)
        assert.deepStrictEqual(rows.map((row) => [row.provider, row.attempts, row.completionTokens]), [
          ["openai", 2, billed.completionTokens]
        ])
      }).pipe(Effect.provide(services(100))))
  }

  it.live("a caller's span transformer still sees a LanguageModel step's structured answers", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai"])
      const seen: Array<string> = []
      yield* manager.generateStructured({ prompt: "One question about Mars" }, Question).pipe(
        Effect.provideService(Telemetry.CurrentSpanTransformer, (options) => {
          seen.push(options.responseFormat.type)
        })
      )
      assert.deepStrictEqual(seen, ["json"])
    }).pipe(Effect.provide(services(100))))

  it.live("a content filter that stops a LanguageModel step's structured answer is ContentFiltered, billed", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      yield* inject("openai", MockFault.contentFilter)
      const error = yield* Effect.flip(manager.generateStructured({ prompt: "One question about Mars" }, Question))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag !== "AllProvidersFailed") return
      assert.deepStrictEqual(attemptsOf(error.attempts), [["openai", "error", "ContentFiltered"]])
      const filtered = error.attempts[0]?.error
      const billed = yield* stats("openai")
      assert.strictEqual(billed.requests, 1)
      assert.strictEqual(filtered?._tag === "ContentFiltered" ? filtered.usage?.promptTokens : 0, billed.promptTokens)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(services(100))))
})

describe("LanguageModelProvider response id", () => {
  let n = 0
  /** A model whose answers carry a `response-metadata` part with the id `ids` gives (`resp_<n>`). */
  const withResponseIds = (ids: () => string = () => `resp_${++n}`): Layer.Layer<LanguageModel.LanguageModel> => {
    const finish: Response.FinishPartEncoded = {
      type: "finish",
      reason: "stop",
      usage: { inputTokens: { total: 3 }, outputTokens: { total: 1 } }
    }
    const metadata = (): Response.ResponseMetadataPartEncoded => ({ type: "response-metadata", id: ids() })
    return Layer.effect(
      LanguageModel.LanguageModel,
      LanguageModel.make({
        generateText: () => Effect.sync(() => [metadata(), { type: "text", text: "Hi" }, finish]),
        streamText: () =>
          Stream.suspend(() =>
            Stream.fromIterable<Response.StreamPartEncoded>([
              metadata(),
              { type: "text-start", id: "0" },
              { type: "text-delta", id: "0", delta: "Hi" },
              { type: "text-end", id: "0" },
              finish
            ])
          )
      })
    )
  }

  it.effect("the model's response-metadata id is the result's and the Finish's responseId", () =>
    Effect.gen(function*() {
      const provider = yield* LanguageModelProvider.make({ name: "openai", model: "gpt-4o-mini" }).pipe(
        Effect.provide(withResponseIds())
      )
      const request = yield* LlmRequest.make({ prompt: "Hello" })
      const result = yield* provider.generate(request)
      const parts = yield* Stream.runCollect(provider.stream(request))
      assert.strictEqual(result.responseId, "resp_1")
      assert.strictEqual(parts.find((part) => part._tag === "Finish")?.responseId, "resp_2")
    }).pipe(Effect.provide(Pricing.layerDefault)))

  it.effect("a response id over 256 characters is dropped, as the adapters drop one (no huge span attribute)", () =>
    Effect.gen(function*() {
      const provider = yield* LanguageModelProvider.make({ name: "openai", model: "gpt-4o-mini" }).pipe(
        Effect.provide(withResponseIds(() => "r".repeat(100_000)))
      )
      const request = yield* LlmRequest.make({ prompt: "Hello" })
      const result = yield* provider.generate(request)
      const parts = yield* Stream.runCollect(provider.stream(request))
      assert.isUndefined(result.responseId)
      assert.isUndefined(parts.find((part) => part._tag === "Finish")?.responseId)
      // and through the manager a user builds over the step
      const manager = yield* LlmManager.make({
        providers: [
          LanguageModelProvider.layer({
            name: "openai",
            model: "gpt-4o-mini",
            languageModel: withResponseIds(() => "r".repeat(100_000))
          })
        ]
      })
      assert.isUndefined((yield* manager.generate({ prompt: "Hello" })).responseId)
      const streamed = yield* Stream.runCollect(manager.stream({ prompt: "Hello" }))
      assert.isUndefined(streamed.find((part) => part._tag === "Finish")?.responseId)
    }).pipe(Effect.provide(Pricing.layerDefault)))
})

describe("LanguageModelProvider options", () => {
  const long = "x".repeat(300)
  const invalid: ReadonlyArray<readonly [{ readonly name: string; readonly model: string }, string, string]> = [
    [{ name: "openai", model: long }, "model", "at most 256 characters"],
    [{ name: "openai", model: "gpt\u00004o-mini" }, "model", "control characters"],
    [{ name: "openai", model: " " }, "model", "not blank"],
    [{ name: "Open AI", model: "gpt-4o-mini" }, "name", "lower-case letters"],
    [{ name: "o".repeat(65), model: "gpt-4o-mini" }, "name", "1-64"]
  ]

  it.effect("a name or model that is no valid id is an LlmConfigError naming the option, before any call", () =>
    Effect.gen(function*() {
      const seen: Array<LanguageModel.ProviderOptions> = []
      for (const [options, option, text] of invalid) {
        const label = `${option}: ${JSON.stringify(options).slice(0, 60)}`
        // as a user builds a chain: the step's layer given to LlmManager
        const built = yield* Effect.flip(
          LlmManager.make({ providers: [LanguageModelProvider.layer({ ...options, languageModel: recording(seen) })] })
        )
        // and the service on its own
        const made = yield* Effect.flip(
          LanguageModelProvider.make(options).pipe(Effect.provide(recording(seen)))
        )
        for (const error of [built, made]) {
          assert.strictEqual(error._tag, "LlmConfigError", label)
          assert.strictEqual(error.variable, option, label)
          assert.include(error.message, option, label)
          assert.include(error.message, text, label)
          assert.notInclude(error.message, long, label)
        }
      }
      assert.strictEqual(seen.length, 0)
    }).pipe(Effect.provide(Pricing.layerDefault)))

  it.effect("the model is trimmed, as the adapters trim theirs; 256 characters is a model like any other", () =>
    Effect.gen(function*() {
      const padded = yield* LanguageModelProvider.make({ name: "openai", model: " gpt-4o-mini\n" }).pipe(
        Effect.provide(recording([]))
      )
      assert.strictEqual(padded.model, "gpt-4o-mini")
      const longest = yield* LanguageModelProvider.make({ name: "openai", model: "m".repeat(256) }).pipe(
        Effect.provide(recording([]))
      )
      assert.strictEqual(longest.model, "m".repeat(256))
    }).pipe(Effect.provide(Pricing.layerDefault)))
})

describe("LanguageModelProvider requested model", () => {
  const wireModels = Effect.map(
    Effect.flatMap(MockProviderServer.MockProviderServer, (server) => server.received("openai")),
    (requests) => requests.map((request) => (request.body as { readonly model?: unknown }).model)
  )

  it.live("a request naming another model is refused by the step before any call (model_not_served): every record says so", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai"])
      const request = { prompt: "Hello", options: { model: "gpt-4.1" } }
      const failures = [
        yield* Effect.flip(manager.generate(request)),
        yield* Effect.flip(Stream.runDrain(manager.stream(request))),
        yield* Effect.flip(manager.generateStructured(request, Question))
      ]
      for (const error of failures) {
        assert.strictEqual(error._tag, "AllProvidersFailed")
        const [attempt] = error._tag === "AllProvidersFailed" ? error.attempts : []
        assert.strictEqual(attempt?.model, "gpt-4.1")
        const refused = attempt?.error
        assert.strictEqual(refused?._tag, "InvalidRequest")
        if (refused?._tag === "InvalidRequest") {
          assert.strictEqual(refused.param, "model")
          assert.strictEqual(refused.code, ProviderError.modelNotServed)
          assert.include(refused.message, "gpt-4o-mini")
        }
      }
      // the model the step would have called was never called, so nothing was priced as another model
      assert.deepStrictEqual(yield* wireModels, [])
      const log = yield* RequestLog.RequestLogMemory
      assert.deepStrictEqual((yield* log.records).map((row) => [row.model, row.errorTag, row.costNanoUsd]), [
        ["gpt-4.1", "InvalidRequest", 0],
        ["gpt-4.1", "InvalidRequest", 0],
        ["gpt-4.1", "InvalidRequest", 0]
      ])
    }).pipe(Effect.provide(Layer.merge(services(100), RequestLog.layerMemory()))))

  it.live("the refusal falls back: the next step serves the model asked for", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai", "anthropic"])
      const result = yield* manager.generate({ prompt: "Hello", options: { model: "claude-haiku-4-5" } })
      assert.strictEqual(result.provider, "anthropic")
      assert.deepStrictEqual(attemptsOf(result.attempts), [
        ["openai", "error", "InvalidRequest"],
        ["anthropic", "success", undefined]
      ])
      assert.deepStrictEqual(yield* wireModels, [])
    }).pipe(Effect.provide(services(100))))

  it.live("the refusal is no answer from the provider: beside Baton's adapter of the same name, its circuit still opens", () =>
    Effect.gen(function*() {
      const llm = yield* LlmManager.LlmManager
      yield* inject("openai", MockFault.status(503), { times: 2 })
      const request = { prompt: "Hello", options: { model: "gpt-4.1" } }
      for (let i = 0; i < 2; i++) {
        const error = yield* Effect.flip(llm.generate(request))
        assert.deepStrictEqual(error._tag === "AllProvidersFailed" ? attemptsOf(error.attempts) : error._tag, [
          ["openai", "error", "InvalidRequest"],
          ["openai", "error", "ProviderUnavailable"]
        ])
      }
      // two failures of gpt-4.1 on the wire open its circuit (threshold 2): the refusals between them count for nothing
      const state = yield* llm.circuitState(ProviderName.make("openai"), ModelId.make("gpt-4.1"))
      assert.strictEqual(state._tag, "Open")
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(
      Effect.provide(
        manager(["effect-ai", "openai"], { circuitFailureThreshold: 2 }).pipe(
          Layer.provideMerge(services(100))
        )
      )
    ))

  it.live("a request naming the step's own model is served: the log row names the model on the wire", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai"])
      const result = yield* manager.generate({ prompt: "Hello", options: { model: "gpt-4o-mini" } })
      assert.strictEqual(result.attempts[0]?.model, "gpt-4o-mini")
      assert.deepStrictEqual(yield* wireModels, ["gpt-4o-mini"])
      const log = yield* RequestLog.RequestLogMemory
      assert.deepStrictEqual((yield* log.records).map((row) => row.model), ["gpt-4o-mini"])
    }).pipe(Effect.provide(Layer.merge(services(100), RequestLog.layerMemory()))))
})

describe("LanguageModelProvider usage", () => {
  /** A model whose finish reports the usage's parts and no totals (as a provider that sends only its parts does). */
  const finish: Response.FinishPartEncoded = {
    type: "finish",
    reason: "stop",
    usage: { inputTokens: { uncached: 70, cacheRead: 20, cacheWrite: 10 }, outputTokens: { text: 30, reasoning: 12 } }
  }
  const partsOnly: Layer.Layer<LanguageModel.LanguageModel> = Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: () => Effect.succeed([{ type: "text", text: "Hi" }, finish]),
      streamText: () =>
        Stream.fromIterable<Response.StreamPartEncoded>([
          { type: "text-start", id: "0" },
          { type: "text-delta", id: "0", delta: "Hi" },
          { type: "text-end", id: "0" },
          finish
        ])
    })
  )

  it.effect("a usage without totals is billed the sum of its parts: cached and reasoning tokens within them", () =>
    Effect.gen(function*() {
      const manager = yield* LlmManager.make({
        providers: [LanguageModelProvider.layer({ name: "openai", model: "gpt-4o-mini", languageModel: partsOnly })]
      })
      const streamed = yield* Stream.runCollect(manager.stream({ prompt: "Hello" }))
      const finished = streamed.find((part) => part._tag === "Finish")
      for (const usage of [(yield* manager.generate({ prompt: "Hello" })).usage, finished?.usage]) {
        assert.deepStrictEqual(
          [usage?.promptTokens, usage?.cachedPromptTokens, usage?.completionTokens, usage?.reasoningTokens],
          [100, 20, 42, 12]
        )
        assert.isAbove(usage?.costNanoUsd ?? 0, 0)
      }
    }).pipe(Effect.provide(Pricing.layerDefault)))
})

describe("LanguageModelProvider usage not reported", () => {
  const prompt = "Write one quiz question about comets."

  /** The request log's records and the ledger's rows, as `[usageReported, usageEstimated, tokens]` and totals. */
  const accounts = Effect.gen(function*() {
    const log = yield* RequestLog.RequestLogMemory
    const ledger = yield* UsageLedger.UsageLedger
    yield* ledger.flush
    const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
    return {
      records: (yield* log.records).map((row) => [row.usageReported, row.usageEstimated, row.totalTokens]),
      rows: (yield* ledger.usageByProvider(day, day)).map((row) => [row.provider, row.attempts, row.totalTokens])
    }
  })

  it.live("a step whose server reports no usage is billed the estimate of what came, flagged, logged and in the ledger", () =>
    Effect.gen(function*() {
      // default `generate` (a stream underneath), plain `generate`, and a stream: each path bills the estimate
      const streamed = yield* managerOf(["effect-ai"])
      const plain = yield* managerOf(["effect-ai"], { policy: { generateVia: "generate" } })
      yield* inject("openai", MockFault.noUsage, { times: 3 })
      const parts = yield* Stream.runCollect(streamed.stream({ prompt }))
      const finish = parts.at(-1)
      const usages = [
        (yield* streamed.generate({ prompt })).usage,
        (yield* plain.generate({ prompt })).usage,
        finish?._tag === "Finish" ? finish.usage : undefined
      ]
      const billed = yield* stats("openai")
      assert.isAbove(billed.promptTokens + billed.completionTokens, 0)
      const answer = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      const guess = TokenUsage.estimate([prompt], answer)
      assert.isAbove(guess.completionTokens, 0)
      for (const usage of usages) {
        assert.deepStrictEqual(
          [usage?.promptTokens, usage?.completionTokens, usage?.estimated, usage?.pricing],
          [guess.promptTokens, guess.completionTokens, true, "model"]
        )
        assert.isAbove(usage?.costNanoUsd ?? 0, 0)
      }
      const total = guess.promptTokens + guess.completionTokens
      assert.deepStrictEqual(yield* accounts, {
        records: [[false, true, total], [false, true, total], [false, true, total]],
        rows: [["openai", 3, 3 * total]]
      })
    }).pipe(Effect.provide(Layer.merge(services(100), RequestLog.layerMemory()))))

  it.effect("a finish reporting one side only: the other is the estimate, flagged", () =>
    Effect.gen(function*() {
      const answer = "Comets are icy bodies."
      const oneSided: Layer.Layer<LanguageModel.LanguageModel> = Layer.effect(
        LanguageModel.LanguageModel,
        LanguageModel.make({
          generateText: () =>
            Effect.succeed<Array<Response.PartEncoded>>([
              { type: "text", text: answer },
              { type: "finish", reason: "stop", usage: { inputTokens: { total: 40 }, outputTokens: {} } }
            ]),
          streamText: () => Stream.die("not streamed")
        })
      )
      const manager = yield* LlmManager.make({
        providers: [LanguageModelProvider.layer({ name: "openai", model: "gpt-4o-mini", languageModel: oneSided })],
        policy: FallbackPolicy.make({ generateVia: "generate" })
      })
      const usage = (yield* manager.generate({ prompt })).usage
      assert.deepStrictEqual(
        [usage.promptTokens, usage.completionTokens, usage.estimated],
        [40, TokenUsage.estimate([], answer).completionTokens, true]
      )
    }).pipe(Effect.provide(Layer.mergeAll(Pricing.layerDefault, RequestLog.layerMemory(), UsageLedger.layerMemory()))))

  it.live("a step whose stream fails after text is billed the estimate of what came: the error's usage, log, ledger", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai"], { languageModel: brokenAfterText({ count: 0 }) })
      const error = yield* Effect.flip(manager.generate({ prompt }))
      assert.strictEqual(error._tag, "AllProvidersFailed")
      const guess = TokenUsage.estimate([prompt], "Hello ")
      const usage = error._tag === "AllProvidersFailed" ? error.usage : undefined
      assert.deepStrictEqual(
        [usage?.promptTokens, usage?.completionTokens, usage?.estimated],
        [guess.promptTokens, guess.completionTokens, true]
      )
      assert.isAbove(usage?.costNanoUsd ?? 0, 0)
      const total = guess.promptTokens + guess.completionTokens
      assert.deepStrictEqual(yield* accounts, { records: [[false, true, total]], rows: [["openai", 1, total]] })

      // on its own, the step's stream is interrupted, billed the same estimate
      const provider = yield* LanguageModelProvider.make({ name: "openai", model: "gpt-4o-mini" }).pipe(
        Effect.provide(brokenAfterText({ count: 0 }))
      )
      const interrupted = yield* Effect.flip(Stream.runDrain(provider.stream(yield* LlmRequest.make({ prompt }))))
      assert.deepStrictEqual(
        interrupted._tag === "StreamInterrupted" ? [interrupted.usage?.totalTokens, interrupted.usage?.estimated] : [],
        [total, true]
      )
    }).pipe(Effect.provide(Layer.merge(services(100), RequestLog.layerMemory()))))

  it.live("a step's stream the caller stops after text is billed the estimate of what came", () =>
    Effect.gen(function*() {
      // "Hello ", then nothing: the caller stops at the text, before any usage
      const stalled = Layer.effect(
        LanguageModel.LanguageModel,
        LanguageModel.make({
          generateText: () => Effect.never,
          streamText: () =>
            Stream.concat(
              Stream.make<ReadonlyArray<Response.StreamPartEncoded>>(
                { type: "text-start", id: "0" },
                { type: "text-delta", id: "0", delta: "Hello " }
              ),
              Stream.never
            )
        })
      )
      const manager = yield* managerOf(["effect-ai"], { languageModel: stalled })
      const parts = yield* Stream.runCollect(Stream.take(manager.stream({ prompt }), 1))
      assert.deepStrictEqual(parts.map((part) => part._tag), ["TextDelta"])
      const guess = TokenUsage.estimate([prompt], "Hello ")
      const log = yield* RequestLog.RequestLogMemory
      assert.deepStrictEqual(
        (yield* log.records).map((row) => [row.outcome, row.usageEstimated, row.promptTokens, row.completionTokens]),
        [["cancelled", true, guess.promptTokens, guess.completionTokens]]
      )
    }).pipe(Effect.provide(Layer.merge(services(100), RequestLog.layerMemory()))))
})

describe("LanguageModelProvider structured answers nested too deep to decode", () => {
  interface Tree {
    readonly children: ReadonlyArray<Tree>
  }
  const Tree = Schema.Struct({ children: Schema.Array(Schema.suspend((): Schema.Codec<Tree> => Tree)) })
  /** A tree nested `levels` levels of arrays and objects, the root object the first (`levels` even). */
  const tree = (levels: number) => "{\"children\":[".repeat(levels / 2) + "]}".repeat(levels / 2)
  const request = { prompt: "Draw a tree.", options: { maxTokens: 100_000 } }

  // effect/ai's generateObject decodes the answer with its own codec, recursing a level at a time, before Baton's
  for (const levels of [2_000, 20_000]) {
    it.live(`${levels} levels are an answer that does not match the schema, not a defect`, () =>
      Effect.gen(function*() {
        const manager = yield* managerOf(["effect-ai"], { policy: { structuredOutputRetries: 0 } })
        yield* inject("openai", MockFault.content(tree(levels)))
        const error = yield* Effect.flip(manager.generateStructured(request, Tree))
        const attempt = error._tag === "AllProvidersFailed" ? error.attempts[0]?.error : error
        assert.deepStrictEqual(
          attempt?._tag === "StructuredOutputInvalid" ? attempt.issue : attempt,
          `the answer nests more than ${StructuredOutput.maxAnswerDepth} levels of arrays and objects`
        )
      }).pipe(Effect.provide(services(100))))
  }

  it.live("any other defect once the answer is in stays a defect", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai"], { policy: { structuredOutputRetries: 0 } })
      yield* inject("openai", MockFault.content(tree(4)))
      const error = yield* Effect.flip(manager.generateStructured(request, Tree)).pipe(
        Effect.provideService(Telemetry.CurrentSpanTransformer, () => {
          throw new RangeError("a caller's span transformer broke")
        })
      )
      const attempt = error._tag === "AllProvidersFailed" ? error.attempts[0]?.error : error
      assert.strictEqual(attempt?._tag, "Defect")
    }).pipe(Effect.provide(services(100))))

  it.live("an answer nested just at the bound decodes", () =>
    Effect.gen(function*() {
      const manager = yield* managerOf(["effect-ai"], { policy: { structuredOutputRetries: 0 } })
      yield* inject("openai", MockFault.content(tree(StructuredOutput.maxAnswerDepth)))
      const result = yield* manager.generateStructured(request, Tree)
      assert.strictEqual(JSON.stringify(result.value), tree(StructuredOutput.maxAnswerDepth))
    }).pipe(Effect.provide(services(100))))
})
