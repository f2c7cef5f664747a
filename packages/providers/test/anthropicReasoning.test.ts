/**
 * The `reasoning` option on Anthropic: what each level sends per model
 * family, and extended thinking in practice.
 *
 * - `"none"`: `thinking: { type: "disabled" }`.
 * - low, medium, high on Claude 4.6 and later (`claude-sonnet-4-6`,
 *   `claude-opus-4-6`, `claude-sonnet-5-5`): `thinking: { type: "adaptive" }`
 *   and `output_config.effort` the level; on older thinking models
 *   (`claude-haiku-4-5`, `claude-opus-4-1`, Claude 3.7): `thinking: { type:
 *   "enabled", budget_tokens }` from `reasoning.ts`, below `max_tokens`,
 *   and thinking disabled when `max_tokens` (1024 or less) leaves no room
 *   for the least budget; on a name that is no Claude version (DeepSeek's
 *   Anthropic-format `deepseek-v4-pro`): `thinking: { type: "enabled" }`
 *   and `output_config.effort` the level, no budget; Claude before 3.7 is
 *   sent nothing. No temperature with thinking on.
 * - The thinking never reaches the answer's text; it is billed as output and
 *   reasoning tokens.
 * - In a tool loop the turn's thinking block goes back, unmodified, before
 *   its `tool_use` blocks, carried by the first call's `Tool.Replay`.
 * - A prefill (the manager's continuation of a cut stream) is sent with
 *   thinking disabled, which Anthropic requires of a prefill.
 *
 * Over real HTTP against the mock server, whose Anthropic endpoint thinks
 * when asked and answers 400, in Anthropic's shape, to what the API refuses.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { Reasoning } from "@baton/core/GenerationOptions"
import type { GenerationResult } from "@baton/core/GenerationResult"
import { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmRequest from "@baton/core/LlmRequest"
import type * as Tool from "@baton/core/Tool"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as Json from "../src/internal/json.ts"
import * as Turns from "./utils/turns.ts"

const apiKey = Redacted.make("sk-ant-test-key")

const OLDER = "claude-haiku-4-5"
const ADAPTIVE = "claude-sonnet-5-5"

/** The bodies the mock server's Anthropic received. */
const bodies = Effect.gen(function*() {
  const mock = yield* MockProviderServer.MockProviderServer
  return (yield* mock.received("anthropic")).map((request) =>
    Json.isObject(request.body) ? request.body : assert.fail("no JSON body received")
  )
})

const lastBody = Effect.map(bodies, (all) => all.at(-1) ?? assert.fail("no request received"))

/** What a turn answered and the body it sent, asked of `model` plainly or streamed. */
const asked = (model: string, input: LlmRequest.Input, stream: boolean) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    yield* mock.reset
    const provider = yield* Anthropic.make({ apiKey, baseUrl: mock.baseUrl("anthropic"), model })
    const request = yield* LlmRequest.make(input)
    const result = stream
      ? yield* Stream.runCollect(provider.stream(request)).pipe(Effect.map((parts) => {
        const finish = parts.at(-1)
        if (finish?._tag !== "Finish") return assert.fail("the stream ended without a Finish")
        return {
          content: parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join(""),
          usage: finish.usage,
          finishReason: finish.finishReason
        }
      }))
      : yield* provider.generate(request)
    return { result, body: yield* lastBody }
  })

const levels: ReadonlyArray<Exclude<Reasoning, "none">> = ["low", "medium", "high"]

const budgets = { low: 1024, medium: 4096, high: 16_384 } as const

describe("Anthropic reasoning: what each level sends", () => {
  for (const stream of [false, true]) {
    const how = stream ? "streamed" : "plain"

    it.effect(`"none" (${how}): thinking disabled, on every family; the temperature still sent where it was`, () =>
      Effect.gen(function*() {
        for (const model of [OLDER, "claude-sonnet-4-6", ADAPTIVE]) {
          const { body, result } = yield* asked(model, { prompt: "Hi there", options: { reasoning: "none" } }, stream)
          assert.deepStrictEqual(body.thinking, { type: "disabled" }, model)
          assert.isUndefined(body.output_config, model)
          assert.strictEqual(result.usage.reasoningTokens, 0, model)
        }
        const { body } = yield* asked(OLDER, { prompt: "Hi", options: { reasoning: "none" } }, stream)
        assert.strictEqual(body.temperature, 0.7)
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.effect(`left out (${how}): nothing sent, as before`, () =>
      Effect.gen(function*() {
        const { body } = yield* asked(OLDER, { prompt: "Hi" }, stream)
        assert.isUndefined(body.thinking)
        assert.isUndefined(body.output_config)
        assert.strictEqual(body.temperature, 0.7)
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.effect(`older models (${how}): enabled with the level's budget, no temperature, thinking billed not shown`, () =>
      Effect.gen(function*() {
        for (const model of [OLDER, "claude-opus-4-1", "claude-sonnet-4-5-20250929", "claude-3-7-sonnet-latest"]) {
          for (const level of levels) {
            const input = { prompt: "Why is the sky blue?", options: { reasoning: level, maxTokens: 20_000 } }
            const { body, result } = yield* asked(model, input, stream)
            assert.deepStrictEqual(body.thinking, { type: "enabled", budget_tokens: budgets[level] }, model)
            assert.isUndefined(body.output_config, model)
            assert.isUndefined(body.temperature, model)
            assert.strictEqual(body.max_tokens, 20_000)
            assert.strictEqual(result.content, "Mock answer from anthropic: Why is the sky blue?")
            assert.isAbove(result.usage.reasoningTokens, 0)
            assert.isAbove(result.usage.completionTokens, result.usage.reasoningTokens)
          }
        }
      }).pipe(Effect.provide(Bench), Effect.scoped))

    it.effect(`adaptive models (${how}): adaptive thinking and output_config.effort the level`, () =>
      Effect.gen(function*() {
        for (const model of ["claude-sonnet-4-6", "claude-opus-4-6", ADAPTIVE, "claude-haiku-5-5"]) {
          for (const level of levels) {
            const { body, result } = yield* asked(model, { prompt: "Hi", options: { reasoning: level } }, stream)
            assert.deepStrictEqual(body.thinking, { type: "adaptive" }, model)
            assert.deepStrictEqual(body.output_config, { effort: level }, model)
            assert.isUndefined(body.temperature, model)
            assert.strictEqual(body.max_tokens, 2000)
            assert.notInclude(result.content, "reasoning")
            assert.isAbove(result.usage.reasoningTokens, 0)
          }
        }
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.effect("structured output with thinking: effort merged beside the format, no forced tool", () =>
    Effect.gen(function*() {
      const body = yield* structuredCity(ADAPTIVE, "medium")
      assert.deepStrictEqual(body.output_config, {
        format: { type: "json_schema", schema: { ...citySchema, additionalProperties: false } },
        effort: "medium"
      })
      assert.isUndefined(body.tool_choice)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.effect("Claude before 3.7, which does not think: nothing sent", () =>
    Effect.gen(function*() {
      for (const reasoning of ["none", "high"] as const) {
        const { body } = yield* asked("claude-3-5-haiku-20241022", { prompt: "Hi", options: { reasoning } }, false)
        assert.isUndefined(body.thinking)
        assert.isUndefined(body.output_config)
      }
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.effect("older models: the budget kept below max_tokens (2000 by default)", () =>
    Effect.gen(function*() {
      const { body } = yield* asked(OLDER, { prompt: "Hi", options: { reasoning: "high" } }, false)
      assert.deepStrictEqual(body.thinking, { type: "enabled", budget_tokens: 1999 })
      assert.strictEqual(body.max_tokens, 2000)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.effect("a limit left to the provider: the budget on top of the default 4096, on both families", () =>
    Effect.gen(function*() {
      const older = yield* asked(OLDER, { prompt: "Hi", options: { reasoning: "high", maxTokens: "provider" } }, true)
      assert.deepStrictEqual(older.body.thinking, { type: "enabled", budget_tokens: 16_384 })
      assert.strictEqual(older.body.max_tokens, 16_384 + 4096)
      const adaptive = yield* asked(
        ADAPTIVE,
        { prompt: "Hi", options: { reasoning: "low", maxTokens: "provider" } },
        false
      )
      assert.strictEqual(adaptive.body.max_tokens, 1024 + 4096)
      const none = yield* asked(OLDER, { prompt: "Hi", options: { reasoning: "none", maxTokens: "provider" } }, false)
      assert.strictEqual(none.body.max_tokens, 4096)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.effect("a forced tool choice, which Anthropic refuses with thinking, wins: thinking disabled, temperature sent", () =>
    Effect.gen(function*() {
      const tools = [weather]
      for (const toolChoice of ["required", { tool: "get_weather" }] as const) {
        const { body, result } = yield* asked(
          OLDER,
          { prompt: "Weather in Oslo?", tools, toolChoice, options: { reasoning: "high", maxTokens: 20_000 } },
          false
        )
        assert.deepStrictEqual(body.thinking, { type: "disabled" })
        assert.strictEqual(body.temperature, 0.7)
        assert.strictEqual(result.finishReason, "tool_calls")
      }
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

/** What a request through `LlmManager` over `Anthropic.layer` on `model` answered, plain or streamed, and its body. */
const managed = (model: string, input: LlmManager.Input, stream: boolean) =>
  Effect.gen(function*() {
    const llm = yield* Turns.managerOver(
      (server) => [Anthropic.layer({ apiKey, baseUrl: server.baseUrl("anthropic"), model })],
      stream ? "stream" : "generate"
    )
    const result = stream
      ? yield* Stream.runCollect(llm.stream(input)).pipe(Effect.map((parts) => {
        const finish = parts.at(-1)
        if (finish?._tag !== "Finish") return assert.fail("the stream ended without a Finish")
        const content = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
        return { content, usage: finish.usage }
      }))
      : yield* llm.generate(input)
    return { result, body: yield* lastBody }
  })

describe("Anthropic reasoning: a limit too small to think in, through LlmManager", () => {
  for (const stream of [false, true]) {
    const how = stream ? "streamed" : "plain"

    it.live(`older models, maxTokens at or below 1024 (${how}): answered without thinking`, () =>
      Effect.gen(function*() {
        for (const maxTokens of [1024, 300]) {
          for (const level of levels) {
            const input = { prompt: "Why is the sky blue?", options: { reasoning: level, maxTokens } }
            const { body, result } = yield* managed(OLDER, input, stream)
            assert.deepStrictEqual(body.thinking, { type: "disabled" }, `${level} ${maxTokens}`)
            assert.strictEqual(body.max_tokens, maxTokens)
            assert.strictEqual(body.temperature, 0.7)
            assert.isUndefined(body.output_config)
            assert.strictEqual(result.content, "Mock answer from anthropic: Why is the sky blue?")
            assert.strictEqual(result.usage.reasoningTokens, 0)
          }
        }
        // one token more leaves room for the least budget
        const { body } = yield* managed(OLDER, { prompt: "Hi", options: { reasoning: "low", maxTokens: 1025 } }, stream)
        assert.deepStrictEqual(body.thinking, { type: "enabled", budget_tokens: 1024 })
        // an adaptive model needs no budget: it thinks within any limit
        const adaptive = yield* managed(
          ADAPTIVE,
          { prompt: "Hi", options: { reasoning: "low", maxTokens: 1024 } },
          stream
        )
        assert.deepStrictEqual(adaptive.body.thinking, { type: "adaptive" })
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})

const DEEPSEEK = "deepseek-v4-pro"

describe("Anthropic reasoning on a name that is no Claude version (DeepSeek's Anthropic format)", () => {
  for (const stream of [false, true]) {
    const how = stream ? "streamed" : "plain"

    it.live(`${DEEPSEEK} (${how}): enabled without a budget, output_config.effort the level, any limit`, () =>
      Effect.gen(function*() {
        for (const maxTokens of [2000, 500, "provider"] as const) {
          for (const level of levels) {
            const input = { prompt: "Why is the sky blue?", options: { reasoning: level, maxTokens } }
            const { body, result } = yield* managed(DEEPSEEK, input, stream)
            assert.deepStrictEqual(body.thinking, { type: "enabled" }, `${level} ${maxTokens}`)
            assert.deepStrictEqual(body.output_config, { effort: level })
            assert.strictEqual(body.max_tokens, maxTokens === "provider" ? 4096 : maxTokens)
            assert.isUndefined(body.temperature)
            assert.strictEqual(result.content, "Mock answer from anthropic: Why is the sky blue?")
            assert.isAbove(result.usage.reasoningTokens, 0)
          }
        }
        const none = yield* managed(DEEPSEEK, { prompt: "Hi", options: { reasoning: "none" } }, stream)
        assert.deepStrictEqual(none.body.thinking, { type: "disabled" })
        assert.isUndefined(none.body.output_config)
        assert.strictEqual(none.body.temperature, 0.7)
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.effect(`${DEEPSEEK}: structured output with thinking, the effort beside the format`, () =>
    Effect.gen(function*() {
      const body = yield* structuredCity(DEEPSEEK, "high")
      assert.deepStrictEqual(body.thinking, { type: "enabled" })
      assert.deepStrictEqual(body.output_config, {
        format: { type: "json_schema", schema: { ...citySchema, additionalProperties: false } },
        effort: "high"
      })
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

/** A JSON Schema of an answer naming a city. */
const citySchema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] }

/** Asks `model` through `Anthropic.make` for a structured city at `reasoning`: the body the mock received. */
const structuredCity = (model: string, reasoning: Reasoning) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    yield* mock.reset
    const provider = yield* Anthropic.make({ apiKey, baseUrl: mock.baseUrl("anthropic"), model })
    const request = yield* LlmRequest.make({ prompt: "Name a city", options: { reasoning } })
    assert.isObject((yield* provider.generateStructured(request, citySchema)).value)
    return yield* lastBody
  })

/** A POST of `body` to the mock server's Anthropic messages endpoint: its status and parsed body. */
const post = (body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const response = yield* Effect.promise(() =>
      fetch(`${mock.baseUrl("anthropic")}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01" },
        body: JSON.stringify(body)
      })
    )
    const text = yield* Effect.promise(() => response.text())
    return { status: response.status, text, json: body.stream === true ? undefined : JSON.parse(text) as unknown }
  })

const thinking = (budget: number) => ({ type: "enabled", budget_tokens: budget })
const user = (content: string) => ({ role: "user", content })

/** Asserts an Anthropic 400 `invalid_request_error` whose message includes `text`. */
const rejected = (response: { readonly status: number; readonly json: unknown }, text: string) => {
  assert.strictEqual(response.status, 400)
  const body = response.json
  assert.isTrue(Json.isObject(body) && body.type === "error")
  const error = Json.isObject(body) ? body.error : undefined
  assert.isTrue(Json.isObject(error) && error.type === "invalid_request_error")
  assert.include(Json.isObject(error) ? String(error.message) : "", text)
}

const weather = {
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}
const time = { name: "get_time", parameters: { type: "object", properties: {} } }
const anthropicTools = [weather, time].map((tool) => ({ name: tool.name, input_schema: tool.parameters }))

describe("the mock server's Anthropic thinks as the API does", () => {
  it.effect("a thinking block with a signature before the answer, plain and streamed, billed as output", () =>
    Effect.gen(function*() {
      const request = { model: OLDER, max_tokens: 4000, thinking: thinking(2048), messages: [user("Hi")] }
      const plain = yield* post(request)
      assert.strictEqual(plain.status, 200)
      const json = plain.json as { content: Array<Record<string, unknown>>; usage: Record<string, unknown> }
      assert.deepStrictEqual(json.content.map((block) => block.type), ["thinking", "text"])
      assert.isString(json.content[0]?.thinking)
      assert.isString(json.content[0]?.signature)
      assert.deepStrictEqual(json.usage.output_tokens_details, {
        thinking_tokens: Math.ceil(String(json.content[0]?.thinking).length / 4)
      })
      const streamed = yield* post({ ...request, stream: true })
      for (const delta of ["thinking_delta", "signature_delta", "text_delta"]) assert.include(streamed.text, delta)
      assert.isBelow(streamed.text.indexOf("thinking_delta"), streamed.text.indexOf("text_delta"))
      const adaptive = yield* post({
        model: ADAPTIVE,
        max_tokens: 4000,
        thinking: { type: "adaptive" },
        output_config: { effort: "low" },
        messages: [user("Hi")]
      })
      assert.strictEqual(adaptive.status, 200)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.effect("400 for what the API refuses with thinking on", () =>
    Effect.gen(function*() {
      const base = { model: OLDER, max_tokens: 4000, thinking: thinking(2048), messages: [user("Hi")] }
      rejected(yield* post({ ...base, temperature: 0.7 }), "temperature")
      assert.strictEqual((yield* post({ ...base, temperature: 1 })).status, 200)
      rejected(yield* post({ ...base, thinking: thinking(1000) }), "budget_tokens")
      rejected(yield* post({ ...base, thinking: { type: "enabled" } }), "budget_tokens")
      // a name that is no Claude version (DeepSeek's Anthropic format) thinks without a budget
      const deepseek = yield* post({ ...base, model: "deepseek-v4-pro", thinking: { type: "enabled" } })
      assert.strictEqual(deepseek.status, 200)
      const blocks = (deepseek.json as { content: Array<Record<string, unknown>> }).content
      assert.deepStrictEqual(blocks.map((block) => block.type), ["thinking", "text"])
      rejected(yield* post({ ...base, thinking: thinking(4000) }), "max_tokens")
      rejected(yield* post({ ...base, tools: anthropicTools, tool_choice: { type: "any" } }), "tool_choice")
      rejected(
        yield* post({ ...base, tools: anthropicTools, tool_choice: { type: "tool", name: "get_time" } }),
        "tool_choice"
      )
      rejected(yield* post({ ...base, thinking: { type: "adaptive" } }), "adaptive")
      rejected(yield* post({ ...base, messages: [user("Hi"), { role: "assistant", content: "Well" }] }), "thinking")
      assert.strictEqual((yield* post({ ...base, thinking: { type: "disabled" }, temperature: 0.7 })).status, 200)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.effect("400 for a tool_use turn sent back without its thinking block, or with it modified", () =>
    Effect.gen(function*() {
      const base = { model: OLDER, max_tokens: 4000, thinking: thinking(2048), tools: anthropicTools }
      const first = yield* post({ ...base, messages: [user("Weather?")] })
      const content = (first.json as { content: Array<Record<string, unknown>> }).content
      assert.deepStrictEqual(content.map((block) => block.type), ["thinking", "tool_use"])
      const [block, call] = content
      const result = { role: "user", content: [{ type: "tool_result", tool_use_id: call?.id, content: "rain" }] }
      const back = (blocks: ReadonlyArray<unknown>) =>
        post({ ...base, messages: [user("Weather?"), { role: "assistant", content: blocks }, result] })
      assert.strictEqual((yield* back([block, call])).status, 200)
      rejected(yield* back([call]), "thinking")
      rejected(yield* back([{ ...block, thinking: `${String(block?.thinking)} (edited)` }, call]), "signature")
      rejected(yield* back([{ ...block, signature: "c2lnbmVk" }, call]), "signature")
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

/** The reasoning the mock's Anthropic writes before a step of the loop. */
const mockReasoning = (step: number) =>
  `Mock reasoning from anthropic, step ${step}: the user asked "Weather in Oslo?".`

const question: LlmRequest.Message = { role: "user", content: "Weather in Oslo?" }

const answered = (prompt: ReadonlyArray<LlmRequest.Message>, calls: ReadonlyArray<Tool.ToolCall>) => [
  ...prompt,
  { role: "assistant" as const, content: "", toolCalls: calls },
  ...calls.map((call) => ({ role: "tool" as const, content: "rain", toolCallId: call.id, name: call.name }))
]

/** One turn through the manager with `reasoning`, the weather and time tools offered. */
const ask = (llm: LlmManager.Service, prompt: ReadonlyArray<LlmRequest.Message>, via: Turns.Via) => {
  const request = { prompt, tools: [weather, time], options: { reasoning: "high" as const, maxTokens: 20_000 } }
  return via === "stream"
    ? Effect.map(Stream.runCollect(llm.stream(request)), (parts) => {
      const finish = parts.at(-1)
      if (finish?._tag !== "Finish") return assert.fail("the stream ended without a Finish")
      const content = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      return { content, toolCalls: finish.toolCalls }
    })
    : Effect.map(llm.generate(request), (result): Pick<GenerationResult, "toolCalls" | "content"> => result)
}

describe("Anthropic reasoning in a tool loop, through LlmManager", () => {
  for (const model of [OLDER, ADAPTIVE]) {
    for (const via of Turns.vias) {
      it.live(`${model} (${via}): each turn's thinking goes back before its tool_use blocks`, () =>
        Effect.gen(function*() {
          const llm = yield* Turns.managerOver(
            (server) => [Anthropic.layer({ apiKey, baseUrl: server.baseUrl("anthropic"), model })],
            via
          )
          let prompt: ReadonlyArray<LlmRequest.Message> = [question]
          const replays: Array<Tool.Replay | undefined> = []
          let turn = yield* ask(llm, prompt, via)
          while (turn.toolCalls !== undefined) {
            replays.push(turn.toolCalls[0]?.replay)
            prompt = answered(prompt, turn.toolCalls)
            turn = yield* ask(llm, prompt, via)
          }
          assert.include(turn.content, "[tool results: rain; rain]")
          assert.notInclude(turn.content, "Mock reasoning")
          assert.deepStrictEqual(replays.map((replay) => [replay?.provider, replay?.model, replay?.reasoning]), [
            [ProviderName.make("anthropic"), ModelId.make(model), mockReasoning(1)],
            [ProviderName.make("anthropic"), ModelId.make(model), mockReasoning(2)]
          ])
          const messages = (yield* lastBody).messages as ReadonlyArray<{ content: ReadonlyArray<Json.JsonObject> }>
          for (const [i, step] of [[1, 1], [3, 2]] as const) {
            const blocks = messages[i]?.content ?? []
            assert.deepStrictEqual(blocks.map((block) => block.type), ["thinking", "tool_use"])
            assert.strictEqual(blocks[0]?.thinking, mockReasoning(step))
            assert.strictEqual(blocks[0]?.signature, replays[step - 1]?.signature)
          }
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }
  }
})

describe("Anthropic reasoning and a prefill", () => {
  it.live("a stream cut after its thinking is continued from the delivered text with thinking disabled", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      yield* mock.reset
      const llm = yield* LlmManager.make({
        providers: [Anthropic.layer({ apiKey, baseUrl: mock.baseUrl("anthropic"), model: OLDER })],
        policy: FallbackPolicy.make({ maxRetries: 1, retryBaseDelayMs: 0 }),
        circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
        generationEnabled: true
      })
      yield* mock.inject("anthropic", MockFault.cutStreamAfter(2))
      const prompt = "Explain tides to a child."
      const parts = yield* Stream.runCollect(llm.stream({ prompt, options: { reasoning: "low" } }))
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.strictEqual(text, `Mock answer from anthropic: ${prompt}`)
      const [first, continuation] = yield* bodies
      assert.deepStrictEqual(first?.thinking, { type: "enabled", budget_tokens: 1024 })
      const messages = continuation?.messages as ReadonlyArray<Json.JsonObject>
      assert.strictEqual(messages.at(-1)?.role, "assistant")
      assert.deepStrictEqual(continuation?.thinking, { type: "disabled" })
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag === "Finish" ? finish.attempts?.length : 0, 2)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})

describe("Anthropic redacted thinking in a tool loop", () => {
  // Anthropic's test string: a prompt that starts with it is thought about in a redacted block
  const trigger = "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253"
  for (const via of Turns.vias) {
    it.live(`(${via}): the redacted_thinking block goes back as it came, in the replay's signature`, () =>
      Effect.gen(function*() {
        const llm = yield* Turns.managerOver(
          (server) => [Anthropic.layer({ apiKey, baseUrl: server.baseUrl("anthropic"), model: OLDER })],
          via
        )
        const prompt = [{ role: "user" as const, content: `${trigger} Weather in Oslo?` }]
        const first = yield* ask(llm, prompt, via)
        const replay = first.toolCalls?.[0]?.replay
        assert.isUndefined(replay?.reasoning)
        const blocks = Json.parse(replay?.signature ?? "")
        assert.isTrue(Array.isArray(blocks) && blocks.length === 1 && Json.isObject(blocks[0]))
        const second = yield* ask(llm, answered(prompt, first.toolCalls ?? []), via)
        assert.isDefined(second.toolCalls)
        const messages = (yield* lastBody).messages as ReadonlyArray<{ content: ReadonlyArray<Json.JsonObject> }>
        const sent = messages[1]?.content ?? []
        assert.deepStrictEqual(sent.map((block) => block.type), ["redacted_thinking", "tool_use"])
        assert.deepStrictEqual(sent[0], (blocks as ReadonlyArray<unknown>)[0])
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
