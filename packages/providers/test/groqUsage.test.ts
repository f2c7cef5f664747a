/**
 * Groq's OpenAI-compatible stream reports its usage in the final chunk's
 * `x_groq.usage` rather than in `usage`: the counts are read from there when
 * `usage` is absent (plain or streamed), so the call is billed what the
 * server counted, not an estimate; a `usage` beside it wins. Through
 * `LlmManager`, over real HTTP from a server that sends exactly the given
 * reply.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as RequestLog from "@baton/core/RequestLog"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

const apiKey = Redacted.make("gsk-test-key")

const chunk = (content: string) => ({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })
const groqUsage = { queue_time: 0.01, prompt_tokens: 12, prompt_time: 0.002, completion_tokens: 3, total_tokens: 15 }
const xGroq = { id: "req_01", usage: groqUsage }

/** Groq's stream: text, then the finish reason with the usage in `x_groq`, then the terminator. */
const events = [chunk("Mar"), chunk("s."), {
  choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
  x_groq: xGroq
}, "[DONE]"]
const body = { choices: [{ index: 0, message: { role: "assistant", content: "Mars." }, finish_reason: "stop" }] }

const generate = (reply: RawServer.Reply, via: "stream" | "generate") =>
  Effect.gen(function*() {
    const server = yield* RawServer.start(reply)
    const llm = yield* LlmManager.make({
      providers: [OpenAiCompatible.layer({ name: "groq", baseUrl: server.url, model: "llama-3.1-8b-instant", apiKey })],
      policy: FallbackPolicy.make({ maxRetries: 0, generateVia: via }),
      generationEnabled: true
    })
    const result = yield* llm.generate({ prompt: "Name one planet." })
    assert.strictEqual(result.content, "Mars.")
    const records = yield* (yield* RequestLog.RequestLogMemory).records
    return { usage: result.usage, reported: records.map((r) => r.usageReported) }
  })

describe("Groq: usage in x_groq.usage", () => {
  for (const via of ["stream", "generate"] as const) {
    const how = via === "stream" ? "streamed" : "plain"

    it.live(`${how}: without usage, x_groq.usage is the usage, not an estimate`, () =>
      Effect.gen(function*() {
        const { reported, usage } = yield* generate({ body: { ...body, x_groq: xGroq }, events }, via)
        assert.deepStrictEqual([usage.promptTokens, usage.completionTokens, usage.totalTokens], [12, 3, 15])
        assert.isUndefined(usage.estimated)
        assert.deepStrictEqual(reported, [true])
      }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory())), Effect.scoped))

    it.live(`${how}: a usage beside x_groq.usage wins`, () =>
      Effect.gen(function*() {
        const usage = { prompt_tokens: 20, completion_tokens: 4, total_tokens: 24 }
        const last = events[2] as object
        const reply = {
          body: { ...body, usage, x_groq: xGroq },
          events: [events[0], events[1], { ...last, usage }, "[DONE]"]
        }
        const result = yield* generate(reply, via)
        assert.deepStrictEqual([result.usage.promptTokens, result.usage.completionTokens], [20, 4])
      }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory())), Effect.scoped))
  }
})
