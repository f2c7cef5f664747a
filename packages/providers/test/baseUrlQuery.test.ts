/**
 * A base URL with a query string (`https://host/v1?api-version=2024-10-01`,
 * as Azure-style endpoints take) keeps its query, and the adapter's path goes
 * before it: `/v1/chat/completions?api-version=2024-10-01`. A path with its
 * own query (Gemini's `?alt=sse`) gets both. Through `LlmManager`, over the
 * mock server, which records where each request went.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"

const apiKey = Redacted.make("sk-test-key")

const managerOf = (
  provider: ReturnType<typeof Gemini.layer>,
  generateVia: "stream" | "generate"
) =>
  LlmManager.make({
    providers: [provider],
    policy: FallbackPolicy.make({ maxRetries: 0, generateVia }),
    generationEnabled: true
  })

/**
 * Generates through an OpenAI-compatible provider, `azure-like`, whose base
 * URL is the mock's OpenAI then `suffix`, and asserts that the request went
 * to the chat completions path, the base URL's `api-version` query kept.
 */
const generateAzureLike = (suffix: string, generateVia: "stream" | "generate") =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const baseUrl = `${mock.baseUrl("openai")}${suffix}`
    const llm = yield* managerOf(
      OpenAiCompatible.layer({ name: "azure-like", baseUrl, model: "gpt-4o-mini", apiKey }),
      generateVia
    )
    const result = yield* llm.generate({ prompt: "Name one planet" })
    const [received] = yield* mock.received("openai")
    assert.strictEqual(received?.path, "/openai/v1/chat/completions")
    assert.deepStrictEqual(received?.query, { "api-version": "2024-10-01" })
    return result
  })

describe("a base URL with a query string", () => {
  for (const via of ["generate", "stream"] as const) {
    it.live(`OpenAI-compatible (generateVia: ${via}): the path goes before the query, which is kept`, () =>
      Effect.gen(function*() {
        const result = yield* generateAzureLike("?api-version=2024-10-01", via)
        assert.strictEqual(String(result.provider), "azure-like")
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.live("a trailing slash before the query is dropped", () =>
    generateAzureLike("/?api-version=2024-10-01", "generate").pipe(Effect.provide(Bench), Effect.scoped))

  it.live("Gemini stream: the path's own ?alt=sse and the base URL's query are both sent", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const baseUrl = `${mock.baseUrl("gemini")}?tenant=blue`
      const llm = yield* managerOf(Gemini.layer({ apiKey, baseUrl }), "stream")
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "Name one planet" }))
      assert.strictEqual(parts.at(-1)?._tag, "Finish")
      const [received] = yield* mock.received("gemini")
      assert.match(received?.path ?? "", /^\/gemini\/v1beta\/models\/[^/]+:streamGenerateContent$/)
      assert.deepStrictEqual(received?.query, { alt: "sse", tenant: "blue" })
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
