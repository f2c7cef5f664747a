/**
 * `finish_reason: "error"` (OpenRouter's for a generation that failed
 * mid-way) cuts an answer: through `LlmManager`, over real HTTP from a
 * server that sends exactly the given reply, it is retried and then falls
 * back to the mock server's OpenAI, plain and streamed, never served as a
 * finished answer, each attempt billed the usage the server reported; a
 * stream cut after text is rescued by the fallback; as DeepSeek's
 * `insufficient_system_resource` is (`resourceStop.test.ts`). An
 * `error` object beside it decides instead, plain as streamed, at the top
 * level or on the choice itself (OpenRouter's `choices[0].error`): the
 * error it names (a 502 upstream retried, a prompt over the context window
 * not).
 */
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-test-key")

const usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }
const chunk = (content: string, finish: string | null, extra: object = {}, onChoice: object = {}) => ({
  choices: [{ index: 0, delta: { content }, finish_reason: finish, ...onChoice }],
  ...extra
})
const reply = (content: string, extra: object = {}, onChoice: object = {}) => ({
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "error", ...onChoice }],
  usage,
  ...extra
})

/** OpenRouter's cut: the text so far, then `finish_reason: "error"`, its usage, `[DONE]`. */
const cut: RawServer.Reply = {
  body: reply("The answer is"),
  events: [chunk("The answer is", null), chunk("", "error"), { choices: [], usage }, "[DONE]"]
}

/** The cut with OpenRouter's `error` object beside the finish: at the top level, or on the choice. */
const cutWith = (error: object, placement: "top" | "choice"): RawServer.Reply => {
  const [extra, onChoice] = placement === "top" ? [{ error }, {}] : [{}, { error }]
  return {
    body: reply("The answer is", extra, onChoice),
    events: [chunk("The answer is", null), chunk("", "error", extra, onChoice), "[DONE]"]
  }
}

const upstream = { code: 502, message: "Provider disconnected" }
const tooLong = { code: 400, message: "This model's maximum context length is 4096 tokens" }

const retried = (tag: string) => [["openrouter", tag], ["openrouter", tag], ["openai", undefined]]
const notRetried = (tag: string) => [["openrouter", tag], ["openai", undefined]]

/** What each reply is: the attempts' errors, and what the first one's message says. */
const cases = [
  ["retried, then the fallback answers", cut, retried("MalformedResponse"), "finish_reason error"],
  ...(["top", "choice"] as const).flatMap((placement) => [
    [
      `an error object beside it (${placement}) is the error it names: a 502 retried, then the fallback answers`,
      cutWith(upstream, placement),
      retried("ProviderUnavailable"),
      "Provider disconnected"
    ] as const,
    [
      `an error object beside it (${placement}) is the error it names: a prompt too long falls back, not retried`,
      cutWith(tooLong, placement),
      notRetried("ContextLengthExceeded"),
      "maximum context length is 4096 tokens"
    ] as const
  ])
] as const

/** OpenRouter at `server`, the mock server's OpenAI behind it; one retry allowed. */
const chain = (server: RawServer.RawServer, generateVia: "stream" | "generate") =>
  Manager.withMockFallback((baseUrl) =>
    OpenAiCompatible.layer({ name: "openrouter", baseUrl, model: "openai/gpt-4o", apiKey })
  )(server.url, { maxRetries: 1, retryBaseDelayMs: 1, generateVia })

describe("finish_reason error (OpenRouter)", () => {
  for (const via of ["generate", "stream"] as const) {
    for (const [name, reply, attempts, message] of cases) {
      it.live(`generate (generateVia: ${via}): ${name}`, () =>
        Effect.gen(function*() {
          const llm = yield* chain(yield* RawServer.start(reply), via)
          const result = yield* llm.generate({ prompt: "hi" })
          assert.deepStrictEqual(result.attempts.map((a) => [String(a.provider), a.error?._tag]), attempts)
          assert.strictEqual(result.content, "Mock answer from openai: hi")
          assert.include(result.attempts[0]?.error?.message ?? "", message)
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }

    it.live(`generate (generateVia: ${via}): each cut attempt is billed the usage the server reported`, () =>
      Effect.gen(function*() {
        const llm = yield* chain(yield* RawServer.start(cut), via)
        const result = yield* llm.generate({ prompt: "hi" })
        const billed = result.attempts.slice(0, 2).map((a) =>
          a.error !== undefined && "usage" in a.error ? a.error.usage : undefined
        )
        assert.deepStrictEqual(
          billed.map((usage) => [usage?.promptTokens, usage?.completionTokens, usage?.estimated]),
          [[5, 3, undefined], [5, 3, undefined]]
        )
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.live("stream: the answer cut after its first words is rescued whole by the fallback", () =>
    Effect.gen(function*() {
      // the words the mock OpenAI's answer begins with, so the fallback's restart continues them
      const server = yield* RawServer.start({
        body: {},
        events: [chunk("Mock answer", null), chunk("", "error"), { choices: [], usage }, "[DONE]"]
      })
      const llm = yield* chain(server, "stream")
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "hi" }))
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.strictEqual(text, "Mock answer from openai: hi")
      const finish = parts.at(-1)
      assert.deepStrictEqual(
        finish?._tag === "Finish" ? [finish.rescued, finish.attempts?.map((a) => a.error?._tag)] : undefined,
        [true, ["MalformedResponse", "MalformedResponse", undefined]]
      )
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
