/**
 * A tool loop that falls back to a provider stricter about tool call ids
 * than the server that made the call: OpenAI takes ids of at most 40
 * characters (a longer one is a 400 "string too long. Expected a string with
 * maximum length 40"), while vLLM's are `chatcmpl-tool-` and 32 hex digits,
 * 46 characters; Anthropic takes only letters, digits, `_` and `-` (a 400
 * "String should match pattern '^[a-zA-Z0-9_-]+$'"), while Kimi K2's ids
 * are `functions.get_weather:0`. The provider's 400 names `messages`, so the
 * chain would stop there. Through `LlmManager`: an OpenAI-compatible endpoint (a raw
 * server) answers the first turn with a call, then is down, and the mock
 * server's provider answers the second; its body is read as received.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

const apiKey = Redacted.make("sk-test-key")

const weather = {
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
}

const question = { role: "user", content: "Weather in Oslo?" } as const

/** A chat-completions answer calling the weather tool under `id`. */
const calling = (id: string) => ({
  choices: [{
    index: 0,
    message: {
      role: "assistant",
      content: null,
      tool_calls: [{ id, type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Oslo\"}" } }]
    },
    finish_reason: "tool_calls"
  }],
  usage: { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 }
})

type Fallback = "openai" | "anthropic"

const fallbacks = {
  openai: (baseUrl: string) => OpenAi.layer({ apiKey, baseUrl }),
  anthropic: (baseUrl: string) => Anthropic.layer({ apiKey, baseUrl })
} as const

/**
 * The tool loop over the compatible endpoint, whose call is named `id`, and
 * `fallback` after it: the body of the second turn as `fallback` received it.
 */
const loop = (fallback: Fallback, id: string) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const compatible = yield* RawServer.start({ body: calling(id), events: [] })
    const llm = yield* LlmManager.make({
      providers: [
        OpenAiCompatible.layer({ name: "compatible", baseUrl: compatible.url, model: "qwen3" }),
        fallbacks[fallback](mock.baseUrl(fallback))
      ],
      policy: FallbackPolicy.make({ maxRetries: 0, generateVia: "generate" }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: true
    })
    const first = yield* llm.generate({ prompt: [question], tools: [weather] })
    const calls = first.toolCalls ?? []
    assert.deepStrictEqual(calls.map((call) => call.id), [id])
    compatible.set({ status: 503, body: { error: { message: "unavailable" } }, events: [] })
    const second = yield* llm.generate({
      prompt: [
        question,
        { role: "assistant", content: "", toolCalls: calls },
        { role: "tool", toolCallId: id, name: "get_weather", content: "{\"celsius\":4}" }
      ],
      tools: [weather]
    })
    assert.strictEqual(String(second.provider), fallback)
    const received = yield* mock.received(fallback)
    return received.at(-1)?.body as { readonly messages: ReadonlyArray<Record<string, unknown>> }
  }).pipe(Effect.scoped)

describe("tool call ids another server made", () => {
  it.effect("a call id over 40 characters (vLLM's) goes to OpenAI as one it takes, on the call and its result", () =>
    Effect.gen(function*() {
      const { messages } = yield* loop("openai", "chatcmpl-tool-0123456789abcdef0123456789abcdef")
      const calls = messages[1]?.tool_calls as ReadonlyArray<{ readonly id: string }>
      const sent = calls[0]?.id ?? ""
      assert.isAtMost(sent.length, 40)
      assert.strictEqual(messages[2]?.tool_call_id, sent)
    }).pipe(Effect.provide(Bench)))

  it.effect("a call id with a dot and a colon (Kimi's) goes to Anthropic as one it takes, on the call and its result", () =>
    Effect.gen(function*() {
      const { messages } = yield* loop("anthropic", "functions.get_weather:0")
      const blocks = (index: number) =>
        messages[index]?.content as ReadonlyArray<
          { readonly type: string; readonly id?: string; readonly tool_use_id?: string }
        >
      const sent = blocks(1).find((block) => block.type === "tool_use")?.id ?? ""
      assert.match(sent, /^[a-zA-Z0-9_-]+$/)
      assert.strictEqual(blocks(2).find((block) => block.type === "tool_result")?.tool_use_id, sent)
    }).pipe(Effect.provide(Bench)))
})
