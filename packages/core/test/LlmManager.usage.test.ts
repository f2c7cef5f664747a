/**
 * A result's `usage` is what the whole request billed: the sum of every
 * billed attempt (re-asks, failures before a fallback, a cancelled hedge
 * loser), as the request log and the usage ledger record them and the
 * provider server counted them, whether or not a stream was rescued.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Fiber, Layer, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { GenerationResult } from "../src/GenerationResult.ts"
import { RequestId } from "../src/Ids.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { Bench, eventually, inject, type Kind, liveWait, manager, pick, stats } from "./utils/chain.ts"

const prompt = { prompt: "Write one quiz question about comets." }

const Services = Layer.merge(RequestLog.layerMemory(), UsageLedger.layerMemory())

/** What the request log recorded for `result`'s request: one row per attempt, and their sums. */
const logged = (result: Pick<GenerationResult, "requestId">) =>
  Effect.gen(function*() {
    const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
    const rows = records.filter((r) => r.requestId === result.requestId)
    return {
      rows: rows.length,
      promptTokens: rows.reduce((sum, r) => sum + r.promptTokens, 0),
      completionTokens: rows.reduce((sum, r) => sum + r.completionTokens, 0),
      costNanoUsd: rows.reduce((sum, r) => sum + r.costNanoUsd, 0)
    }
  })

/** The tokens the server billed, over `kinds`. */
const serverBilled = (...kinds: ReadonlyArray<Kind>) =>
  Effect.gen(function*() {
    let tokens = 0
    for (const kind of kinds) {
      const s = yield* stats(kind)
      tokens += s.promptTokens + s.completionTokens
    }
    return tokens
  })

/** Asserts that `result.usage` (a result's, or a failed request's error's) is the sum of what every attempt of its request billed. */
const assertWholeRequest = (
  result: Pick<GenerationResult, "attempts" | "requestId"> & { readonly usage?: GenerationResult["usage"] | undefined },
  kinds: ReadonlyArray<Kind>
) =>
  Effect.gen(function*() {
    const log = yield* logged(result)
    assert.strictEqual(log.rows, result.attempts.length)
    assert.deepStrictEqual(
      [result.usage?.promptTokens, result.usage?.completionTokens, result.usage?.costNanoUsd],
      [log.promptTokens, log.completionTokens, log.costNanoUsd]
    )
    assert.strictEqual(result.usage?.totalTokens, yield* serverBilled(...kinds))
    const ledger = yield* UsageLedger.UsageLedger
    yield* ledger.flush
    const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
    const rows = yield* ledger.usageByProvider(day, day)
    assert.strictEqual(rows.reduce((sum, row) => sum + row.totalTokens, 0), result.usage?.totalTokens)
  })

describe("LlmManager: a result's usage is what the whole request billed", () => {
  it.effect("a structured answer re-asked once after a schema mismatch counts both asks", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      yield* inject("openai", MockFault.content("not json"))
      const result = yield* llm.generateStructured(prompt, Schema.Struct({ question: Schema.String }))
      assert.deepStrictEqual(result.attempts.map(pick("role", "outcome", "error")), [
        ["primary", "error", "StructuredOutputInvalid"],
        ["retry", "success", undefined]
      ])
      assert.strictEqual((yield* logged(result)).rows, 2)
      yield* assertWholeRequest(result, ["openai"])
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  for (const generateVia of ["generate", "stream"] as const) {
    it.effect(`generate (via ${generateVia}): a billed failure before the fallback counts with the answer`, () =>
      Effect.gen(function*() {
        const llm = yield* manager({ chain: ["anthropic", "openai"], policy: { generateVia } })
        // a billed reply whose text is a number: the plain call's error carries its usage, the stream
        // reported its input tokens (Anthropic's `message_start`) before the bad event
        yield* inject("anthropic", MockFault.illTyped)
        const result = yield* llm.generate(prompt)
        assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
          ["anthropic", "error", "MalformedResponse"],
          ["openai", "success", undefined]
        ])
        assert.isAbove(yield* serverBilled("anthropic"), 0)
        yield* assertWholeRequest(result, ["anthropic", "openai"])
      }).pipe(Effect.provide(Bench), Effect.provide(Services)))
  }

  it.effect("generate: a hedge loser cancelled after it was billed counts with the winner's answer", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["anthropic", "openai"], policy: { hedgeDelayMs: 500 } })
      // the primary reports its input tokens (`message_start`), then goes silent before any text
      yield* inject("anthropic", MockFault.stallMidStream("forever"))
      const fiber = yield* Effect.forkChild(llm.generate(prompt))
      yield* eventually(Effect.map(stats("anthropic"), (s) => s.requests === 1))
      // real time for the first event to reach the client; then the hedge starts on the test clock
      yield* liveWait(250)
      yield* TestClock.adjust(500)
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "outcome")), [
        ["anthropic", "primary", "cancelled"],
        ["openai", "hedge", "success"]
      ])
      yield* eventually(Effect.map(stats("anthropic"), (s) => s.cancelled === 1))
      assert.isAbove(yield* serverBilled("anthropic"), 0)
      yield* assertWholeRequest(result, ["anthropic", "openai"])
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  it.effect("a single attempt's usage is that attempt's, as billed", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      const result = yield* llm.generate(prompt)
      assert.strictEqual(result.attempts.length, 1)
      assert.isAbove(result.usage.totalTokens, 0)
      yield* assertWholeRequest(result, ["openai"])
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  it.effect("a failed request's AllProvidersFailed carries what its attempts billed", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      yield* inject("openai", MockFault.content("not json"), { times: 2 })
      const error = yield* Effect.flip(
        llm.generateStructured(
          { ...prompt, metadata: { requestId: "failed-billed" } },
          Schema.Struct({ question: Schema.String })
        )
      )
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag !== "AllProvidersFailed") return
      assert.deepStrictEqual(error.attempts.map(pick("role", "outcome", "error")), [
        ["primary", "error", "StructuredOutputInvalid"],
        ["retry", "error", "StructuredOutputInvalid"]
      ])
      yield* assertWholeRequest(
        { attempts: error.attempts, usage: error.usage, requestId: RequestId.make("failed-billed") },
        ["openai"]
      )
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  it.effect("a stream interrupted after its text carries what the request billed", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai"] })
      yield* inject("openai", MockFault.contentFilterAfter(2))
      const error = yield* Effect.flip(
        Stream.runDrain(llm.stream({ ...prompt, metadata: { requestId: "interrupted-billed" } }))
      )
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag !== "StreamInterrupted") return
      assert.isAbove(error.partialText.length, 0)
      assert.isAbove(yield* serverBilled("openai"), 0)
      yield* assertWholeRequest(
        { attempts: error.attempts ?? [], usage: error.usage, requestId: RequestId.make("interrupted-billed") },
        ["openai"]
      )
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))

  it.effect("a request ended by its deadline: DeadlineExceeded carries what the cancelled attempt billed", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["anthropic"], policy: { maxRetries: 0 } })
      // the provider reports its input tokens (`message_start`), then goes silent before any text
      yield* inject("anthropic", MockFault.stallMidStream("forever"))
      const fiber = yield* Effect.forkChild(
        Effect.flip(llm.generate({ ...prompt, options: { timeout: 400 }, metadata: { requestId: "deadline-billed" } }))
      )
      yield* eventually(Effect.map(stats("anthropic"), (s) => s.requests === 1))
      // real time for the first event to reach the client; then the deadline passes on the test clock
      yield* liveWait(250)
      yield* TestClock.adjust(400)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      if (error._tag !== "DeadlineExceeded") return
      assert.deepStrictEqual(error.attempts.map(pick("provider", "outcome")), [["anthropic", "cancelled"]])
      yield* eventually(Effect.map(stats("anthropic"), (s) => s.cancelled === 1))
      assert.isAbove(yield* serverBilled("anthropic"), 0)
      yield* assertWholeRequest(
        { attempts: error.attempts, usage: error.usage, requestId: RequestId.make("deadline-billed") },
        ["anthropic"]
      )
    }).pipe(Effect.provide(Bench), Effect.provide(Services)))
})
