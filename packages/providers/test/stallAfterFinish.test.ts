/**
 * A provider used on its own (no manager): a stream that went silent after
 * its whole answer, its finish and its usage came, before its end marker
 * (`[DONE]`, `message_stop`), ends at the adapter's own limit as that
 * answer, not as a `StreamInterrupted`; one whose connection closed or was
 * cut there ends as that answer at once. Over real HTTP from the mock server.
 */
import * as LlmProvider from "@baton/core/LlmProvider"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as OpenAi from "../src/OpenAi.ts"

const apiKey = Redacted.make("sk-test-key")

const adapters = {
  openai: (baseUrl: string) => OpenAi.layer({ apiKey, baseUrl, timeoutMs: 300 }),
  anthropic: (baseUrl: string) => Anthropic.layer({ apiKey, baseUrl, timeoutMs: 300 })
} as const

const ends = [
  ["stalled", MockFault.stallMidStream("forever", { after: "end" })],
  ["closed", MockFault.noTerminator],
  ["cut", MockFault.cutStreamAfter("end")]
] as const

describe("a provider's own stream stalled, closed or cut after its finish, before its end marker", () => {
  for (const [name, adapter] of Object.entries(adapters)) {
    for (const [how, fault] of ends) {
      it.live(`${name}, ${how}: ends with its answer and its finish`, () =>
        Effect.gen(function*() {
          const mock = yield* MockProviderServer.MockProviderServer
          yield* mock.inject(name as MockProviderServer.MockProvider, fault)
          const parts = yield* Stream.runCollect(LlmProvider.stream({ prompt: "hi" })).pipe(
            Effect.provide(adapter(mock.baseUrl(name as MockProviderServer.MockProvider)))
          )
          const text = parts.flatMap((part) => part._tag === "TextDelta" ? [part.text] : []).join("")
          assert.strictEqual(text, `Mock answer from ${name}: hi`)
          const finish = parts.at(-1)
          assert.strictEqual(finish?._tag === "Finish" ? finish.finishReason : undefined, "stop")
          assert.isAbove(finish?._tag === "Finish" ? finish.usage.completionTokens : 0, 0)
        }).pipe(Effect.provide(Bench), Effect.scoped))
    }
  }
})
