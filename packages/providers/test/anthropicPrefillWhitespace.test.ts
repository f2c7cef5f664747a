/**
 * Anthropic refuses a final assistant message (a prefill) that ends in
 * whitespace: 400 `invalid_request_error` "messages: final assistant content
 * cannot end with trailing whitespace". The adapter sends the prefill
 * without it, and takes the whitespace it cut off the start of the
 * continuation, so the caller's prefill and the answer join as they would
 * have. Over real HTTP against the mock server, which refuses such a prefill
 * as Anthropic does.
 */
import * as LlmRequest from "@baton/core/LlmRequest"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench, manager } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"

const apiKey = Redacted.make("sk-ant-test-key")

const provider = Effect.flatMap(
  MockProviderServer.MockProviderServer,
  (mock) => Anthropic.make({ apiKey, baseUrl: mock.baseUrl("anthropic") })
)

const request = (prefill: string) =>
  LlmRequest.make({ prompt: [{ role: "user", content: "What is 6 x 7?" }, { role: "assistant", content: prefill }] })

/** The text of `prefill`'s continuation, generated and streamed, with `answer` as what the model sends. */
const continued = (prefill: string, answer: string) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    const anthropic = yield* provider
    yield* mock.inject("anthropic", MockFault.content(answer))
    const generated = yield* anthropic.generate(yield* request(prefill))
    yield* mock.inject("anthropic", MockFault.content(answer))
    const parts = yield* Stream.runCollect(anthropic.stream(yield* request(prefill)))
    const streamed = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
    return { generated: generated.content, streamed }
  })

describe("Anthropic prefill ending in whitespace", () => {
  it.effect("\"Answer: \": no 400, and the continuation does not repeat the space the prefill ended with", () =>
    Effect.gen(function*() {
      const { generated, streamed } = yield* continued("Answer: ", " 42")
      assert.strictEqual(generated, "42")
      assert.strictEqual(streamed, "42")
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.effect("through LlmManager: a prefill ending in a newline, generated and streamed, joins the answer once", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const llm = yield* manager({ chain: ["anthropic"] })
      const prompt = [{ role: "user" as const, content: "List two colours." }, {
        role: "assistant" as const,
        content: "Colours:\n"
      }]
      yield* mock.inject("anthropic", MockFault.content("\n- red\n- blue"))
      const generated = yield* llm.generate({ prompt })
      yield* mock.inject("anthropic", MockFault.content("\n- red\n- blue"))
      const parts = yield* Stream.runCollect(llm.stream({ prompt }))
      const streamed = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
      assert.deepStrictEqual([generated.content, streamed], ["- red\n- blue", "- red\n- blue"])
      assert.deepStrictEqual(generated.attempts.map((a) => a.outcome), ["success"])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
