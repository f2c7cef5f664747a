/**
 * A stream is over once its end marker is read (`data: [DONE]` for the
 * chat-completions wire, Anthropic's `message_stop`): nothing the server
 * sends after it is decoded or billed. Text after it is not added to the
 * answer, and junk or an error event after it does not turn the whole,
 * billed answer into a failure (which the manager would retry or fall back
 * from, paying twice). A server that keeps the response open after its end
 * marker does not hold the answer: it comes at once, the clock never moving
 * (the idle limit is never waited out), and its connection is closed (after
 * a short drain), not left to a later request half read; a body that ends
 * with its end marker, or a moment after it, keeps its connection for the
 * next request. OpenAI, DeepSeek (the same chat-completions codec, which
 * OpenAI-compatible endpoints share too) and Anthropic, through
 * `LlmManager`, `generate` (streamed underneath) and `stream`, over real
 * HTTP from a server that sends exactly the given events.
 */
import type * as LlmManager from "@baton/core/LlmManager"
import * as Pricing from "@baton/core/Pricing"
import * as RawServer from "@baton/testing/RawServer"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import { createServer } from "node:http"
import * as Anthropic from "../src/Anthropic.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"
import { anthropicMessage } from "./utils/anthropicMessage.ts"
import * as Manager from "./utils/manager.ts"
import * as Usage from "./utils/usage.ts"

const apiKey = Redacted.make("sk-test-key")

/** A wire: its manager, its whole answer ("ok", `stop`) ending with its end marker, and what may follow it. */
interface Wire {
  readonly make: ReturnType<typeof Manager.alone>
  readonly answer: ReadonlyArray<unknown>
  readonly text: unknown
  readonly error: unknown
}

const openAi: Wire = {
  make: Manager.alone((baseUrl) => OpenAi.layer({ apiKey, baseUrl, model: "gpt-4o-mini" })),
  answer: [
    { choices: [{ index: 0, delta: { content: "ok" }, finish_reason: "stop" }] },
    { choices: [], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } },
    "[DONE]"
  ],
  text: { choices: [{ index: 0, delta: { content: " extra" }, finish_reason: null }] },
  error: { error: { message: "late", type: "server_error" } }
}

const wires: Record<string, Wire> = {
  "OpenAI, after [DONE]": openAi,
  // the same chat-completions codec
  "DeepSeek, after [DONE]": {
    ...openAi,
    make: Manager.alone((baseUrl) => DeepSeek.layer({ apiKey, baseUrl, model: "deepseek-chat" }))
  },
  "Anthropic, after message_stop": {
    make: Manager.alone((baseUrl) => Anthropic.layer({ apiKey, baseUrl, model: "claude-haiku-4-5" })),
    answer: anthropicMessage("ok", { usage: { output_tokens: 4 } }),
    text: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: " extra" } },
    error: { type: "error", error: { type: "overloaded_error", message: "late" } }
  }
}

/** The text and finish reason of one call made each way, streamed underneath. */
const ways = {
  generate: (llm: LlmManager.Service) =>
    Effect.map(llm.generate({ prompt: "hi" }), (result) => [result.content, result.finishReason] as const),
  stream: (llm: LlmManager.Service) =>
    Effect.map(Stream.runCollect(llm.stream({ prompt: "hi" })), (parts) => {
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      const finish = parts.find((part) => part._tag === "Finish")
      return [text, finish?.finishReason] as const
    })
} as const

/**
 * The answer of one call made `way` over a server sending `reply`, checked to be the answer to 5 prompt and 4
 * completion tokens, logged as one successful attempt billed so.
 */
const answered = (wire: Wire, way: keyof typeof ways, reply: RawServer.Reply) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start(reply)
    const llm = yield* wire.make(server.url, { generateVia: "stream" })
    const answer = yield* ways[way](llm)
    const { records } = yield* Usage.recorded
    assert.deepStrictEqual(
      records.map((r) => [r.outcome, r.promptTokens, r.completionTokens]),
      [["success", 5, 4]]
    )
    return answer
  }).pipe(Effect.provide(Usage.layer), Effect.scoped)

for (const [name, wire] of Object.entries(wires)) {
  describe(name, () => {
    const late = { "text": wire.text, "junk": "{garbage", "an error event": wire.error }
    for (const way of ["generate", "stream"] as const) {
      for (const [what, event] of Object.entries(late)) {
        it.live(`${way}: ${what} is not read, the answer stands`, () =>
          Effect.gen(function*() {
            const answer = yield* answered(wire, way, { body: {}, events: [...wire.answer, event] })
            assert.deepStrictEqual(answer, ["ok", "stop"])
          }))
      }

      // the test clock never moves: an answer that waited for the idle limit (or any limit) would never come
      it.effect(`${way}: a response held open comes at once`, () =>
        Effect.gen(function*() {
          const answer = yield* answered(wire, way, { body: {}, events: wire.answer, then: "hold" })
          assert.deepStrictEqual(answer, ["ok", "stop"])
        }))
    }
  })
}

/** One connection per origin: a second call goes out on the first call's connection if it is free. */
const OneConnection = Layer.merge(ProviderHttpClient.layerOptions({ connections: 1 }), Pricing.layerDefault)

/**
 * The connections two calls in a row opened to a server answering each with the OpenAI answer, then ending the
 * response (`end`), ending it 50 ms later (`soon`) or holding it open (`hold`), and their answers.
 */
const connectionsOf = (then: "end" | "soon" | "hold") =>
  Effect.gen(function*() {
    const events = openAi.answer.map((event) =>
      `data: ${typeof event === "string" ? event : JSON.stringify(event)}\n\n`
    )
    let connections = 0
    const server = createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        if (then === "end") res.end(events.join(""))
        else res.write(events.join(""))
        if (then === "soon") setTimeout(() => res.end(), 50)
      })
    })
    server.on("connection", () => {
      connections += 1
    })
    const port = yield* TestServer.listen(server)
    const llm = yield* openAi.make(`http://127.0.0.1:${port}`, { generateVia: "stream" })
    const answers = [yield* ways.generate(llm), yield* ways.stream(llm)]
    return { connections, answers }
  }).pipe(Effect.provide(OneConnection), Effect.scoped)

describe("the connection after the end marker", () => {
  it.effect("a body that ends with it is kept for the next call", () =>
    Effect.gen(function*() {
      const { answers, connections } = yield* connectionsOf("end")
      assert.deepStrictEqual(answers, [["ok", "stop"], ["ok", "stop"]])
      assert.strictEqual(connections, 1)
    }))

  it.effect("a body that ends a moment after it (in a later packet) is kept too", () =>
    Effect.gen(function*() {
      const { answers, connections } = yield* connectionsOf("soon")
      assert.deepStrictEqual(answers, [["ok", "stop"], ["ok", "stop"]])
      assert.strictEqual(connections, 1)
    }))

  it.effect("a body held open after it is closed, the next call made on a new one", () =>
    Effect.gen(function*() {
      const { answers, connections } = yield* connectionsOf("hold")
      assert.deepStrictEqual(answers, [["ok", "stop"], ["ok", "stop"]])
      assert.strictEqual(connections, 2)
    }))
})
