import { ModelId, ProviderName } from "@baton/core/Ids"
import type { ProviderError } from "@baton/core/ProviderError"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Redacted } from "effect"
import * as HttpError from "../src/internal/httpError.ts"

const context: HttpError.ErrorContext = {
  provider: ProviderName.make("openai"),
  model: ModelId.make("gpt-4o-mini"),
  secrets: [Redacted.make("sk-canary-123")]
}

const now = Date.UTC(2026, 10, 25, 12, 0, 0)

const map = (status: number, body: unknown, headers: Record<string, string> = {}): ProviderError =>
  HttpError.fromStatus(context, status, headers, typeof body === "string" ? body : JSON.stringify(body), now)

const openAiError = (message: string, type: string, code: string | null = null) => ({
  error: { message, type, param: null, code }
})

const geminiError = (code: number, status: string, details: ReadonlyArray<unknown>) => ({
  error: { code, message: "You exceeded your current quota", status, details }
})

const quotaFailure = (quotaId: string) => ({
  "@type": "type.googleapis.com/google.rpc.QuotaFailure",
  violations: [{ quotaMetric: "generativelanguage.googleapis.com/generate_content_requests", quotaId }]
})

const retryInfo = (retryDelay: string) => ({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay })

const retryMs = (error: ProviderError): number | undefined =>
  error._tag === "ProviderRateLimited" && error.retryAfter !== undefined
    ? Duration.toMillis(error.retryAfter)
    : undefined

const ms = (duration: Duration.Duration | undefined): number | undefined =>
  duration === undefined ? undefined : Duration.toMillis(duration)

describe("httpError", () => {
  it("reads retry hints: retry-after-ms first, then Retry-After seconds or date, then Gemini RetryInfo", () => {
    assert.strictEqual(ms(HttpError.retryAfter({ "retry-after-ms": "1500", "retry-after": "9" }, [], now)), 1500)
    assert.strictEqual(ms(HttpError.retryAfter({ "retry-after": "9" }, [], now)), 9000)
    const date = new Date(now + 20_000).toUTCString()
    assert.strictEqual(ms(HttpError.retryAfter({ "retry-after": date }, [], now)), 20_000)
    assert.strictEqual(ms(HttpError.retryAfter({}, [retryInfo("1.5s")], now)), 1500)
    assert.isUndefined(HttpError.retryAfter({ "retry-after": "soon" }, [], now))
    assert.isUndefined(HttpError.retryAfter({}, [], now))
  })

  it("429 is rate limited, with its hint", () => {
    const openAi = map(429, openAiError("Rate limit reached", "requests", "rate_limit_exceeded"), {
      "retry-after": "3"
    })
    assert.strictEqual(openAi._tag, "ProviderRateLimited")
    assert.strictEqual(retryMs(openAi), 3000)
    const gemini = map(
      429,
      geminiError(429, "RESOURCE_EXHAUSTED", [quotaFailure("PerMinutePerProject"), retryInfo("34s")])
    )
    assert.strictEqual(gemini._tag, "ProviderRateLimited")
    assert.strictEqual(retryMs(gemini), 34_000)
    assert.isUndefined(retryMs(map(429, "Too Many Requests")))
  })

  it("spent money or a per-day quota is ProviderQuotaExhausted", () => {
    assert.strictEqual(
      map(429, openAiError("You exceeded your current quota", "insufficient_quota", "insufficient_quota"))._tag,
      "ProviderQuotaExhausted"
    )
    assert.strictEqual(map(402, openAiError("Insufficient Balance", "unknown_error"))._tag, "ProviderQuotaExhausted")
    assert.strictEqual(
      map(
        429,
        geminiError(429, "RESOURCE_EXHAUSTED", [quotaFailure("GenerateRequestsPerDayPerProjectPerModel-FreeTier")])
      )._tag,
      "ProviderQuotaExhausted"
    )
    const anthropic = {
      type: "error",
      error: { type: "invalid_request_error", message: "Your credit balance is too low to access the Anthropic API." }
    }
    assert.strictEqual(map(400, anthropic)._tag, "ProviderQuotaExhausted")
  })

  it("401 and 403 are authentication failures", () => {
    assert.strictEqual(
      map(401, openAiError("Incorrect API key provided", "invalid_request_error"))._tag,
      "ProviderAuthenticationFailed"
    )
    assert.strictEqual(map(403, geminiError(403, "PERMISSION_DENIED", []))._tag, "ProviderAuthenticationFailed")
  })

  it("context-length messages of every provider are ContextLengthExceeded", () => {
    const messages = [
      openAiError(
        "This model's maximum context length is 128000 tokens.",
        "invalid_request_error",
        "context_length_exceeded"
      ),
      {
        type: "error",
        error: { type: "invalid_request_error", message: "prompt is too long: 210000 tokens > 200000 maximum" }
      },
      {
        error: {
          code: 400,
          status: "INVALID_ARGUMENT",
          message: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
        }
      },
      openAiError(
        "This model's maximum context length is 131072 tokens. However, you requested 140000 tokens",
        "invalid_request_error"
      )
    ]
    for (const body of messages) assert.strictEqual(map(400, body)._tag, "ContextLengthExceeded")
  })

  it("other 4xx are InvalidRequest, keeping the param", () => {
    const error = map(400, {
      error: { message: "Unknown parameter: 'foo'", type: "invalid_request_error", param: "foo" }
    })
    assert.strictEqual(error._tag, "InvalidRequest")
    if (error._tag === "InvalidRequest") assert.strictEqual(error.param, "foo")
    for (const status of [404, 413, 422, 418]) assert.strictEqual(map(status, "nope")._tag, "InvalidRequest")
  })

  it("408, 409, 499, 5xx and 529 are ProviderUnavailable", () => {
    for (const status of [408, 409, 499, 500, 502, 503, 504, 529]) {
      assert.strictEqual(map(status, "<html>bad gateway</html>")._tag, "ProviderUnavailable", `status ${status}`)
    }
  })

  it("a 503 or a 529 keeps the server's hint, read as on a 429", () => {
    const unavailableMs = (error: ProviderError): number | undefined =>
      error._tag === "ProviderUnavailable" ? ms(error.retryAfter) : undefined
    const openAi = map(503, openAiError("The engine is currently overloaded", "server_error"), { "retry-after": "7" })
    assert.strictEqual(openAi._tag, "ProviderUnavailable")
    assert.strictEqual(unavailableMs(openAi), 7000)
    const anthropic = map(529, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, {
      "retry-after-ms": "2500",
      "retry-after": "9"
    })
    assert.strictEqual(unavailableMs(anthropic), 2500)
    const date = new Date(now + 30_000).toUTCString()
    assert.strictEqual(unavailableMs(map(503, "overloaded", { "retry-after": date })), 30_000)
    const gemini = map(503, geminiError(503, "UNAVAILABLE", [retryInfo("4s")]))
    assert.strictEqual(unavailableMs(gemini), 4000)
    // no hint, or one that does not parse: no `retryAfter` at all
    const bare = map(503, "overloaded")
    assert.isFalse("retryAfter" in bare)
    assert.isFalse("retryAfter" in map(529, "overloaded", { "retry-after": "soon" }))
  })

  it("an unexpected status is MalformedResponse", () => {
    assert.strictEqual(map(302, "")._tag, "MalformedResponse")
  })

  it("reads every error body shape and scrubs the key from messages", () => {
    assert.include(map(500, { error: "upstream exploded" }).message, "upstream exploded")
    assert.include(
      map(500, { object: "error", message: "vLLM failed", type: "InternalServerError", code: 500 }).message,
      "vLLM failed"
    )
    assert.include(map(503, "plain text outage").message, "plain text outage")
    const leaked = map(401, openAiError("Incorrect API key provided: sk-canary-123", "invalid_request_error"))
    assert.notInclude(leaked.message, "sk-canary-123")
    assert.include(leaked.message, "[redacted]")
  })

  it("maps stream error events by their type", () => {
    const overloaded = HttpError.fromStreamError(context, {
      type: "error",
      error: { type: "overloaded_error", message: "Overloaded" }
    }, now)
    assert.strictEqual(overloaded._tag, "ProviderUnavailable")
    if (overloaded._tag === "ProviderUnavailable") assert.strictEqual(overloaded.status, 529)
    const limited = HttpError.fromStreamError(context, {
      type: "error",
      error: { type: "rate_limit_error", message: "slow" }
    }, now)
    assert.strictEqual(limited._tag, "ProviderRateLimited")
    const openRouter = HttpError.fromStreamError(context, { error: { code: 502, message: "provider down" } }, now)
    assert.strictEqual(openRouter._tag, "ProviderUnavailable")
    const unknown = HttpError.fromStreamError(context, { error: { message: "?" } }, now)
    assert.strictEqual(unknown._tag, "ProviderUnavailable")
  })

  it("a billing_error event is ProviderQuotaExhausted, like Anthropic's HTTP 402", () => {
    const body = { type: "error", error: { type: "billing_error", message: "Billing issue on this account" } }
    const overHttp = map(402, body)
    const inStream = HttpError.fromStreamError(context, body, now)
    assert.strictEqual(overHttp._tag, "ProviderQuotaExhausted")
    assert.strictEqual(inStream._tag, "ProviderQuotaExhausted")
    if (inStream._tag === "ProviderQuotaExhausted") assert.strictEqual(inStream.status, 402)
  })
})
