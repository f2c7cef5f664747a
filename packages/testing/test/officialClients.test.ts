/**
 * The official SDKs, which we did not write, pointed at the mock server: they
 * must accept its replies, streams, usage fields and error bodies unchanged.
 */
import Anthropic, { OverloadedError } from "@anthropic-ai/sdk"
import { assert, layer } from "@effect/vitest"
import { FinishReason, GoogleGenAI } from "@google/genai"
import { Effect } from "effect"
import OpenAI, { RateLimitError } from "openai"
import * as MockFault from "../src/MockFault.ts"
import * as MockProviderServer from "../src/MockProviderServer.ts"

const PROMPT = "Name the capital of Norway"

const fresh = Effect.gen(function*() {
  const server = yield* MockProviderServer.MockProviderServer
  yield* server.reset
  return server
})

const openAi = (server: MockProviderServer.MockProviderServer["Service"]) =>
  new OpenAI({ apiKey: "sk-test", baseURL: server.baseUrl("openai"), maxRetries: 0 })

layer(MockProviderServer.layer(), { excludeTestServices: true })("official clients", (it) => {
  it.effect("openai: chat.completions.create with usage details", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      yield* server.setUsage("openai", { cachedPromptTokens: 4, reasoningTokens: 9 })
      const completion = yield* Effect.promise(() =>
        openAi(server).chat.completions.create({
          model: "gpt-4o-mini",
          messages: [{ role: "system", content: "Be brief" }, { role: "user", content: PROMPT }]
        })
      )
      const choice = completion.choices[0]
      assert.strictEqual(choice?.message.content, `Mock answer from openai: ${PROMPT}`)
      assert.strictEqual(choice?.finish_reason, "stop")
      assert.strictEqual(completion.usage?.prompt_tokens, Math.ceil(8 / 4) + Math.ceil(PROMPT.length / 4))
      assert.strictEqual(completion.usage?.prompt_tokens_details?.cached_tokens, 4)
      assert.strictEqual(completion.usage?.completion_tokens_details?.reasoning_tokens, 9)
    }))

  it.effect("openai: streaming with include_usage", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      const result = yield* Effect.promise(async () => {
        const stream = await openAi(server).chat.completions.create({
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: PROMPT }],
          stream: true,
          stream_options: { include_usage: true }
        })
        let text = ""
        let usage: OpenAI.CompletionUsage | null | undefined
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? ""
          if (chunk.usage) usage = chunk.usage
        }
        return { text, usage }
      })
      assert.strictEqual(result.text, `Mock answer from openai: ${PROMPT}`)
      assert.strictEqual(result.usage?.completion_tokens, Math.ceil(result.text.length / 4))
    }))

  it.effect("openai: a 429 becomes RateLimitError with its code (DeepSeek shares the client)", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      yield* server.inject("openai", MockFault.quotaExhausted)
      const error = yield* Effect.promise(() =>
        openAi(server).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] })
          .then(() => undefined, (e: unknown) => e)
      )
      assert.instanceOf(error, RateLimitError)
      if (error instanceof RateLimitError) assert.strictEqual(error.code, "insufficient_quota")
      const deepseek = new OpenAI({ apiKey: "sk-test", baseURL: server.baseUrl("deepseek"), maxRetries: 0 })
      const reply = yield* Effect.promise(() =>
        deepseek.chat.completions.create({ model: "deepseek-flash", messages: [{ role: "user", content: PROMPT }] })
      )
      assert.strictEqual(reply.choices[0]?.message.content, `Mock answer from deepseek: ${PROMPT}`)
    }))

  it.effect("@google/genai: generateContent and generateContentStream (baseUrl = url + /gemini)", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      yield* server.setUsage("gemini", { cachedPromptTokens: 2, reasoningTokens: 5 })
      const ai = new GoogleGenAI({
        apiKey: "test",
        httpOptions: { baseUrl: `${server.url}/gemini`, apiVersion: "v1beta" }
      })
      const response = yield* Effect.promise(() =>
        ai.models.generateContent({ model: "gemini-2.5-flash", contents: PROMPT, config: { maxOutputTokens: 100 } })
      )
      assert.strictEqual(response.text, `Mock answer from gemini: ${PROMPT}`)
      assert.strictEqual(response.candidates?.[0]?.finishReason, FinishReason.STOP)
      assert.strictEqual(response.usageMetadata?.cachedContentTokenCount, 2)
      assert.strictEqual(response.usageMetadata?.thoughtsTokenCount, 5)
      assert.strictEqual(response.usageMetadata?.promptTokenCount, Math.ceil(PROMPT.length / 4))
      const streamed = yield* Effect.promise(async () => {
        let text = ""
        let total: number | undefined
        for await (
          const chunk of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: PROMPT })
        ) {
          text += chunk.text ?? ""
          total = chunk.usageMetadata?.totalTokenCount
        }
        return { text, total }
      })
      assert.strictEqual(streamed.text, response.text)
      assert.strictEqual(streamed.total, response.usageMetadata?.totalTokenCount)
    }))

  it.effect("@google/genai: structured output via responseJsonSchema", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      const ai = new GoogleGenAI({
        apiKey: "test",
        httpOptions: { baseUrl: `${server.url}/gemini`, apiVersion: "v1beta" }
      })
      const response = yield* Effect.promise(() =>
        ai.models.generateContent({
          model: "gemini-2.5-flash",
          contents: PROMPT,
          config: {
            responseMimeType: "application/json",
            responseJsonSchema: {
              type: "object",
              properties: { city: { type: "string" }, population: { type: "integer", minimum: 1000 } },
              required: ["city", "population"]
            }
          }
        })
      )
      assert.deepStrictEqual(JSON.parse(response.text ?? ""), { city: "mock city", population: 1000 })
    }))

  it.effect("@anthropic-ai/sdk: messages.create, a stream, and a 529", () =>
    Effect.gen(function*() {
      const server = yield* fresh
      yield* server.setUsage("anthropic", { cachedPromptTokens: 3 })
      const client = new Anthropic({ apiKey: "test", baseURL: server.baseUrl("anthropic"), maxRetries: 0 })
      const message = yield* Effect.promise(() =>
        client.messages.create({
          model: "claude-haiku-4-5",
          max_tokens: 256,
          system: "Be brief",
          messages: [{ role: "user", content: PROMPT }]
        })
      )
      const block = message.content[0]
      assert.strictEqual(block?.type === "text" ? block.text : undefined, `Mock answer from anthropic: ${PROMPT}`)
      assert.strictEqual(message.stop_reason, "end_turn")
      assert.strictEqual(message.usage.cache_read_input_tokens, 3)
      assert.strictEqual(message.usage.input_tokens, Math.ceil(8 / 4) + Math.ceil(PROMPT.length / 4) - 3)
      const final = yield* Effect.promise(() =>
        client.messages.stream({
          model: "claude-haiku-4-5",
          max_tokens: 256,
          messages: [{ role: "user", content: PROMPT }]
        })
          .finalMessage()
      )
      const streamedBlock = final.content[0]
      assert.strictEqual(
        streamedBlock?.type === "text" ? streamedBlock.text : undefined,
        `Mock answer from anthropic: ${PROMPT}`
      )
      assert.strictEqual(final.usage.output_tokens, message.usage.output_tokens)
      yield* server.inject("anthropic", MockFault.status(529))
      const error = yield* Effect.promise(() =>
        client.messages.create({
          model: "claude-haiku-4-5",
          max_tokens: 16,
          messages: [{ role: "user", content: "x" }]
        })
          .then(() => undefined, (e: unknown) => e)
      )
      assert.instanceOf(error, OverloadedError)
    }))
})
