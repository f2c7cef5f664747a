/**
 * The wait a request every provider failed carries (`ErrorPolicy.retryAfterAllFailed`, behind the HTTP layers'
 * `Retry-After` and `@baton/ai`'s `RateLimitError`), read off the manager's own error: counted from when the error
 * is returned, not from when a provider was skipped, however long the attempts after the skip took.
 */
import * as MockFault from "@baton/testing/MockFault"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect } from "effect"
import * as ErrorPolicy from "../src/ErrorPolicy.ts"
import { ProviderName } from "../src/Ids.ts"
import { AllProvidersFailed } from "../src/LlmError.ts"
import type * as LlmManager from "../src/LlmManager.ts"
import * as ProviderThrottle from "../src/ProviderThrottle.ts"
import { Bench, inject, manager, runDriven, tripOnFirstFailure } from "./utils/chain.ts"

/** Opens openai's circuit (anthropic answers), then asks again with anthropic silent: openai skipped, anthropic timed out. */
const skippedThenTimedOut = (llm: LlmManager.Service) =>
  Effect.gen(function*() {
    yield* inject("openai", MockFault.status(503), { times: 1 })
    yield* llm.generate({ prompt: "opens openai's circuit" })
    const opened = yield* Clock.currentTimeMillis
    yield* inject("anthropic", MockFault.noResponse, { times: 1 })
    const error = yield* Effect.flip(runDriven(llm.generate({ prompt: "then fails" }), 500))
    if (!(error instanceof AllProvidersFailed)) return assert.fail("expected AllProvidersFailed")
    const failure = error
    assert.deepStrictEqual(failure.attempts.map((a) => `${a.provider}:${a.outcome}:${a.error?._tag}`), [
      "openai:skipped:CircuitOpen",
      "anthropic:error:ProviderTimeout"
    ])
    return { failure, elapsed: (yield* Clock.currentTimeMillis) - opened }
  })

const waitOf = (failure: AllProvidersFailed) => {
  const wait = ErrorPolicy.retryAfterAllFailed(failure.attempts)
  return wait === undefined ? undefined : Duration.toMillis(wait)
}

describe("LlmManager: the wait of a request every provider failed", () => {
  it.effect("is what is left of the cooldown when the error is returned", () =>
    Effect.gen(function*() {
      const llm = yield* tripOnFirstFailure(30_000)
      const { elapsed, failure } = yield* skippedThenTimedOut(llm)
      assert.strictEqual(elapsed, 10_000) // anthropic's first-byte limit
      const state = yield* llm.circuitState(ProviderName.make("openai"))
      assert.strictEqual(state._tag, "Open")
      assert.strictEqual(waitOf(failure), 20_000)
      assert.deepStrictEqual(state._tag === "Open" ? Duration.toMillis(state.retryAfter) : undefined, 20_000)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.effect("is none left (0) when the circuit half-opens as the error is returned", () =>
    Effect.gen(function*() {
      const llm = yield* tripOnFirstFailure(10_000)
      const { failure } = yield* skippedThenTimedOut(llm)
      assert.strictEqual(waitOf(failure), 0)
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.effect("counts a spent budget's refill from the error too", () =>
    Effect.gen(function*() {
      const llm = yield* manager({ chain: ["openai", "anthropic"] })
      yield* llm.generate({ prompt: "takes openai's one request of the minute" })
      yield* inject("anthropic", MockFault.noResponse, { times: 1 })
      const error = yield* Effect.flip(runDriven(llm.generate({ prompt: "then fails" }), 500))
      if (!(error instanceof AllProvidersFailed)) return assert.fail("expected AllProvidersFailed")
      assert.deepStrictEqual(error.attempts.map((a) => a.error?._tag), ["ProviderThrottled", "ProviderTimeout"])
      // the minute refills 60 s after the first request; anthropic's first-byte limit took 10 of them
      assert.strictEqual(waitOf(error), 50_000)
    }).pipe(
      Effect.provide(Bench),
      Effect.provide(ProviderThrottle.layerMemory({ openai: { requestsPerMinute: 1 } })),
      Effect.scoped
    ))
})
