/**
 * A provider built in code may fail with an error its own schema does not
 * hold (a field set to the wrong type after it was made). The manager still
 * scrubs the keys it knows from it and reports the attempt: the caller gets
 * `AllProvidersFailed`, not a defect thrown while the error was scrubbed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import * as LlmManager from "../src/LlmManager.ts"
import * as LlmProvider from "../src/LlmProvider.ts"
import * as Pricing from "../src/Pricing.ts"
import { ProviderUnavailable } from "../src/ProviderError.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"

const key = "canary-house-key-4d1c7e"

/**
 * A 503 (echoing the key, or not), its `status` then set to text and its `model` to a number: no longer what
 * `ProviderUnavailable` encodes, nor a `Defect` could.
 */
const illFormed = (echoed: boolean) => {
  const error = new ProviderUnavailable({
    provider: ProviderName.make("house"),
    status: 503,
    message: echoed ? `upstream refused key ${key}` : "upstream refused"
  })
  Object.assign(error, { status: "503", model: 7 })
  return error
}

const house = (echoed: boolean) =>
  LlmProvider.layer({
    name: ProviderName.make("house"),
    model: ModelId.make("house-1"),
    capabilities: { assistantPrefill: false, streamUsage: false, structuredOutput: "json-mode" },
    generate: () => Effect.fail(illFormed(echoed)),
    generateStructured: () => Effect.fail(illFormed(echoed)),
    stream: () => Stream.fail(illFormed(echoed)),
    secrets: [Redacted.make(key)]
  })

const Manager = (echoed: boolean) =>
  LlmManager.layer({ providers: [house(echoed)], policy: FallbackPolicy.make({ maxRetries: 0 }) }).pipe(
    Layer.provideMerge(Layer.mergeAll(RequestLog.layerMemory(), UsageLedger.layerMemory(), Pricing.layerDefault))
  )

/** The caller's error and the request log's records of one failed `generate`. */
const failed = Effect.gen(function*() {
  const manager = yield* LlmManager.LlmManager
  const error = yield* Effect.flip(manager.generate({ prompt: "Hello" }))
  const records = yield* Effect.flatMap(RequestLog.RequestLogMemory, (memory) => memory.records)
  return { error, records }
})

describe("LlmManager with a provider's ill-formed error", () => {
  it.effect("holding a key: AllProvidersFailed, its attempt a Defect with the key scrubbed, as is the log", () =>
    Effect.gen(function*() {
      const { error, records } = yield* failed
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag !== "AllProvidersFailed") return
      assert.deepStrictEqual(error.attempts.map((a) => a.error?._tag), ["Defect"])
      assert.strictEqual(records.length, 1)
      const texts = JSON.stringify([error, error.message, records])
      assert.notInclude(texts, key)
      assert.include(texts, "[redacted]")
    }).pipe(Effect.provide(Manager(true))))

  it.effect("holding no key: AllProvidersFailed with the error as the provider gave it", () =>
    Effect.gen(function*() {
      const { error, records } = yield* failed
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag !== "AllProvidersFailed") return
      assert.deepStrictEqual(error.attempts.map((a) => a.error?._tag), ["ProviderUnavailable"])
      assert.deepStrictEqual(records.map((r) => r.outcome), ["error"])
    }).pipe(Effect.provide(Manager(false))))
})
