/**
 * The conformance suite every provider layer passes, over real HTTP against
 * the mock provider server. `conformance(subject)` registers the same tests
 * for one provider: generation, system prompts, options, structured output,
 * streaming usage against the server's billed stats, every error mapping,
 * timeouts, and a canary key that must never leak.
 */
import type { StreamPart } from "@baton/core/GenerationResult"
import type { LlmConfigError } from "@baton/core/LlmError"
import * as LlmError from "@baton/core/LlmError"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import type { ProviderError } from "@baton/core/ProviderError"
import * as LeakCheck from "@baton/testing/LeakCheck"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, layer } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Layer, Redacted, Schema, Stream } from "effect"
import type { HttpClient } from "effect/http"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"

/** The key every conformance layer is built with; it must appear nowhere but in the header. */
export const canaryKey = "sk-canary-XYZ-7f3a"

/** A provider under test. */
export interface Subject {
  /** The name the provider reports. */
  readonly name: string
  /** The mock server wire format it speaks. */
  readonly mock: MockProviderServer.MockProvider
  /** Whether the default price table has a row for it. */
  readonly priced: boolean
  /**
   * Whether its finish is its end marker (Gemini: the last chunk carries `finishReason`), so that a stream
   * without it never had its whole answer; false: a stream closed after its finish (and its usage, where the
   * end marker is required) is that answer, the end marker alone missing.
   */
  readonly finishIsTerminator: boolean
  /** Its layer pointed at a base URL, with the canary key. */
  readonly layer: (
    baseUrl: string,
    apiKey: Redacted.Redacted
  ) => Layer.Layer<LlmProvider.LlmProvider, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing>
}

const Quiz = Schema.Struct({
  question: Schema.String,
  choices: Schema.Array(Schema.String),
  answer: Schema.Int,
  hint: Schema.optionalKey(Schema.String)
})

const quizJson = JSON.stringify({ question: "2+2?", choices: ["3", "4"], answer: 1 })

const rawSchema = {
  type: "object",
  properties: { city: { type: "string" }, population: { type: "integer" } },
  required: ["city", "population"],
  additionalProperties: false
}

const request = (input: LlmRequest.Input) => LlmRequest.make(input)

const collect = (stream: Stream.Stream<StreamPart, ProviderError>) =>
  Effect.gen(function*() {
    const parts: Array<StreamPart> = []
    const exit = yield* Stream.runForEach(stream, (part) => Effect.sync(() => parts.push(part))).pipe(Effect.exit)
    const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
    const finishes = parts.filter((part) => part._tag === "Finish")
    return { parts, exit, text, finishes }
  })

const failureOf = <A>(exit: Exit.Exit<A, ProviderError>): ProviderError => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") return assert.fail(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return error.value
}

/**
 * Registers the conformance tests of one provider.
 */
export const conformance = (subject: Subject): void => {
  const { mock } = subject
  const ProviderLive = Layer.unwrap(
    MockProviderServer.MockProviderServer.useSync((server) =>
      subject.layer(server.baseUrl(mock), Redacted.make(canaryKey))
    )
  )
  const TestLive = ProviderLive.pipe(
    Layer.provideMerge(Layer.mergeAll(MockProviderServer.layer(), ProviderHttpClient.layer, Pricing.layerDefault))
  )

  const setup = Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    yield* server.reset
    return { server, provider: yield* LlmProvider.LlmProvider }
  })

  /** Generates once with a fault injected, returning the error. */
  const generateError = (fault: MockFault.MockFault, input: LlmRequest.Input = { prompt: "Hello there" }) =>
    Effect.gen(function*() {
      const { provider, server } = yield* setup
      yield* server.inject(mock, fault)
      return yield* Effect.flip(provider.generate(yield* request(input)))
    })

  /** Streams once with a fault injected. */
  const streamWith = (fault: MockFault.MockFault, input: LlmRequest.Input = { prompt: "Hello there, stream please" }) =>
    Effect.gen(function*() {
      const { provider, server } = yield* setup
      yield* server.inject(mock, fault)
      return yield* collect(provider.stream(yield* request(input)))
    })

  /** The invariant of a broken stream: interrupted with exactly the text delivered, or an early error. */
  const assertBroken = (
    result: {
      readonly exit: Exit.Exit<void, ProviderError>
      readonly text: string
      readonly finishes: ReadonlyArray<StreamPart>
    },
    early: ReadonlyArray<ProviderError["_tag"]>
  ) => {
    const error = failureOf(result.exit)
    assert.strictEqual(result.finishes.length, 0, "a broken stream has no Finish")
    if (result.text.length > 0) {
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag === "StreamInterrupted") assert.strictEqual(error.partialText, result.text)
    } else {
      assert.include(early, error._tag)
    }
    return error
  }

  describe(`${subject.name} conformance`, () => {
    layer(TestLive, { excludeTestServices: true })((it) => {
      it.effect("generates text with priced usage equal to what the server billed", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          const req = yield* request({ prompt: "Name one planet" })
          const result = yield* provider.generate(req)
          const stats = yield* server.stats(mock)
          assert.include(result.content, `Mock answer from ${mock}: Name one planet`)
          assert.strictEqual(result.finishReason, "stop")
          assert.strictEqual(result.provider, subject.name)
          assert.strictEqual(result.model, provider.model)
          assert.strictEqual(result.requestId, req.requestId)
          assert.strictEqual(result.usage.promptTokens, stats.promptTokens)
          assert.strictEqual(result.usage.completionTokens, stats.completionTokens)
          assert.strictEqual(result.usage.totalTokens, stats.promptTokens + stats.completionTokens)
          assert.deepStrictEqual(result.attempts.map((a) => a.outcome), ["success"])
          const expected = Pricing.make(Pricing.defaultTable).usage(result.provider, result.model, result.usage)
          assert.strictEqual(result.usage.costNanoUsd, expected.costNanoUsd)
        }))

      it.effect("sends the system prompt", () =>
        Effect.gen(function*() {
          const { provider } = yield* setup
          const plain = yield* provider.generate(yield* request({ prompt: "Name one planet" }))
          const system = "You are a careful astronomy teacher who answers in one short sentence. ".repeat(4)
          const withSystem = yield* provider.generate(
            yield* request({ prompt: "Name one planet", options: { system } })
          )
          assert.isAbove(withSystem.usage.promptTokens, plain.usage.promptTokens + system.length / 8)
          assert.strictEqual(withSystem.content, plain.content)
        }))

      it.effect("passes options through: maxTokens cuts the answer, model is used", () =>
        Effect.gen(function*() {
          const { provider } = yield* setup
          const cut = yield* provider.generate(
            yield* request({ prompt: "Tell me a long story about the sea and the stars", options: { maxTokens: 3 } })
          )
          assert.strictEqual(cut.finishReason, "length")
          assert.isAtMost(cut.usage.completionTokens, 3)
          const other = yield* provider.generate(yield* request({ prompt: "Hi", options: { model: "other-model-1" } }))
          assert.strictEqual(other.model, "other-model-1")
          assert.strictEqual(other.usage.pricing, subject.priced ? "provider-default" : "unpriced")
        }))

      it.effect("maps cached and reasoning tokens, in generate and stream", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          yield* server.setUsage(mock, { cachedPromptTokens: 2, reasoningTokens: 5 })
          const req = yield* request({ prompt: "A question that is long enough to cache some tokens" })
          const result = yield* provider.generate(req)
          const afterGenerate = yield* server.stats(mock)
          assert.strictEqual(result.usage.cachedPromptTokens, 2)
          // the 5 set, plus the reasoning of a model that thinks (DeepSeek's default model)
          assert.isAtLeast(result.usage.reasoningTokens, 5)
          assert.strictEqual(result.usage.reasoningTokens, afterGenerate.reasoningTokens)
          assert.strictEqual(result.usage.promptTokens, afterGenerate.promptTokens)
          assert.strictEqual(result.usage.completionTokens, afterGenerate.completionTokens)
          const streamed = yield* collect(provider.stream(req))
          const finish = streamed.finishes[0]
          assert.isTrue(Exit.isSuccess(streamed.exit))
          if (finish?._tag !== "Finish") return assert.fail("no Finish")
          assert.strictEqual(finish.usage.cachedPromptTokens, 2)
          const afterStream = yield* server.stats(mock)
          assert.strictEqual(finish.usage.reasoningTokens, result.usage.reasoningTokens)
          assert.strictEqual(finish.usage.reasoningTokens, afterStream.reasoningTokens - afterGenerate.reasoningTokens)
          assert.strictEqual(
            finish.usage.completionTokens,
            afterStream.completionTokens - afterGenerate.completionTokens
          )
        }))

      it.effect("decodes structured output into a Schema type", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          if (provider.capabilities.structuredOutput === "json-mode") {
            yield* server.inject(mock, MockFault.content(quizJson))
          }
          const result = yield* provider.generateStructured(yield* request({ prompt: "One quiz question" }), Quiz)
          assert.isString(result.value.question)
          assert.isTrue(Array.isArray(result.value.choices))
          assert.isTrue(Number.isInteger(result.value.answer))
          assert.isAbove(result.usage.completionTokens, 0)
        }))

      it.effect("decodes structured output with a raw JSON Schema", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          if (provider.capabilities.structuredOutput === "json-mode") {
            yield* server.inject(mock, MockFault.content(JSON.stringify({ city: "Oslo", population: 700000 })))
          }
          const result = yield* provider.generateStructured(yield* request({ prompt: "A city" }), rawSchema)
          assert.deepStrictEqual(Object.keys(result.value as object).sort(), ["city", "population"])
        }))

      it.effect("structured output refuses tools the model may call, sending nothing", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          const tools = [{ name: "get_time", parameters: { type: "object", properties: {} } }]
          const error = yield* Effect.flip(provider.generateStructured(yield* request({ prompt: "Quiz", tools }), Quiz))
          assert.strictEqual(error._tag, "InvalidOptions")
          assert.strictEqual(error._tag === "InvalidOptions" ? error.field : undefined, "tools")
          assert.strictEqual((yield* server.stats(mock)).requests, 0)
        }))

      it.effect("an answer that does not decode is StructuredOutputInvalid with issue and content", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          yield* server.inject(mock, MockFault.content(`{"question": 42}`))
          const error = yield* Effect.flip(provider.generateStructured(yield* request({ prompt: "Quiz" }), Quiz))
          assert.strictEqual(error._tag, "StructuredOutputInvalid")
          if (error._tag !== "StructuredOutputInvalid") return
          assert.strictEqual(error.content, `{"question": 42}`)
          assert.include(error.issue, "question")
          assert.isTrue(LlmError.isRetryable(error))
          const billed = yield* server.stats(mock)
          assert.strictEqual(error.usage?.promptTokens, billed.promptTokens, "the billed answer keeps its usage")
          assert.strictEqual(error.usage?.completionTokens, billed.completionTokens)
        }))

      it.effect("a blank structured answer is a retryable MalformedResponse", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          yield* server.inject(mock, MockFault.content("   "))
          const error = yield* Effect.flip(provider.generateStructured(yield* request({ prompt: "Quiz" }), Quiz))
          assert.strictEqual(error._tag, "MalformedResponse")
          if (error._tag === "MalformedResponse") assert.isTrue(LlmError.isRetryable(error))
        }))

      it.effect("streams deltas then one Finish whose usage equals the server's billed stats", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          const req = yield* request({ prompt: "Stream a short answer about rivers" })
          const result = yield* collect(provider.stream(req))
          assert.isTrue(Exit.isSuccess(result.exit))
          assert.include(result.text, `Mock answer from ${mock}: Stream a short answer about rivers`)
          assert.isAbove(result.parts.length, 2)
          assert.strictEqual(result.finishes.length, 1)
          assert.strictEqual(result.parts.at(-1)?._tag, "Finish")
          const finish = result.finishes[0]
          if (finish?._tag !== "Finish") return assert.fail("no Finish")
          const stats = yield* server.stats(mock)
          assert.strictEqual(finish.finishReason, "stop")
          assert.strictEqual(finish.provider, subject.name)
          assert.strictEqual(finish.usage.promptTokens, stats.promptTokens)
          assert.strictEqual(finish.usage.completionTokens, stats.completionTokens)
          assert.strictEqual(finish.usage.costNanoUsd > 0, subject.priced)
        }))

      it.effect("a stream cut by maxTokens finishes with length", () =>
        Effect.gen(function*() {
          const { provider } = yield* setup
          const result = yield* collect(provider.stream(
            yield* request({
              prompt: "Tell me a long story about the sea and the stars",
              options: { maxTokens: 3 }
            })
          ))
          const finish = result.finishes[0]
          assert.strictEqual(finish?._tag === "Finish" ? finish.finishReason : undefined, "length")
        }))

      it.effect("assistant prefill follows the capability", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          const input: LlmRequest.Input = {
            prompt: [{ role: "user", content: "Count to three" }, { role: "assistant", content: "One, two," }]
          }
          if (provider.capabilities.assistantPrefill) {
            const result = yield* provider.generate(yield* request(input))
            assert.isAbove(result.content.length, 0)
          } else {
            yield* server.inject(mock, MockFault.rejectPrefill)
            const error = yield* Effect.flip(provider.generate(yield* request(input)))
            assert.strictEqual(error._tag, "InvalidRequest")
          }
        }))

      it.effect("429 is ProviderRateLimited with the server's retryAfter", () =>
        Effect.gen(function*() {
          const error = yield* generateError(MockFault.status(429, { retryAfter: "7" }))
          assert.strictEqual(error._tag, "ProviderRateLimited")
          if (error._tag !== "ProviderRateLimited") return
          assert.strictEqual(error.retryAfter === undefined ? undefined : Duration.toMillis(error.retryAfter), 7000)
          assert.isTrue(LlmError.isRetryable(error))
          const plain = yield* generateError(MockFault.rateLimited())
          assert.strictEqual(plain._tag, "ProviderRateLimited")
        }))

      it.effect("the provider's out-of-money error is ProviderQuotaExhausted, not retryable", () =>
        Effect.gen(function*() {
          const error = yield* generateError(MockFault.quotaExhausted)
          assert.strictEqual(error._tag, "ProviderQuotaExhausted")
          assert.isFalse(LlmError.isRetryable(error))
          assert.isTrue(LlmError.shouldFallback(error))
        }))

      it.effect("401 and 403 are ProviderAuthenticationFailed", () =>
        Effect.gen(function*() {
          for (const status of [401, 403]) {
            const error = yield* generateError(MockFault.status(status))
            assert.strictEqual(error._tag, "ProviderAuthenticationFailed")
            if (error._tag === "ProviderAuthenticationFailed") assert.strictEqual(error.status, status)
          }
        }))

      it.effect("400, 404 and 422 are InvalidRequest", () =>
        Effect.gen(function*() {
          for (const status of [400, 404, 422]) {
            const error = yield* generateError(MockFault.status(status))
            assert.strictEqual(error._tag, "InvalidRequest")
            if (error._tag === "InvalidRequest") assert.strictEqual(error.status, status)
            assert.isFalse(LlmError.isRetryable(error))
          }
        }))

      it.effect("a prompt too long is ContextLengthExceeded", () =>
        Effect.gen(function*() {
          const error = yield* generateError(MockFault.contextLengthExceeded)
          assert.strictEqual(error._tag, "ContextLengthExceeded")
        }))

      it.effect("408, 500, 503 and 529 are ProviderUnavailable", () =>
        Effect.gen(function*() {
          for (const status of [408, 500, 503, 529]) {
            const error = yield* generateError(MockFault.status(status))
            assert.strictEqual(error._tag, "ProviderUnavailable")
            if (error._tag === "ProviderUnavailable") assert.strictEqual(error.status, status)
            assert.isTrue(LlmError.isRetryable(error))
          }
        }))

      it.effect("a safety block is ContentFiltered, in generate and stream", () =>
        Effect.gen(function*() {
          const error = yield* generateError(MockFault.contentFilter)
          assert.strictEqual(error._tag, "ContentFiltered")
          const streamed = yield* streamWith(MockFault.contentFilter)
          assertBroken(streamed, ["ContentFiltered"])
        }))

      it.effect("a connection reset before the headers is ProviderConnectionFailed", () =>
        Effect.gen(function*() {
          const error = yield* generateError(MockFault.resetBeforeHeaders)
          assert.strictEqual(error._tag, "ProviderConnectionFailed")
          const streamed = yield* streamWith(MockFault.resetBeforeHeaders)
          assert.strictEqual(failureOf(streamed.exit)._tag, "ProviderConnectionFailed")
        }))

      it.effect("a refused connection is ProviderConnectionFailed", () =>
        Effect.gen(function*() {
          const refused = LlmProvider.generate({ prompt: "Hi" }).pipe(
            Effect.provide(subject.layer("http://127.0.0.1:1", Redacted.make(canaryKey)))
          )
          const error = yield* Effect.flip(refused)
          assert.strictEqual(error._tag, "ProviderConnectionFailed")
          assert.include(error.message, "ECONNREFUSED")
        }))

      it.effect("a body that is not JSON, or JSON of the wrong shape, is MalformedResponse", () =>
        Effect.gen(function*() {
          const notJson = yield* generateError(MockFault.notJson)
          assert.strictEqual(notJson._tag, "MalformedResponse")
          const wrongShape = yield* generateError(MockFault.wrongShape)
          assert.strictEqual(wrongShape._tag, "MalformedResponse")
          const truncated = yield* generateError(MockFault.malformedEvent)
          assert.strictEqual(truncated._tag, "MalformedResponse")
          const streamedWrong = yield* streamWith(MockFault.wrongShape)
          assertBroken(streamedWrong, ["MalformedResponse"])
          const streamedHtml = yield* streamWith(MockFault.notJson)
          assertBroken(streamedHtml, ["MalformedResponse"])
        }))

      it.effect("a cut stream fails with the text delivered so far", () =>
        Effect.gen(function*() {
          const result = yield* streamWith(MockFault.cutStream)
          assertBroken(result, ["ProviderConnectionFailed", "MalformedResponse"])
        }))

      it.effect("a malformed event mid-stream interrupts it", () =>
        Effect.gen(function*() {
          const result = yield* streamWith(MockFault.malformedEvent)
          assertBroken(result, ["MalformedResponse"])
        }))

      it.effect("a stream closed before its end marker is its answer once the whole answer came, else StreamInterrupted", () =>
        Effect.gen(function*() {
          const result = yield* streamWith(MockFault.noTerminator)
          if (!subject.finishIsTerminator) {
            assert.isTrue(Exit.isSuccess(result.exit), "its finish (and usage) came: only the end marker is missing")
            assert.strictEqual(result.finishes.length, 1)
            return
          }
          const error = assertBroken(result, ["MalformedResponse"])
          assert.strictEqual(error._tag, "StreamInterrupted")
        }))

      it.effect("a reply without usage is charged with an estimate, labelled as one", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          yield* server.inject(mock, MockFault.noUsage)
          const result = yield* provider.generate(yield* request({ prompt: "Hi" }))
          assert.isTrue(result.usage.estimated)
          assert.strictEqual(result.usage.completionTokens, Math.ceil(result.content.length / 4))
          assert.isAbove(result.content.length, 0)
        }))

      it.effect("timeouts: a silent server is ProviderTimeout for the attempt; a slow stream for first-byte or first-token", () =>
        Effect.gen(function*() {
          const options = { timeout: 250 }
          const silent = yield* generateError(MockFault.noResponse, { prompt: "Hi", options })
          assert.strictEqual(silent._tag, "ProviderTimeout")
          if (silent._tag === "ProviderTimeout") {
            assert.strictEqual(silent.phase, "attempt")
            assert.strictEqual(silent.timeoutMs, 250)
          }
          const cancelled = yield* Effect.gen(function*() {
            const server = yield* MockProviderServer.MockProviderServer
            for (let poll = 0; poll < 50; poll++) {
              const stats = yield* server.stats(mock)
              if (stats.cancelled > 0) return stats.cancelled
              yield* Effect.sleep("10 millis")
            }
            return 0
          })
          assert.strictEqual(cancelled, 1, "the timed-out request was aborted, not left open")
          const slowBody = yield* generateError(MockFault.slowFirstToken(2000), { prompt: "Hi", options })
          assert.strictEqual(slowBody._tag, "ProviderTimeout")
          const noHeaders = yield* streamWith(MockFault.latency(2000), { prompt: "Hi", options })
          const firstByte = failureOf(noHeaders.exit)
          assert.strictEqual(firstByte._tag === "ProviderTimeout" ? firstByte.phase : firstByte._tag, "first-byte")
          const slowToken = yield* streamWith(MockFault.slowFirstToken(2000), { prompt: "Hi", options })
          const firstToken = failureOf(slowToken.exit)
          assert.strictEqual(firstToken._tag === "ProviderTimeout" ? firstToken.phase : firstToken._tag, "first-token")
        }))

      it.effect("a stream that stalls after text is StreamInterrupted at the idle limit", () =>
        Effect.gen(function*() {
          const result = yield* streamWith(MockFault.stallMidStream("forever"), {
            prompt: "Hello there, stream please",
            options: { timeout: 300 }
          })
          assertBroken(result, ["ProviderTimeout"])
        }))

      it.effect("a stream left after its first delta closes the connection", () =>
        Effect.gen(function*() {
          const { provider, server } = yield* setup
          yield* server.inject(mock, MockFault.stallMidStream("forever", { after: 2 }))
          const first = yield* provider.stream(yield* request({ prompt: "Hello there, stream please" })).pipe(
            Stream.take(1),
            Stream.runCollect
          )
          assert.strictEqual(first[0]?._tag, "TextDelta")
          let stats = yield* server.stats(mock)
          for (let poll = 0; poll < 100 && stats.cancelled === 0; poll++) {
            yield* Effect.sleep("10 millis")
            stats = yield* server.stats(mock)
          }
          assert.deepInclude(stats, { requests: 1, completed: 0, cancelled: 1 })
        }))

      it.effect("the API key never appears in errors, logs or span attributes", () =>
        Effect.gen(function*() {
          const check = LeakCheck.make()
          const errors: Array<ProviderError> = []
          const run = Effect.gen(function*() {
            const { provider, server } = yield* setup
            yield* provider.generate(yield* request({ prompt: "Hi" }))
            yield* server.inject(mock, MockFault.status(401, { message: `Incorrect API key provided: ${canaryKey}` }))
            const auth = yield* Effect.flip(provider.generate(yield* request({ prompt: "Hi" })))
            errors.push(auth)
            yield* server.inject(mock, MockFault.cutStream)
            const cut = yield* collect(provider.stream(yield* request({ prompt: "Hi there" })))
            errors.push(failureOf(cut.exit))
            yield* Effect.logError("provider failed", auth)
            yield* Effect.logWarning(cut.exit)
          }).pipe(Effect.withSpan("conformance.canary"), check.capture)
          yield* run
          check.addErrors(errors)
          assert.strictEqual(errors[0]?._tag, "ProviderAuthenticationFailed")
          assert.isAbove(check.counts().lines, 1)
          assert.isAbove(check.counts().spans, 0)
          const seen = check.texts()
          for (const text of seen) assert.notInclude(text, canaryKey)
          assert.notInclude(seen.join("\n"), canaryKey.slice(3))
        }))
    })
  })
}
