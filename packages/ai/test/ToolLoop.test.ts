import { SubjectId } from "@baton/core/Ids"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Schema, Stream } from "effect"
import { LanguageModel, Prompt, Tool, Toolkit } from "effect/ai"
import * as BatonLanguageModel from "../src/BatonLanguageModel.ts"
import { inject, stack, stats } from "./stack.ts"

const GetWeather = Tool.make("GetWeather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.String
})

const GetTime = Tool.make("GetTime", {
  description: "The local time in a time zone",
  parameters: Schema.Struct({ zone: Schema.String }),
  success: Schema.String
})

const Tools = Toolkit.make(GetWeather, GetTime)

/** Runs the tools for real, recording every call. */
const handlers = (calls: Array<string>) =>
  Tools.toLayer({
    GetWeather: ({ city }) => Effect.sync(() => (calls.push(`GetWeather(${city})`), `sunny in ${city}`)),
    GetTime: ({ zone }) => Effect.sync(() => (calls.push(`GetTime(${zone})`), `noon in ${zone}`))
  })

/** effect/ai's tool loop: ask, run the calls, send the results back, until the model answers. */
const toolLoop = (question: string) =>
  Effect.gen(function*() {
    let prompt = Prompt.make(question)
    for (let turn = 1; turn <= 4; turn++) {
      const response = yield* LanguageModel.generateText({ prompt, toolkit: Tools })
      prompt = Prompt.concat(prompt, Prompt.fromResponseParts(response.content))
      if (response.finishReason !== "tool-calls") return { response, turns: turn }
    }
    return yield* Effect.die(new Error("no answer after 4 turns"))
  })

/** The value at `path` in JSON (a negative index counts from the end of an array). */
const at = (value: unknown, ...path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>(
    (current, key) =>
      Array.isArray(current) && typeof key === "number"
        ? current.at(key)
        : typeof current === "object" && current !== null
        ? (current as Record<string, unknown>)[key]
        : undefined,
    value
  )

/** JSON text parsed. */
const parsed = (text: unknown): unknown => JSON.parse(String(text))

/** What each wire format was sent of a failed tool result (`undefined` when it was sent as a success). */
const failedResultOf: Record<"openai" | "anthropic" | "gemini", (body: unknown) => unknown> = {
  openai: (body) => at(parsed(at(body, "messages", -1, "content")), "error"),
  anthropic: (body) =>
    at(body, "messages", -1, "content", 0, "is_error") === true
      ? parsed(at(body, "messages", -1, "content", 0, "content"))
      : undefined,
  gemini: (body) => at(body, "contents", -1, "parts", 0, "functionResponse", "response", "error")
}

describe("effect/ai tool calls over Baton", () => {
  it.live("a two-tool loop runs over Baton: each call falls back, spends quota and writes the ledger", () => {
    const calls: Array<string> = []
    return Effect.gen(function*() {
      yield* inject("deepseek", MockFault.status(503), { times: 100 })
      const { response, turns } = yield* toolLoop("What is the weather and the time in Paris?").pipe(
        BatonLanguageModel.withConfigOverride({ subjectId: "teacher-tools" })
      )
      assert.strictEqual(turns, 3)
      assert.deepStrictEqual(calls.map((call) => call.split("(")[0]), ["GetWeather", "GetTime"])
      assert.strictEqual(response.finishReason, "stop")
      assert.include(response.text, "Mock answer from openai: What is the weather and the time in Paris?")
      for (const call of calls) {
        const result = call.startsWith("GetWeather") ? `sunny in ${call.slice(11, -1)}` : `noon in ${call.slice(8, -1)}`
        assert.include(response.text, result)
      }
      assert.strictEqual((yield* stats("deepseek")).requests, 3)
      assert.strictEqual((yield* stats("openai")).requests, 3)

      const quota = yield* QuotaLimiter.QuotaLimiter
      assert.strictEqual((yield* quota.remaining(SubjectId.make("teacher-tools"))).used, 3)
      const ledger = yield* UsageLedger.UsageLedger
      yield* ledger.flush
      const day = UsageLedger.dayOf(yield* DateTime.now, "UTC")
      const row = (yield* ledger.usageBySubject(day)).find((r) => r.subjectId === "teacher-tools")
      assert.strictEqual(row?.requests, 3)
      assert.strictEqual(row?.completionTokens, (yield* stats("openai")).completionTokens)
    }).pipe(Effect.provide(handlers(calls)), Effect.provide(stack({ chain: ["deepseek", "openai"] })))
  })

  it.live("an effect/ai step's UnknownError with a status is read as Baton's adapters read it: a 418 is not retried, the tool loop falls back to the next provider", () => {
    const calls: Array<string> = []
    return Effect.gen(function*() {
      // effect/ai reads a status it has no reason for (418) as UnknownError; Baton reads its status (a 4xx)
      yield* inject("openai", MockFault.status(418), { times: 100 })
      const { response, turns } = yield* toolLoop("What is the weather and the time in Paris?")
      assert.strictEqual(response.finishReason, "stop")
      assert.include(response.text, "Mock answer from anthropic")
      assert.deepStrictEqual(calls.map((call) => call.split("(")[0]), ["GetWeather", "GetTime"])
      const finish = response.content.find((part) => part.type === "finish")
      assert.deepStrictEqual(at(finish?.metadata, "baton", "attempts", 0, "error"), "InvalidRequest")
      // one call a turn: an InvalidRequest is not retried on the same provider
      assert.strictEqual((yield* stats("openai")).requests, turns)
    }).pipe(
      Effect.provide(handlers(calls)),
      Effect.provide(stack({ chain: ["effect-ai", "anthropic"], policy: { maxRetries: 2, retryBaseDelayMs: 1 } }))
    )
  })

  it.live("streamed tool calls are assembled from their deltas and run by effect/ai", () => {
    const calls: Array<string> = []
    return Effect.gen(function*() {
      const parts = yield* Stream.runCollect(
        LanguageModel.streamText({ prompt: "What is the weather in Paris?", toolkit: Tools })
      )
      const toolCall = parts.find((part) => part.type === "tool-call")
      assert.strictEqual(toolCall?.name, "GetWeather")
      const toolResult = parts.find((part) => part.type === "tool-result")
      assert.strictEqual(toolResult?.name, "GetWeather")
      assert.deepStrictEqual(calls.map((call) => call.split("(")[0]), ["GetWeather"])
      assert.strictEqual(parts.find((part) => part.type === "finish")?.reason, "tool-calls")
    }).pipe(Effect.provide(handlers(calls)), Effect.provide(stack({ chain: ["openai"] })))
  })

  it.live("a tool choice that names a tool makes the model call it", () => {
    const calls: Array<string> = []
    return Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({
        prompt: "What time is it in Tokyo?",
        toolkit: Tools,
        toolChoice: { tool: "GetTime" as const }
      })
      assert.deepStrictEqual(response.toolCalls.map((call) => call.name), ["GetTime"])
      assert.deepStrictEqual(calls.map((call) => call.split("(")[0]), ["GetTime"])
    }).pipe(Effect.provide(handlers(calls)), Effect.provide(stack({ chain: ["openai"] })))
  })

  it.live("the two-tool loop runs with Gemini as the primary, whole and streamed", () => {
    const calls: Array<string> = []
    return Effect.gen(function*() {
      const { response, turns } = yield* toolLoop("What is the weather and the time in Paris?")
      assert.strictEqual(turns, 3)
      assert.deepStrictEqual(calls.map((call) => call.split("(")[0]), ["GetWeather", "GetTime"])
      assert.strictEqual(response.finishReason, "stop")
      assert.include(response.text, "Mock answer from gemini: What is the weather and the time in Paris?")
      for (const result of calls.map((call) => call.startsWith("GetWeather") ? "sunny in" : "noon in")) {
        assert.include(response.text, result)
      }
      const parts = yield* Stream.runCollect(
        LanguageModel.streamText({ prompt: "What is the weather in Paris?", toolkit: Tools })
      )
      assert.strictEqual(parts.find((part) => part.type === "tool-result")?.name, "GetWeather")
      assert.strictEqual((yield* stats("gemini")).requests, 4)
    }).pipe(Effect.provide(handlers(calls)), Effect.provide(stack({ chain: ["gemini"] })))
  })

  for (const kind of ["openai", "anthropic", "gemini"] as const) {
    it.live(`${kind}: a tool that returns nothing (Schema.Void) answers its call with null and the loop goes on`, () => {
      const notified: Array<string> = []
      const Notify = Tool.make("Notify", {
        description: "Notifies a teacher",
        parameters: Schema.Struct({ teacher: Schema.String })
      })
      const Notifier = Toolkit.make(Notify)
      return Effect.gen(function*() {
        let prompt = Prompt.make("Tell the teacher")
        const first = yield* LanguageModel.generateText({ prompt, toolkit: Notifier })
        assert.strictEqual(first.finishReason, "tool-calls")
        prompt = Prompt.concat(prompt, Prompt.fromResponseParts(first.content))
        const second = yield* LanguageModel.generateText({ prompt, toolkit: Notifier })
        assert.strictEqual(second.finishReason, "stop")
        assert.include(second.text, "[tool results: null]")
        assert.deepStrictEqual(notified, ["mock teacher"])
      }).pipe(
        Effect.provide(Notifier.toLayer({ Notify: ({ teacher }) => Effect.sync(() => void notified.push(teacher)) })),
        Effect.provide(stack({ chain: [kind] }))
      )
    })

    it.live(`${kind}: a tool's toModelOutput is what the model is sent in place of its result`, () => {
      const LookUp = Tool.make("LookUp", {
        description: "A student's record",
        parameters: Schema.Struct({ student: Schema.String }),
        success: Schema.Struct({ grade: Schema.String, homeAddress: Schema.String }),
        toModelOutput: (record) => [Prompt.textPart({ text: `grade ${record.grade}` })]
      })
      const Records = Toolkit.make(LookUp)
      return Effect.gen(function*() {
        let prompt = Prompt.make("How is the student doing?")
        const first = yield* LanguageModel.generateText({ prompt, toolkit: Records })
        prompt = Prompt.concat(prompt, Prompt.fromResponseParts(first.content))
        const second = yield* LanguageModel.generateText({ prompt, toolkit: Records })
        assert.include(second.text, "[tool results: grade B+]")
        const sent = yield* Effect.flatMap(MockProviderServer.MockProviderServer, (server) => server.received(kind))
        assert.notInclude(JSON.stringify(sent.at(-1)?.body), "12 Elm Street")
      }).pipe(
        Effect.provide(
          Records.toLayer({ LookUp: () => Effect.succeed({ grade: "B+", homeAddress: "12 Elm Street" }) })
        ),
        Effect.provide(stack({ chain: [kind] }))
      )
    })

    it.live(`${kind}: a failed tool result (failureMode "return") is sent as a failure, whole and streamed`, () => {
      const Enrol = Tool.make("Enrol", {
        description: "Enrols a student",
        parameters: Schema.Struct({ student: Schema.String }),
        success: Schema.String,
        failure: Schema.Struct({ code: Schema.String }),
        failureMode: "return"
      })
      const Enrolment = Toolkit.make(Enrol)
      return Effect.gen(function*() {
        const server = yield* MockProviderServer.MockProviderServer
        let prompt = Prompt.make("Enrol the student")
        const first = yield* LanguageModel.generateText({ prompt, toolkit: Enrolment })
        assert.isTrue(first.toolResults[0]?.isFailure)
        prompt = Prompt.concat(prompt, Prompt.fromResponseParts(first.content))
        yield* LanguageModel.generateText({ prompt, toolkit: Enrolment })
        yield* Stream.runDrain(LanguageModel.streamText({ prompt, toolkit: Enrolment }))
        for (const sent of (yield* server.received(kind)).slice(-2)) {
          assert.deepStrictEqual(failedResultOf[kind](sent.body), { code: "E42" })
        }
      }).pipe(
        Effect.provide(Enrolment.toLayer({ Enrol: () => Effect.fail({ code: "E42" }) })),
        Effect.provide(stack({ chain: [kind] }))
      )
    })

    it.live(`${kind}: streamText sends a tool call's params as they stream, then the call`, () => {
      const calls: Array<string> = []
      return Effect.gen(function*() {
        const parts = yield* Stream.runCollect(
          LanguageModel.streamText({ prompt: "What is the weather in Paris?", toolkit: Tools })
        )
        const types = parts.map((part) => part.type).filter((type) => type.startsWith("tool-"))
        assert.deepStrictEqual(types.filter((type) => type !== "tool-params-delta"), [
          "tool-params-start",
          "tool-params-end",
          "tool-call",
          "tool-result"
        ])
        const call = parts.find((part) => part.type === "tool-call")
        const start = parts.find((part) => part.type === "tool-params-start")
        assert.deepStrictEqual([start?.id, start?.name], [call?.id, "GetWeather"])
        const params = parts.flatMap((part) => part.type === "tool-params-delta" ? [part.delta] : []).join("")
        assert.deepStrictEqual(JSON.parse(params), call?.params)
      }).pipe(Effect.provide(handlers(calls)), Effect.provide(stack({ chain: [kind] })))
    })
  }
})
