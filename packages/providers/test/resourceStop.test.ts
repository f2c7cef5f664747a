/**
 * DeepSeek's `insufficient_system_resource` stop cuts an answer: through
 * `LlmManager`, over the mock server, it is retried and then falls back,
 * plain and streamed, never served as a finished answer.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"

const apiKey = Redacted.make("sk-test-key")

const chain = (generateVia: "stream" | "generate") =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const llm = yield* LlmManager.make({
      providers: [
        DeepSeek.layer({ apiKey, baseUrl: mock.baseUrl("deepseek") }),
        Gemini.layer({ apiKey, baseUrl: mock.baseUrl("gemini") })
      ],
      policy: FallbackPolicy.make({ maxRetries: 1, retryBaseDelayMs: 1, generateVia }),
      circuitPolicy: { failureThreshold: 100, cooldownMs: 60_000 }
    })
    return { mock, llm }
  })

describe("DeepSeek's insufficient_system_resource stop", () => {
  for (const via of ["stream", "generate"] as const) {
    it.live(`generate (generateVia: ${via}): retried, then the fallback answers`, () =>
      Effect.gen(function*() {
        const { llm, mock } = yield* chain(via)
        yield* mock.inject("deepseek", MockFault.resourceStop, { times: 2 })
        const result = yield* llm.generate({ prompt: "Name a planet." })
        assert.strictEqual(result.provider, "gemini")
        assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.error?._tag]), [
          ["deepseek", "MalformedResponse"],
          ["deepseek", "MalformedResponse"],
          ["gemini", undefined]
        ])
        assert.include(result.attempts[0]?.error?.message ?? "", "insufficient_system_resource")
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.live("stream: the cut answer is rescued whole", () =>
    Effect.gen(function*() {
      const { llm, mock } = yield* chain("stream")
      yield* mock.inject("deepseek", MockFault.resourceStop)
      const parts = yield* Stream.runCollect(llm.stream({ prompt: "Name a planet." }))
      const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.strictEqual(text, "Mock answer from deepseek: Name a planet.")
      const finish = parts.at(-1)
      assert.strictEqual(finish?._tag, "Finish")
      assert.strictEqual(finish?._tag === "Finish" ? finish.rescued : undefined, true)
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
