/**
 * What each wire format sends for `maxTokens` and `temperature`: a library
 * caller who gives none gets Baton's defaults (2000 tokens, 0.7); one who
 * leaves them to the provider (`"provider"`, what the gateway asks for when
 * a client leaves a field out) gets neither field, but for Anthropic's
 * required `max_tokens`, sent 4096.
 */
import { ModelId } from "@baton/core/Ids"
import * as LlmRequest from "@baton/core/LlmRequest"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Codec } from "../src/internal/adapter.ts"
import * as AnthropicCodec from "../src/internal/anthropic.ts"
import * as DeepSeekCodec from "../src/internal/deepSeek.ts"
import * as GeminiCodec from "../src/internal/gemini.ts"
import * as Json from "../src/internal/json.ts"
import * as OpenAiCodec from "../src/internal/openAi.ts"

const openAi = OpenAiCodec.codec

const deepSeek = DeepSeekCodec.codec

/** A body without the fields that ask for a stream. */
const unstreamed = (body: Json.JsonObject): Json.JsonObject =>
  Object.fromEntries(Object.entries(body).filter(([key]) => key !== "stream" && key !== "stream_options"))

/** The body `codec` sends for a prompt with `options`, plain and streamed (both must agree). */
const bodyOf = (codec: Codec, options?: LlmRequest.Input["options"]) =>
  Effect.gen(function*() {
    const request = yield* LlmRequest.make({ prompt: "Hi", options })
    const [plain, streamed] = [false, true].map((stream) => {
      const body = codec.body({ request, model: ModelId.make("m-1"), stream, output: undefined })
      return Json.isObject(body) ? body : assert.fail("body is not an object")
    })
    if (plain === undefined || streamed === undefined) return assert.fail("no body")
    assert.deepStrictEqual(unstreamed(streamed), plain)
    return plain
  })

const generationConfig = (body: Json.JsonObject) =>
  Json.isObject(body.generationConfig) ? body.generationConfig : assert.fail("no generationConfig")

const provider = { maxTokens: "provider", temperature: "provider" } as const

describe("maxTokens and temperature on the wire", () => {
  it.effect("a library caller who gives none gets Baton's defaults on every wire format", () =>
    Effect.gen(function*() {
      const openAiBody = yield* bodyOf(openAi)
      assert.strictEqual(openAiBody.max_completion_tokens, 2000)
      assert.strictEqual(openAiBody.temperature, 0.7)
      const deepSeekBody = yield* bodyOf(deepSeek)
      assert.strictEqual(deepSeekBody.max_tokens, 2000)
      assert.strictEqual(deepSeekBody.temperature, 0.7)
      assert.deepStrictEqual(generationConfig(yield* bodyOf(GeminiCodec.codec)), {
        maxOutputTokens: 2000,
        temperature: 0.7
      })
      const anthropicBody = yield* bodyOf(AnthropicCodec.codec)
      assert.strictEqual(anthropicBody.max_tokens, 2000)
      assert.strictEqual(anthropicBody.temperature, 0.7)
    }))

  it.effect("\"provider\" sends neither field to OpenAI, DeepSeek and Gemini", () =>
    Effect.gen(function*() {
      for (const codec of [openAi, deepSeek]) {
        const body = yield* bodyOf(codec, provider)
        assert.notProperty(body, "max_completion_tokens")
        assert.notProperty(body, "max_tokens")
        assert.notProperty(body, "temperature")
      }
      const config = generationConfig(yield* bodyOf(GeminiCodec.codec, provider))
      assert.notProperty(config, "maxOutputTokens")
      assert.notProperty(config, "temperature")
    }))

  it.effect("\"provider\" sends Anthropic its required max_tokens as 4096, and no temperature", () =>
    Effect.gen(function*() {
      const body = yield* bodyOf(AnthropicCodec.codec, provider)
      assert.strictEqual(body.max_tokens, 4096)
      assert.notProperty(body, "temperature")
    }))

  it.effect("each field is left to the provider on its own", () =>
    Effect.gen(function*() {
      const tokensOnly = yield* bodyOf(openAi, { maxTokens: "provider", temperature: 1 })
      assert.notProperty(tokensOnly, "max_completion_tokens")
      assert.strictEqual(tokensOnly.temperature, 1)
      const temperatureOnly = yield* bodyOf(AnthropicCodec.codec, { maxTokens: 50, temperature: "provider" })
      assert.strictEqual(temperatureOnly.max_tokens, 50)
      assert.notProperty(temperatureOnly, "temperature")
    }))
})
