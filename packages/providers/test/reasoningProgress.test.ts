/**
 * A model that reasons visibly streams its reasoning before its answer:
 * DeepSeek's and OpenAI-compatible servers' `reasoning_content` (vLLM,
 * OpenRouter: `reasoning`) deltas, Anthropic's `thinking_delta`, Gemini's
 * `thought: true` parts. The caller never gets that text, but it keeps the
 * stream alive for the manager's watchdog: a stream reasoning for longer than
 * the first-token limit is not cut, and once it reasoned the longer of the
 * first-token and idle limits bounds its silences before its answer (a
 * model may think silently between two bursts of reasoning). A stream that sends nothing (or only keep-alive
 * comments) is still cut at the first-token limit. Through `LlmManager` on
 * the live clock with short limits, over a server that sends the given
 * events the given delays apart; and on the decoders, which tell their
 * `reasoning` callback of the reasoning an event carries, alone or beside
 * text, never of text. Reasoning is billed: a stream cut, or stopped by its
 * caller, while the model reasons is charged an estimate of it (four
 * characters a token, as output and reasoning tokens), whatever the
 * provider reported by then; and so is the rest of what came, as output:
 * text beside reasoning in the same events, a tool call's name and arguments, the
 * text after a malformed event (forwarded no more, but billed).
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import type { ProviderError } from "@baton/core/ProviderError"
import * as RequestLog from "@baton/core/RequestLog"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Redacted, Stream } from "effect"
import { createServer, type ServerResponse } from "node:http"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"
import type { Codec } from "../src/internal/adapter.ts"
import * as AnthropicCodec from "../src/internal/anthropic.ts"
import * as DeepSeekCodec from "../src/internal/deepSeek.ts"
import * as GeminiCodec from "../src/internal/gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

const apiKey = Redacted.make("sk-test-key")

/** One SSE event (a raw frame: `data: ...`, `event: ...`, `: comment`), sent `delayMs` after the one before. */
interface Paced {
  readonly delayMs: number
  readonly frame: string
}

/** Writes `frames` to `res` in order, each after its delay, then ends it (unless the client left). */
const play = (res: ServerResponse, frames: ReadonlyArray<Paced>): void => {
  let timer: ReturnType<typeof setTimeout> | undefined
  // one listener for the whole response (one per frame passed Node's limit of ten)
  res.once("close", () => {
    clearTimeout(timer)
  })
  const step = (index: number): void => {
    if (res.destroyed) return
    const next = frames[index]
    if (next === undefined) {
      res.end()
      return
    }
    timer = setTimeout(() => {
      if (res.destroyed) return
      res.write(`${next.frame}\n\n`)
      step(index + 1)
    }, next.delayMs)
  }
  step(0)
}

/** A server answering every request with `frames`, paced; closed with the scope. */
const pacedServer = (frames: ReadonlyArray<Paced>) =>
  Effect.map(
    TestServer.listen(createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        play(res, frames)
      })
    })),
    (port) => `http://127.0.0.1:${port}`
  )

// the limits under test: 300 ms to the first token, thinking models too, 300 ms of silence after it
const limitMs = 300
const policy = FallbackPolicy.make({
  maxRetries: 0,
  limits: {
    firstByteMs: 5_000,
    firstTokenMs: limitMs,
    thinkingFirstTokenMs: limitMs,
    idleMs: limitMs,
    attemptMs: 20_000
  }
})
// reasoning for 1.2 s, 4 times the limits, a delta every 100 ms
const reasoningSteps = 12
const stepMs = 100

/** `frame` sent `delayMs` after the one before. */
const at = (delayMs: number, frame: string): Paced => ({ delayMs, frame })
/** `frames` sent at once, each after the one before. */
const now = (...frames: ReadonlyArray<string>): Array<Paced> => frames.map((frame) => at(0, frame))
/** `n` frames made by `make`, `stepMs` apart. */
const every = (n: number, make: (i: number) => string): Array<Paced> =>
  Array.from({ length: n }, (_, i) => at(stepMs, make(i)))

// --- chat completions (DeepSeek, OpenAI-compatible servers) ---------------------------------------

const chunk = (delta: object, finish: string | null = null) =>
  `data: ${
    JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1,
      model: "deepseek-v4-pro",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }]
    })
  }`
const chatAnswer = now(
  chunk({ content: "The answer" }),
  chunk({ content: " is 42." }),
  chunk({ content: "" }, "stop"),
  `data: ${
    JSON.stringify({
      id: "chatcmpl-1",
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 30, total_tokens: 35 }
    })
  }`,
  "data: [DONE]"
)
/** A DeepSeek reasoning stream (`reasoning_content`, `content` null), or a compatible server's (`reasoning`). */
const chatReasoning = (field: "reasoning_content" | "reasoning") =>
  every(
    reasoningSteps,
    (i) => chunk({ role: i === 0 ? "assistant" : undefined, content: null, [field]: `step ${i}. ` })
  )

const deepSeek = (baseUrl: string) => DeepSeek.layer({ apiKey, baseUrl, model: "deepseek-v4-pro" })
const compatible = (baseUrl: string) => OpenAiCompatible.layer({ name: "vllm", baseUrl, model: "qwen3-32b" })

// --- Anthropic ---------------------------------------------------------------------------------

const named = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}`
const anthropicStart = now(
  named("message_start", {
    message: {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-6",
      content: [],
      stop_reason: null,
      usage: { input_tokens: 5, output_tokens: 1 }
    }
  }),
  named("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "", signature: "" } })
)
const anthropicThinking = every(
  reasoningSteps,
  (i) => named("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: `step ${i}. ` } })
)
const anthropicAnswer = now(
  named("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: "sig" } }),
  named("content_block_stop", { index: 0 }),
  named("content_block_start", { index: 1, content_block: { type: "text", text: "" } }),
  named("content_block_delta", { index: 1, delta: { type: "text_delta", text: "The answer" } }),
  named("content_block_delta", { index: 1, delta: { type: "text_delta", text: " is 42." } }),
  named("content_block_stop", { index: 1 }),
  named("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 30 } }),
  named("message_stop", {})
)
const anthropic = (baseUrl: string) => Anthropic.layer({ apiKey, baseUrl, model: "claude-sonnet-4-6" })

// --- Gemini ------------------------------------------------------------------------------------

const geminiChunk = (parts: ReadonlyArray<object>, finishReason?: string) =>
  `data: ${
    JSON.stringify({
      candidates: [{
        content: { role: "model", parts },
        index: 0,
        ...(finishReason === undefined ? {} : { finishReason })
      }],
      usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 },
      responseId: "r1"
    })
  }`
const geminiThoughts = every(reasoningSteps, (i) => geminiChunk([{ text: `step ${i}. `, thought: true }]))
const geminiAnswer = now(geminiChunk([{ text: "The answer" }]), geminiChunk([{ text: " is 42." }], "STOP"))
const gemini = (baseUrl: string) => Gemini.layer({ apiKey, baseUrl, model: "gemini-2.5-flash" })

// --- the cases ---------------------------------------------------------------------------------

type Primary = (baseUrl: string) => ReturnType<typeof DeepSeek.layer>

/**
 * What `LlmManager.stream` over `primary` (then `fallbacks`, none by default) gave for `frames`: the text, or the
 * first attempt's error.
 */
const streamed = (
  primary: Primary,
  frames: ReadonlyArray<Paced>,
  limits: FallbackPolicy.FallbackPolicy = policy,
  fallbacks: ReadonlyArray<ReturnType<Primary>> = []
) =>
  Effect.gen(function*() {
    const baseUrl = yield* pacedServer(frames)
    const providers = [primary(baseUrl), ...fallbacks]
    const llm = yield* LlmManager.make({ providers, policy: limits, generationEnabled: true })
    const parts = yield* Stream.runCollect(llm.stream({ prompt: "What is 6 x 7?" })).pipe(Effect.result)
    if (parts._tag === "Failure") {
      const error = parts.failure
      const first: ProviderError | undefined = "attempts" in error ? error.attempts[0]?.error : undefined
      return { text: undefined, error: first ?? error }
    }
    const text = parts.success.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
    return { text, error: undefined }
  }).pipe(Effect.provide(Bench), Effect.scoped)

const cases: ReadonlyArray<readonly [name: string, primary: Primary, reasoning: Array<Paced>, answer: Array<Paced>]> = [
  ["DeepSeek reasoning_content", deepSeek, chatReasoning("reasoning_content"), chatAnswer],
  ["an OpenAI-compatible server's reasoning", compatible, chatReasoning("reasoning"), chatAnswer],
  ["Anthropic thinking_delta", anthropic, [...anthropicStart, ...anthropicThinking], anthropicAnswer],
  ["Gemini thought parts", gemini, geminiThoughts, geminiAnswer]
]

describe("reasoning deltas keep a stream alive for the watchdog", () => {
  for (const [name, primary, reasoning, answer] of cases) {
    it.live(`${name}: reasoning longer than the first-token limit, then the answer, is not cut`, () =>
      Effect.gen(function*() {
        const result = yield* streamed(primary, [...reasoning, ...answer])
        assert.isUndefined(result.error, String(result.error))
        // the caller gets the answer, never the reasoning
        assert.strictEqual(result.text, "The answer is 42.")
      }))

    it.live(`${name}: silence after reasoning, before the answer, is cut as a first-token wait`, () =>
      Effect.gen(function*() {
        const [first, ...rest] = answer
        const stalled = first === undefined ? [] : [{ ...first, delayMs: 3_000 }, ...rest]
        const result = yield* streamed(primary, [...reasoning, ...stalled])
        assert.strictEqual(result.error?._tag, "ProviderTimeout")
        if (result.error?._tag !== "ProviderTimeout") return
        assert.strictEqual(result.error.phase, "first-token")
        assert.strictEqual(result.error.timeoutMs, limitMs)
        assert.strictEqual(result.error.received, 0)
      }))
  }

  it.live("a silence after reasoning gets the first-token limit when it is longer than the idle limit", () =>
    Effect.gen(function*() {
      // a thinking model's budget: 900 ms to the first token, 300 ms between tokens
      const thinking = FallbackPolicy.make({
        maxRetries: 0,
        limits: { firstByteMs: 5_000, firstTokenMs: 900, thinkingFirstTokenMs: 900, idleMs: limitMs, attemptMs: 20_000 }
      })
      // one burst of reasoning, then 600 ms of silent thought: past the idle limit, within the first-token limit
      const [first, ...rest] = chatAnswer
      const frames = [
        ...chatReasoning("reasoning_content").slice(0, 1),
        ...(first === undefined ? [] : [
          { ...first, delayMs: 600 },
          ...rest
        ])
      ]
      const result = yield* streamed(deepSeek, frames, thinking)
      assert.isUndefined(result.error, String(result.error))
      assert.strictEqual(result.text, "The answer is 42.")
    }))

  it.live("with a fallback behind it, a model reasoning past the attempt limit is not cut: it answers", () =>
    Effect.gen(function*() {
      // the fallback keeps 600 ms of a 1,800 ms deadline: the attempt limit, 600 ms, ends a silent attempt
      const behind = FallbackPolicy.make({
        maxRetries: 0,
        requestTimeoutMs: 1_800,
        limits: {
          firstByteMs: 5_000,
          firstTokenMs: limitMs,
          thinkingFirstTokenMs: limitMs,
          idleMs: limitMs,
          attemptMs: 600
        }
      })
      // nothing listens there: an attempt on it would fail
      const unreachable = OpenAiCompatible.layer({ name: "backup", baseUrl: "http://127.0.0.1:9/v1", model: "m" })
      // 1.2 s of reasoning, a delta every 100 ms, then the answer
      const frames = [...chatReasoning("reasoning_content"), ...chatAnswer]
      const result = yield* streamed(deepSeek, frames, behind, [unreachable])
      assert.isUndefined(result.error, String(result.error))
      assert.strictEqual(result.text, "The answer is 42.")
    }))

  it.live("a stream that sends nothing but keep-alive comments is still cut at the first-token limit", () =>
    Effect.gen(function*() {
      const result = yield* streamed(deepSeek, [
        ...every(reasoningSteps, () => ": keep-alive"),
        ...chatAnswer
      ])
      assert.strictEqual(result.error?._tag, "ProviderTimeout")
      if (result.error?._tag !== "ProviderTimeout") return
      assert.strictEqual(result.error.phase, "first-token")
      assert.strictEqual(result.error.timeoutMs, limitMs)
    }))
})

// 120 characters of reasoning (30 tokens at four characters a token) in three events sent at once
const thoughts = [
  "The student asks for 6 x 7; recall that ",
  "6 x 7 is six sevens: 7 + 7 + 7 + 7 + 7 +",
  "7, which is 42. Answer briefly: 42 here."
]
const reasoningOf: Record<string, ReadonlyArray<Paced>> = {
  "DeepSeek reasoning_content": now(...thoughts.map((text) => chunk({ content: null, reasoning_content: text }))),
  "an OpenAI-compatible server's reasoning": now(...thoughts.map((text) => chunk({ content: null, reasoning: text }))),
  "Anthropic thinking_delta": [
    ...anthropicStart,
    ...now(
      ...thoughts.map((text) =>
        named("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: text } })
      )
    )
  ],
  "Gemini thought parts": now(...thoughts.map((text) => geminiChunk([{ text, thought: true }])))
}

/**
 * The request-log records of one `LlmManager.stream` over `primary` alone and a server sending `frames`, then
 * ending the response (`cut`, or `end` when the frames end the stream), or then silent while the caller goes
 * away (`cancel`).
 */
const recordsOf = (
  primary: Primary,
  frames: ReadonlyArray<Paced>,
  stop: "cut" | "cancel" | "end",
  input: LlmManager.Input = { prompt: "What is 6 x 7?" }
) =>
  Effect.gen(function*() {
    const baseUrl = yield* pacedServer(stop === "cancel" ? [...frames, at(60_000, ": never sent")] : frames)
    const patient = FallbackPolicy.make({
      maxRetries: 0,
      limits: { firstByteMs: 5_000, firstTokenMs: 5_000, thinkingFirstTokenMs: 5_000, idleMs: 5_000, attemptMs: 20_000 }
    })
    const llm = yield* LlmManager.make({ providers: [primary(baseUrl)], policy: patient })
    const drained = Stream.runDrain(llm.stream(input))
    if (stop === "end") {
      yield* drained
    } else if (stop === "cut") {
      yield* Effect.flip(drained)
    } else {
      const fiber = yield* Effect.forkChild(drained)
      // the frames went out at once: long enough for them to arrive (the wait is not what is tested)
      yield* Effect.sleep(500)
      yield* Fiber.interrupt(fiber)
    }
    return yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
  }).pipe(Effect.provide(RequestLog.layerMemory()), Effect.provide(Bench), Effect.scoped)

/** The request-log records of {@link recordsOf} as `[outcome, estimated, completion tokens, reasoning tokens]`. */
const billed = (
  primary: Primary,
  frames: ReadonlyArray<Paced>,
  stop: "cut" | "cancel" | "end",
  input?: LlmManager.Input
) =>
  Effect.map(
    recordsOf(primary, frames, stop, input),
    (records) => records.map((r) => [r.outcome, r.usageEstimated, r.completionTokens, r.reasoningTokens])
  )

const stops = [["cut", "cut by the server"], ["cancel", "stopped by its caller"]] as const
/** A case of a stopped stream: its name, the provider, and what the server sends before it stops. */
type Case = readonly [name: string, primary: Primary, frames: Array<Paced>]
const outcomeOf = { cut: "error", cancel: "cancelled" } as const

describe("a stream stopped while the model reasons is billed its reasoning", () => {
  for (const [name, primary] of cases.map(([name, primary]) => [name, primary] as const)) {
    for (const [stop, how] of stops) {
      it.live(`${name}: ${how} before any text`, () =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* billed(primary, reasoningOf[name] ?? [], stop), [[
            outcomeOf[stop],
            true,
            30,
            30
          ]])
        }))
    }
  }
})

// a tool call named get_weather (11 characters) whose arguments, 120 characters, stream in three pieces where the wire
// streams them: 131 characters, 33 tokens
const weather = {
  city: "Paris, France",
  days: 3,
  units: "celsius",
  detail: "hourly temperature, the wind speed and the chance of rain"
}
const toolArguments = JSON.stringify(weather)
const thirds = (text: string) => [text.slice(0, 40), text.slice(40, 80), text.slice(80)]
const weatherTool = {
  name: "get_weather",
  description: "The weather forecast",
  parameters: { type: "object", properties: {} }
}
const openAi = (baseUrl: string) => OpenAi.layer({ apiKey, baseUrl, model: "gpt-4.1" })
const toolCallOf: ReadonlyArray<Case> = [
  ["OpenAI tool_calls", openAi, [
    ...now(
      chunk({
        role: "assistant",
        content: null,
        tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }]
      })
    ),
    ...now(
      ...thirds(toolArguments).map((piece) => chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }))
    )
  ]],
  ["Anthropic input_json_delta", anthropic, [
    ...anthropicStart.slice(0, 1),
    ...now(
      named("content_block_start", {
        index: 0,
        content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} }
      }),
      ...thirds(toolArguments).map((piece) =>
        named("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: piece } })
      )
    )
  ]],
  ["Gemini functionCall parts", gemini, now(geminiChunk([{ functionCall: { name: "get_weather", args: weather } }]))]
]

describe("a stream stopped while the model calls a tool is billed the call's name and arguments", () => {
  for (const [name, primary, frames] of toolCallOf) {
    for (const [stop, how] of stops) {
      it.live(`${name}: ${how} before the call ends`, () =>
        Effect.gen(function*() {
          const records = yield* billed(primary, frames, stop, { prompt: "Weather in Paris?", tools: [weatherTool] })
          assert.deepStrictEqual(records, [[outcomeOf[stop], true, 33, 0]])
        }))
    }
  }
})

describe("a whole stream whose server reports no usage", () => {
  it.live("is billed the estimate of its tool call's name and arguments", () =>
    Effect.gen(function*() {
      const [, , frames = []] = toolCallOf[0] ?? []
      const whole = [...frames, ...now(chunk({}, "tool_calls"), "data: [DONE]")]
      const records = yield* billed(compatible, whole, "end", { prompt: "Weather in Paris?", tools: [weatherTool] })
      assert.deepStrictEqual(records, [["success", true, 33, 0]])
    }))
})

// 120 characters of answer (30 tokens), each piece in the event of a piece of `thoughts`
const answer = [
  "The answer is 42: six sevens make forty-",
  "two, as 7 + 7 + 7 + 7 + 7 + 7 adds up to",
  " 42. So 6 x 7 = 42, the answer asked for"
]
const reasoningBesideTextOf: ReadonlyArray<Case> = [
  [
    "DeepSeek reasoning_content",
    deepSeek,
    now(...thoughts.map((text, i) => chunk({ content: answer[i], reasoning_content: text })))
  ],
  // both fields, the same text: counted once
  [
    "an OpenAI-compatible server's reasoning and reasoning_content",
    compatible,
    now(...thoughts.map((text, i) => chunk({ content: answer[i], reasoning_content: text, reasoning: text })))
  ],
  [
    "Gemini thought parts",
    gemini,
    now(...thoughts.map((text, i) => geminiChunk([{ text, thought: true }, { text: answer[i] }])))
  ]
]

describe("a stream stopped early is billed the reasoning of events that carry text too", () => {
  for (const [name, primary, frames] of reasoningBesideTextOf) {
    for (const [stop, how] of stops) {
      it.live(`${name}: ${how} after text and reasoning in the same events`, () =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* billed(primary, frames, stop), [[outcomeOf[stop], true, 60, 30]])
        }))
    }
  }
})

// reasoning (40 characters), an event that is not JSON, more reasoning (40) and text (40): 30 tokens, 20 reasoning
const malformed = at(0, "data: not json")
const holeOf: ReadonlyArray<Case> = [
  ["DeepSeek", deepSeek, [
    ...now(chunk({ content: null, reasoning_content: thoughts[0] })),
    malformed,
    ...now(chunk({ content: null, reasoning_content: thoughts[1] }), chunk({ content: answer[0] }))
  ]],
  ["Anthropic", anthropic, [
    ...anthropicStart,
    ...now(named("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: thoughts[0] } })),
    malformed,
    ...now(
      named("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: thoughts[1] } }),
      named("content_block_delta", { index: 1, delta: { type: "text_delta", text: answer[0] } })
    )
  ]],
  ["Gemini", gemini, [
    ...now(geminiChunk([{ text: thoughts[0], thought: true }])),
    malformed,
    ...now(geminiChunk([{ text: thoughts[1], thought: true }]), geminiChunk([{ text: answer[0] }]))
  ]]
]

describe("after a malformed event, a stream stopped early is billed the text that came as it is the reasoning", () => {
  for (const [name, primary, frames] of holeOf) {
    for (const [stop, how] of stops) {
      it.live(`${name}: ${how} after a malformed event, then reasoning and text`, () =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* billed(primary, frames, stop), [[outcomeOf[stop], true, 30, 20]])
        }))
    }
  }
})

/** The characters of reasoning `codec`'s decoder told `reasoning` of for each of `frames` (`data: ` and `event: ` lines), and the text. */
const decoded = (codec: Codec, frames: ReadonlyArray<string>) => {
  let reasoned = 0
  const decoder = codec.streamDecoder((characters) => {
    reasoned += characters
  })
  const counts: Array<number> = []
  let text = ""
  for (const frame of frames) {
    const lines = frame.split("\n")
    const event = lines.find((line) => line.startsWith("event: "))?.slice(7) ?? "message"
    const data = lines.find((line) => line.startsWith("data: "))?.slice(6) ?? ""
    const before = reasoned
    const step = decoder.event({ event, data })
    if (typeof step === "string") text += step
    counts.push(reasoned - before)
  }
  return { counts, text }
}

describe("the stream decoders' reasoning callback", () => {
  it("chat completions: told of reasoning alone or beside text, once for both fields, never of text", () => {
    const reasoningOnly = chunk({ content: "", reasoning_content: "hmm" })
    const textAndReasoning = chunk({ content: "!", reasoning_content: "and text" })
    const frames = [
      chunk({ role: "assistant", content: null, reasoning_content: "" }),
      chunk({ content: null, reasoning_content: "Let me think." }),
      chunk({ content: null, reasoning: "OpenRouter thinks." }),
      // both fields, the same text: its characters once
      chunk({ content: null, reasoning_content: "same", reasoning: "same" }),
      // empty text beside reasoning, twice alike: never read as a repeated text chunk
      reasoningOnly,
      reasoningOnly,
      chunk({ content: "The answer" }),
      chunk({ content: " is 42." }),
      // text beside reasoning, twice alike: its reasoning counted both times
      textAndReasoning,
      textAndReasoning
    ]
    const { counts, text } = decoded(DeepSeekCodec.codec, frames)
    assert.deepStrictEqual(counts, [0, 13, 18, 4, 3, 3, 0, 0, 8, 8])
    assert.strictEqual(text, "The answer is 42.!!")
  })

  it("Anthropic: told of a thinking_delta, not of text, signatures or pings", () => {
    const frames = [
      ...anthropicStart.map((paced) => paced.frame),
      named("ping", {}),
      ...anthropicThinking.slice(0, 2).map((paced) => paced.frame),
      ...anthropicAnswer.map((paced) => paced.frame)
    ]
    const { counts, text } = decoded(AnthropicCodec.codec, frames)
    assert.deepStrictEqual(counts, [0, 0, 0, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0])
    assert.strictEqual(text, "The answer is 42.")
  })

  it("Gemini: told of an event's thoughts, alone or beside text, never of text", () => {
    const frames = [
      geminiChunk([{ text: "pondering", thought: true }]),
      geminiChunk([{ text: "", thought: true }]),
      geminiChunk([{ text: "more", thought: true }, { text: "The answer" }]),
      geminiChunk([{ text: " is 42." }], "STOP")
    ]
    const { counts, text } = decoded(GeminiCodec.codec, frames)
    assert.deepStrictEqual(counts, [9, 0, 4, 0])
    assert.strictEqual(text, "The answer is 42.")
  })
})
