/**
 * A request's `tags` through the manager: in every request-log record (memory
 * and the JSON line) and on the request and attempt spans.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import { TestConsole } from "effect/testing"
import * as RequestLog from "../src/RequestLog.ts"
import { Bench, inject, manager } from "./utils/chain.ts"
import { recordingTracer } from "./utils/tracer.ts"

const tags = { feature: "quiz", tenant: "school-9" }
const request = { prompt: "Write one quiz question about comets.", metadata: { subjectId: "teacher-t", tags } }

describe("LlmManager request tags", () => {
  it.effect("are in every request-log record, a failed attempt's too", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* inject("openai", MockFault.status(503))
      const result = yield* llm.generate(request)
      const records = yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
      assert.deepStrictEqual(records.map((r): Array<unknown> => [r.requestId, r.provider, r.tags]), [
        [result.requestId, "openai", tags],
        [result.requestId, "anthropic", tags]
      ])
      yield* llm.generate({ prompt: "untagged" })
      assert.deepStrictEqual((yield* RequestLog.RequestLogMemory.use((memory) => memory.records)).at(-1)?.tags, {})
    }).pipe(Effect.provide(Bench), Effect.provide(RequestLog.layerMemory())))

  it.effect("are in the JSON line of the default request log", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["gemini"] })
      const result = yield* llm.generate(request)
      const lines = yield* TestConsole.logLines
      const records = lines.map((line) => JSON.parse(String(line)) as { requestId?: string; tags?: unknown })
      const record = records.find((r) => r.requestId === result.requestId)
      assert.deepStrictEqual(record?.tags, tags)
    }).pipe(Effect.provide(Bench), Effect.provide(RequestLog.layerJson()), Effect.provide(TestConsole.layer)))

  it.effect("are attributes of the request span and of each attempt span", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const llm = yield* manager({ chain: ["anthropic"] })
      yield* llm.generate(request).pipe(Effect.provideService(Tracer.Tracer, tracer))
      const named = (name: string) => Object.fromEntries(spans.find((s) => s.name === name)?.attributes ?? [])
      for (const name of ["baton.request", "chat claude-haiku-4-5"]) {
        assert.deepInclude(named(name), { "baton.tag.feature": "quiz", "baton.tag.tenant": "school-9" }, name)
      }
    }).pipe(Effect.provide(Bench)))
})
