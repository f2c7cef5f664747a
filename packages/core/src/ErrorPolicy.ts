/**
 * What the manager does with each provider error: the one table.
 *
 * For every error tag of `ProviderError`, five facts, read by every part of
 * Baton that has to decide (`LlmError.isRetryable` / `shouldFallback`,
 * `FallbackPolicy.retrySchedule` and `stopsChain`, the manager's walk along
 * the chain, `CircuitPolicy.classify`, and what an HTTP layer answers when
 * every provider failed, {@link allFailed}):
 *
 * | error | retry (same provider) | fall back (next provider) | circuit | server's hint | the request's own fault |
 * | --- | --- | --- | --- | --- | --- |
 * | `ProviderRateLimited` (429) | backoff, unless the server says not to | yes | failure | honoured | no |
 * | `ProviderQuotaExhausted` | no | yes | failure | none | no |
 * | `ProviderUnavailable` (5xx, Anthropic 529) | backoff, unless the server says not to | yes | failure | honoured | no |
 * | `ProviderTimeout` | no (a silent provider retried multiplies the wait) | yes | failure | none | no |
 * | `ProviderConnectionFailed` | backoff | yes | failure | none | no |
 * | `ProviderAuthenticationFailed` | no | yes | failure | none | no |
 * | `MalformedResponse` | backoff | yes | failure | none | no |
 * | `Defect` (a bug in an adapter or codec; an `effect/ai` step's `UnknownError` with no HTTP status) | no | yes | failure | none | no |
 * | `InvalidRequest` | no | unless the caller's own conversation is rejected, or its body could not be encoded | success (ignored when nothing was sent) | none | yes |
 * | `ContextLengthExceeded` | no | yes (another model may have a larger window) | success | none | yes |
 * | `ContentFiltered` | no | only with `FallbackPolicy.fallbackOnContentFilter` | success | none | yes |
 * | `StructuredOutputInvalid` | re-ask (decode error in the prompt, no delay), unless the answer was cut at its token limit (`truncated`) | yes | success | none | no |
 * | `StreamInterrupted` | no | yes, while no text reached the caller | failure (success for a restarted answer that diverged from the delivered text: `restartedLength`) | none | no |
 * | `CircuitOpen` | no | yes | ignored | none | no |
 * | `ProviderThrottled` | no | yes | ignored | none | no |
 *
 * The server's hints are the `retryAfter` a provider sent with the error
 * (`Retry-After`, `retry-after-ms`, Gemini's `RetryInfo`; a 429 may carry
 * one, and so may a 503 or an Anthropic 529 `overloaded_error`) and its
 * `shouldRetry` (`x-should-retry`, sent by OpenAI and Anthropic, read on every
 * adapter's error response). Where they are
 * honoured:
 * - a retry waits at least `retryAfter` ({@link retryAfter}; and is not
 *   made at all when that would outlive the request's deadline: the next
 *   provider gets the remaining budget), and a circuit the failure opens
 *   stays open at least that long: for the longer of the configured
 *   cooldown and the hint (the hint capped at an hour);
 * - `shouldRetry: false` means no retry on the same provider
 *   ({@link retries}): the server knows this response will not change (a
 *   request it will refuse again, an overload it expects to last), and a
 *   retry would only spend the request's deadline and the provider's rate
 *   limit; the request falls back as the row says, and the circuit counts
 *   the failure as the row says;
 * - `shouldRetry: true` changes nothing: rows that retry already do, and
 *   rows that do not (a spent quota, a refused key, the request's own
 *   fault, a silent provider) stay so, whatever the server hopes: those
 *   failures repeat on the same provider, another provider is the better
 *   try, and a hint from a proxy or a misconfigured server must not turn a
 *   refused key into a retry loop.
 *
 * Only the two rows whose retry a `false` stops, `ProviderRateLimited` and
 * `ProviderUnavailable`, carry `shouldRetry`. `CircuitOpen` and `ProviderThrottled` carry a `retryAfter` of Baton's own,
 * not the provider's: they are never retried and never counted.
 *
 * Two rules hold for every row: nothing falls back once a stream's text has
 * reached the caller (`continueOnInterruption` decides about continuing it),
 * and the request's own deadline ends everything (it is never the
 * provider's fault, so the circuit ignores it).
 *
 * `InvalidRequest`: Baton checks the caller's options itself (against the
 * widest range any provider takes) and fails with `InvalidOptions` before
 * any call, so a provider's 400 about a parameter (`temperature` outside
 * Anthropic's 0..1, a value "not supported with this model", too many stop
 * sequences, a token limit above this model's) concerns the route, and the
 * next provider may accept the same request. The chain stops only when the
 * provider names the conversation itself (`messages`, `contents`, `system`,
 * `systemInstruction`, as `param` or in a `field: problem` message) and
 * neither its code (`unsupported_value`, `unsupported_parameter`,
 * `model_not_found`) nor its message ("... with this model") says the
 * rejection is this model's: that request would fail everywhere.
 *
 * An `InvalidRequest` with code `ProviderError.unencodableRequest` was
 * raised by the adapter before sending anything: `JSON.stringify` could not
 * encode the body (a `BigInt`, a cycle, nesting past its stack, in a request
 * built by hand past `Tool.make`'s check). Every adapter encodes the same
 * tools and schemas, so the chain stops there, and as no provider was asked,
 * its circuit ignores it (a success would close a half-open circuit on a
 * provider nobody heard from). The circuit ignores, too, an `InvalidRequest`
 * with code `ProviderError.modelNotServed`: a step refused, before calling
 * anything, a request naming a model it does not serve; that one falls back,
 * as the next step may serve the model. Both still spent the provider's
 * local budget (`ProviderThrottle`), which the manager takes before the call
 * and does not give back.
 *
 * `ContentFiltered`: a prompt refused on policy grounds is by default not
 * sent to another provider (one attempt, a typed error); set
 * `fallbackOnContentFilter` (`LLM_FALLBACK_ON_CONTENT_FILTER=true`) to allow
 * it.
 *
 * `Defect`: an adapter or codec that throws or dies is recorded as an
 * attempt with a `Defect` error (`errorTag: "Defect"` in the log), counts
 * against that provider's circuit, and the request falls back, so a bug in
 * one adapter ends, at worst, in `AllProvidersFailed` listing it.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"
import type { Attempt } from "./Attempt.ts"
import { modelNotServed, type ProviderError, unencodableRequest } from "./ProviderError.ts"

/**
 * Whether the same provider is tried again: after a backoff, by a re-ask
 * with the decode error (structured output), or not at all.
 *
 * @since 0.1.0
 */
export type Retry = "backoff" | "re-ask" | "no"

/**
 * Whether the next provider is tried: always, never, unless the provider
 * rejected the caller's own conversation, or only when the policy allows
 * content-filter fallback.
 *
 * @since 0.1.0
 */
export type Fallback = "yes" | "no" | "unless-conversation-rejected" | "if-policy-allows"

/**
 * What an error says about a provider's health, for its circuit.
 *
 * @since 0.1.0
 */
export type Health = "failure" | "success" | "ignored"

/**
 * Whether the server's hints on the error are honoured: its `retryAfter`, by
 * the retry backoff and by the circuit's open time, and its `shouldRetry:
 * false`, by not retrying (see the module header).
 *
 * @since 0.1.0
 */
export type Hint = "honoured" | "none"

/**
 * One row of the table.
 *
 * @since 0.1.0
 */
export interface Rule {
  readonly retry: Retry
  readonly fallback: Fallback
  readonly circuit: Health
  readonly hint: Hint
  /** The provider refused the request itself (its content, its size): the caller, not a retry later, can fix it. */
  readonly requestsFault: boolean
}

const rule = (
  retry: Retry,
  fallback: Fallback,
  circuit: Health,
  hint: Hint = "none",
  requestsFault = false
): Rule => ({ retry, fallback, circuit, hint, requestsFault })

/**
 * The table: one row per provider error tag (see the module header).
 *
 * @since 0.1.0
 */
export const table: { readonly [Tag in ProviderError["_tag"]]: Rule } = {
  ProviderRateLimited: rule("backoff", "yes", "failure", "honoured"),
  ProviderQuotaExhausted: rule("no", "yes", "failure"),
  ProviderUnavailable: rule("backoff", "yes", "failure", "honoured"),
  ProviderTimeout: rule("no", "yes", "failure"),
  ProviderConnectionFailed: rule("backoff", "yes", "failure"),
  ProviderAuthenticationFailed: rule("no", "yes", "failure"),
  MalformedResponse: rule("backoff", "yes", "failure"),
  Defect: rule("no", "yes", "failure"),
  InvalidRequest: rule("no", "unless-conversation-rejected", "success", "none", true),
  ContextLengthExceeded: rule("no", "yes", "success", "none", true),
  ContentFiltered: rule("no", "if-policy-allows", "success", "none", true),
  StructuredOutputInvalid: rule("re-ask", "yes", "success"),
  StreamInterrupted: rule("no", "yes", "failure"),
  CircuitOpen: rule("no", "yes", "ignored"),
  ProviderThrottled: rule("no", "yes", "ignored")
}

/**
 * The policy switches the table depends on.
 *
 * @since 0.1.0
 */
export interface Switches {
  /** Send a prompt one provider refused on policy grounds to the next one. */
  readonly fallbackOnContentFilter: boolean
}

/**
 * The default switches: a refused prompt is not sent elsewhere.
 *
 * @since 0.1.0
 */
export const defaultSwitches: Switches = { fallbackOnContentFilter: false }

/** The names of the conversation itself, as providers report the field they reject. */
const conversationFields: ReadonlySet<string> = new Set(["messages", "contents", "system", "systeminstruction"])

/** Provider error codes that say the rejection is this model's, not the request's. */
const modelSpecificCodes: ReadonlySet<string> = new Set([
  "unsupported_value",
  "unsupported_parameter",
  "model_not_found"
])

const modelSpecificMessage =
  /\b(?:this|the selected|the requested) model\b|not supported (?:by|for|on) (?:this|the) model/i

const fieldName = (field: string): string =>
  field.toLowerCase().replace(/^generationconfig\./, "").replace(/\[.*$/, "").split(".")[0] ?? ""

/**
 * The field a 400 names: its `param`, else the `field: problem` form of the
 * provider's message (Anthropic's style), after the adapters' `<provider>
 * answered HTTP 400: ` prefix.
 */
const offendingField = (param: string | undefined, message: string): string | undefined =>
  param ?? /^(?:[\w-]+ answered HTTP \d{3}: )?([A-Za-z_][\w.[\]]*):\s/.exec(message)?.[1]

/** True for the `InvalidRequest` of a body the adapter could not encode: no provider was asked (see the module header). */
const unencodable = (error: ProviderError): boolean =>
  error._tag === "InvalidRequest" && error.code === unencodableRequest

/**
 * True for an `InvalidRequest` raised before any call: a body that could not be encoded, or a model the step does
 * not serve (see the module header).
 */
const unsent = (error: ProviderError): boolean => unencodable(error) || notServed(error)

/** True for a step's refusal of a model it does not serve: another step may serve it (see the module header). */
const notServed = (error: ProviderError): boolean => error._tag === "InvalidRequest" && error.code === modelNotServed

/**
 * True when a provider rejected the caller's own conversation in a way
 * every provider would (see the module header): with a body no adapter
 * could encode, the only kind of `InvalidRequest` that stops the chain.
 *
 * @since 0.1.0
 */
export const rejectsConversation = (error: ProviderError): boolean => {
  if (error._tag !== "InvalidRequest") return false
  if (error.code !== undefined && modelSpecificCodes.has(error.code)) return false
  if (modelSpecificMessage.test(error.message)) return false
  const field = offendingField(error.param, error.message)
  return field !== undefined && conversationFields.has(fieldName(field))
}

/** True when the server said, where the table honours its hints, that retrying this response will not help. */
const retryRefused = (error: ProviderError): boolean =>
  table[error._tag].hint === "honoured" && "shouldRetry" in error && !error.shouldRetry

/**
 * True when the same provider is tried again after a backoff: the table
 * says so, and the server did not say `x-should-retry: false` (see the
 * module header).
 *
 * @since 0.1.0
 */
export const retries = (error: ProviderError): boolean => table[error._tag].retry === "backoff" && !retryRefused(error)

/**
 * True when the same provider is asked again with the decode error in the
 * prompt: an answer that does not match the schema, unless it was cut at its
 * token limit (a re-ask has the same limit).
 *
 * @since 0.1.0
 */
export const reasks = (error: ProviderError): boolean =>
  table[error._tag].retry === "re-ask" && !("truncated" in error && error.truncated)

/**
 * True when the next provider may be tried after this error (before any
 * text reached the caller).
 *
 * @since 0.1.0
 */
export const fallsBack = (error: ProviderError, switches: Switches = defaultSwitches): boolean => {
  switch (table[error._tag].fallback) {
    case "yes":
      return true
    case "no":
      return false
    case "unless-conversation-rejected":
      return !rejectsConversation(error) && !unencodable(error)
    case "if-policy-allows":
      return switches.fallbackOnContentFilter
  }
}

/**
 * What the error says about the provider's health: the table's `circuit`
 * column, but a `StreamInterrupted` with `restartedLength` (a restarted
 * answer that diverged from the delivered text) is a success, as the
 * provider answered, and an `InvalidRequest` raised before any call (a
 * body that could not be encoded, a model the step does not serve) says
 * nothing, as nothing was sent.
 *
 * @since 0.1.0
 */
export const health = (error: ProviderError): Health => {
  // a restarted answer that diverged from the delivered text: the provider answered, the text could not be used
  if (error._tag === "StreamInterrupted" && error.restartedLength !== undefined) return "success"
  return unsent(error) ? "ignored" : table[error._tag].circuit
}

/**
 * The server's wait hint on an error, where the table honours it (see the
 * module header): the `retryAfter` of a `ProviderRateLimited` or a
 * `ProviderUnavailable`, when the provider sent one. The retry schedule
 * (`FallbackPolicy.retrySchedule`) waits at least this long, and the
 * circuit (`CircuitPolicy.classify`) stays open at least this long.
 *
 * @since 0.1.0
 */
export const retryAfter = (error: ProviderError): Duration.Duration | undefined =>
  table[error._tag].hint === "honoured" && "retryAfter" in error ? error.retryAfter : undefined

/**
 * Why every provider failed a request, as its caller needs to know (an HTTP
 * status, whether to try again):
 * - `TimedOut`: every attempt timed out;
 * - `Refused`: the request itself was refused, so no retry will do: every
 *   provider refused it as the request's own fault (the table's last
 *   column, or a structured answer cut at the request's token limit:
 *   `StructuredOutputInvalid`'s `truncated`), or every one asked did and the last rejected the conversation,
 *   which no provider would take ({@link rejectsConversation}), or sent a
 *   body no adapter could encode (the chain stops there in both cases),
 *   whatever the providers skipped before it (open circuits, spent budgets).
 *   `error` is the first refusal a provider was sent; when none was sent,
 *   the body no adapter could encode; a step's refusal of a model it does
 *   not serve (which names a step, not the request) only when nothing else
 *   refused;
 * - `Unavailable`: anything else; try again later (when every provider was
 *   skipped, its circuit open or its local budget spent, or the rest timed
 *   out, {@link retryAfterAllFailed} says when, as
 *   `CircuitPolicy.retryAfterHeaders`).
 *
 * @since 0.1.0
 */
export type AllFailed =
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "Refused"; readonly error: ProviderError }
  | { readonly _tag: "Unavailable" }

const errorsOf = (attempts: ReadonlyArray<Attempt>): Array<ProviderError> =>
  attempts.flatMap((attempt) => attempt.error === undefined ? [] : [attempt.error])

/**
 * Whether `error` is the request's own fault: the table's last column, or a
 * structured answer cut at the request's token limit before it matched
 * (`truncated`): a larger `maxTokens` may fit it, no retry with this one can.
 */
const requestsFault = (error: ProviderError): boolean =>
  table[error._tag].requestsFault || (error._tag === "StructuredOutputInvalid" && error.truncated === true)

/**
 * Why every provider failed, from the attempts of an `AllProvidersFailed`
 * (see {@link AllFailed}).
 *
 * @since 0.1.0
 */
export const allFailed = (attempts: ReadonlyArray<Attempt>): AllFailed => {
  const errors = errorsOf(attempts)
  if (errors.length > 0 && errors.every((error) => error._tag === "ProviderTimeout")) return { _tag: "TimedOut" }
  const asked = errorsOf(attempts.filter((attempt) => attempt.outcome !== "skipped"))
  // a refusal a provider was sent says why; else a body no adapter can encode; a step's refusal of its model last
  const first = asked.find((error) => !unsent(error)) ?? asked.find(unencodable) ?? asked[0]
  const last = asked.at(-1)
  // the chain stops on a conversation no provider would take, or a body none could be sent
  const refused = first !== undefined && (errors.every(requestsFault) ||
    (last !== undefined && (rejectsConversation(last) || unencodable(last)) && asked.every(requestsFault)))
  return refused ? { _tag: "Refused", error: first } : { _tag: "Unavailable" }
}

/**
 * The earliest wait of `attempts` when each was skipped by an open circuit
 * or a spent local budget (a `CircuitOpen` or a `ProviderThrottled` with
 * its wait): when a circuit half-opens or a budget refills; `undefined` when
 * an attempt ran or a skip knows no wait (a token estimate above a whole
 * minute's budget).
 */
const earliestSkipWait = (attempts: ReadonlyArray<Attempt>): Duration.Duration | undefined => {
  let earliest: Duration.Duration | undefined
  for (const { error } of attempts) {
    const wait = error?._tag === "CircuitOpen" || error?._tag === "ProviderThrottled" ? error.retryAfter : undefined
    if (wait === undefined) return undefined
    earliest = earliest === undefined ? wait : Duration.min(earliest, wait)
  }
  return earliest
}

/**
 * How long until a request every provider failed may be served, when Baton
 * knows: when Baton skipped every provider (its circuit open or its local
 * budget spent), or no provider refused it (every one asked timed out,
 * {@link allFailed}'s `TimedOut`, and the others were skipped), the earliest
 * wait of a skip, when a circuit half-opens or a budget refills; `undefined`
 * otherwise, or when a skip knows no wait (a token estimate above a whole
 * minute's budget). A step's refusal of a model it does not serve counts
 * as no attempt: it says nothing of when another provider may serve. The one rule behind
 * the HTTP layers' `Retry-After` (`CircuitPolicy.retryAfterHeaders`) and
 * `@baton/ai`'s `RateLimitError`.
 *
 * @since 0.1.0
 */
export const retryAfterAllFailed = (attempts: ReadonlyArray<Attempt>): Duration.Duration | undefined => {
  // a step's refusal of its model says nothing of when another step may serve; a body none could encode ends it
  const sent = attempts.filter((attempt) => attempt.error === undefined || !notServed(attempt.error))
  const skips = sent.filter((attempt) => attempt.outcome === "skipped")
  if (skips.length === sent.length) return earliestSkipWait(sent)
  const asked = sent.filter((attempt) => attempt.outcome !== "skipped")
  return skips.length > 0 && allFailed(asked)._tag === "TimedOut" ? earliestSkipWait(skips) : undefined
}
