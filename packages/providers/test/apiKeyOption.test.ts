/**
 * A key given in code (`apiKey` of a provider's layer) is read by the rule
 * `LlmConfig` reads `<PROVIDER>_API_KEY` by: the whitespace around it (the
 * final newline of a key read from a file) is trimmed, and a key holding a
 * character no HTTP header can carry is an `LlmConfigError` naming `apiKey`
 * when the layer is built, never the key itself. Such a key used to reach
 * undici, which refused the header: every call failed as a retryable
 * `ProviderConnectionFailed` and opened the provider's circuit. A blank key
 * fails the build of a hosted provider, as a blank `<PROVIDER>_API_KEY` does
 * (it sent `Bearer ` and every call was refused); an OpenAI-compatible
 * endpoint takes it as no key.
 */
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as OpenAi from "../src/OpenAi.ts"
import * as OpenAiCompatible from "../src/OpenAiCompatible.ts"
import * as Manager from "./utils/manager.ts"

const managerWithKey = (key: string) =>
  Effect.flatMap(
    MockProviderServer.MockProviderServer,
    (mock) => Manager.alone((baseUrl) => OpenAi.layer({ apiKey: Redacted.make(key), baseUrl }))(mock.baseUrl("openai"))
  )

describe("a provider's apiKey given in code", () => {
  it.live("is trimmed: a key read from a file with its final newline answers", () =>
    Effect.gen(function*() {
      const manager = yield* managerWithKey("sk-test-key\n")
      const result = yield* manager.generate({ prompt: "Hi" })
      assert.include(result.content, "Mock answer from openai")
    }).pipe(Effect.provide(Bench), Effect.scoped))

  for (const [what, key] of [["a line break", "sk-te\nst-key"], ["a non-ASCII character", "sk-tést-key"]] as const) {
    it.live(`holding ${what} inside fails the build naming apiKey, not the key`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(managerWithKey(key))
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, "apiKey")
        assert.include(error.message, what)
        assert.notInclude(error.message, "st-key")
      }).pipe(Effect.provide(Bench), Effect.scoped))
  }

  it.live("blank fails a hosted provider's build naming apiKey; an OpenAI-compatible endpoint takes it as no key", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(managerWithKey(" \n"))
      assert.strictEqual(error._tag, "LlmConfigError")
      assert.strictEqual(error.variable, "apiKey")
      assert.include(error.message, "is blank; openai requires your openai API key")
      const mock = yield* MockProviderServer.MockProviderServer
      const local = yield* Manager.alone((baseUrl) =>
        OpenAiCompatible.layer({ name: "local", baseUrl, model: "m", apiKey: Redacted.make(" ") })
      )(mock.baseUrl("openai"))
      // built, and called without a key: the mock's OpenAI route wants one
      const refused = yield* Effect.flip(local.generate({ prompt: "Hi" }))
      if (refused._tag !== "AllProvidersFailed") return assert.fail(`expected AllProvidersFailed, got ${refused._tag}`)
      assert.deepStrictEqual(refused.attempts.map((a) => a.error?._tag), ["ProviderAuthenticationFailed"])
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
