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
 * events the given delays apart; and on the decoders, which call their
 * `reasoning` callback for reasoning alone, never for text. Reasoning is
 * billed: a stream cut, or stopped by its caller, while the model reasons
 * is charged an estimate of it (four characters a token, as output and
 * reasoning tokens), whatever the provider reported by then.
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

/** What `LlmManager.stream` over `primary` alone gave for `frames`: the text, or the first attempt's error. */
const streamed = (primary: Primary, frames: ReadonlyArray<Paced>, limits: FallbackPolicy.FallbackPolicy = policy) =>
  Effect.gen(function*() {
    const baseUrl = yield* pacedServer(frames)
    const llm = yield* LlmManager.make({ providers: [primary(baseUrl)], policy: limits, generationEnabled: true })
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
 * ending the response (`cut`), or then silent while the caller goes away (`cancel`).
 */
const recordsOf = (primary: Primary, frames: ReadonlyArray<Paced>, stop: "cut" | "cancel") =>
  Effect.gen(function*() {
    const baseUrl = yield* pacedServer(stop === "cut" ? frames : [...frames, at(60_000, ": never sent")])
    const patient = FallbackPolicy.make({
      maxRetries: 0,
      limits: { firstByteMs: 5_000, firstTokenMs: 5_000, thinkingFirstTokenMs: 5_000, idleMs: 5_000, attemptMs: 20_000 }
    })
    const llm = yield* LlmManager.make({ providers: [primary(baseUrl)], policy: patient })
    const drained = Stream.runDrain(llm.stream({ prompt: "What is 6 x 7?" }))
    if (stop === "cut") {
      yield* Effect.flip(drained)
    } else {
      const fiber = yield* Effect.forkChild(drained)
      // the reasoning went out at once: long enough for it to arrive (the wait is not what is tested)
      yield* Effect.sleep(500)
      yield* Fiber.interrupt(fiber)
    }
    return yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
  }).pipe(Effect.provide(RequestLog.layerMemory()), Effect.provide(Bench), Effect.scoped)

describe("a stream stopped while the model reasons is billed its reasoning", () => {
  for (const [name, primary] of cases.map(([name, primary]) => [name, primary] as const)) {
    for (const stop of ["cut", "cancel"] as const) {
      it.live(`${name}: ${stop === "cut" ? "cut by the server" : "stopped by its caller"} before any text`, () =>
        Effect.gen(function*() {
          const records = yield* recordsOf(primary, reasoningOf[name] ?? [], stop)
          assert.deepStrictEqual(
            records.map((r) => [r.outcome, r.usageEstimated, r.completionTokens, r.reasoningTokens]),
            [[stop === "cut" ? "error" : "cancelled", true, 30, 30]]
          )
        }))
    }
  }
})

/** How many times `codec`'s decoder called `reasoning` for each of `frames` (`data: ` and `event: ` lines), and the text. */
const decoded = (codec: Codec, frames: ReadonlyArray<string>) => {
  let calls = 0
  const decoder = codec.streamDecoder(() => {
    calls++
  })
  const counts: Array<number> = []
  let text = ""
  for (const frame of frames) {
    const lines = frame.split("\n")
    const event = lines.find((line) => line.startsWith("event: "))?.slice(7) ?? "message"
    const data = lines.find((line) => line.startsWith("data: "))?.slice(6) ?? ""
    const before = calls
    const step = decoder.event({ event, data })
    if (typeof step === "string") text += step
    counts.push(calls - before)
  }
  return { counts, text }
}

describe("the stream decoders' reasoning callback", () => {
  it("chat completions: called for reasoning alone, never for text (repeated chunks included)", () => {
    const reasoningOnly = chunk({ content: "", reasoning_content: "hmm" })
    const frames = [
      chunk({ role: "assistant", content: null, reasoning_content: "" }),
      chunk({ content: null, reasoning_content: "Let me think." }),
      chunk({ content: null, reasoning: "OpenRouter thinks." }),
      // empty text beside reasoning, twice alike: never read as a repeated text chunk
      reasoningOnly,
      reasoningOnly,
      chunk({ content: "The answer" }),
      chunk({ content: " is 42." }),
      chunk({ content: "!", reasoning_content: "and text" })
    ]
    const { counts, text } = decoded(DeepSeekCodec.codec, frames)
    assert.deepStrictEqual(counts, [0, 1, 1, 1, 1, 0, 0, 0])
    assert.strictEqual(text, "The answer is 42.!")
  })

  it("Anthropic: called for a thinking_delta, not for text, signatures or pings", () => {
    const frames = [
      ...anthropicStart.map((paced) => paced.frame),
      named("ping", {}),
      ...anthropicThinking.slice(0, 2).map((paced) => paced.frame),
      ...anthropicAnswer.map((paced) => paced.frame)
    ]
    const { counts, text } = decoded(AnthropicCodec.codec, frames)
    assert.deepStrictEqual(counts, [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    assert.strictEqual(text, "The answer is 42.")
  })

  it("Gemini: called for an event of thoughts alone, not for one with text", () => {
    const frames = [
      geminiChunk([{ text: "pondering", thought: true }]),
      geminiChunk([{ text: "", thought: true }]),
      geminiChunk([{ text: "more", thought: true }, { text: "The answer" }]),
      geminiChunk([{ text: " is 42." }], "STOP")
    ]
    const { counts, text } = decoded(GeminiCodec.codec, frames)
    assert.deepStrictEqual(counts, [1, 0, 0, 0])
    assert.strictEqual(text, "The answer is 42.")
  })
})
