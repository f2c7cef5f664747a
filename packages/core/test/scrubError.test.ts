/**
 * The manager's scrub of a failed attempt's error (`internal/scrubError.ts`):
 * every class with text keeps its class, `_tag` and other fields, and loses
 * the secret from every text field; an error without one is returned as is.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Redacted } from "effect"
import { ModelId, ProviderName } from "../src/Ids.ts"
import { scrubError } from "../src/internal/scrubError.ts"
import * as ProviderError from "../src/ProviderError.ts"
import type { TokenUsage } from "../src/TokenUsage.ts"

const key = "canary-key-b-1234567890abcdef"
const secrets = [Redacted.make(key)]
const who = { provider: ProviderName.make("alpha"), model: ModelId.make("m-a") }
const usage: TokenUsage = {
  promptTokens: 1,
  completionTokens: 2,
  totalTokens: 3,
  cachedPromptTokens: 0,
  reasoningTokens: 0,
  costNanoUsd: 5,
  estimatedCostUsd: 5e-9,
  pricing: "model"
}

const echoing: ReadonlyArray<ProviderError.ProviderError> = [
  new ProviderError.ProviderRateLimited({ ...who, message: `slow down ${key}`, retryAfter: Duration.millis(1500) }),
  new ProviderError.ProviderQuotaExhausted({ ...who, status: 402, message: `no credit on ${key}` }),
  new ProviderError.ProviderUnavailable({
    ...who,
    status: 503,
    message: `refused ${key}`,
    retryAfter: Duration.seconds(2)
  }),
  new ProviderError.ProviderConnectionFailed({ ...who, message: `reset while sending ${key}` }),
  new ProviderError.ProviderAuthenticationFailed({ ...who, status: 401, message: `bad key ${key}` }),
  new ProviderError.InvalidRequest({ ...who, status: 400, message: "bad", param: key, code: `code ${key}` }),
  new ProviderError.ContextLengthExceeded({ ...who, message: `too long for ${key}` }),
  new ProviderError.ContentFiltered({ ...who, stage: "response", message: "blocked", usage, refusal: `no, ${key}` }),
  new ProviderError.MalformedResponse({ ...who, message: `not JSON: ${key}`, status: 200, usage }),
  new ProviderError.StructuredOutputInvalid({ ...who, issue: `at ${key}`, content: `{"k":"${key}"}`, usage }),
  new ProviderError.StreamInterrupted({ ...who, partialText: `text ${key}`, reason: `cut at ${key}`, usage }),
  new ProviderError.Defect({ ...who, message: `threw ${key}` })
]

describe("scrubError", () => {
  it("scrubs every text field of every class, keeping its class and its other fields", () => {
    for (const error of echoing) {
      const scrubbed = scrubError(error, secrets, who.provider, who.model)
      assert.strictEqual(scrubbed.constructor, error.constructor, error._tag)
      assert.strictEqual(scrubbed._tag, error._tag)
      assert.notInclude(`${scrubbed.message} ${JSON.stringify(scrubbed)}`, key, error._tag)
      assert.include(JSON.stringify(scrubbed), "[redacted]", error._tag)
      assert.deepStrictEqual([scrubbed.provider, scrubbed.model], [who.provider, who.model])
      if ("usage" in error) assert.deepStrictEqual("usage" in scrubbed ? scrubbed.usage : undefined, error.usage)
      if ("retryAfter" in error) {
        assert.strictEqual(
          "retryAfter" in scrubbed ? Duration.toMillis(scrubbed.retryAfter) : -1,
          Duration.toMillis(error.retryAfter)
        )
      }
    }
  })

  it("keeps the model's own output but for configured secrets: no key shape is looked for in it", () => {
    const words = "risk-management-plan, Bearer of good-news-today"
    const answer = new ProviderError.StructuredOutputInvalid({
      ...who,
      issue: `at ${words}`,
      content: `${words} ${key}`
    })
    const scrubbed = scrubError(answer, secrets, who.provider, who.model)
    assert.strictEqual(scrubbed._tag, "StructuredOutputInvalid")
    if (scrubbed._tag !== "StructuredOutputInvalid") return
    assert.strictEqual(scrubbed.content, `${words} [redacted]`)
    assert.strictEqual(scrubbed.issue, `at ${words}`)
    const cut = new ProviderError.StreamInterrupted({
      ...who,
      partialText: words,
      reason: `cut at sk-${"a".repeat(20)}`
    })
    const kept = scrubError(cut, secrets, who.provider, who.model)
    assert.deepStrictEqual(
      kept._tag === "StreamInterrupted" ? [kept.partialText, kept.reason] : [],
      [words, "cut at [redacted]"]
    )
  })

  it("returns an error without a secret as it is", () => {
    const clean = new ProviderError.ProviderUnavailable({ ...who, status: 503, message: "alpha answered HTTP 503" })
    assert.strictEqual(scrubError(clean, secrets, who.provider, who.model), clean)
    const timeout = new ProviderError.ProviderTimeout({ ...who, phase: "first-byte", timeoutMs: 1000 })
    assert.strictEqual(scrubError(timeout, secrets, who.provider, who.model), timeout)
  })
})
