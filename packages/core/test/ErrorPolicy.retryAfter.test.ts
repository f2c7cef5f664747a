/**
 * `ErrorPolicy.retryAfterAllFailed`, the one rule behind the HTTP layers'
 * `Retry-After` and `@baton/ai`'s `RateLimitError.retryAfter` for a request
 * every provider failed: a wait only when Baton skipped every provider, or
 * skipped some and the rest timed out, and every skip knows its wait.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration } from "effect"
import type { Attempt } from "../src/Attempt.ts"
import * as ErrorPolicy from "../src/ErrorPolicy.ts"
import { ModelId, ProviderName } from "../src/Ids.ts"
import { CircuitOpen, ProviderThrottled, ProviderTimeout, ProviderUnavailable } from "../src/ProviderError.ts"

const provider = ProviderName.make("deepseek")
const model = ModelId.make("deepseek-chat")
const at = { provider, model, role: "primary", latencyMs: 0 } as const

const circuitOpen = (seconds?: number): Attempt => ({
  ...at,
  outcome: "skipped",
  error: new CircuitOpen({
    provider,
    model,
    ...(seconds === undefined ? {} : { retryAfter: Duration.seconds(seconds) })
  })
})
const throttled = (seconds?: number): Attempt => ({
  ...at,
  outcome: "skipped",
  error: new ProviderThrottled({
    provider,
    model,
    limit: "tokens-per-minute",
    ...(seconds === undefined ? {} : { retryAfter: Duration.seconds(seconds) })
  })
})
const timedOut: Attempt = {
  ...at,
  outcome: "error",
  error: new ProviderTimeout({ provider, model, phase: "first-byte", timeoutMs: 10_000 })
}
const unavailable: Attempt = {
  ...at,
  outcome: "error",
  error: new ProviderUnavailable({ provider, model, status: 503, message: "down" })
}

const secondsOf = (attempts: ReadonlyArray<Attempt>) => {
  const wait = ErrorPolicy.retryAfterAllFailed(attempts)
  return wait === undefined ? undefined : Duration.toSeconds(wait)
}

describe("ErrorPolicy.retryAfterAllFailed", () => {
  it("every provider skipped: the earliest wait, of a circuit or a local budget", () => {
    assert.strictEqual(secondsOf([circuitOpen(30), throttled(10)]), 10)
    assert.strictEqual(secondsOf([circuitOpen(30)]), 30)
  })

  it("some skipped, the rest timed out: the skips' earliest wait", () => {
    assert.strictEqual(secondsOf([timedOut, throttled(40), circuitOpen(20), timedOut]), 20)
  })

  it("no wait when a skip knows none, when none was skipped, or when a provider failed otherwise", () => {
    assert.strictEqual(secondsOf([throttled(), timedOut]), undefined)
    assert.strictEqual(secondsOf([circuitOpen(30), throttled()]), undefined)
    assert.strictEqual(secondsOf([timedOut, timedOut]), undefined)
    assert.strictEqual(secondsOf([circuitOpen(30), unavailable]), undefined)
    assert.strictEqual(secondsOf([circuitOpen(30), timedOut, unavailable]), undefined)
    assert.strictEqual(secondsOf([]), undefined)
  })
})
