/**
 * A key given in `OpenAiCompatible`'s `headers` (Azure's `api-key`, a
 * custom auth header), plain or `Redacted`, is as safe as `apiKey`: sent in
 * its header, never in an error, a request-log row, a log line or a span,
 * even when the server's 401 quotes it back. A value under a name that says
 * it holds a credential is a secret, and so is the credential of a
 * `<scheme> <credential>` value; other plain values (`HTTP-Referer`) are not.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import type * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as RequestLog from "@baton/core/RequestLog"
import * as LeakCheck from "@baton/testing/LeakCheck"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema, Stream } from "effect"
import { createServer } from "node:http"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

// neither is key-shaped: only the configured values can catch them
const plainKey = "AzureKey0123456789abcdefQwErTy"
const redactedKey = "customAuth-9f8e7d6c5b4a3210"

const headers = { "api-key": plainKey, "x-custom-auth": Redacted.make(redactedKey), "x-title": "Quiz" }

/** A 401 quoting both keys, as Azure quotes a rejected subscription key. */
const rejected: RawServer.Reply = {
  status: 401,
  body: {
    error: { message: `Access denied due to invalid subscription key ${plainKey} (${redactedKey})`, code: "401" }
  },
  events: []
}

const assertScrubbed = (seen: string) => {
  assert.include(seen, "[redacted]")
  for (const key of [plainKey, redactedKey]) assert.notInclude(seen, key.slice(0, 12), key)
}

describe("OpenAiCompatible headers are secrets", () => {
  it.effect("sent as given, a Redacted value revealed only in its header", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.MockProviderServer
      const provider = yield* OpenAiCompatible.make({
        name: "azure",
        baseUrl: server.baseUrl("openai"),
        model: "m",
        headers
      })
      yield* Effect.flip(provider.generate(yield* LlmRequest.make({ prompt: "hi" })))
      const [request] = yield* server.received("openai")
      assert.strictEqual(request?.headers["api-key"], plainKey)
      assert.strictEqual(request?.headers["x-custom-auth"], redactedKey)
      assert.strictEqual(request?.headers["x-title"], "Quiz")
    }).pipe(Effect.provide(Bench)))

  it.live("on its own: the keys a 401 quotes are scrubbed from the error", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start(rejected)
      const provider = yield* OpenAiCompatible.make({ name: "azure", baseUrl: server.url, model: "m", headers })
      const error = yield* Effect.flip(provider.generate(yield* LlmRequest.make({ prompt: "hi" })))
      assert.strictEqual(error._tag, "ProviderAuthenticationFailed")
      assertScrubbed(`${error.message} ${JSON.stringify(error)} ${String(error)}`)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("through LlmManager: not in the error, the request log, the logs or the spans", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start(rejected)
      const check = LeakCheck.make()
      const [error, rows] = yield* Effect.gen(function*() {
        const llm = yield* LlmManager.make({
          providers: [OpenAiCompatible.layer({ name: "azure", baseUrl: server.url, model: "m", headers })],
          policy: FallbackPolicy.make({ maxRetries: 0, generateVia: "generate" }),
          circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
          generationEnabled: true
        })
        const error = yield* Effect.flip(llm.generate({ prompt: "hi" }))
        yield* Effect.logError("generation failed", error)
        const rows = yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
        return [error, rows] as const
      }).pipe(Effect.withSpan("headers.test"), check.capture)
      check.addErrors([error])
      assert.isAbove(rows.length, 0)
      assert.isAbove(check.counts().spans, 1)
      assertScrubbed([...check.texts(), JSON.stringify(rows)].join("\n"))
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory())), Effect.scoped))
})

const schemeToken = "cust0mT0kenValue9876xyz"
const referer = "https://quiz.example.com/app"
const title = "Quiz Master Deluxe"
const quoting = `denied token ${schemeToken} from ${referer} (${title})`

/** The ways a user calls the provider, each failing with the error it got. */
const calls = {
  generate: (provider: LlmProvider.Service, request: LlmRequest.LlmRequest) => Effect.flip(provider.generate(request)),
  stream: (provider: LlmProvider.Service, request: LlmRequest.LlmRequest) =>
    Effect.flip(Stream.runDrain(provider.stream(request))),
  generateStructured: (provider: LlmProvider.Service, request: LlmRequest.LlmRequest) =>
    Effect.flip(provider.generateStructured(request, Schema.Struct({ answer: Schema.String })))
}

/** A 401 quoting the token and the plain headers. */
const unauthorized: RawServer.Reply = { status: 401, body: { error: { message: quoting, code: "401" } }, events: [] }

/** A 401, and a 2xx whose body (or stream event) is an error, each quoting the token and the plain headers. */
const replies: Record<string, RawServer.Reply> = {
  "a 401": unauthorized,
  "a 2xx error body": {
    status: 200,
    body: { error: { message: quoting, code: "invalid_api_key" } },
    events: [{ error: { message: quoting, code: "invalid_api_key" } }]
  }
}

describe("OpenAiCompatible headers: which values are secrets", () => {
  for (const [replyName, reply] of Object.entries(replies)) {
    for (const [callName, call] of Object.entries(calls)) {
      it.live(`${callName} on ${replyName}: a scheme's token is scrubbed, a referer and a title are kept`, () =>
        Effect.gen(function*() {
          const server = yield* RawServer.start(reply)
          const provider = yield* OpenAiCompatible.make({
            name: "custom",
            baseUrl: server.url,
            model: "m",
            headers: { "x-custom-auth": `Token ${schemeToken}`, "HTTP-Referer": referer, "X-Title": title }
          })
          const error = yield* call(provider, yield* LlmRequest.make({ prompt: "hi" }))
          const seen = `${error.message} ${JSON.stringify(error)}`
          assert.notInclude(seen, schemeToken.slice(0, 12))
          assert.include(error.message, "[redacted]")
          assert.include(error.message, referer)
          assert.include(error.message, title)
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }
  }

  it.live("through LlmManager: the token is scrubbed from the error and the request log, the referer kept", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.start(unauthorized)
      const llm = yield* LlmManager.make({
        providers: [OpenAiCompatible.layer({
          name: "custom",
          baseUrl: server.url,
          model: "m",
          headers: { "X-Custom-Auth": `Token ${schemeToken}`, "HTTP-Referer": referer }
        })],
        policy: FallbackPolicy.make({ maxRetries: 0, generateVia: "generate" }),
        circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 },
        generationEnabled: true
      })
      const error = yield* Effect.flip(llm.generate({ prompt: "hi" }))
      const rows = JSON.stringify(yield* RequestLog.RequestLogMemory.use((memory) => memory.records))
      for (const seen of [`${error.message} ${JSON.stringify(error)}`, rows]) {
        assert.notInclude(seen, schemeToken.slice(0, 12))
        assert.include(seen, referer)
      }
    }).pipe(Effect.provide(Layer.merge(Bench, RequestLog.layerMemory())), Effect.scoped))

  it.live("a header named as the key's in another case is dropped: the key's alone is sent", () =>
    Effect.gen(function*() {
      const sent: Array<string> = []
      const port = yield* TestServer.listen(createServer((req, res) => {
        for (let at = 0; at < req.rawHeaders.length; at += 2) {
          if (req.rawHeaders[at]?.toLowerCase() === "authorization") sent.push(req.rawHeaders[at + 1] ?? "")
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ choices: [{ message: { role: "assistant", content: "ok" }, finish_reason: "stop" }] }))
      }))
      const provider = yield* OpenAiCompatible.make({
        name: "custom",
        baseUrl: `http://127.0.0.1:${port}/v1`,
        model: "m",
        apiKey: Redacted.make("theApiKey0123456789"),
        headers: { Authorization: "Bearer fromHeaders0123456789" }
      })
      yield* provider.generate(yield* LlmRequest.make({ prompt: "hi" }))
      assert.deepStrictEqual(sent, ["Bearer theApiKey0123456789"])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
