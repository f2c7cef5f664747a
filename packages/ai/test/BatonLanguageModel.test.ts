import { SubjectId } from "@baton/core/Ids"
import { QuotaStoreUnavailable } from "@baton/core/LlmError"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as LiveWait from "@baton/testing/LiveWait"
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Fiber, Option, Schema, SchemaTransformation, Stream, Tracer } from "effect"
import { AiError, LanguageModel, type Prompt, Response } from "effect/ai"
import { TestClock } from "effect/testing"
import * as BatonLanguageModel from "../src/BatonLanguageModel.ts"
import { bodies, inject, received, stack, stats } from "./stack.ts"

const Question = Schema.Struct({
  question: Schema.String,
  choices: Schema.Array(Schema.String),
  answer: Schema.Int
})

/** An effect/ai program, written against `LanguageModel` only. */
const program = Effect.gen(function*() {
  const text = yield* LanguageModel.generateText({ prompt: "Say hello to the class" })
  const quiz = yield* LanguageModel.generateObject({
    prompt: "One multiple-choice question about Mars",
    schema: Question,
    objectName: "quiz"
  })
  const streamed = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "Tell a short story about Mars" }))
  return { text, quiz, streamed }
})

const subject = "teacher-ai-1"

/** Baton's account in a finish part's metadata. */
const Account = Schema.Struct({
  provider: Schema.String,
  costNanoUsd: Schema.Int,
  attempts: Schema.Array(
    Schema.Struct({ provider: Schema.String, outcome: Schema.String, error: Schema.NullOr(Schema.String) })
  )
})

/** A tracer that keeps every span it starts. */
const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

const batonOf = (part: { readonly metadata: Response.ProviderMetadata } | undefined) =>
  Schema.decodeUnknownSync(Account)(part?.metadata.baton)

const finishOf = (parts: ReadonlyArray<Response.AnyPart>) => parts.find((part) => part.type === "finish")

/** What an `AiError` says its request was billed, in its reason's `metadata.baton`. */
const Billed = Schema.Struct({
  tag: Schema.String,
  usage: Response.Usage,
  costNanoUsd: Schema.Int,
  estimatedCostUsd: Schema.Finite,
  pricing: Schema.String
})

const Tagged = Schema.Struct({ tag: Schema.String })

/** The Baton error an `AiError` stands for, from its reason's `metadata.baton`. */
const batonTag = (error: AiError.AiError) =>
  "metadata" in error.reason ? Schema.decodeUnknownSync(Tagged)(error.reason.metadata.baton).tag : undefined

const billedOf = (error: AiError.AiError) =>
  Schema.decodeUnknownSync(Billed)("metadata" in error.reason ? error.reason.metadata.baton : undefined)

describe("BatonLanguageModel", () => {
  it.live("an effect/ai program runs over Baton: fallback, quota spent, ledger rows written", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.status(503), { times: 100 })
      const { quiz, streamed, text } = yield* program.pipe(
        BatonLanguageModel.withConfigOverride({ subjectId: subject })
      )

      assert.include(text.text, "Mock answer from anthropic")
      assert.strictEqual(text.finishReason, "stop")
      assert.isAbove(text.usage.inputTokens.total ?? 0, 0)
      assert.isAbove(text.usage.outputTokens.total ?? 0, 0)
      const account = batonOf(finishOf(text.content))
      assert.strictEqual(account.provider, "anthropic")
      assert.deepStrictEqual(account.attempts.map((a) => [a.provider, a.outcome, a.error]), [
        ["openai", "error", "ProviderUnavailable"],
        ["anthropic", "success", null]
      ])
      assert.isAbove(account.costNanoUsd, 0)
      const metadata = text.content.find((part) => part.type === "response-metadata")
      assert.strictEqual(metadata?.modelId, "claude-haiku-4-5")

      assert.isTrue(Schema.is(Question)(quiz.value))
      assert.strictEqual(batonOf(finishOf(quiz.content)).provider, "anthropic")

      const types = streamed.map((part) => part.type)
      assert.deepStrictEqual(types.slice(0, 1), ["text-start"])
      assert.deepStrictEqual(types.slice(-3), ["text-end", "response-metadata", "finish"])
      const deltas = streamed.flatMap((part) => part.type === "text-delta" ? [part.delta] : [])
      assert.include(deltas.join(""), "Mock answer from anthropic")
      const streamFinish = streamed.find((part) => part.type === "finish")
      assert.strictEqual(streamFinish?.reason, "stop")
      assert.isAbove(streamFinish?.usage.outputTokens.total ?? 0, 0)

      assert.strictEqual((yield* stats("openai")).requests, 3)
      assert.strictEqual((yield* stats("anthropic")).requests, 3)

      const quota = yield* QuotaLimiter.QuotaLimiter
      const status = yield* quota.remaining(SubjectId.make(subject))
      assert.strictEqual(status.used, 3)

      const ledger = yield* UsageLedger.UsageLedger
      yield* ledger.flush
      const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const rows = yield* ledger.usageBySubject(day)
      const mine = rows.find((row) => row.subjectId === subject)
      assert.strictEqual(mine?.requests, 3)
      const billed = (yield* stats("anthropic")).completionTokens
      assert.strictEqual(mine?.completionTokens, billed)
      const byProvider = yield* ledger.usageByProvider(day, day)
      assert.deepStrictEqual(byProvider.map((row) => row.provider), ["anthropic"])
    }).pipe(Effect.provide(stack({ chain: ["openai", "anthropic"] }))))

  it.live("a spent daily quota is an AiError QuotaExhaustedError, not retryable, with no provider call", () =>
    Effect.gen(function*() {
      const call = LanguageModel.generateText({ prompt: "Hello" }).pipe(
        BatonLanguageModel.withConfigOverride({ subjectId: "teacher-ai-2" })
      )
      yield* call
      yield* call
      const error = yield* Effect.flip(call)
      assert.isTrue(AiError.isAiError(error))
      assert.strictEqual(error.reason._tag, "QuotaExhaustedError")
      assert.isFalse(error.isRetryable)
      assert.strictEqual((yield* stats("openai")).requests, 2)
      const other = yield* LanguageModel.generateText({ prompt: "Hello" }).pipe(
        BatonLanguageModel.withConfigOverride({ subjectId: "teacher-ai-3" })
      )
      assert.include(other.text, "Mock answer from openai")
    }).pipe(Effect.provide(stack({ chain: ["openai"], dailyLimit: 2 }))))

  it.live("Config's units spend the daily quota and meet the per-request maximum; its requestId is the request's", () =>
    Effect.gen(function*() {
      const quiz = (units: number) =>
        LanguageModel.generateText({ prompt: "Three questions about Mars" }).pipe(
          BatonLanguageModel.withConfigOverride({ tags: { feature: "quiz" } }),
          BatonLanguageModel.withConfigOverride({ subjectId: "teacher-ai-units", units })
        )
      const first = yield* quiz(20).pipe(BatonLanguageModel.withConfigOverride({ requestId: "quiz-7" }))
      const metadata = first.content.find((part) => part.type === "response-metadata")
      assert.strictEqual(metadata?.id, "quiz-7")
      const quota = yield* QuotaLimiter.QuotaLimiter
      assert.strictEqual((yield* quota.remaining(SubjectId.make("teacher-ai-units"))).used, 20)
      const spent = yield* Effect.flip(quiz(11))
      assert.strictEqual(spent.reason._tag, "QuotaExhaustedError")
      const tooMany = yield* Effect.flip(quiz(21))
      assert.strictEqual(tooMany.reason._tag, "InvalidRequestError")
      assert.include(tooMany.reason._tag === "InvalidRequestError" ? tooMany.reason.description : "", "at most 20")
      const invalid = yield* Effect.flip(quiz(0))
      assert.strictEqual(invalid.reason._tag, "InvalidRequestError")
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(stack({ chain: ["openai"], dailyLimit: 30 }))))

  it.live("a part Baton cannot send is an InvalidUserInputError naming it and its message, with no provider call", () =>
    Effect.gen(function*() {
      const descriptionOf = (prompt: Prompt.RawInput) =>
        Effect.map(
          Effect.flip(LanguageModel.generateText({ prompt })),
          ({ reason }) => reason._tag === "InvalidUserInputError" ? reason.description : reason._tag
        )
      const result = { type: "tool-result", id: "call-1", name: "Enrol", isFailure: false, result: "done" } as const
      assert.strictEqual(
        yield* descriptionOf([{ role: "assistant", content: [result] }]),
        "Baton cannot send a tool-result part in an assistant message to a provider"
      )
      assert.strictEqual(
        yield* descriptionOf([{ role: "user", content: [{ type: "file", mediaType: "text/plain", data: "aGk=" }] }]),
        "Baton cannot send a file part in a user message to a provider"
      )
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))

  it.live("generateObject keeps Baton's re-ask: an answer that does not match is asked again", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.content("{\"question\": 42}"))
      const quiz = yield* LanguageModel.generateObject({ prompt: "One question about Mars", schema: Question })
      assert.isTrue(Schema.is(Question)(quiz.value))
      assert.strictEqual((yield* stats("openai")).requests, 2)
      assert.deepStrictEqual(batonOf(finishOf(quiz.content)).attempts.map((a) => [a.outcome, a.error]), [
        ["error", "StructuredOutputInvalid"],
        ["success", null]
      ])
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))

  it.live("a rescued stream's finish, and a generated text's, names every source of its text and says it was rescued", () =>
    Effect.gen(function*() {
      const Spliced = Schema.Struct({
        provider: Schema.String,
        sources: Schema.Array(Schema.Struct({ provider: Schema.String, model: Schema.String })),
        rescued: Schema.Boolean
      })
      const finished = (parts: ReadonlyArray<Response.AnyPart>) =>
        Schema.decodeUnknownSync(Spliced)(finishOf(parts)?.metadata.baton)
      yield* inject("deepseek", MockFault.cutStreamAfter(3))
      const rescued = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "A long answer about Mars" }))
      assert.deepStrictEqual(finished(rescued), {
        provider: "openai",
        sources: [{ provider: "deepseek", model: "deepseek-flash" }, { provider: "openai", model: "gpt-4o-mini" }],
        rescued: true
      })
      const whole = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "A long answer about Mars" }))
      assert.deepStrictEqual(finished(whole), {
        provider: "deepseek",
        sources: [{ provider: "deepseek", model: "deepseek-flash" }],
        rescued: false
      })
      yield* inject("deepseek", MockFault.cutStreamAfter(3))
      // `generate` restarts a broken answer on a provider that takes no prefill: the new answer's source only
      const generated = yield* LanguageModel.generateText({ prompt: "A long answer about Mars" })
      assert.deepStrictEqual(finished(generated.content), {
        provider: "openai",
        sources: [{ provider: "openai", model: "gpt-4o-mini" }],
        rescued: true
      })
      const unbroken = yield* LanguageModel.generateText({ prompt: "A long answer about Mars" })
      assert.deepStrictEqual(finished(unbroken.content), finished(whole))
    }).pipe(Effect.provide(stack({ chain: ["deepseek", "openai"] }))))

  it.live("a user message's text parts are sent one a line (as effect/ai's OpenAI-compatible provider sends them), an assistant's as one text with nothing between", () =>
    Effect.gen(function*() {
      yield* LanguageModel.generateText({
        prompt: [
          { role: "user", content: [{ type: "text", text: "Say hello" }] },
          { role: "assistant", content: [{ type: "text", text: "Hello, " }, { type: "text", text: "class" }] },
          {
            role: "user",
            content: [{ type: "text", text: "Translate to French:" }, { type: "text", text: "good morning" }]
          }
        ]
      })
      const Body = Schema.Struct({
        messages: Schema.Array(Schema.Struct({ role: Schema.String, content: Schema.String }))
      })
      const [body] = yield* bodies("openai")
      assert.deepStrictEqual(Schema.decodeUnknownSync(Body)(body).messages, [
        { role: "user", content: "Say hello" },
        { role: "assistant", content: "Hello, class" },
        { role: "user", content: "Translate to French:\ngood morning" }
      ])
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))

  it.live("generateObject sends each call's objectName, one schema under two names", () =>
    Effect.gen(function*() {
      const Answer = Schema.Struct({ answer: Schema.String })
      for (const objectName of ["first_name", "second_name", "first_name"]) {
        yield* LanguageModel.generateObject({ prompt: "One word", schema: Answer, objectName })
      }
      const Body = Schema.Struct({
        response_format: Schema.Struct({ json_schema: Schema.Struct({ name: Schema.String }) })
      })
      const names = (yield* bodies("openai")).map((body) =>
        Schema.decodeUnknownSync(Body)(body).response_format.json_schema.name
      )
      assert.deepStrictEqual(names, ["first_name", "second_name", "first_name"])
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))

  it.live("generateObject re-asks an answer its schema's own checks reject, beyond what JSON Schema says", () =>
    Effect.gen(function*() {
      // a filter JSON Schema cannot express: the answer must index one of the choices
      const Quiz = Question.check(
        Schema.makeFilter((quiz: typeof Question.Type) =>
          quiz.answer < quiz.choices.length || "answer must be the index of one of the choices"
        )
      )
      yield* inject(
        "openai",
        MockFault.content("{\"question\": \"Which?\", \"choices\": [\"a\", \"b\"], \"answer\": 5}")
      )
      const quiz = yield* LanguageModel.generateObject({ prompt: "One question about Mars", schema: Quiz })
      assert.isTrue(Schema.is(Quiz)(quiz.value))
      assert.strictEqual((yield* stats("openai")).requests, 2)
      assert.deepStrictEqual(batonOf(finishOf(quiz.content)).attempts.map((a) => [a.outcome, a.error]), [
        ["error", "StructuredOutputInvalid"],
        ["success", null]
      ])
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))

  it.live("generateObject with a schema whose decode waits: the answer decoded by generateObject, no defect", () =>
    Effect.gen(function*() {
      // a question whose text is read back after a wait (a decode Baton cannot run synchronously)
      const Slow = Schema.Struct({
        question: Schema.String.pipe(Schema.decodeTo(
          Schema.String,
          SchemaTransformation.transformEffect({
            decode: (text) => Effect.as(Effect.sleep("1 millis"), text.toUpperCase()),
            encode: (text) => Effect.succeed(text)
          })
        ))
      })
      yield* inject("openai", MockFault.content("{\"question\": \"which planet?\"}"))
      const quiz = yield* LanguageModel.generateObject({ prompt: "One question about Mars", schema: Slow })
      assert.strictEqual(quiz.value.question, "WHICH PLANET?")
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))

  const failures: ReadonlyArray<readonly [string, MockFault.MockFault, string, boolean]> = [
    ["503", MockFault.status(503), "InternalProviderError", true],
    ["429", MockFault.rateLimited(), "RateLimitError", true],
    // the server said not to retry (x-should-retry: false): Baton does not, and neither should the caller at once
    ["429 not to be retried", MockFault.status(429, { shouldRetry: "false" }), "QuotaExhaustedError", false],
    ["503 not to be retried", MockFault.status(503, { shouldRetry: "false" }), "UnknownError", false],
    ["401", MockFault.status(401), "AuthenticationError", false],
    ["a spent account", MockFault.quotaExhausted, "QuotaExhaustedError", false],
    ["a content filter", MockFault.contentFilter, "ContentPolicyError", false],
    ["context length", MockFault.contextLengthExceeded, "InvalidRequestError", false],
    ["a reset connection", MockFault.resetBeforeHeaders, "NetworkError", true],
    ["an HTML page", MockFault.notJson, "InvalidOutputError", true]
  ]
  for (const [name, fault, reason, retryable] of failures) {
    it.live(`a chain failing with ${name} is an AiError ${reason}, isRetryable ${retryable}`, () =>
      Effect.gen(function*() {
        yield* inject("openai", fault, { times: 10 })
        const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
        assert.strictEqual(error.reason._tag, reason)
        assert.strictEqual(error.isRetryable, retryable)
        assert.strictEqual(error.module, "BatonLanguageModel")
      }).pipe(Effect.provide(stack({ chain: ["openai"] }))))
  }

  it.live("a chain a provider rate-limited is retryable after its retryAfter, though the next refused the request on its route", () =>
    Effect.gen(function*() {
      // the gateway answers it 503 (ErrorPolicy.allFailed): the 400 is this route's, and openai may answer in 7 s
      yield* inject("openai", MockFault.rateLimited({ retryAfter: "7" }), { times: 10 })
      yield* inject("anthropic", MockFault.status(400), { times: 10 })
      const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
      assert.deepStrictEqual(
        [
          error.reason._tag,
          error.isRetryable,
          error.retryAfter === undefined ? undefined : Duration.toMillis(error.retryAfter)
        ],
        ["RateLimitError", true, 7000]
      )
    }).pipe(Effect.provide(stack({ chain: ["openai", "anthropic"] }))))

  it.live("a request every provider refused as invalid is an InvalidRequestError, not retryable", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.status(400), { times: 10 })
      yield* inject("anthropic", MockFault.status(400), { times: 10 })
      const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["InvalidRequestError", false])
    }).pipe(Effect.provide(stack({ chain: ["openai", "anthropic"] }))))

  describe("a chain whose effect/ai step refuses the model asked for (model_not_served, nothing sent)", () => {
    /** `generateText` naming gpt-4.1, which the effect/ai step (of gpt-4o-mini) refuses before any call. */
    const askGpt41 = Effect.flip(
      LanguageModel.generateText({ prompt: "Hello" }).pipe(
        BatonLanguageModel.withConfigOverride({ options: { model: "gpt-4.1" } })
      )
    )

    it.live("then the next provider skipped by its open circuit: retryable after the circuit's wait, as HTTP's 503", () =>
      Effect.gen(function*() {
        // anthropic's 503 opens its circuit for gpt-4.1 (threshold 1, a minute); the step's refusal counts for nothing
        yield* inject("anthropic", MockFault.status(503))
        yield* askGpt41
        const error = yield* askGpt41
        assert.strictEqual((yield* stats("anthropic")).requests, 1)
        assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["RateLimitError", true])
        const wait = error.retryAfter === undefined ? 0 : Duration.toMillis(error.retryAfter)
        assert.isTrue(wait > 0 && wait <= 60_000, `retryAfter ${wait} ms`)
      }).pipe(Effect.provide(stack({ chain: ["effect-ai", "anthropic"], circuitFailureThreshold: 1 }))))

    it.live("then refused by the next provider's content filter: that refusal's ContentPolicyError, as HTTP's 400", () =>
      Effect.gen(function*() {
        yield* inject("anthropic", MockFault.contentFilter)
        const error = yield* askGpt41
        assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["ContentPolicyError", false])
        assert.strictEqual(batonTag(error), "ContentFiltered")
      }).pipe(Effect.provide(stack({ chain: ["effect-ai", "anthropic"] }))))
  })

  it.live("a request one provider refused on its route, the next skipped by its open circuit, is retryable, as HTTP's 503", () =>
    Effect.gen(function*() {
      // the first request opens anthropic's circuit (threshold 1, a minute); openai's 400 is no failure of openai's
      yield* inject("openai", MockFault.status(400), { times: 2 })
      yield* inject("anthropic", MockFault.status(503))
      yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
      const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
      assert.deepStrictEqual([(yield* stats("openai")).requests, (yield* stats("anthropic")).requests], [2, 1])
      // no Retry-After over HTTP either: openai refused it, so when it may be served is not known
      assert.deepStrictEqual([error.reason._tag, error.isRetryable, error.retryAfter], [
        "RateLimitError",
        true,
        undefined
      ])
    }).pipe(Effect.provide(stack({ chain: ["openai", "anthropic"], circuitFailureThreshold: 1 }))))

  it.live("a request refused too long by one provider, then by another's content filter, is the first refusal's, as HTTP's 400", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.contextLengthExceeded)
      yield* inject("anthropic", MockFault.contentFilter)
      const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["InvalidRequestError", false])
      assert.strictEqual(batonTag(error), "ContextLengthExceeded")
    }).pipe(Effect.provide(stack({ chain: ["openai", "anthropic"], policy: { fallbackOnContentFilter: true } }))))

  it.live("a NetworkError names no URL Baton does not have (not the provider's name); its description names the provider", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.resetBeforeHeaders, { times: 10 })
      const { reason } = yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
      assert.strictEqual(reason._tag, "NetworkError")
      if (reason._tag === "NetworkError") {
        assert.deepStrictEqual([reason.method, reason.url], ["POST", ""])
        assert.match(reason.description ?? "", /^openai /)
      }
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))

  it.live("streamText refuses rescue: restart from Config, naming the option, before any call", () =>
    Effect.gen(function*() {
      // a restart would show the caller the broken answer's text, then the whole new answer after it
      yield* inject("openai", MockFault.cutStreamAfter(2))
      const error = yield* Effect.flip(
        Stream.runDrain(LanguageModel.streamText({ prompt: "Tell a story" })).pipe(
          BatonLanguageModel.withConfigOverride({ options: { rescue: "restart" } })
        )
      )
      assert.strictEqual(error.reason._tag, "InvalidRequestError")
      assert.strictEqual(error.reason._tag === "InvalidRequestError" ? error.reason.parameter : undefined, "rescue")
      assert.include(error.message, "rescue")
      assert.strictEqual((yield* stats("openai")).requests, 0)
      assert.strictEqual((yield* stats("anthropic")).requests, 0)
    }).pipe(Effect.provide(stack({ chain: ["openai", "anthropic"] }))))

  it.live("a stream the provider cut after its answer began is an InternalProviderError, retryable, not a NetworkError", () =>
    Effect.gen(function*() {
      // a NetworkError is a failure before any response; the gateway answers this one 502
      yield* inject("openai", MockFault.cutStreamAfter(2))
      const error = yield* Effect.flip(Stream.runDrain(LanguageModel.streamText({ prompt: "Tell a story" })))
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["InternalProviderError", true])
      assert.deepInclude("metadata" in error.reason ? error.reason.metadata.baton : undefined, {
        tag: "StreamInterrupted",
        provider: "openai"
      })
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))

  it.live("a model's refusal in its own words rides on the ContentPolicyError's metadata.baton", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.refusal("I can't help with that"), { times: 10 })
      const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
      assert.strictEqual(error.reason._tag, "ContentPolicyError")
      const baton = "metadata" in error.reason ? error.reason.metadata.baton : undefined
      assert.deepInclude(baton, { tag: "ContentFiltered", provider: "openai", refusal: "I can't help with that" })
      assert.notInclude(error.message, "I can't help")
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))

  for (const step of ["openai", "effect-ai"] as const) {
    it.live(`the usage an interrupted @baton/ai stream keeps: a content filter after text (${step} step)`, () =>
      Effect.gen(function*() {
        // the answer's first two words, then `finish_reason: "content_filter"` with the usage of what was sent
        yield* inject("openai", MockFault.contentFilterAfter(2))
        const parts: Array<Response.AnyPart> = []
        const error = yield* Effect.flip(Stream.runForEach(
          LanguageModel.streamText({ prompt: "Tell a story" }),
          (part) => Effect.sync(() => parts.push(part))
        ))
        const shown = parts.flatMap((part) => part.type === "text-delta" ? [part.delta] : []).join("")
        assert.strictEqual(shown, "Mock answer")
        // a failed stream never ends with a finish part: what the caller was billed rides on the error
        assert.isUndefined(parts.find((part) => part.type === "finish"))
        assert.isTrue(AiError.isAiError(error))
        assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["ContentPolicyError", false])
        const billed = yield* stats("openai")
        assert.isAbove(billed.completionTokens, 0)
        const account = billedOf(error)
        assert.strictEqual(account.tag, "ContentFiltered")
        assert.strictEqual(account.usage.inputTokens.total, billed.promptTokens)
        assert.strictEqual(account.usage.outputTokens.total, billed.completionTokens)
        assert.strictEqual(account.pricing, "model")
        assert.isAbove(account.costNanoUsd, 0)
        // the same usage and cost as the ledger's
        const ledger = yield* UsageLedger.UsageLedger
        yield* ledger.flush
        const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
        const rows = yield* ledger.usageByProvider(day, day)
        assert.deepStrictEqual(rows.map((row) => [row.provider, row.completionTokens, row.costNanoUsd]), [
          ["openai", billed.completionTokens, account.costNanoUsd]
        ])
      }).pipe(Effect.provide(stack({ chain: [step] }))))
  }

  it.live("a failed chain ending on a refused connection still tells what the request was billed", () =>
    Effect.gen(function*() {
      // a billed reply that is no answer (its input tokens reported first), then a connection reset
      yield* inject("anthropic", MockFault.illTyped)
      yield* inject("openai", MockFault.resetBeforeHeaders)
      const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "Tell a story" }))
      const billed = yield* stats("anthropic")
      assert.isAbove(billed.promptTokens, 0)
      const account = billedOf(error)
      assert.strictEqual(account.tag, "ProviderConnectionFailed")
      assert.strictEqual(account.usage.inputTokens.total, billed.promptTokens)
      assert.isTrue(error.isRetryable)
    }).pipe(Effect.provide(stack({ chain: ["anthropic", "openai"] }))))

  it.live("GenAI spans come from Baton once: the LanguageModel span carries no gen_ai attributes", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* inject("openai", MockFault.status(503))
      yield* LanguageModel.generateText({ prompt: "Hello" }).pipe(Effect.withTracer(tracer))
      const genAiKeys = (span: Tracer.NativeSpan) =>
        [...span.attributes.keys()].filter((key) => key.startsWith("gen_ai."))
      const outer = spans.find((span) => span.name === "LanguageModel.generateText")
      // effect/ai's own output type only; operation, provider, model and usage come from Baton's spans
      assert.deepStrictEqual(outer === undefined ? undefined : genAiKeys(outer), ["gen_ai.output.type"])
      const operations = spans.filter((span) => span.attributes.has("gen_ai.operation.name"))
      // the request span is Baton's own: the provider calls are the GenAI operations
      assert.deepStrictEqual(operations.map((span) => span.name), [
        "chat gpt-4o-mini",
        "chat claude-haiku-4-5"
      ])
      assert.strictEqual(spans.filter((span) => span.attributes.has("gen_ai.usage.output_tokens")).length, 1)
    }).pipe(Effect.provide(stack({ chain: ["openai", "anthropic"] }))))

  it.live("Baton's request span is a child of effect/ai's span: generateText, generateObject and streamText", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      yield* program.pipe(Effect.withSpan("handler"), Effect.withTracer(tracer))
      const parentOf = (span: Tracer.NativeSpan) =>
        Option.match(span.parent, { onNone: () => "(root)", onSome: (parent) => "name" in parent ? parent.name : "" })
      assert.deepStrictEqual(spans.filter((span) => span.name === "baton.request").map(parentOf), [
        "LanguageModel.generateText",
        "LanguageModel.generateObject",
        "LanguageModel.streamText"
      ])
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))
})

describe("BatonLanguageModel: a structured answer cut at maxTokens", () => {
  it.live("generateObject: not re-asked, not retryable, and its message says to raise maxTokens", () =>
    Effect.gen(function*() {
      const long = JSON.stringify({ question: "Which comet returns every seventy-six years or so, seen last in 1986?" })
      yield* inject("openai", MockFault.content(long), { times: 10 })
      const error = yield* Effect.flip(
        LanguageModel.generateObject({ prompt: "One question", schema: Schema.Struct({ question: Schema.String }) })
          .pipe(
            BatonLanguageModel.withConfigOverride({ options: { maxTokens: 5 } })
          )
      )
      assert.strictEqual((yield* stats("openai")).requests, 1, "not re-asked")
      assert.deepStrictEqual(
        { reason: error.reason._tag, isRetryable: error.isRetryable, hint: error.message.includes("maxTokens") },
        { reason: "InvalidResponseError", isRetryable: false, hint: true },
        error.message
      )
    }).pipe(Effect.provide(stack({ chain: ["openai"] }))))
})

describe("BatonLanguageModel: a request that could not be served tells when to try again", () => {
  it.effect("a request past its deadline is an InternalProviderError, retryable", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.noResponse, { times: 10 })
      const fiber = yield* Effect.forkChild(Effect.flip(LanguageModel.generateText({ prompt: "Hello" })))
      yield* received("openai", 1)
      yield* TestClock.adjust(200)
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["InternalProviderError", true])
      assert.strictEqual(batonTag(error), "DeadlineExceeded")
    }).pipe(Effect.provide(stack({ chain: ["openai"], policy: { requestTimeoutMs: 200 } }))))

  it.effect("a stream its deadline ended after its first text is an InternalProviderError, retryable, with what it billed", () =>
    Effect.gen(function*() {
      // the answer's first two words, then silence: the request's deadline (not the idle limit) ends it
      yield* inject("openai", MockFault.stallMidStream("forever", { after: 2 }))
      const parts: Array<Response.AnyPart> = []
      const fiber = yield* Effect.forkChild(Effect.flip(Stream.runForEach(
        LanguageModel.streamText({ prompt: "Tell a story" }),
        (part) => Effect.sync(() => parts.push(part))
      )))
      const shown = () => parts.flatMap((part) => part.type === "text-delta" ? [part.delta] : []).join("")
      yield* LiveWait.eventually(Effect.sync(() => shown() === "Mock answer"))
      yield* TestClock.adjust(1_000)
      const error = yield* Fiber.join(fiber)
      // a timeout, as the same deadline before any text (DeadlineExceeded): a new request may get an answer in time
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["InternalProviderError", true])
      const account = billedOf(error)
      assert.strictEqual(account.tag, "StreamInterrupted")
      assert.isAbove(account.usage.outputTokens.total ?? 0, 0)
      assert.isAbove(account.costNanoUsd, 0)
      assert.include(error.message, "deadline")
    }).pipe(Effect.provide(stack({
      chain: ["openai"],
      policy: { requestTimeoutMs: 1_000, limits: { idleMs: 15_000 } }
    }))))

  it.live("a quota store that cannot answer is an InternalProviderError, retryable, with no provider call", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        LanguageModel.generateText({ prompt: "Hello" }).pipe(
          BatonLanguageModel.withConfigOverride({ subjectId: "teacher-ai-store" })
        )
      )
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["InternalProviderError", true])
      assert.strictEqual(batonTag(error), "QuotaStoreUnavailable")
      assert.strictEqual((yield* stats("openai")).requests, 0)
    }).pipe(Effect.provide(stack({
      chain: ["openai"],
      quota: { overrides: () => Effect.fail(new QuotaStoreUnavailable({ message: "quota store refused" })) }
    }))))

  it.effect("every attempt timed out: a NetworkError, retryable", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.noResponse, { times: 10 })
      yield* inject("anthropic", MockFault.noResponse, { times: 10 })
      const fiber = yield* Effect.forkChild(Effect.flip(LanguageModel.generateText({ prompt: "Hello" })))
      yield* received("openai", 1)
      yield* TestClock.adjust(100)
      yield* received("anthropic", 1)
      yield* TestClock.adjust(100)
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["NetworkError", true])
    }).pipe(Effect.provide(stack({ chain: ["openai", "anthropic"], policy: { limits: { attemptMs: 100 } } }))))

  it.effect("one provider timed out, the next throttled by its local budget: a RateLimitError with the refill time", () =>
    Effect.gen(function*() {
      // the first request falls back to anthropic, spending its one request a minute (the clock stands still: no
      // limit can cut it, however slow the machine)
      yield* inject("openai", MockFault.status(503))
      yield* LanguageModel.generateText({ prompt: "Hello" })
      yield* inject("openai", MockFault.noResponse, { times: 10 })
      const fiber = yield* Effect.forkChild(Effect.flip(LanguageModel.generateText({ prompt: "Hello" })))
      // openai has the second request: its 100 ms attempt limit runs out, and only then
      yield* received("openai", 2)
      yield* TestClock.adjust(100)
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["RateLimitError", true])
      // the budget refills a minute after the first request, 100 ms ago
      assert.strictEqual(Duration.toMillis(error.retryAfter ?? Duration.zero), 59_900)
      assert.strictEqual((yield* stats("anthropic")).requests, 1)
    }).pipe(Effect.provide(stack({
      chain: ["openai", "anthropic"],
      policy: { limits: { attemptMs: 100 } },
      throttle: { anthropic: { requestsPerMinute: 1 } }
    }))))

  it.live("every circuit open: a RateLimitError whose retryAfter is when the first circuit half-opens", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.status(503), { times: 10 })
      yield* inject("anthropic", MockFault.status(503), { times: 10 })
      yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
      const error = yield* Effect.flip(Stream.runDrain(LanguageModel.streamText({ prompt: "Hello" })))
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["RateLimitError", true])
      const wait = Duration.toMillis(error.retryAfter ?? Duration.zero)
      // the 60 s cooldown of the circuit opened first, less the moments since
      assert.isTrue(wait > 50_000 && wait <= 60_000, `retryAfter ${wait} ms`)
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(stack({ chain: ["openai", "anthropic"], circuitFailureThreshold: 1 }))))

  it.live("every provider throttled by its local budget: a RateLimitError whose retryAfter is the refill time", () =>
    Effect.gen(function*() {
      yield* LanguageModel.generateText({ prompt: "Hello" })
      const error = yield* Effect.flip(Stream.runDrain(LanguageModel.streamText({ prompt: "Hello" })))
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["RateLimitError", true])
      const wait = Duration.toMillis(error.retryAfter ?? Duration.zero)
      // one request a minute: the next one refills a minute after the first, less the moments since
      assert.isTrue(wait > 50_000 && wait <= 60_000, `retryAfter ${wait} ms`)
      assert.strictEqual((yield* stats("openai")).requests, 1)
    }).pipe(Effect.provide(stack({ chain: ["openai"], throttle: { openai: { requestsPerMinute: 1 } } }))))

  it.live("one circuit open, the other provider throttled: a RateLimitError whose retryAfter is the earliest wait", () =>
    Effect.gen(function*() {
      yield* inject("openai", MockFault.status(503), { times: 10 })
      yield* LanguageModel.generateText({ prompt: "Hello" })
      const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "Hello" }))
      assert.deepStrictEqual([error.reason._tag, error.isRetryable], ["RateLimitError", true])
      const wait = Duration.toMillis(error.retryAfter ?? Duration.zero)
      // the circuit's 60 s cooldown and the budget's minute both began with the first request
      assert.isTrue(wait > 50_000 && wait <= 60_000, `retryAfter ${wait} ms`)
      assert.deepStrictEqual([(yield* stats("openai")).requests, (yield* stats("anthropic")).requests], [1, 1])
    }).pipe(Effect.provide(stack({
      chain: ["openai", "anthropic"],
      circuitFailureThreshold: 1,
      throttle: { anthropic: { requestsPerMinute: 1 } }
    }))))
})
