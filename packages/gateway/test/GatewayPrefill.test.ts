/**
 * The environment's prefill settings reach the gateway's providers: a stream
 * cut after its first words is continued from the text already sent (an
 * assistant prefill) on a provider whose `<PROVIDER>_ASSISTANT_PREFILL` is
 * `true`, and restarted from the caller's own messages on one whose setting
 * is `false`, as with `LlmManager.layerConfig`, whatever the provider's own
 * default (OpenAI: no prefill; DeepSeek: prefill). Both defaults are flipped
 * here, so the requests the mock server received show which setting each
 * provider got.
 */
import * as MockFault from "@baton/testing/MockFault"
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fixture from "./fixture.ts"

const TestLayer = Fixture.gatewayWithMock({
  environment: { OPENAI_ASSISTANT_PREFILL: "true", DEEPSEEK_ASSISTANT_PREFILL: "false" }
})

const prompt = "Tell me a story"

/** The text a client streams from `model`, asking for {@link prompt}. */
const streamedText = (url: string, model: string) =>
  Effect.promise(async () => {
    const stream = await Fixture.client(url).chat.completions.create({
      model,
      messages: [{ role: "user", content: prompt }],
      stream: true
    })
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    return text
  })

/** The `messages` of each request the mock server received for `provider`. */
const messagesReceived = (mock: MockProviderServer.MockProviderServer["Service"], provider: "openai" | "deepseek") =>
  Effect.map(
    mock.received(provider),
    (requests) => requests.map((request) => (request.body as { readonly messages?: unknown }).messages)
  )

/** The text a client streams from `model` while OpenAI's stream breaks after two words ("Mock answer"). */
const streamedCutOnOpenAi = (model: string) =>
  Effect.gen(function*() {
    const { mock, url } = yield* Fixture.setup
    yield* mock.inject("openai", MockFault.cutStreamAfter(2))
    return { mock, text: yield* streamedText(url, model) }
  })

layer(TestLayer, { excludeTestServices: true })("Gateway prefill settings from the environment", (it) => {
  it.effect("OPENAI_ASSISTANT_PREFILL=true: a stream cut on OpenAI is continued there from the text sent", () =>
    Effect.gen(function*() {
      // `steady` retries its OpenAI step: the retry is the rescue
      const { mock, text } = yield* streamedCutOnOpenAi("steady")
      assert.strictEqual(text, `Mock answer from openai: ${prompt}`)
      assert.deepStrictEqual(yield* messagesReceived(mock, "openai"), [
        [{ role: "user", content: prompt }],
        [{ role: "user", content: prompt }, { role: "assistant", content: "Mock answer" }]
      ])
      assert.strictEqual((yield* mock.stats("deepseek")).requests, 0)
    }))

  it.effect("DEEPSEEK_ASSISTANT_PREFILL=false: a stream cut on OpenAI restarts on DeepSeek without a prefill", () =>
    Effect.gen(function*() {
      // `fast` does not retry OpenAI (LLM_MAX_RETRIES=0): DeepSeek rescues the answer
      const { mock, text } = yield* streamedCutOnOpenAi("fast")
      // the restart replays "Mock answer", which the client already has, then goes on
      assert.strictEqual(text, `Mock answer from deepseek: ${prompt}`)
      assert.strictEqual((yield* mock.stats("openai")).requests, 1)
      assert.deepStrictEqual(yield* messagesReceived(mock, "deepseek"), [[{ role: "user", content: prompt }]])
    }))
})
