/**
 * A key given in `OpenAiCompatible`'s `headers` (Azure's `api-key`, a
 * custom auth header), plain or `Redacted`, is as safe as `apiKey`: sent in
 * its header, never in an error, a request-log row, a log line or a span,
 * even when the server's 401 quotes it back.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as RequestLog from "@baton/core/RequestLog"
import * as LeakCheck from "@baton/testing/LeakCheck"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
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
