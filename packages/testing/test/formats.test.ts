import { assert, describe, layer } from "@effect/vitest"
import { Ajv } from "ajv"
import { Effect } from "effect"
import * as MockFault from "../src/MockFault.ts"
import * as MockProviderServer from "../src/MockProviderServer.ts"
import { ask, parseJson, pick, replyText, requestOf, sseEvents, sseJson } from "./helpers.ts"

const PROMPT = "Write three quiz questions about photosynthesis for grade seven students today please now"
const EXPECTED = (provider: string) =>
  `Mock answer from ${provider}: Write three quiz questions about photosynthesis for grade seven students today please`

/** Input tokens the mock bills for PROMPT alone: ceil(chars / 4). */
const PROMPT_TOKENS = Math.ceil(PROMPT.length / 4)

layer(MockProviderServer.layer(), { excludeTestServices: true })("MockProviderServer wire formats", (it) => {
  const fresh = Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    yield* server.reset
    return server
  })

  describe("non-streaming replies", () => {
    it.effect("OpenAI chat completion with usage details", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* ask(server, "openai", { prompt: PROMPT })
        assert.strictEqual(res.status, 200)
        const body = parseJson(res.text)
        assert.strictEqual(pick(body, "object"), "chat.completion")
        assert.strictEqual(pick(body, "model"), "gpt-4o-mini")
        assert.strictEqual(pick(body, "choices", 0, "message", "content"), EXPECTED("openai"))
        assert.strictEqual(pick(body, "choices", 0, "finish_reason"), "stop")
        const completion = Math.ceil(EXPECTED("openai").length / 4)
        assert.deepStrictEqual(pick(body, "usage"), {
          prompt_tokens: PROMPT_TOKENS,
          completion_tokens: completion,
          total_tokens: PROMPT_TOKENS + completion,
          prompt_tokens_details: { cached_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0 }
        })
      }))

    it.effect("DeepSeek reports cache hit and miss tokens", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.setUsage("deepseek", { cachedPromptTokens: 8, reasoningTokens: 30 })
        const res = yield* ask(server, "deepseek", { prompt: PROMPT })
        const body = parseJson(res.text)
        const usage = pick(body, "usage")
        const visible = Math.ceil(EXPECTED("deepseek").length / 4)
        // deepseek-flash thinks by default: its own reasoning is billed on top of the 30 set
        const reasoning = Math.ceil(String(pick(body, "choices", 0, "message", "reasoning_content")).length / 4)
        assert.isAbove(reasoning, 0)
        assert.strictEqual(pick(usage, "prompt_tokens"), PROMPT_TOKENS)
        assert.strictEqual(pick(usage, "prompt_cache_hit_tokens"), 8)
        assert.strictEqual(pick(usage, "prompt_cache_miss_tokens"), PROMPT_TOKENS - 8)
        assert.strictEqual(pick(usage, "completion_tokens"), visible + reasoning + 30)
        assert.strictEqual(pick(usage, "completion_tokens_details", "reasoning_tokens"), reasoning + 30)
      }))

    it.effect("Gemini generateContent with system instruction and thoughts", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.setUsage("gemini", { cachedPromptTokens: 4, reasoningTokens: 10 })
        const res = yield* ask(server, "gemini", { prompt: PROMPT, system: "Be brief" })
        assert.strictEqual(res.status, 200)
        const body = parseJson(res.text)
        assert.strictEqual(pick(body, "candidates", 0, "content", "parts", 0, "text"), EXPECTED("gemini"))
        assert.strictEqual(pick(body, "candidates", 0, "finishReason"), "STOP")
        const prompt = PROMPT_TOKENS + Math.ceil("Be brief".length / 4)
        const candidates = Math.ceil(EXPECTED("gemini").length / 4)
        assert.deepStrictEqual(pick(body, "usageMetadata"), {
          promptTokenCount: prompt,
          candidatesTokenCount: candidates,
          totalTokenCount: prompt + candidates + 10,
          cachedContentTokenCount: 4,
          thoughtsTokenCount: 10
        })
      }))

    it.effect("Anthropic message: input_tokens counts uncached input only", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.setUsage("anthropic", { cachedPromptTokens: 5 })
        const res = yield* ask(server, "anthropic", { prompt: PROMPT })
        const body = parseJson(res.text)
        assert.strictEqual(pick(body, "type"), "message")
        assert.strictEqual(pick(body, "content", 0, "text"), EXPECTED("anthropic"))
        assert.strictEqual(pick(body, "stop_reason"), "end_turn")
        assert.deepStrictEqual(pick(body, "usage"), {
          input_tokens: PROMPT_TOKENS - 5,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 5,
          output_tokens: Math.ceil(EXPECTED("anthropic").length / 4)
        })
      }))

    it.effect("the same request always gets the same reply and usage", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const first = yield* ask(server, "openai", { prompt: "same question" })
        const second = yield* ask(server, "openai", { prompt: "same question" })
        const strip = (text: string) => ({ ...(parseJson(text) as object), id: "", created: 0 })
        assert.deepStrictEqual(strip(first.text), strip(second.text))
      }))
  })

  describe("streaming replies", () => {
    for (const provider of MockProviderServer.providers) {
      it.effect(`${provider} stream carries the same text as the plain reply`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const res = yield* ask(server, provider, { prompt: PROMPT, stream: true })
          assert.strictEqual(res.status, 200)
          assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/)
          assert.strictEqual(replyText(provider, true, res.text), EXPECTED(provider))
        }))
    }

    it.effect("OpenAI: usage:null chunks, one usage chunk with no choices, then [DONE]", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* ask(server, "openai", { prompt: PROMPT, stream: true })
        const events = sseJson(res.text)
        assert.strictEqual(events.at(-1), "[DONE]")
        const usageChunk = events.at(-2)
        assert.deepStrictEqual(pick(usageChunk, "choices"), [])
        assert.strictEqual(pick(usageChunk, "usage", "prompt_tokens"), PROMPT_TOKENS)
        assert.strictEqual(pick(events.at(-3), "choices", 0, "finish_reason"), "stop")
        assert.isTrue(events.slice(0, -2).every((e) => pick(e, "usage") === null))
      }))

    it.effect("OpenAI: no usage chunk unless stream_options.include_usage", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* ask(server, "openai", { stream: true, extra: { stream_options: { include_usage: false } } })
        const events = sseJson(res.text)
        assert.strictEqual(events.at(-1), "[DONE]")
        assert.isTrue(events.slice(0, -1).every((e) => pick(e, "usage") === undefined))
      }))

    it.effect("Gemini: CRLF frames, running usage, finishReason only on the last chunk", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* ask(server, "gemini", { prompt: PROMPT, stream: true })
        assert.include(res.text, "\r\n\r\n")
        const events = sseJson(res.text)
        const counts = events.map((e) => pick(e, "usageMetadata", "candidatesTokenCount"))
        assert.deepStrictEqual(counts, [...counts].sort((a, b) => Number(a) - Number(b)))
        assert.strictEqual(counts.at(-1), Math.ceil(EXPECTED("gemini").length / 4))
        assert.deepStrictEqual(events.map((e) => pick(e, "candidates", 0, "finishReason")).filter(Boolean), ["STOP"])
        assert.strictEqual(pick(events.at(-1), "candidates", 0, "finishReason"), "STOP")
      }))

    it.effect("Anthropic: named events in order", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* ask(server, "anthropic", { prompt: PROMPT, stream: true })
        const names = sseEvents(res.text).map((e) => e.event)
        assert.deepStrictEqual(names.slice(0, 3), ["message_start", "ping", "content_block_start"])
        assert.deepStrictEqual(names.slice(-3), ["content_block_stop", "message_delta", "message_stop"])
        const events = sseJson(res.text)
        assert.strictEqual(pick(events[0], "message", "usage", "input_tokens"), PROMPT_TOKENS)
        const delta = events.at(-2)
        assert.strictEqual(pick(delta, "delta", "stop_reason"), "end_turn")
        assert.strictEqual(pick(delta, "usage", "output_tokens"), Math.ceil(EXPECTED("anthropic").length / 4))
      }))
  })

  describe("request features", () => {
    for (const provider of MockProviderServer.providers) {
      it.effect(`${provider} honours max tokens with a length finish`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const res = yield* ask(server, provider, { prompt: PROMPT, maxTokens: 3 })
          const body = parseJson(res.text)
          const finish = provider === "gemini"
            ? pick(body, "candidates", 0, "finishReason")
            : provider === "anthropic"
            ? pick(body, "stop_reason")
            : pick(body, "choices", 0, "finish_reason")
          const expected: Record<string, string> = { gemini: "MAX_TOKENS", anthropic: "max_tokens" }
          assert.strictEqual(finish, expected[provider] ?? "length")
          // deepseek-flash thinks first, and its reasoning takes the 3 tokens (see "DeepSeek thinking mode")
          assert.strictEqual(
            replyText(provider, false, res.text),
            provider === "deepseek" ? "" : EXPECTED(provider).slice(0, 12)
          )
        }))

      it.effect(`${provider} continues an assistant prefill`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const res = yield* ask(server, provider, { prompt: PROMPT, prefill: "Mock answer" })
          assert.strictEqual(res.status, 200)
          assert.strictEqual(replyText(provider, false, res.text), EXPECTED(provider).slice("Mock answer".length))
        }))

      it.effect(`${provider} without credentials is refused`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const { body, path } = requestOf(provider, {})
          const res = yield* Effect.promise(() =>
            fetch(`${server.baseUrl(provider)}${path.replace("?alt=sse", "")}`, {
              method: "POST",
              headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
              body: JSON.stringify(body)
            })
          )
          assert.strictEqual(res.status, provider === "gemini" ? 403 : 401)
        }))
    }

    const QUIZ_SCHEMA = {
      type: "object",
      properties: {
        questions: {
          type: "array",
          minItems: 3,
          items: { $ref: "#/$defs/Question" }
        },
        topic: { type: "string", enum: ["biology", "physics"] },
        version: { const: 2 }
      },
      required: ["questions", "topic", "version"],
      additionalProperties: false,
      $defs: {
        Question: {
          type: "object",
          properties: {
            text: { type: "string", minLength: 20 },
            difficulty: { type: "integer", minimum: 3, maximum: 5 },
            weight: { type: "number", exclusiveMinimum: 0, maximum: 0.75 },
            answer: { anyOf: [{ type: "string", format: "email" }, { type: "null" }] },
            tags: { type: ["array", "null"], items: { type: "string", maxLength: 3 } }
          },
          required: ["text", "difficulty", "weight", "answer", "tags"],
          additionalProperties: false
        }
      }
    }

    const schemaBodies: Record<MockProviderServer.MockProvider, Record<string, unknown>> = {
      openai: {
        response_format: { type: "json_schema", json_schema: { name: "quiz", schema: QUIZ_SCHEMA, strict: true } }
      },
      deepseek: { response_format: { type: "json_object" } },
      gemini: { generationConfig: { responseMimeType: "application/json", responseJsonSchema: QUIZ_SCHEMA } },
      anthropic: { output_config: { format: { type: "json_schema", schema: QUIZ_SCHEMA } } }
    }

    for (const provider of MockProviderServer.providers) {
      it.effect(`${provider} replies JSON satisfying the requested schema`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const res = yield* ask(server, provider, { prompt: PROMPT, extra: schemaBodies[provider] })
          const value: unknown = JSON.parse(replyText(provider, false, res.text))
          if (provider === "deepseek") {
            assert.deepStrictEqual(value, { answer: EXPECTED("deepseek") })
          } else {
            const validate = new Ajv({ strict: false }).compile(QUIZ_SCHEMA)
            assert.isTrue(validate(value), JSON.stringify(validate.errors))
            assert.strictEqual(pick(value, "questions", "length"), 3)
          }
        }))
    }

    it.effect("openai: an allOf beside the schema's own properties keeps them (a union of both)", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const schema = {
          type: "object",
          properties: { n: { type: "integer" }, s: { type: "string" } },
          required: ["n", "s"],
          allOf: [{ type: "object", properties: { t: { type: "boolean" } }, required: ["t"] }]
        }
        const res = yield* ask(server, "openai", {
          prompt: PROMPT,
          extra: { response_format: { type: "json_schema", json_schema: { name: "q", schema } } }
        })
        const value: unknown = JSON.parse(replyText("openai", false, res.text))
        const validate = new Ajv({ strict: false }).compile(schema)
        assert.isTrue(validate(value), JSON.stringify(validate.errors))
      }))

    it.effect("deepseek JSON mode follows a JSON Schema written in the system prompt", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* ask(server, "deepseek", {
          prompt: PROMPT,
          system: `Answer in json matching this JSON Schema: ${JSON.stringify(QUIZ_SCHEMA)}`,
          extra: { response_format: { type: "json_object" } }
        })
        const value: unknown = JSON.parse(replyText("deepseek", false, res.text))
        const validate = new Ajv({ strict: false }).compile(QUIZ_SCHEMA)
        assert.isTrue(validate(value), JSON.stringify(validate.errors))
      }))

    const QUESTION_SCHEMA = {
      type: "object",
      properties: {
        topic: { type: "string" },
        questions: {
          type: "array",
          items: {
            type: "object",
            properties: {
              question: { type: "string" },
              choices: { type: "array", items: { type: "string" }, minItems: 2, maxItems: 6 },
              answerIndex: { type: "integer", minimum: 0 },
              explanation: { type: "string" }
            },
            required: ["question", "choices", "answerIndex", "explanation"]
          }
        }
      },
      required: ["topic", "questions"]
    }
    const plausibleBodies: Record<MockProviderServer.MockProvider, Record<string, unknown>> = {
      openai: { response_format: { type: "json_schema", json_schema: { name: "quiz", schema: QUESTION_SCHEMA } } },
      deepseek: { response_format: { type: "json_object" } },
      gemini: { generationConfig: { responseMimeType: "application/json", responseJsonSchema: QUESTION_SCHEMA } },
      anthropic: { output_config: { format: { type: "json_schema", schema: QUESTION_SCHEMA } } }
    }

    for (const provider of MockProviderServer.providers) {
      it.effect(`${provider} structured content reads like an answer to the prompt`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const res = yield* ask(server, provider, {
            prompt: "Write 4 multiple-choice questions about volcanoes for grade 5.",
            system: `Answer in json matching this JSON Schema: ${JSON.stringify(QUESTION_SCHEMA)}`,
            extra: plausibleBodies[provider]
          })
          const quiz = JSON.parse(replyText(provider, false, res.text)) as {
            topic: string
            questions: ReadonlyArray<{ question: string; choices: ReadonlyArray<string>; answerIndex: number }>
          }
          assert.strictEqual(quiz.topic, "volcanoes")
          assert.strictEqual(quiz.questions.length, 4)
          for (const q of quiz.questions) {
            assert.include(q.question, "volcanoes")
            assert.notInclude(q.question, "mock")
            assert.strictEqual(new Set(q.choices).size, q.choices.length)
            assert.isAtLeast(q.choices.length, 2)
            assert.isTrue(q.answerIndex >= 0 && q.answerIndex < q.choices.length)
          }
          assert.strictEqual(new Set(quiz.questions.map((q) => q.question)).size, 4)
          assert.isAbove(new Set(quiz.questions.map((q) => q.answerIndex)).size, 1)
        }))
    }

    it.effect("Gemini responseSchema (OpenAPI subset, upper-case types)", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const responseSchema = {
          type: "OBJECT",
          properties: { score: { type: "INTEGER", minimum: 7 }, label: { type: "STRING", nullable: true } },
          required: ["score", "label"]
        }
        const res = yield* ask(server, "gemini", {
          extra: { generationConfig: { responseMimeType: "application/json", responseSchema } }
        })
        assert.deepStrictEqual(JSON.parse(replyText("gemini", false, res.text)), { score: 7, label: "mock label" })
      }))

    it.effect("a JSON prefill is continued to a complete JSON value", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* ask(server, "anthropic", { prefill: "{", extra: schemaBodies.anthropic })
        const value: unknown = JSON.parse("{" + replyText("anthropic", false, res.text))
        assert.isTrue(new Ajv({ strict: false }).validate(QUIZ_SCHEMA, value))
      }))

    it.effect("DeepSeek rejects json_schema, which it does not support", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* ask(server, "deepseek", { extra: schemaBodies.openai })
        assert.strictEqual(res.status, 400)
      }))

    it.effect("Anthropic requires max_tokens and anthropic-version", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const noMax = yield* ask(server, "anthropic", { extra: { max_tokens: undefined } })
        assert.strictEqual(noMax.status, 400)
        assert.include(pick(JSON.parse(noMax.text), "error", "message"), "max_tokens")
        const noVersion = yield* ask(server, "anthropic", { headers: { "anthropic-version": "" } })
        assert.strictEqual(noVersion.status, 400)
      }))

    it.effect("unknown routes answer 404 naming the routes", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* Effect.promise(() => fetch(`${server.url}/openai/v1/completions`, { method: "POST" }))
        assert.strictEqual(res.status, 404)
        assert.include(yield* Effect.promise(() => res.text()), "/anthropic/v1/messages")
      }))

    it.effect("a body that is not JSON is a 400 in the provider's error shape", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* Effect.promise(() =>
          fetch(`${server.baseUrl("openai")}/chat/completions`, {
            method: "POST",
            headers: { authorization: "Bearer x" },
            body: "{nope"
          })
        )
        assert.strictEqual(res.status, 400)
        assert.strictEqual(pick(yield* Effect.promise(() => res.json()), "error", "type"), "invalid_request_error")
      }))
  })

  describe("DeepSeek thinking mode", () => {
    /** The text of a DeepSeek stream for `prompt` up to where the server cut it. */
    const readUntilCut = async (server: MockProviderServer.MockProviderServer["Service"], prompt: string) => {
      const res = await fetch(`${server.baseUrl("deepseek")}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-test" },
        body: JSON.stringify(requestOf("deepseek", { prompt, stream: true }).body)
      })
      const pieces: Array<string> = []
      try {
        for await (const piece of (res.body ?? new ReadableStream<Uint8Array>()).pipeThrough(new TextDecoderStream())) {
          pieces.push(piece)
        }
      } catch {
        // the cut: what came before it is the answer
      }
      return pieces.join("")
    }

    /** The reasoning of a plain DeepSeek reply, `undefined` without one. */
    const reasoningOf = (text: string): unknown => pick(parseJson(text), "choices", 0, "message", "reasoning_content")

    it.effect("on by default, as on DeepSeek's API: every model but deepseek-chat thinks unless thinking is disabled", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const cases: ReadonlyArray<readonly [model: string, thinking: string | undefined, thinks: boolean]> = [
          ["deepseek-flash", undefined, true],
          ["deepseek-v4-pro", undefined, true],
          ["deepseek-v4-flash", undefined, true],
          ["deepseek-flash", "disabled", false],
          ["deepseek-v4-pro", "disabled", false],
          ["deepseek-flash", "enabled", true],
          // the legacy aliases: deepseek-chat thinks only when asked, deepseek-reasoner always
          ["deepseek-chat", undefined, false],
          ["deepseek-chat", "enabled", true],
          ["deepseek-reasoner", undefined, true],
          ["deepseek-reasoner", "disabled", true],
          // a fault suffix is not part of the name
          ["deepseek-chat@latency=1", undefined, false],
          ["deepseek-reasoner@latency=1", undefined, true]
        ]
        for (const [model, thinking, thinks] of cases) {
          const extra = thinking === undefined ? {} : { thinking: { type: thinking } }
          const res = yield* ask(server, "deepseek", { prompt: PROMPT, model, extra })
          const label = `${model}, thinking ${thinking}`
          assert.strictEqual(res.status, 200, label)
          assert.strictEqual(replyText("deepseek", false, res.text), EXPECTED("deepseek"), label)
          const reasoning = reasoningOf(res.text)
          const tokens = pick(parseJson(res.text), "usage", "completion_tokens_details", "reasoning_tokens")
          if (thinks) {
            assert.strictEqual(
              reasoning,
              `Mock reasoning from deepseek, step 1: the user asked "${PROMPT.slice(0, 40)}".`
            )
            assert.strictEqual(tokens, Math.ceil(String(reasoning).length / 4), label)
          } else {
            assert.isUndefined(reasoning, label)
            assert.strictEqual(tokens, 0, label)
          }
        }
        // OpenAI's route, the same wire format, never thinks
        assert.isUndefined(reasoningOf((yield* ask(server, "openai", { prompt: PROMPT })).text))
      }))

    it.effect("a stream sends the reasoning whole before the answer; a cut's text events count the answer's only", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const plain = reasoningOf((yield* ask(server, "deepseek", { prompt: PROMPT })).text)
        const streamed = yield* ask(server, "deepseek", { prompt: PROMPT, stream: true })
        const deltas = sseJson(streamed.text).map((chunk) => pick(chunk, "choices", 0, "delta"))
        const reasoning = deltas.flatMap((delta) => {
          const text = pick(delta, "reasoning_content")
          return typeof text === "string" ? [text] : []
        })
        assert.strictEqual(reasoning.join(""), plain)
        const lastReasoning = deltas.findLastIndex((delta) => pick(delta, "reasoning_content") !== undefined)
        const firstText = deltas.findIndex((delta) =>
          typeof pick(delta, "content") === "string" && pick(delta, "content") !== ""
        )
        assert.isBelow(lastReasoning, firstText)
        // cut after one text event: the reasoning came whole, then one word of the answer
        yield* server.inject("deepseek", MockFault.cutStreamAfter(1))
        const cut = yield* Effect.promise(() => readUntilCut(server, PROMPT))
        assert.strictEqual(replyText("deepseek", true, cut), "Mock")
        const cutReasoning = sseJson(cut).map((chunk) => pick(chunk, "choices", 0, "delta", "reasoning_content"))
        assert.strictEqual(cutReasoning.filter((text) => typeof text === "string").join(""), plain)
      }))

    it.effect("max tokens count the reasoning: a small limit cuts it and leaves an empty answer", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const full = String(reasoningOf((yield* ask(server, "deepseek", { prompt: PROMPT })).text))
        const used = Math.ceil(full.length / 4)
        const starved = parseJson((yield* ask(server, "deepseek", { prompt: PROMPT, maxTokens: 3 })).text)
        assert.strictEqual(pick(starved, "choices", 0, "finish_reason"), "length")
        assert.strictEqual(pick(starved, "choices", 0, "message", "content"), "")
        assert.strictEqual(pick(starved, "choices", 0, "message", "reasoning_content"), full.slice(0, 12))
        assert.strictEqual(pick(starved, "usage", "completion_tokens"), 3)
        assert.strictEqual(pick(starved, "usage", "completion_tokens_details", "reasoning_tokens"), 3)
        const cut = parseJson((yield* ask(server, "deepseek", { prompt: PROMPT, maxTokens: used + 3 })).text)
        assert.strictEqual(pick(cut, "choices", 0, "finish_reason"), "length")
        assert.strictEqual(pick(cut, "choices", 0, "message", "content"), EXPECTED("deepseek").slice(0, 12))
        assert.strictEqual(pick(cut, "choices", 0, "message", "reasoning_content"), full)
        assert.strictEqual(pick(cut, "usage", "completion_tokens"), used + 3)
      }))
  })
})
