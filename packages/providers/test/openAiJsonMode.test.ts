/**
 * `responseFormat: "json"` on the chat-completions wire is `response_format:
 * { type: "json_object" }`, which OpenAI answers with a 400 (`param:
 * "messages"`, "'messages' must contain the word 'json' in some form") and
 * DeepSeek with a blank answer unless a message says "json". The dialect adds
 * `StructuredOutput.jsonInstruction` as a system message, after the caller's
 * system messages, unless a message already mentions JSON; the body is
 * otherwise unchanged. Over real HTTP: the mock server records what it
 * received, and a small server in the test answers as OpenAI does.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmRequest from "@baton/core/LlmRequest"
import { jsonInstruction } from "@baton/core/StructuredOutput"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { createServer, type ServerResponse } from "node:http"
import { Bench } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"
import * as Json from "../src/internal/json.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

const apiKey = Redacted.make("sk-test-key")

const instruction = { role: "system", content: jsonInstruction }

type Kind = "openai" | "deepseek"

/** The body of the last request the mock server's `kind` received. */
const lastBody = (kind: Kind) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const body = (yield* mock.received(kind)).at(-1)?.body
    return Json.isObject(body) ? body : assert.fail("no JSON body received")
  })

const providerOf = (kind: Kind, baseUrl: string) =>
  kind === "openai" ? OpenAi.make({ apiKey, baseUrl }) : DeepSeek.make({ apiKey, baseUrl })

/** Generates `input` on the `kind` provider over the mock server, returning the body it sent. */
const sentBy = (kind: Kind, input: LlmRequest.Input) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const provider = yield* providerOf(kind, mock.baseUrl(kind))
    yield* provider.generate(yield* LlmRequest.make(input))
    return yield* lastBody(kind)
  }).pipe(Effect.provide(Bench), Effect.scoped)

const json = { responseFormat: "json" } as const

/** OpenAI's 400 for `json_object` when no message says "json". */
const mustSayJson = JSON.stringify({
  error: {
    message: "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
    type: "invalid_request_error",
    param: "messages",
    code: null
  }
})

const answer = "{\"answer\":42}"

const sendAnswer = (res: ServerResponse, stream: boolean) => {
  if (!stream) {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({
      choices: [{ index: 0, message: { role: "assistant", content: answer }, finish_reason: "stop" }],
      usage: { prompt_tokens: 20, completion_tokens: 4, total_tokens: 24 }
    }))
    return
  }
  res.writeHead(200, { "content-type": "text/event-stream" })
  res.end(
    [
      { choices: [{ index: 0, delta: { role: "assistant", content: answer }, finish_reason: "stop" }] },
      { choices: [], usage: { prompt_tokens: 20, completion_tokens: 4, total_tokens: 24 } }
    ].map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`).join("") + "data: [DONE]\n\n"
  )
}

const saysJson = (messages: unknown): boolean =>
  Array.isArray(messages) &&
  messages.some((message) => Json.isObject(message) && /json/i.test(String(message.content)))

/** A server that checks `json_object` requests as OpenAI does, and answers JSON. */
const openAiLike = Effect.gen(function*() {
  const server = createServer((req, res) => {
    let text = ""
    req.on("data", (chunk: Buffer) => {
      text += chunk.toString()
    })
    req.on("end", () => {
      const body = Json.parse(text)
      const format = Json.isObject(body) ? body.response_format : undefined
      if (
        !Json.isObject(body) || (Json.isObject(format) && format.type === "json_object" && !saysJson(body.messages))
      ) {
        res.writeHead(400, { "content-type": "application/json" })
        res.end(mustSayJson)
      } else {
        sendAnswer(res, body.stream === true)
      }
    })
  })
  const port = yield* TestServer.listen(server)
  return `http://127.0.0.1:${port}/v1`
})

describe("JSON mode on the chat-completions wire", () => {
  for (const kind of ["openai", "deepseek"] as const) {
    it.live(`${kind}: json_object comes with the JSON instruction as a system message`, () =>
      Effect.gen(function*() {
        const body = yield* sentBy(kind, { prompt: "Give me a number", options: json })
        assert.deepStrictEqual(body.response_format, { type: "json_object" })
        assert.deepStrictEqual(body.messages, [instruction, { role: "user", content: "Give me a number" }])
      }))
  }

  it.live("the instruction goes after the caller's system messages; the rest of the body is unchanged", () =>
    Effect.gen(function*() {
      const withJson = yield* sentBy("openai", { prompt: "Give me a number", options: { ...json, system: "Be brief" } })
      const without = yield* sentBy("openai", { prompt: "Give me a number", options: { system: "Be brief" } })
      assert.deepStrictEqual(withJson.messages, [
        { role: "system", content: "Be brief" },
        instruction,
        { role: "user", content: "Give me a number" }
      ])
      const rest = (body: Json.JsonObject) =>
        Object.fromEntries(Object.entries(body).filter(([key]) => key !== "messages" && key !== "response_format"))
      assert.deepStrictEqual(rest(withJson), rest(without))
      assert.notProperty(without, "response_format")
    }))

  it.live("a conversation that already mentions JSON is sent as it is", () =>
    Effect.gen(function*() {
      const body = yield* sentBy("deepseek", { prompt: "Answer in Json: a number", options: json })
      assert.deepStrictEqual(body.messages, [{ role: "user", content: "Answer in Json: a number" }])
    }))

  it.live("text mode gets no instruction", () =>
    Effect.gen(function*() {
      const body = yield* sentBy("openai", { prompt: "Give me a number" })
      assert.notProperty(body, "response_format")
      assert.deepStrictEqual(body.messages, [{ role: "user", content: "Give me a number" }])
    }))

  it.live("an OpenAI-compatible server gets the instruction too", () =>
    Effect.gen(function*() {
      const url = yield* openAiLike
      const provider = yield* OpenAiCompatible.make({ name: "ollama", baseUrl: url, model: "llama3" })
      const result = yield* provider.generate(yield* LlmRequest.make({ prompt: "Give me a number", options: json }))
      assert.strictEqual(result.content, answer)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  for (const generateVia of ["stream", "generate"] as const) {
    it.live(`through LlmManager [openai, gemini] (generateVia ${generateVia}): OpenAI answers a JSON call`, () =>
      Effect.gen(function*() {
        const mock = yield* MockProviderServer.MockProviderServer
        const llm = yield* LlmManager.make({
          providers: [
            OpenAi.layer({ apiKey, baseUrl: yield* openAiLike }),
            Gemini.layer({ apiKey, baseUrl: mock.baseUrl("gemini") })
          ],
          policy: FallbackPolicy.make({ maxRetries: 0, generateVia }),
          circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
          generationEnabled: true
        })
        const result = yield* llm.generate({ prompt: "Give me a number", options: json })
        assert.strictEqual(result.content, answer)
        assert.strictEqual(String(result.provider), "openai")
        assert.deepStrictEqual(result.attempts.map((attempt) => attempt.outcome), ["success"])
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }
})
