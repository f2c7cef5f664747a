/**
 * A response body sent compressed. Every request asks for its body
 * unencoded (`accept-encoding: identity`), but a server or a proxy may
 * compress it anyway: a body with a `content-encoding` Baton can decode
 * (`gzip`, `x-gzip`, `deflate`, `br`) is decoded, a plain answer and a stream
 * alike, a stream's events as they arrive (a stream held open still answers at
 * once, the clock never moving); one it cannot decode, or that does not
 * decode, fails the attempt as a `MalformedResponse` that says so, not as a
 * body that is not JSON. Through `LlmManager` over real HTTP (`generate` plain and
 * streamed underneath, `stream`), the request log billing the answer.
 */
import { AllProvidersFailed } from "@baton/core/LlmError"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { createServer, type ServerResponse } from "node:http"
import * as Zlib from "node:zlib"
import * as OpenAi from "../src/OpenAi.ts"
import * as Manager from "./utils/manager.ts"
import * as Usage from "./utils/usage.ts"

const body = {
  choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 }
}

const events = [
  { choices: [{ index: 0, delta: { content: "ok" }, finish_reason: "stop" }] },
  { choices: [], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } },
  "[DONE]"
]

/** The answer's usage asked `way` of a server sending `reply`, the one attempt logged as a success billed so. */
const answered = (way: Usage.Way, reply: RawServer.Reply) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start(reply)
    const [via, call] = Usage.calls[way]
    const llm = yield* Manager.openAi(server.url, { generateVia: via })
    const usage = yield* call(llm)
    const { records } = yield* Usage.recorded
    assert.deepStrictEqual(records.map((r) => [r.outcome, r.promptTokens, r.completionTokens]), [["success", 5, 4]])
    return usage
  }).pipe(Effect.provide(Usage.layer), Effect.scoped)

/** The error of the one attempt of a call asked `way` of a server sending `reply`. */
const failed = (way: Usage.Way, reply: RawServer.Reply) =>
  Effect.gen(function*() {
    const server = yield* RawServer.start(reply)
    const [via, call] = Usage.calls[way]
    const llm = yield* Manager.openAi(server.url, { generateVia: via })
    const error = yield* Effect.flip(call(llm))
    assert.instanceOf(error, AllProvidersFailed)
    return error.attempts.map((attempt) => [attempt.error?._tag, attempt.error?.message])
  }).pipe(Effect.provide(Usage.layer), Effect.scoped)

const ways = Object.keys(Usage.calls) as ReadonlyArray<Usage.Way>

describe("a compressed response body", () => {
  for (const encoding of ["gzip", "deflate", "br"]) {
    for (const way of ways) {
      it.live(`${encoding}: ${way} is decoded`, () =>
        Effect.gen(function*() {
          const usage = yield* answered(way, { body, events, encoding })
          assert.deepStrictEqual([usage?.promptTokens, usage?.completionTokens], [5, 4])
        }))
    }
  }

  // the test clock never moves: events the decoder held until the body's end would never come
  for (const encoding of ["gzip", "br"]) {
    it.effect(`${encoding}: a stream held open answers at once, its events decoded as they came`, () =>
      Effect.gen(function*() {
        const usage = yield* answered("stream", { body, events, encoding, then: "hold" })
        assert.strictEqual(usage?.completionTokens, 4)
      }))
  }

  for (const way of ways) {
    it.live(`${way}: a coding Baton cannot decode fails, named`, () =>
      Effect.gen(function*() {
        const errors = yield* failed(way, { body, events, encoding: "compress" })
        assert.deepStrictEqual(errors, [[
          "MalformedResponse",
          "openai answered with a body encoded as compress, which Baton cannot decode"
        ]])
      }))

    // `x-gzip` is sent as the header alone: the body is not gzip
    it.live(`${way}: a body that does not decode fails, saying why`, () =>
      Effect.gen(function*() {
        const errors = yield* failed(way, { body, events, encoding: "x-gzip" })
        assert.deepStrictEqual(errors, [[
          "MalformedResponse",
          "openai answered with a body that does not decode as x-gzip (Z_DATA_ERROR: incorrect header check)"
        ]])
      }))
  }
})

/** The error tag and message of one plain call answered by `reply`. */
const refused = (reply: (res: ServerResponse) => void) =>
  Effect.gen(function*() {
    const port = yield* TestServer.listen(createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        reply(res)
      })
    }))
    const llm = yield* Manager.openAi(`http://127.0.0.1:${port}`, { generateVia: "generate" })
    const error = yield* Effect.flip(llm.generate({ prompt: "hi" }))
    assert.instanceOf(error, AllProvidersFailed)
    return error.attempts.map((attempt) => [attempt.error?._tag, attempt.error?.message])
  }).pipe(Effect.provide(Usage.layer), Effect.scoped)

describe("an error status with a compressed body", () => {
  it.live("an empty one keeps its status (503, retried later)", () =>
    Effect.gen(function*() {
      const errors = yield* refused((res) => {
        res.writeHead(503, { "content-encoding": "gzip", "content-length": "0" }).end()
      })
      assert.deepStrictEqual(errors.map(([tag]) => tag), ["ProviderUnavailable"])
    }))

  it.live("one in a coding Baton cannot decode keeps its status (429)", () =>
    Effect.gen(function*() {
      const errors = yield* refused((res) => {
        res.writeHead(429, { "content-encoding": "compress" }).end("{}")
      })
      assert.deepStrictEqual(errors.map(([tag]) => tag), ["ProviderRateLimited"])
    }))

  it.live("a raw deflate one (no zlib header, as some servers send) is decoded: its message kept (401)", () =>
    Effect.gen(function*() {
      const errors = yield* refused((res) => {
        res.writeHead(401, { "content-encoding": "deflate" })
          .end(Zlib.deflateRawSync(JSON.stringify({ error: { message: "bad key", type: "invalid_request_error" } })))
      })
      assert.strictEqual(errors[0]?.[0], "ProviderAuthenticationFailed")
      assert.include(errors[0]?.[1], "bad key")
    }))

  it.live("an empty 200 is a body that is not JSON, not one that does not decode", () =>
    Effect.gen(function*() {
      const errors = yield* refused((res) => {
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": "0" })
          .end()
      })
      assert.deepStrictEqual(errors, [["MalformedResponse", "openai answered with a body that is not JSON"]])
    }))
})

describe("a compressed body over the limit", () => {
  // 200 KB of text compress to a few hundred bytes: the limit counts the decoded bytes
  it.live("fails at the limit of its decoded bytes", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start({
        body: {
          ...body,
          choices: [{ ...body.choices[0], message: { role: "assistant", content: "a".repeat(200_000) } }]
        },
        events,
        encoding: "gzip"
      })
      const make = Manager.alone((baseUrl) =>
        OpenAi.layer({ apiKey: Redacted.make("sk-test-key"), baseUrl, maxBodyBytes: 4096 })
      )
      const llm = yield* make(server.url, { generateVia: "generate" })
      const error = yield* Effect.flip(llm.generate({ prompt: "hi" }))
      assert.instanceOf(error, AllProvidersFailed)
      assert.deepStrictEqual(error.attempts.map((attempt) => attempt.error?.message), [
        "openai sent a body over the limit of 4096 bytes"
      ])
    }).pipe(Effect.provide(Usage.layer), Effect.scoped))
})

describe("what a request asks for", () => {
  it.live("its body unencoded: accept-encoding identity", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const llm = yield* Manager.openAi(mock.baseUrl("openai"))
      yield* llm.generate({ prompt: "hi" })
      yield* llm.stream({ prompt: "hi" }).pipe(Stream.runDrain)
      const received = yield* mock.received("openai")
      assert.deepStrictEqual(received.map((request) => request.headers["accept-encoding"]), ["identity", "identity"])
    }).pipe(Effect.provide(Usage.layer), Effect.scoped))
})
