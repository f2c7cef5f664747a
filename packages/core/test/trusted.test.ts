/**
 * `internal/trusted.ts`'s `construct`: an error it builds from fields in
 * the order of its schema (attempts' fields too, as the manager's
 * `conclude` gives them) is the one its class's constructor builds from
 * the same fields (class, tag, fields in order, message, JSON, encoding, no
 * stack trace), so that skipping the constructor's parse changes nothing a
 * caller can see.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Schema } from "effect"
import type { Attempt } from "../src/Attempt.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import { construct } from "../src/internal/trusted.ts"
import { AllProvidersFailed } from "../src/LlmError.ts"
import { CircuitOpen } from "../src/ProviderError.ts"
import * as TokenUsage from "../src/TokenUsage.ts"

const provider = ProviderName.make("alpha")
const model = ModelId.make("m-a")

const same = (built: Error, made: Error, Class: typeof CircuitOpen | typeof AllProvidersFailed) => {
  assert.isTrue(built instanceof Class)
  assert.instanceOf(built, Error)
  // a real error (V8's error data), not an object on an error's prototype
  assert.strictEqual(Object.prototype.toString.call(built), "[object Error]")
  assert.deepStrictEqual(Object.keys(built), Object.keys(made))
  assert.deepStrictEqual(Object.entries(built), Object.entries(made))
  assert.strictEqual(built.name, made.name)
  assert.strictEqual(built.message, made.message)
  assert.strictEqual(JSON.stringify(built), JSON.stringify(made))
  assert.strictEqual(built.stack, made.stack)
}

describe("construct", () => {
  it("builds a CircuitOpen as its constructor does", () => {
    const fields = { provider, model, retryAfter: Duration.millis(1500) }
    const built = construct(CircuitOpen, { _tag: "CircuitOpen", ...fields })
    const made = new CircuitOpen(fields)
    same(built, made, CircuitOpen)
    assert.deepStrictEqual(Schema.encodeSync(CircuitOpen)(built), Schema.encodeSync(CircuitOpen)(made))
  })

  it("builds an AllProvidersFailed as its constructor does, its attempts and usage included", () => {
    const error = new CircuitOpen({ provider, model })
    const attempts: ReadonlyArray<Attempt> = [
      { provider, model, role: "primary", outcome: "skipped", latencyMs: 0, error },
      { provider, model, role: "fallback", outcome: "cancelled", latencyMs: 2 }
    ]
    const usage = TokenUsage.make({ promptTokens: 3, completionTokens: 4 }, 0, "model")
    for (const fields of [{ attempts }, { attempts, usage }]) {
      const built = construct(AllProvidersFailed, { _tag: "AllProvidersFailed", ...fields })
      const made = new AllProvidersFailed(fields)
      same(built, made, AllProvidersFailed)
      assert.deepStrictEqual(
        Schema.encodeSync(AllProvidersFailed)(built),
        Schema.encodeSync(AllProvidersFailed)(made)
      )
    }
  })
})
