/**
 * Real providers answer over TLS, and undici negotiates HTTP/2 there by
 * default: the transport's handler must work on undici's HTTP/2 client too.
 * Through `LlmManager` over real HTTP/2 (TLS, a self-signed certificate made
 * for this test only): a plain call, `generate` streamed underneath, a
 * stream, and a call cancelled while the server holds it (the server sees
 * its stream closed) after which the connection still serves.
 */
import * as Pricing from "@baton/core/Pricing"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { createSecureServer } from "node:http2"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"
import * as Manager from "./utils/manager.ts"

/** A throwaway key and certificate for 127.0.0.1, for this test's server only. */
const key = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgn9RyD2y+qhxPKCzB
AaGVNE/JB4PtVarMb7IRSo51GkShRANCAAQ33WRhiyHzpte5mdQc8PnuIuwpFUWH
BjjYR843bl29Cq5DslWEQ+GC1mo8hSHSXiDseNl8raNoebw2gcgcA7Ff
-----END PRIVATE KEY-----`
const cert = `-----BEGIN CERTIFICATE-----
MIIBmTCCAT+gAwIBAgIUD2VxIHzhMcZ2m2fPOTHyhYoWEq8wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTI2MTEzMDA4MjM1NloXDTM2MTEyNzA4
MjM1NlowFDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEN91kYYsh86bXuZnUHPD57iLsKRVFhwY42EfON25dvQquQ7JVhEPhgtZq
PIUh0l4g7HjZfK2jaHm8NoHIHAOxX6NvMG0wHQYDVR0OBBYEFGsmfuAY58W8CUXF
yFVXTxQX0ZjSMB8GA1UdIwQYMBaAFGsmfuAY58W8CUXFyFVXTxQX0ZjSMA8GA1Ud
EwEB/wQFMAMBAf8wGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxob3N0MAoGCCqGSM49
BAMCA0gAMEUCIFB4ycjANzmTsQSpfIJx3A0+NC0V6EhvSpbdBq2zy5VGAiEA0PEt
ZhW+uB9RM24GrmTzaaB4mCpW+XH0iJ/HgwYojJM=
-----END CERTIFICATE-----`

const completion = JSON.stringify({
  choices: [{ index: 0, message: { role: "assistant", content: "ok over h2" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 }
})

const events = [
  ...["ok", " over", " h2"].map((text) => ({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })),
  {
    choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
    usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 }
  }
].map((event) => `data: ${JSON.stringify(event)}\n\n`).join("") + "data: [DONE]\n\n"

/** HTTP/2 only; holds a request whose prompt says "hold" until the client lets it go. */
const h2Server = Effect.gen(function*() {
  let streams = 0
  let released = 0
  let sessions = 0
  const server = createSecureServer({ key, cert, allowHTTP1: false }, (req, res) => {
    streams++
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => {
      body += chunk
    })
    req.on("end", () => {
      if (body.includes("hold")) {
        res.on("close", () => {
          released++
        })
        return
      }
      const streamed = body.includes("\"stream\":true")
      res.writeHead(200, { "content-type": streamed ? "text/event-stream" : "application/json" })
      res.end(streamed ? events : completion)
    })
  })
  server.on("session", () => {
    sessions++
  })
  const port = yield* TestServer.listen(server)
  return {
    url: `https://127.0.0.1:${port}/v1`,
    streams: () => streams,
    released: () => released,
    sessions: () => sessions
  }
})

/** undici's defaults (HTTP/2 allowed), trusting the test's certificate. */
const OverTls = Layer.merge(
  ProviderHttpClient.layerOptions({ allowH2: true, connect: { ca: cert } }),
  Pricing.layerDefault
)

describe("over HTTP/2", () => {
  it.live("plain, streamed and cancelled calls; the connection serves on after a cancellation", () =>
    Effect.gen(function*() {
      const server = yield* h2Server
      const llm = yield* Manager.openAi(server.url)
      const streamed = yield* llm.generate({ prompt: "hi" })
      assert.strictEqual(streamed.content, "ok over h2")
      assert.strictEqual(streamed.usage.totalTokens, 6)
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "hi" }))
      assert.strictEqual(parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join(""), "ok over h2")
      const plain = yield* Manager.openAi(server.url, { generateVia: "generate" })
      assert.strictEqual((yield* plain.generate({ prompt: "hi" })).content, "ok over h2")
      const held = yield* Effect.forkChild(llm.generate({ prompt: "hold" }))
      while (server.streams() < 4) yield* Effect.sleep("10 millis")
      yield* Fiber.interrupt(held)
      while (server.released() < 1) yield* Effect.sleep("10 millis")
      assert.strictEqual((yield* llm.generate({ prompt: "after" })).content, "ok over h2")
      assert.strictEqual(server.streams(), 5)
      assert.strictEqual(server.sessions(), 1, "one HTTP/2 session carried every call")
    }).pipe(Effect.provide(OverTls), Effect.scoped))
})
