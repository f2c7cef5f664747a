/**
 * A caller that reads a long stream slowly holds the provider back instead
 * of buffering the whole answer: past 64 KiB unread the connection stops
 * being read, so the server's writes stall, and reading on resumes it; the
 * answer arrives whole. A caller that stops while the provider is held back
 * closes the connection. Through `LlmManager.stream` (which reads the
 * adapter's stream by its push, held while the caller has not taken a
 * batch) over real HTTP, on the adapter's own dispatcher and on another
 * `HttpClient`, from a server that writes as fast as the connection takes
 * and counts what it wrote.
 */
import * as Pricing from "@baton/core/Pricing"
import * as RequestLog from "@baton/core/RequestLog"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { createServer } from "node:http"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"
import * as Manager from "./utils/manager.ts"
import { throughClient } from "./utils/throughClient.ts"

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

/**
 * Streams `events` deltas, writing while the connection takes them; `written` counts the bytes handed over,
 * `cut` whether a response was closed before its end.
 */
const floodingServer = Effect.gen(function*() {
  let written = 0
  let cut = false
  const server = createServer((req, res) => {
    res.once("close", () => {
      if (!res.writableEnded) cut = true
    })
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
  return { url: `http://127.0.0.1:${port}/v1`, written: () => written, cut: () => cut }
})

const clients = {
  "ProviderHttpClient": ProviderHttpClient.layer,
  "another HttpClient": Layer.provide(throughClient, ProviderHttpClient.layer)
}

describe("a slow reader of a long stream", () => {
  for (const [via, client] of Object.entries(clients)) {
    it.live(
      `over ${via}: holds the server back while it does not read, and gets the whole answer when it reads on`,
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
        }).pipe(Effect.provide(Layer.merge(client, Pricing.layerDefault)), Effect.scoped),
      60_000
    )

    it.live(
      `over ${via}: stopping while the server is held back closes the connection; the request is logged cancelled`,
      () =>
        Effect.gen(function*() {
          const server = yield* floodingServer
          const llm = yield* Manager.openAi(server.url, { requestTimeoutMs: 120_000 })
          // slower than the server, the caller lets it fill the buffers, then takes a few deltas and stops
          const taken = yield* Stream.runCollect(
            Stream.take(Stream.tap(llm.stream({ prompt: "a long answer" }), () => Effect.sleep("1 millis")), 300)
          )
          assert.strictEqual(taken.length, 300)
          yield* Effect.sleep("100 millis")
          assert.isTrue(server.cut(), "the server's response was not closed")
          assert.isBelow(server.written(), events * event.length)
          const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
          assert.deepStrictEqual(records.map((record) => record.outcome), ["cancelled"])
        }).pipe(
          Effect.provide(Layer.mergeAll(client, Pricing.layerDefault, RequestLog.layerMemory())),
          Effect.scoped
        ),
      60_000
    )
  }
})
