/**
 * A provider endpoint that answers with a redirect is not followed: its key
 * (Gemini's `x-goog-api-key`, Anthropic's `x-api-key`, OpenAI's bearer
 * token) never reaches the host the redirect names, whichever `HttpClient`
 * the adapters are given (`FetchHttpClient`, whose `fetch` follows redirects
 * by default, included), and the attempt fails on the redirect's status.
 * Through `LlmManager` over real HTTP, a second server on another origin
 * counting what reaches it.
 */
import * as Pricing from "@baton/core/Pricing"
import * as TestServer from "@baton/testing/TestServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { FetchHttpClient } from "effect/http"
import { createServer } from "node:http"
import * as Anthropic from "../src/Anthropic.ts"
import * as Gemini from "../src/Gemini.ts"
import * as ProviderHttpClient from "../src/ProviderHttpClient.ts"
import * as Manager from "./utils/manager.ts"

const apiKey = Redacted.make("sk-redirect-canary-0123456789")

const providers = {
  gemini: Manager.alone((baseUrl) => Gemini.layer({ apiKey, baseUrl })),
  anthropic: Manager.alone((baseUrl) => Anthropic.layer({ apiKey, baseUrl })),
  openai: Manager.openAi
}

/** The error tag of one call to an endpoint redirecting to another origin, and the requests that origin received. */
const redirected = (provider: keyof typeof providers) =>
  Effect.gen(function*() {
    let elsewhere = 0
    const target = yield* TestServer.listen(createServer((_req, res) => {
      elsewhere += 1
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    }))
    const origin = yield* TestServer.listen(createServer((req, res) => {
      req.resume()
      res.writeHead(307, { location: `http://localhost:${target}${req.url ?? "/"}` }).end()
    }))
    const llm = yield* providers[provider](`http://127.0.0.1:${origin}`)
    const error = yield* Effect.flip(llm.generate({ prompt: "hi" }))
    const attempt = error._tag === "AllProvidersFailed" ? error.attempts[0] : undefined
    return { error: attempt?.error?._tag, elsewhere }
  }).pipe(Effect.scoped)

const clients = {
  "FetchHttpClient": FetchHttpClient.layer,
  "ProviderHttpClient": ProviderHttpClient.layer
}

for (const [client, layer] of Object.entries(clients)) {
  describe(`a redirect, over ${client}`, () => {
    for (const provider of Object.keys(providers) as ReadonlyArray<keyof typeof providers>) {
      it.live(`${provider}: not followed, the key stays with the provider`, () =>
        Effect.gen(function*() {
          const { elsewhere, error } = yield* redirected(provider)
          assert.deepStrictEqual([error, elsewhere], ["MalformedResponse", 0])
        }).pipe(Effect.provide(Layer.merge(layer, Pricing.layerDefault))))
    }
  })
}
