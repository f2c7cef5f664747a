/**
 * The failures of one call to one provider.
 *
 * Every provider adapter maps whatever went wrong (an HTTP status, an error
 * body, a timeout, a dropped connection, a reply that is not what was asked
 * for) to exactly one of these tagged errors; a bug in an adapter or codec
 * (a throw, a defect) becomes a {@link Defect}. Each error carries the fields
 * a caller needs to act.
 *
 * What the manager does with each (retry on the same provider, fall back to
 * the next, count against the circuit) is not declared here but in one
 * table, `@baton/core/ErrorPolicy`; `LlmError.isRetryable` and
 * `LlmError.shouldFallback` read it.
 *
 * @example
 * ```ts
 * import * as ErrorPolicy from "@baton/core/ErrorPolicy"
 * import type * as ProviderError from "@baton/core/ProviderError"
 *
 * const describe = (e: ProviderError.ProviderError) =>
 *   ErrorPolicy.retries(e) ? "try again" : ErrorPolicy.fallsBack(e) ? "try another provider" : "give up"
 * ```
 *
 * @since 0.1.0
 */
import { type Duration, Schema } from "effect"
import * as Attempt from "./Attempt.ts"
import { ModelId, ProviderName } from "./Ids.ts"
import { stackless } from "./internal/stackless.ts"
import { TokenUsage } from "./TokenUsage.ts"

const common = {
  provider: ProviderName,
  model: Schema.optionalKey(ModelId)
}

/**
 * The server's word on whether retrying the response may succeed
 * (`x-should-retry: true` or `false`, sent by OpenAI and Anthropic, read
 * from any provider's or proxy's error response), when it
 * gave one: `ErrorPolicy.retries` obeys a `false`.
 */
const shouldRetry = Schema.optionalKey(Schema.Boolean)

/**
 * The provider answered 429: too many requests for now. `retryAfter` is the
 * server's hint (`Retry-After`, `retry-after-ms` or the provider's own retry
 * info) when it gave one, `shouldRetry` its `x-should-retry`.
 *
 * @since 0.1.0
 */
export class ProviderRateLimited extends stackless(
  Schema.TaggedError<ProviderRateLimited>()("ProviderRateLimited", {
    ...common,
    message: Schema.String,
    retryAfter: Schema.optionalKey(Schema.Duration),
    shouldRetry
  })
) {}

/**
 * The account behind the key has no credit or has spent a hard quota
 * (DeepSeek 402, OpenAI `insufficient_quota`, a Gemini per-day quota). Waiting
 * will not help today; another provider may.
 *
 * @since 0.1.0
 */
export class ProviderQuotaExhausted extends stackless(
  Schema.TaggedError<ProviderQuotaExhausted>()("ProviderQuotaExhausted", {
    ...common,
    status: Schema.Int,
    message: Schema.String
  })
) {}

/**
 * The provider is down or overloaded: a 5xx status, Anthropic's 529, a 408.
 * `retryAfter` is the server's hint when it gave one, read as on a 429
 * (`Retry-After`, `retry-after-ms` or the provider's own retry info): a
 * 503 or an Anthropic 529 `overloaded_error` may say when to come back;
 * `shouldRetry` is its `x-should-retry`, as on a 429.
 * `usage` is what the provider billed when it failed an answer in the
 * answer itself (an `effect/ai` model's finish reason `error`).
 *
 * @since 0.1.0
 */
export class ProviderUnavailable extends stackless(
  Schema.TaggedError<ProviderUnavailable>()("ProviderUnavailable", {
    ...common,
    status: Schema.Int,
    message: Schema.String,
    retryAfter: Schema.optionalKey(Schema.Duration),
    shouldRetry,
    usage: Schema.optionalKey(TokenUsage)
  })
) {}

/**
 * Which limit a silent provider ran into: the whole attempt, the first
 * response byte, the first token of a stream, or the silence between two
 * stream events.
 *
 * @since 0.1.0
 */
export const TimeoutPhase = Schema.Literals(["attempt", "first-byte", "first-token", "idle"])

/** @since 0.1.0 */
export type TimeoutPhase = typeof TimeoutPhase.Type

/**
 * The provider stayed silent past a limit.
 *
 * @since 0.1.0
 */
export class ProviderTimeout extends stackless(
  Schema.TaggedError<ProviderTimeout>()("ProviderTimeout", {
    ...common,
    phase: TimeoutPhase,
    timeoutMs: Schema.Int,
    /** Characters of answer text received before the limit ran out (0 when absent). */
    received: Schema.optionalKey(Schema.Int)
  })
) {
  override get message(): string {
    const received = this.received ?? 0
    switch (this.phase) {
      case "first-byte":
        return `${this.provider} sent no response headers within ${this.timeoutMs} ms (first-byte limit)`
      case "first-token":
        return `${this.provider} sent no token within ${this.timeoutMs} ms of its headers (first-token limit)`
      case "idle":
        return `${this.provider} went silent for ${this.timeoutMs} ms after ${received} characters (idle limit)`
      case "attempt":
        return `${this.provider} did not finish within ${this.timeoutMs} ms, ${received} characters received (attempt limit)`
    }
  }
}

/**
 * The connection could not be made or broke before a complete response:
 * refused, reset, DNS failure, TLS failure.
 *
 * @since 0.1.0
 */
export class ProviderConnectionFailed extends stackless(
  Schema.TaggedError<ProviderConnectionFailed>()(
    "ProviderConnectionFailed",
    {
      ...common,
      message: Schema.String
    }
  )
) {}

/**
 * The provider rejected the key (401) or its permissions (403). Fix the key.
 *
 * @since 0.1.0
 */
export class ProviderAuthenticationFailed extends stackless(
  Schema.TaggedError<ProviderAuthenticationFailed>()(
    "ProviderAuthenticationFailed",
    {
      ...common,
      status: Schema.Int,
      message: Schema.String
    }
  )
) {}

/**
 * The provider rejected the request itself (400, 404, 422): an unknown model,
 * a parameter that model does not take, an assistant prefill it does not
 * accept. `param` is the field it named and `code` its error code
 * (`unsupported_value`), when it gave them. Another provider may take the
 * same request, so the manager falls back, unless the provider rejected the
 * conversation itself (see `ErrorPolicy`); options Baton itself finds
 * invalid fail earlier, as `InvalidOptions`, before any provider is called.
 *
 * An adapter raises one itself, status 400 and code
 * {@link unencodableRequest}, without calling its provider, when the
 * request's body cannot be encoded as JSON; a step serving one model
 * (`@baton/ai`'s `LanguageModelProvider`) raises one with status 404 and
 * code {@link modelNotServed}, without calling it, when the request names
 * another model.
 *
 * @since 0.1.0
 */
export class InvalidRequest extends stackless(
  Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
    ...common,
    status: Schema.Int,
    message: Schema.String,
    param: Schema.optionalKey(Schema.String),
    code: Schema.optionalKey(Schema.String)
  })
) {}

/**
 * The `code` of the `InvalidRequest` an adapter fails with, before sending
 * anything, when `JSON.stringify` cannot encode the request's body: a value
 * JSON has no form for (a `BigInt`, a cycle) or nesting past its stack, in a
 * request built by hand (`Tool.make` and `StructuredOutput` refuse such
 * schemas with `InvalidOptions`). It is the caller's request, not a fault of
 * the provider or a bug in the adapter: no provider is tried after it and no
 * circuit counts it (see `ErrorPolicy`).
 *
 * @since 0.1.0
 */
export const unencodableRequest = "unencodable_request"

/**
 * The `code` of the `InvalidRequest` a step fails with, before calling
 * anything, when the request names a model (`options.model`) it does not
 * serve: a step whose model is fixed (`@baton/ai`'s `LanguageModelProvider`)
 * cannot answer with another. The next provider may serve it, so the chain
 * falls back; as no provider was asked, no circuit counts it (see
 * `ErrorPolicy`).
 *
 * @since 0.1.0
 */
export const modelNotServed = "model_not_served"

/**
 * The prompt plus `maxTokens` does not fit the model's context window.
 *
 * @since 0.1.0
 */
export class ContextLengthExceeded extends stackless(
  Schema.TaggedError<ContextLengthExceeded>()("ContextLengthExceeded", {
    ...common,
    message: Schema.String
  })
) {}

/**
 * The provider's safety system blocked the prompt or the answer, or the
 * model declined to answer. `usage` is what the provider billed for a
 * blocked prompt or answer, when it reported any.
 *
 * `refusal` is the model's own words when it declined (OpenAI's `refusal`),
 * scrubbed of keys and cut after 2,000 characters (`...[N more characters]`
 * follows). It is model output that may
 * quote the prompt, so it is kept out of `message`, which the request log
 * records: only the caller that gets this error sees it.
 *
 * @since 0.1.0
 */
export class ContentFiltered extends stackless(
  Schema.TaggedError<ContentFiltered>()("ContentFiltered", {
    ...common,
    stage: Schema.Literals(["prompt", "response"]),
    message: Schema.String,
    usage: Schema.optionalKey(TokenUsage),
    refusal: Schema.optionalKey(Schema.String)
  })
) {}

/**
 * The provider answered, but not in its own format: a body that is not JSON,
 * JSON of the wrong shape, a broken stream event, a blank answer. `usage` is
 * what the provider billed for it, when it reported any (a blank answer).
 *
 * @since 0.1.0
 */
export class MalformedResponse extends stackless(
  Schema.TaggedError<MalformedResponse>()("MalformedResponse", {
    ...common,
    message: Schema.String,
    status: Schema.optionalKey(Schema.Int),
    usage: Schema.optionalKey(TokenUsage)
  })
) {}

/**
 * The model answered, but its answer does not decode with the requested
 * schema. `issue` is the decode error (fed back to the model on a re-ask),
 * `content` the raw answer and `usage` what the provider billed for it.
 * `truncated` is set when the answer ended at the token limit (finish reason
 * `length`, a thinking model's reasoning counted): a larger `maxTokens` may
 * fit it, a re-ask with the same one cannot, so the manager does not re-ask.
 *
 * @since 0.1.0
 */
export class StructuredOutputInvalid extends stackless(
  Schema.TaggedError<StructuredOutputInvalid>()(
    "StructuredOutputInvalid",
    {
      ...common,
      issue: Schema.String,
      content: Schema.String,
      usage: Schema.optionalKey(TokenUsage),
      truncated: Schema.optionalKey(Schema.Boolean)
    }
  )
) {
  override get message(): string {
    const cut = this.truncated === true ? " (the answer was cut at its token limit: raise maxTokens)" : ""
    return `${this.provider} answered with output that does not match the schema${cut}: ${this.issue}`
  }
}

/**
 * A stream broke after text had reached the caller: cut, stalled, malformed or
 * ended without its terminating event. `partialText` and `usage` (when the
 * provider reported any) say what was delivered. A truncated answer is never
 * presented as complete.
 *
 * A provider raises it for one attempt, without `attempts`. The one
 * `LlmManager.stream` fails with lists every attempt of the request in
 * `attempts`, in the order they started, as `AllProvidersFailed` does (their
 * errors are the scrubbed provider errors of each attempt), and its `usage`
 * is what the whole request billed, as a `Finish`'s is.
 *
 * @since 0.1.0
 */
export class StreamInterrupted extends stackless(
  Schema.TaggedError<StreamInterrupted>()("StreamInterrupted", {
    ...common,
    partialText: Schema.String,
    usage: Schema.optionalKey(TokenUsage),
    reason: Schema.String,
    /** When a restarted answer diverged from `partialText`: how many of its characters matched it. */
    restartedLength: Schema.optionalKey(Schema.Int),
    /** Set by the manager when the request's deadline ended the stream: the deadline, in ms. */
    deadlineMs: Schema.optionalKey(Schema.Int),
    /** Set by the manager: every attempt of the request (absent on one provider attempt's error). */
    attempts: Schema.optionalKey(
      Schema.Array(Schema.suspend((): Schema.Codec<Attempt.Attempt, Attempt.Encoded> => Attempt.Attempt))
    )
  })
) {
  override get message(): string {
    return `${this.provider} stream interrupted after ${this.partialText.length} characters: ${this.reason}`
  }
}

/**
 * Baton skipped the provider without calling it because its circuit is open
 * (it failed too often lately). `retryAfter` is how long until a probe is let
 * through.
 *
 * @since 0.1.0
 */
export class CircuitOpen extends stackless(
  Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
    ...common,
    retryAfter: Schema.optionalKey(Schema.Duration)
  })
) {
  override get message(): string {
    return `${this.provider} skipped: its circuit is open after repeated failures`
  }
}

/**
 * Baton skipped the provider without calling it because its local
 * requests-per-minute or tokens-per-minute budget is spent. `retryAfter` is
 * when it has refilled enough; absent when the request's token estimate is
 * more than a whole minute's `tokensPerMinute`, which no wait makes fit.
 *
 * @since 0.1.0
 */
export class ProviderThrottled extends stackless(
  Schema.TaggedError<ProviderThrottled>()("ProviderThrottled", {
    ...common,
    limit: Schema.Literals(["requests-per-minute", "tokens-per-minute"]),
    retryAfter: Schema.optionalKey(Schema.Duration)
  })
) {
  override get message(): string {
    // no time to wait for: the request's estimate is more than a whole minute's tokens
    return this.retryAfter === undefined && this.limit === "tokens-per-minute"
      ? `${this.provider} skipped: the request's token estimate is more than its whole local tokens-per-minute budget`
      : `${this.provider} skipped: its local ${this.limit} budget is spent`
  }
}

/**
 * A bug, not a provider failure: the adapter or its codec threw or died
 * while calling the provider or reading its answer. `message` is the
 * defect's own message. Recorded as the attempt's error (`errorTag:
 * "Defect"` in the request log), counted against the provider's circuit,
 * and the request falls back (see `ErrorPolicy`).
 *
 * @since 0.1.0
 */
export class Defect extends stackless(
  Schema.TaggedError<Defect>()("Defect", {
    ...common,
    message: Schema.String
  })
) {}

/**
 * Every failure of a single provider attempt, including the two ways Baton
 * itself skips a provider (an open circuit, a spent local budget).
 *
 * @since 0.1.0
 */
export const ProviderError = Schema.Union([
  ProviderRateLimited,
  ProviderQuotaExhausted,
  ProviderUnavailable,
  ProviderTimeout,
  ProviderConnectionFailed,
  ProviderAuthenticationFailed,
  InvalidRequest,
  ContextLengthExceeded,
  ContentFiltered,
  MalformedResponse,
  StructuredOutputInvalid,
  StreamInterrupted,
  CircuitOpen,
  ProviderThrottled,
  Defect
])

/** @since 0.1.0 */
export type ProviderError = typeof ProviderError.Type

/**
 * True for the tagged errors of this module.
 *
 * @since 0.1.0
 */
export const isProviderError: (u: unknown) => u is ProviderError = Schema.is(ProviderError)

/**
 * The error an HTTP status stands for when nothing else is known of the
 * failure: 402 a spent quota, 429 a rate limit, 401 and 403 a refused key,
 * 408, 409, 499 and 5xx an unavailable provider (retried on the same
 * provider, `retryAfter` and `shouldRetry` its hints, as on a 429), any
 * other 4xx an invalid request,
 * anything else a malformed response. The one rule of a status: the
 * adapters refine it by the error body (a spent quota, a context length or
 * a content filter a 4xx names), and `@baton/ai` applies it to an
 * `effect/ai` `UnknownError` that carries a status (408, 404, ...).
 *
 * @example
 * ```ts
 * import { ProviderName } from "@baton/core/Ids"
 * import * as ProviderError from "@baton/core/ProviderError"
 *
 * ProviderError.fromStatus({ provider: ProviderName.make("openai"), status: 408, message: "request timeout" })._tag
 * // => "ProviderUnavailable"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromStatus = (options: {
  readonly provider: ProviderName
  readonly model?: ModelId
  readonly status: number
  readonly message: string
  readonly retryAfter?: Duration.Duration
  readonly shouldRetry?: boolean
}): ProviderError => {
  const { retryAfter, shouldRetry, status, ...rest } = options
  const hint = {
    ...(retryAfter === undefined ? {} : { retryAfter }),
    ...(shouldRetry === undefined ? {} : { shouldRetry })
  }
  if (status === 402) return new ProviderQuotaExhausted({ ...rest, status })
  if (status === 429) return new ProviderRateLimited({ ...rest, ...hint })
  if (status === 401 || status === 403) return new ProviderAuthenticationFailed({ ...rest, status })
  if (status === 408 || status === 409 || status === 499 || status >= 500) {
    return new ProviderUnavailable({ ...rest, status, ...hint })
  }
  if (status >= 400) return new InvalidRequest({ ...rest, status })
  return new MalformedResponse({ ...rest, status, message: `${rest.message} (unexpected status)` })
}
