/**
 * Structured answers a model ended early or wrapped, through
 * `LlmManager.generateStructured` over real adapters and the mock server: an
 * answer cut at `maxTokens` is not re-asked with the same limit, says so and
 * is logged with its finish reason; a fenced answer in OpenAI's strict mode
 * has its optional `null`s dropped as a bare one does.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as LlmError from "../src/LlmError.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { Bench, inject, manager, stats } from "./utils/chain.ts"

const Services = Layer.merge(RequestLog.layerMemory(), UsageLedger.layerMemory())
const Question = Schema.Struct({ question: Schema.String, hint: Schema.optionalKey(Schema.String) })
const prompt = "Write one quiz question about comets."
const records = Effect.flatMap(RequestLog.RequestLogMemory, (log) => log.records)
const long = JSON.stringify({ question: "Which comet returns every seventy-six years or so, seen last in 1986?" })

describe("LlmManager.generateStructured: answers cut or wrapped", () => {
  it.live("an answer cut at maxTokens is not re-asked, says so, is logged as length and falls back", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.content(long))
      yield* inject("anthropic", MockFault.content(long))
      const failure = yield* Effect.flip(llm.generateStructured({ prompt, options: { maxTokens: 5 } }, Question))
      assert.strictEqual((yield* stats("openai")).requests, 1, "no re-ask with the same maxTokens")
      assert.strictEqual((yield* stats("anthropic")).requests, 1, "the next provider was tried")
      assert.strictEqual(failure._tag, "AllProvidersFailed")
      const errors = failure._tag === "AllProvidersFailed" ? failure.attempts.map((a) => a.error) : []
      for (const error of errors) {
        assert.strictEqual(error?._tag, "StructuredOutputInvalid")
        if (error?._tag === "StructuredOutputInvalid") {
          assert.strictEqual(error.truncated, true)
          assert.include(error.message, "raise maxTokens")
          assert.isFalse(LlmError.isRetryable(error), "the same request would cut it again")
        }
      }
      const logged = yield* records
      assert.deepStrictEqual(logged.map((r) => [r.errorTag, r.finishReason]), [
        ["StructuredOutputInvalid", "length"],
        ["StructuredOutputInvalid", "length"]
      ])
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  it.live("an answer that fits but does not match is still re-asked", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      yield* inject("openai", MockFault.content(`{"question":7}`))
      const result = yield* llm.generateStructured({ prompt }, Question)
      assert.isString(result.value.question)
      assert.strictEqual((yield* stats("openai")).requests, 2)
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  // V8 quotes the answer's start, or the text around a token it stumbles on past the first characters
  for (
    const prose of [
      "Comets! Write one quiz question about comets? Sure.",
      `{"question": "Which comet?", "hint": Comets! Write one quiz question about comets}`
    ]
  ) {
    it.live(`not JSON (${prose.slice(0, 12)}...): the logged error does not quote the answer, which may echo the prompt`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["anthropic"] })
        yield* inject("anthropic", MockFault.content(prose), { times: 2 })
        const failure = yield* Effect.flip(llm.generateStructured({ prompt }, Question))
        assert.strictEqual(failure._tag, "AllProvidersFailed")
        const logged = yield* records
        assert.strictEqual(logged.length, 2)
        for (const record of logged) {
          assert.include(record.errorMessage, "Unexpected token 'C'")
          assert.notInclude(record.errorMessage, "comet")
          assert.notInclude(record.errorMessage, "Comets")
        }
      }).pipe(Effect.provide(Bench), Effect.provide(Services)))
  }

  for (const [open, close] of [["```JSON", "```"], ["~~~json", "~~~"], ["````", "````"]]) {
    it.live(`an answer in a ${open} fence decodes on the first answer`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["anthropic"] })
        yield* inject("anthropic", MockFault.content(`${open}\n${long}\n${close}`))
        const result = yield* llm.generateStructured({ prompt }, Question)
        assert.include(result.value.question, "seventy-six")
        assert.strictEqual((yield* stats("anthropic")).requests, 1)
      }).pipe(Effect.provide(Bench), Effect.provide(Services)))
  }

  for (const fence of ["```json", "```JSON", "```"]) {
    it.live(`OpenAI strict mode drops an optional null inside a ${fence} fence, as in a bare answer`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["openai"], policy: { structuredOutputRetries: 0 } })
        yield* inject("openai", MockFault.content(`${fence}\n{"question":"q","hint":null}\n\`\`\``))
        const result = yield* llm.generateStructured({ prompt }, Question)
        assert.deepStrictEqual(result.value, { question: "q" })
      }).pipe(Effect.provide(Bench), Effect.provide(Services)))
  }
})
