/**
 * A caller that reads a long stream slowly holds the provider back instead
 * of buffering the whole answer: past 64 KiB unread the connection stops
 * being read, so the server's writes stall, and reading on resumes it; the
 * answer arrives whole. Through `LlmManager.stream` over real HTTP, from a
 * server that writes as fast as the connection takes and counts what it wrote.
 */
import * as Pricing from "@baton/core/Pricing"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { createServer } from "node:http"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"
import * as Manager from "./utils/manager.ts"

/** One text delta of about 1 KiB. */
const piece = "x".repeat(1000)
const event = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`
/** About 64 MiB of events: far more than the socket buffers on both sides hold. */
const events = 64 * 1024
const last = `data: ${
  JSON.stringify({
    choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
    usage: { prompt_tokens: 3, completion_tokens: events, total_tokens: events + 3 }
  })
}\n\ndata: [DONE]\n\n`

/** Streams `events` deltas, writing while the connection takes them; `written` counts the bytes handed over. */
const floodingServer = Effect.gen(function*() {
  let written = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream" })
      let sent = 0
      const write = () => {
        while (sent < events) {
          sent++
          written += event.length
          if (!res.write(event)) {
            res.once("drain", write)
            return
          }
        }
        res.end(last)
      }
      write()
    })
  })
  const port = yield* TestServer.listen(server)
  return { url: `http://127.0.0.1:${port}/v1`, written: () => written }
})

describe("a slow reader of a long stream", () => {
  it.live(
    "holds the server back while it does not read, and gets the whole answer when it reads on",
    () =>
      Effect.gen(function*() {
        const server = yield* floodingServer
        const llm = yield* Manager.openAi(server.url, { requestTimeoutMs: 120_000 })
        let received = 0
        let paused: ReadonlyArray<number> = []
        yield* Stream.runForEach(llm.stream({ prompt: "a long answer" }), (part) =>
          Effect.gen(function*() {
            if (part._tag !== "TextDelta") return
            received += part.text.length
            if (paused.length > 0) return
            // the caller stops reading for a while after the first delta: the server's writes stall
            yield* Effect.sleep("200 millis")
            const before = server.written()
            yield* Effect.sleep("200 millis")
            paused = [before, server.written()]
          }))
        const total = events * event.length
        // without backpressure the body goes on arriving (into memory) while the caller does not read
        const [before, after] = paused
        assert.strictEqual(after, before, `the server went on writing during the pause: ${before} -> ${after} bytes`)
        assert.isBelow(after ?? total, total, "the server wrote the whole answer during the pause")
        assert.strictEqual(received, events * piece.length)
        assert.strictEqual(server.written(), total)
      }).pipe(Effect.provide(Layer.merge(ProviderHttpClient.layer, Pricing.layerDefault)), Effect.scoped),
    60_000
  )
})
