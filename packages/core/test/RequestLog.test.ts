import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Logger, Metric, Redacted, References, Schema } from "effect"
import { TestClock, TestConsole } from "effect/testing"
import { SubjectId } from "../src/Ids.ts"
import * as LlmConfig from "../src/LlmConfig.ts"
import * as LlmMetrics from "../src/LlmMetrics.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { at, CANARY_KEY, deepseek, defined, flash, SECRET_PROMPT, stories } from "./RequestLog.fixtures.ts"

const writeAll = (reports: ReadonlyArray<RequestLog.AttemptReport>) =>
  RequestLog.RequestLog.use((log) => Effect.forEach(reports, log.write, { discard: true }))

const allReports = Effect.map(
  stories,
  (s) => [...s.success, ...s.fallback, ...s.cancelled, ...s.skipped]
)

const recordKeys = Object.keys(RequestLog.LlmRequestLog.fields).filter((key) => key !== "prompt").sort()

describe("RequestLog", () => {
  it.effect("one record per attempt with every field, for success, fallback, failure, cancellation and skip", () =>
    Effect.gen(function*() {
      const s = yield* stories
      yield* writeAll([...s.success, ...s.fallback, ...s.cancelled, ...s.skipped])
      const records = yield* RequestLog.RequestLogMemory.use((memory) => memory.records)

      assert.strictEqual(records.length, 5)
      for (const record of records) {
        assert.deepStrictEqual(Object.keys(record).sort(), recordKeys)
        assert.isTrue(Schema.is(RequestLog.LlmRequestLog)(record))
      }
      // each record has an id of its own, a UUID
      assert.strictEqual(new Set(records.map((record) => record.id)).size, records.length)
      for (const record of records) {
        assert.match(record.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      }
      const success = at(records, 0)
      const failed = at(records, 1)
      const fallback = at(records, 2)
      const cancelled = at(records, 3)
      const skipped = at(records, 4)
      assert.deepStrictEqual(success, {
        id: success.id,
        requestId: s.success[0].request.requestId,
        attempt: 1,
        timestamp: "1970-01-01T00:00:00.000Z",
        provider: deepseek,
        model: flash,
        promptHash: s.success[0].request.promptHash,
        subjectId: SubjectId.make("teacher-1"),
        tags: {},
        role: "primary",
        outcome: "success",
        latencyMs: 120,
        usageReported: true,
        usageEstimated: false,
        promptTokens: 1200,
        completionTokens: 300,
        cachedPromptTokens: 200,
        reasoningTokens: 0,
        totalTokens: 1500,
        // 1000 uncached at $0.30/M + 200 cached at $0.006/M + 300 out at $1.20/M
        costNanoUsd: 300_000 + 1_200 + 360_000,
        costUsd: 0.0006612,
        finishReason: "stop",
        errorTag: null,
        errorMessage: null
      })
      assert.strictEqual(success.promptHash.length, 64)
      // the failed primary and the fallback share the request id, in order
      assert.strictEqual(failed.requestId, fallback.requestId)
      assert.deepStrictEqual([failed.attempt, fallback.attempt], [1, 2])
      assert.deepStrictEqual([failed.outcome, failed.errorTag, failed.role], [
        "error",
        "ProviderUnavailable",
        "primary"
      ])
      assert.strictEqual(failed.costNanoUsd, 360_000) // billed although it failed
      assert.deepStrictEqual([fallback.role, fallback.provider, fallback.finishReason], [
        "fallback",
        "gemini",
        "length"
      ])
      assert.deepStrictEqual([cancelled.outcome, cancelled.usageReported, cancelled.totalTokens], [
        "cancelled",
        true,
        940
      ])
      assert.deepStrictEqual([skipped.outcome, skipped.errorTag, skipped.usageReported, skipped.subjectId], [
        "skipped",
        "CircuitOpen",
        false,
        null
      ])
    }).pipe(Effect.provide(RequestLog.layerMemory())))

  it.effect("JSON lines parse to the records, with no prompt text and no key by default", () =>
    Effect.gen(function*() {
      yield* writeAll(yield* allReports)
      const lines = yield* TestConsole.logLines
      assert.strictEqual(lines.length, 5)
      for (const line of lines) {
        assert.isString(line)
        const text = String(line)
        assert.notInclude(text, "\n")
        assert.notInclude(text, "secret-prompt-canary")
        assert.notInclude(text, "teacher's assistant")
        assert.notInclude(text, CANARY_KEY)
        const parsed: unknown = JSON.parse(text)
        assert.isTrue(Schema.is(RequestLog.LlmRequestLog)(parsed))
      }
      const failed = JSON.parse(String(lines[1])) as RequestLog.LlmRequestLog
      assert.strictEqual(failed.errorMessage, "upstream overloaded (key [redacted])")
    }).pipe(Effect.provide(RequestLog.layerJson())))

  it.effect("JSON lines ignore the app's loggers and minimum level", () =>
    Effect.gen(function*() {
      yield* writeAll((yield* stories).success)
      assert.strictEqual((yield* TestConsole.logLines).length, 1)
    }).pipe(
      Effect.provide(RequestLog.layerJson()),
      Effect.provide(Logger.layer([])),
      Effect.provideService(References.MinimumLogLevel, "Error")
    ))

  it.effect("LLM_LOG_PROMPTS=true logs truncated prompt text, never a key", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const leaky = {
        ...s.success[0],
        request: {
          ...s.success[0].request,
          messages: [{ role: "user" as const, content: `use ${CANARY_KEY} ${"x".repeat(2000)}` }]
        }
      }
      yield* writeAll([s.success[0], leaky])
      const records = yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
      const plain = at(records, 0)
      const withKey = at(records, 1)
      assert.strictEqual(plain.prompt, `system: You are a teacher's assistant.\nuser: ${SECRET_PROMPT}`)
      const prompt = defined(withKey.prompt)
      assert.notInclude(prompt, CANARY_KEY)
      assert.isTrue(prompt.startsWith("user: use [redacted] xxx"))
      assert.isTrue(prompt.endsWith("more characters]"))
      assert.isBelow(prompt.length, 600)
    }).pipe(Effect.provide(RequestLog.layerMemory({ logPrompts: true }))))

  it.effect("timestamps are written as Date.prototype.toISOString writes them, at any instant", () =>
    Effect.gen(function*() {
      const s = yield* stories
      const instants = [
        0,
        59_999,
        60_000,
        1_796_022_000_000,
        Date.UTC(2024, 1, 29, 23, 59, 59, 999),
        Date.UTC(2024, 2, 1),
        Date.UTC(9999, 11, 31, 23, 59, 59, 999),
        Date.UTC(10000, 0, 1),
        -1,
        -62_198_755_200_000
      ]
      for (let i = 0; i < 200; i++) instants.push(1_700_000_000_000 + i * 7_919 + (i % 7) * 60_000)
      for (const millis of instants) {
        const expected = new Date(millis).toISOString()
        const timestamp = DateTime.makeUnsafe(millis)
        assert.strictEqual(RequestLog.toRecord(s.success[0], timestamp).timestamp, expected)
        // a ledger day is written YYYY-MM-DD: rows exist for four-digit years only
        if (expected.length === 24) {
          assert.strictEqual(defined(UsageLedger.toEntry(s.success[0], timestamp, "UTC")).timestamp, expected)
        }
      }
    }))

  it.effect("an attempt's end time (endedAt) stamps its record and its ledger row; without one, the clock's now", () =>
    Effect.gen(function*() {
      const s = yield* stories
      yield* TestClock.setTime(Date.UTC(2026, 10, 30, 12))
      const report = s.success[0]
      const ended = { ...report, endedAt: Date.UTC(2026, 10, 29, 23, 59, 59, 999) }
      yield* writeAll([ended, report])
      const records = yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
      assert.deepStrictEqual(records.map((record) => record.timestamp), [
        "2026-11-29T23:59:59.999Z",
        "2026-11-30T12:00:00.000Z"
      ])
      const rows: Array<UsageLedger.UsageEntry> = []
      const memory = yield* UsageLedger.makeMemoryStore
      const ledger = yield* UsageLedger.make({
        ...memory,
        append: (batch) => Effect.andThen(Effect.sync(() => rows.push(...batch)), memory.append(batch))
      })
      yield* ledger.record(ended)
      yield* ledger.record(report)
      yield* ledger.flush
      assert.deepStrictEqual(rows.map((row) => [row.timestamp, row.day]), [
        ["2026-11-29T23:59:59.999Z", "2026-11-29"],
        ["2026-11-30T12:00:00.000Z", "2026-11-30"]
      ])
    }).pipe(Effect.provide(RequestLog.layerMemory())))

  it.effect("options from the configuration: prompt flag and configured keys scrubbed exactly", () =>
    Effect.gen(function*() {
      const options = yield* RequestLog.optionsFromConfig
      assert.isTrue(options.logPrompts)
      const s = yield* stories
      const record = RequestLog.toRecord(
        {
          ...s.success[0],
          request: { ...s.success[0].request, messages: [{ role: "user", content: "my key is plainkey-XYZ-42" }] }
        },
        DateTime.makeUnsafe(0),
        options
      )
      assert.strictEqual(record.prompt, "user: my key is [redacted]")
      assert.isTrue((options.secrets ?? []).every((secret) => Redacted.isRedacted(secret)))
    }).pipe(Effect.provide(LlmConfig.layerFromRecord({
      DEEPSEEK_API_KEY: "plainkey-XYZ-42",
      GEMINI_API_KEY: "g-test-key",
      LLM_LOG_PROMPTS: "true"
    }))))

  it.effect("options from the configuration: an OpenAI-compatible endpoint's key is scrubbed too", () =>
    Effect.gen(function*() {
      const options = yield* RequestLog.optionsFromConfig
      const s = yield* stories
      const record = RequestLog.toRecord(
        {
          ...s.success[0],
          request: {
            ...s.success[0].request,
            messages: [{ role: "user", content: "keys: local-key-XYZ-42 plainkey-XYZ-42" }]
          }
        },
        DateTime.makeUnsafe(0),
        options
      )
      assert.strictEqual(record.prompt, "user: keys: [redacted] [redacted]")
    }).pipe(Effect.provide(LlmConfig.layerFromRecord({
      DEEPSEEK_API_KEY: "plainkey-XYZ-42",
      LLM_CHAIN: "deepseek,local/qwen3",
      LLM_COMPAT_LOCAL_BASE_URL: "http://127.0.0.1:1/v1",
      LLM_COMPAT_LOCAL_API_KEY: "local-key-XYZ-42",
      LLM_LOG_PROMPTS: "true"
    }))))

  it.effect("a failing sink is counted and reported once per burst; the request and the other sinks go on", () =>
    Effect.gen(function*() {
      const warnings: Array<unknown> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(message)
      })
      const broken: RequestLog.Sink = { name: "broken", write: () => Effect.fail("disk full") }
      const dying: RequestLog.Sink = { name: "dying", write: () => Effect.die(new Error("boom")) }
      const { memory, sink } = yield* RequestLog.memorySink
      const failures = (name: string) =>
        Metric.value(Metric.withAttributes(LlmMetrics.sinkFailures, { sink: `request-log:${name}` }))
      const before = (yield* failures("broken")).count

      const reports = yield* allReports
      yield* writeAll(reports).pipe(
        Effect.provide(RequestLog.layer([broken, dying, sink])),
        Effect.provide(Logger.layer([capture]))
      )

      assert.strictEqual((yield* memory.records).length, reports.length)
      assert.strictEqual((yield* failures("broken")).count - before, reports.length)
      assert.isAtLeast((yield* failures("dying")).count, reports.length)
      assert.strictEqual(warnings.length, 2)
    }))

  it.effect("a sink that fails again after a quiet window is reported again, with the failures counted since", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(String(Array.isArray(message) ? message[0] : message))
      })
      const broken: RequestLog.Sink = { name: "broken", write: () => Effect.fail("disk full") }
      const reports = yield* allReports
      yield* Effect.gen(function*() {
        yield* writeAll(reports)
        assert.strictEqual(warnings.length, 1, "one warning for a burst")
        // the outage ends, another one starts a minute later: the operator hears of it
        yield* TestClock.adjust("1 minute")
        yield* writeAll(reports.slice(0, 1))
      }).pipe(Effect.provide(RequestLog.layer([broken])), Effect.provide(Logger.layer([capture])))

      assert.strictEqual(warnings.length, 2)
      assert.include(warnings[1], `(${reports.length - 1} more since the last warning)`)
    }))
})
