/**
 * DeepSeek's `insufficient_system_resource` stop cuts an answer: through
 * `LlmManager`, over the mock server, it is retried and then falls back,
 * plain and streamed, never served as a finished answer, each attempt billed
 * the usage the server reported after the stop; over a server that sends
 * exactly the given events, a stream cut so is read on for that usage until
 * it ends (the error is then the cut's, a dropped connection too) or the
 * request's deadline stops it, billed what was reported. The adapter used
 * alone, over real HTTP from a server that sends exactly the given events,
 * fails a stream cut so at the stop, whatever the server does next (ends,
 * sends more usage, holds the connection open, keeps it alive, drops it):
 * before any text as it fails the plain reply, after text as interrupted,
 * with what the call billed, saying why.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import type { ProviderError } from "@baton/core/ProviderError"
import * as RequestLog from "@baton/core/RequestLog"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench, runDriven } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"

const apiKey = Redacted.make("sk-test-key")

const chain = (generateVia: "stream" | "generate") =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const llm = yield* LlmManager.make({
      providers: [
        DeepSeek.layer({ apiKey, baseUrl: mock.baseUrl("deepseek") }),
        Gemini.layer({ apiKey, baseUrl: mock.baseUrl("gemini") })
      ],
      policy: FallbackPolicy.make({ maxRetries: 1, retryBaseDelayMs: 1, generateVia }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 }
    })
    return { mock, llm }
  })

/** The sum of `field` over the request-log `records`. */
const sum = (records: ReadonlyArray<RequestLog.LlmRequestLog>, field: "promptTokens" | "completionTokens") =>
  records.reduce((total, record) => total + record[field], 0)

describe("DeepSeek's insufficient_system_resource stop", () => {
  for (const via of ["stream", "generate"] as const) {
    it.live(`generate (generateVia: ${via}): retried, then the fallback answers`, () =>
      Effect.gen(function*() {
        const { llm, mock } = yield* chain(via)
        yield* mock.inject("deepseek", MockFault.resourceStop, { times: 2 })
        const result = yield* llm.generate({ prompt: "Name a planet." })
        assert.strictEqual(result.provider, "gemini")
        assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.error?._tag]), [
          ["deepseek", "MalformedResponse"],
          ["deepseek", "MalformedResponse"],
          ["gemini", undefined]
        ])
        assert.include(result.attempts[0]?.error?.message ?? "", "insufficient_system_resource")
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  // the mock sends the usage in a chunk of its own after the cut (`stream_options.include_usage`): read for it
  it.live("generate (generateVia: stream): each cut attempt is billed the usage the server reported, not estimated", () =>
    Effect.gen(function*() {
      const { llm, mock } = yield* chain("stream")
      yield* mock.inject("deepseek", MockFault.resourceStop, { times: 2 })
      const result = yield* llm.generate({ prompt: "Name a planet." })
      const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
      const cut = records.filter((record) => record.provider === "deepseek")
      const billed = yield* mock.stats("deepseek")
      assert.deepStrictEqual(cut.map((record) => [record.errorTag, record.usageReported, record.usageEstimated]), [
        ["MalformedResponse", true, false],
        ["MalformedResponse", true, false]
      ])
      assert.deepStrictEqual(
        [sum(cut, "promptTokens"), sum(cut, "completionTokens")],
        [billed.promptTokens, billed.completionTokens]
      )
      assert.include(result.attempts[0]?.error?.message ?? "", "deepseek ended the stream")
    }).pipe(Effect.provide([Bench, RequestLog.layerMemory()]), Effect.scoped))

  it.live("stream: the cut answer is rescued whole", () =>
    Effect.gen(function*() {
      const { llm, mock } = yield* chain("stream")
      yield* mock.inject("deepseek", MockFault.resourceStop)
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "Name a planet." }))
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.strictEqual(text, "Mock answer from deepseek: Name a planet.")
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      assert.strictEqual(finish?._tag === "Finish" ? finish.rescued : undefined, true)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

/** DeepSeek's stream, as a server that sends exactly the given events plays it. */
const usage = { prompt_tokens: 12, completion_tokens: 3_000, total_tokens: 3_012, prompt_cache_hit_tokens: 0 }
const chunk = (delta: object, finish: string | null, billed: object | null = null) => ({
  choices: [{ index: 0, delta, finish_reason: finish }],
  usage: billed
})
const reasoning = chunk({ reasoning_content: "Let me think about this at length" }, null)
// the stop as DeepSeek sends it: usage on its chunk
const stop = chunk({ content: "" }, "insufficient_system_resource", usage)

describe("DeepSeek's insufficient_system_resource stop, the adapter alone", () => {
  const message = "the provider ran out of resources and cut the answer (finish_reason insufficient_system_resource)"
  const body = {
    choices: [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "insufficient_system_resource" }],
    usage
  }
  // what the server does after the stop: nothing of it is read
  const afters = {
    "its end marker": { events: ["[DONE]"], then: "end" },
    "a chunk with other usage, then its end marker": {
      events: [{ choices: [], usage: { ...usage, completion_tokens: 9 } }, "[DONE]"],
      then: "end"
    },
    "the connection held open": { events: [], then: "hold" },
    "keep-alives, never ending": { events: [], then: "keepAlive" },
    "the connection closed mid-reply": { events: [], then: "drop" }
  } as const
  /** The error of `use`, run over the DeepSeek adapter pointed at `server`, alone (each chunk bounded by 1 s). */
  const failureOf = <A>(
    server: RawServer.RawServer,
    use: (provider: LlmProvider.LlmProvider["Service"]) => Effect.Effect<A, ProviderError>
  ) =>
    Effect.flip(Effect.gen(function*() {
      return yield* use(yield* LlmProvider.LlmProvider)
    })).pipe(Effect.provide(DeepSeek.layer({ apiKey, baseUrl: server.url, timeoutMs: 1_000 })))
  /** 12 × $0.30/M + 3,000 × $1.20/M: deepseek-flash's row, as reported on the stop's chunk. */
  const assertBilled = (error: ProviderError) => {
    const billed = "usage" in error ? error.usage : undefined
    assert.deepStrictEqual(
      [billed?.promptTokens, billed?.completionTokens, billed?.costNanoUsd, billed?.estimated],
      [12, 3_000, 3_603_600, undefined]
    )
  }

  for (const [after, { events, then }] of Object.entries(afters)) {
    it.live(
      `a stream cut before any text, then ${after}: fails at the stop with the usage billed`,
      () =>
        Effect.gen(function*() {
          const server = yield* RawServer.start({ body, events: [reasoning, stop, ...events], then })
          const request = yield* LlmRequest.make({ prompt: "Name a planet." })
          const streamed = yield* failureOf(server, (provider) => Stream.runCollect(provider.stream(request)))
          const plain = yield* failureOf(server, (provider) => provider.generate(request))
          for (const error of [streamed, plain]) {
            assert.strictEqual(error._tag, "MalformedResponse")
            assertBilled(error)
          }
          assert.strictEqual(streamed.message, `deepseek ended the stream: ${message}`)
        }).pipe(Effect.provide(Bench), Effect.scoped),
      5_000
    )

    it.live(
      `a stream cut after text, then ${after}: interrupted at the stop, saying why, with the usage billed`,
      () =>
        Effect.gen(function*() {
          const text = chunk({ content: "Mars" }, null)
          const server = yield* RawServer.start({ body, events: [reasoning, text, stop, ...events], then })
          const request = yield* LlmRequest.make({ prompt: "Name a planet." })
          const error = yield* failureOf(server, (provider) => Stream.runCollect(provider.stream(request)))
          assert.strictEqual(error._tag, "StreamInterrupted")
          if (error._tag !== "StreamInterrupted") return
          assert.deepStrictEqual([error.partialText, error.reason], ["Mars", message])
          assertBilled(error)
        }).pipe(Effect.provide(Bench), Effect.scoped),
      5_000
    )
  }
})

describe("DeepSeek's insufficient_system_resource stop, under LlmManager (its watchdog bounds the read)", () => {
  // what the server does after the stop, and how the request and its attempt end: the cut's error, but where the
  // request's deadline stops the read (the first-token limit of a model that reasons is longer)
  const afters = {
    "its end marker": { events: ["[DONE]"], then: "end", ended: ["AllProvidersFailed", "MalformedResponse"] },
    "the connection closed mid-reply": { events: [], then: "drop", ended: ["AllProvidersFailed", "MalformedResponse"] },
    "the connection held open": { events: [], then: "hold", ended: ["DeadlineExceeded", "cancelled"] },
    "keep-alives, never ending": { events: [], then: "keepAlive", ended: ["DeadlineExceeded", "cancelled"] }
  } as const

  for (const [after, { ended, events, then }] of Object.entries(afters)) {
    it.effect(`a stream cut before any text, then ${after}: ${ended.join(", ")}, billed the usage reported`, () =>
      Effect.gen(function*() {
        const server = yield* RawServer.start({ body: {}, events: [reasoning, stop, ...events], then })
        const llm = yield* LlmManager.make({
          providers: [DeepSeek.layer({ apiKey, baseUrl: server.url })],
          policy: FallbackPolicy.make({ maxRetries: 0, generateVia: "stream", requestTimeoutMs: 2_000 })
        })
        const failure = yield* runDriven(Effect.flip(llm.generate({ prompt: "Name a planet." })), 100)
        const attempts = "attempts" in failure ? failure.attempts : []
        const outcome: ReadonlyArray<string> = [failure._tag, ...attempts.map((a) => a.error?._tag ?? a.outcome)]
        assert.deepStrictEqual(outcome, ended)
        if (ended[1] === "MalformedResponse") {
          assert.include(
            attempts[0]?.error?.message ?? "",
            "deepseek ended the stream: the provider ran out of resources"
          )
        }
        const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
        // 12 × $0.30/M + 3,000 × $1.20/M: deepseek-flash's row
        assert.deepStrictEqual(
          records.map((record) => [record.promptTokens, record.completionTokens, record.usageEstimated]),
          [[12, 3_000, false]]
        )
      }).pipe(Effect.provide([Bench, RequestLog.layerMemory()]), Effect.scoped))
  }
})
