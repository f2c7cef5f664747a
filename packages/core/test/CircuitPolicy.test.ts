/**
 * `CircuitPolicy.makeCircuits` called directly, as a program that guards its
 * own calls with Baton's circuits would: a refused call fails with the
 * store's `CircuitBreakerError` unless `refused` says otherwise.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { CircuitBreaker } from "effect/persistence"
import * as CircuitPolicy from "../src/CircuitPolicy.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import { ProviderUnavailable } from "../src/ProviderError.ts"

const down = new ProviderUnavailable({
  provider: ProviderName.make("openai"),
  model: ModelId.make("gpt-4o-mini"),
  status: 503,
  message: "503"
})

describe("CircuitPolicy.makeCircuits", () => {
  it.effect("a failure opens the circuit; the next call is refused with CircuitOpen, or as `refused` says", () =>
    Effect.gen(function*() {
      const circuits = yield* CircuitPolicy.makeCircuits({ failureThreshold: 1, cooldownMs: 60_000 })
      yield* Effect.flip(circuits.execute(Effect.fail(down), "openai/gpt-4o-mini"))
      const refused = yield* Effect.flip(circuits.execute(Effect.succeed("ran"), "openai/gpt-4o-mini"))
      assert.strictEqual(refused.reason._tag, "CircuitOpen")
      const mapped = yield* Effect.flip(
        circuits.execute(
          Effect.succeed("ran"),
          "openai/gpt-4o-mini",
          (error) => Effect.fail(`open: ${error.reason._tag}`)
        )
      )
      assert.strictEqual(mapped, "open: CircuitOpen")
      assert.strictEqual(yield* circuits.execute(Effect.succeed("ran"), "anthropic/claude-haiku-4-5"), "ran")
    }).pipe(Effect.scoped, Effect.provide(CircuitBreaker.layerStoreMemory())))
})
