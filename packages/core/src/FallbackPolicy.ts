/**
 * How `LlmManager` moves a request along its chain of providers: every rule,
 * as data, in one place.
 *
 * A request walks the chain in order (primary, then each fallback). On each
 * provider:
 *
 * Which errors are retried, fall back or stop the chain is the one table of
 * `@baton/core/ErrorPolicy`; this module holds the numbers and switches.
 *
 * 1. **Retry** the same provider only for errors the table retries with a
 *    backoff (503, 429, a reset connection, a garbled reply), at most
 *    `maxRetries` times (a step of its own: `maxRetriesByModel`), after an exponential, jittered backoff starting at
 *    `retryBaseDelayMs`. A server's wait hint (`Retry-After` on a 429, a 503
 *    or an Anthropic 529, where the table honours it: {@link retryAfter})
 *    lengthens the wait; when the wait would outlive the request's deadline
 *    the manager does not sleep and moves to the next provider at once. Nor
 *    does it sleep before a retry the provider's circuit will refuse: one
 *    that reads open past the wait (the failure opened it, or another
 *    request's did) skips the retry at once (`skipped`, `CircuitOpen`) and
 *    the next provider is tried. A half-open circuit keeps the wait (its
 *    probe may end before the retry).
 * 2. **Re-ask** a structured answer that does not decode
 *    (`StructuredOutputInvalid`) on the same provider, with the decode error
 *    in the prompt, without delay (not when the answer was cut at its token
 *    limit: a re-ask has the same one): at most `structuredOutputRetries`
 *    re-asks per provider a request tries, its backoff retries included. A
 *    re-ask that fails with a retryable error is retried as rule 1 says, as
 *    the same re-ask (the answer and the decode error kept), and counts once.
 * 3. **Fall back** to the next provider, at once, for every other error the
 *    table lets fall back.
 * 4. **Stop** the chain for an error that would fail everywhere (the
 *    provider rejected the conversation itself) and, unless
 *    `fallbackOnContentFilter` is on, for a content-filter block: see
 *    {@link stopsChain}.
 *
 * Limits, per attempt, all enforced by the manager's one watchdog (the
 * adapters run no timer of their own under the manager): a stream's response
 * headers within `firstByteMs`, the first streamed token within the model's
 * first-token limit ({@link firstTokenLimit}: `firstTokenMs`, longer for
 * models that think first, by their name and the request's reasoning
 * level), no silence between stream events longer than `idleMs`, and the
 * attempt until its first token within `attemptMs` (longer by what the
 * model's first-token limit adds to `firstTokenMs`, so that it never cuts a
 * wait that limit allows, as far as the deadline leaves a step behind it in
 * the chain `attemptMs` of its own), always within what is left of the
 * request's `requestTimeoutMs`. A plain call is bounded by the same attempt
 * limit, and by
 * `firstByteMs` only where its headers come before its answer
 * (`LlmProvider.Capabilities.headersBeforeAnswer`: DeepSeek); OpenAI,
 * Anthropic and Gemini send them with the whole answer. Reasoning a model streams before
 * its answer (DeepSeek's `reasoning_content`, Anthropic's thinking, Gemini's
 * thoughts), though never handed to the caller, counts as tokens here:
 * keep-alive comments and pings do not. A stream that has produced its
 * first token is bounded by `idleMs` and the request deadline only: a
 * healthy long answer is never cut by `attemptMs`. Between reasoning events
 * before the answer, the longer of the model's first-token limit and
 * `idleMs` (a model may think silently between two bursts), except that a
 * model silent for `idleMs` after its reasoning ends once only a step behind
 * it's `attemptMs` is left of the deadline: that step keeps its time. A
 * model that keeps reasoning is not cut before the deadline. A provider silent past a
 * limit fails with `ProviderTimeout` (its message names the limit and how
 * much text had arrived), which is not retried on the same provider: the
 * next provider gets the remaining budget.
 *
 * Every number is whole: milliseconds and counts, each in the range of the
 * `LlmConfig` variable it comes from. {@link make} builds a plain value;
 * `LlmManager.make` checks the policy it is given ({@link check}) and fails
 * with an `LlmConfigError` naming the field (`policy.requestTimeoutMs`)
 * for `NaN`, `Infinity`, a fraction, or a value below its least.
 *
 * Hedging (`hedgeDelayMs`): when the current provider has not answered after
 * that long, the next one starts in parallel; the first success wins and the
 * other is interrupted. `generate` streaming underneath still waits for a
 * success: a side whose answer breaks leaves the other running. A stream
 * hands its text to the caller as it comes, so the first side to produce a
 * token claims the answer and the other is interrupted; if the claimed side
 * then breaks, the answer is rescued as below, on the providers not yet
 * failed, the one it interrupted included.
 *
 * Streams: before the first delta reaches the caller every failure falls
 * back as above. After it, the request's `rescue` option decides (see the
 * README's "Streams that survive"): `"auto"` (default) completes the answer
 * by the same retry and fallback rules, continuing from the delivered text
 * on a provider that accepts an assistant prefill and otherwise restarting
 * while suppressing the replayed prefix (a restarted answer that diverges
 * ends with `StreamInterrupted`); `"restart"` never continues: it sends a
 * `Restart` part and the whole new answer, on any provider; `"none"` fails with
 * `StreamInterrupted` at once. `continueOnInterruption: false` makes
 * `"none"` the default. A continuation is sent what is left of `maxTokens`
 * after the output tokens behind the delivered text (as the broken attempts
 * reported them, less their reasoning, which a continuation does again; else
 * estimated), and with none left the answer ends there,
 * finish reason `length`, calling no provider; a restart gets all of it.
 *
 * @example
 * ```ts
 * import * as FallbackPolicy from "@baton/core/FallbackPolicy"
 *
 * const policy = FallbackPolicy.make({ maxRetries: 1, hedgeDelayMs: 2_000 })
 * ```
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Schedule } from "effect"
import * as ErrorPolicy from "./ErrorPolicy.ts"
import type { Reasoning } from "./GenerationOptions.ts"
import * as LlmConfig from "./LlmConfig.ts"
import type { LlmConfigError } from "./LlmError.ts"
import { isProviderError, type ProviderError } from "./ProviderError.ts"

/**
 * The per-attempt limits, in milliseconds.
 *
 * @since 0.1.0
 */
export interface Limits {
  /**
   * A plain call's whole wait, and a stream's until its first token; for a
   * model whose first-token limit is longer than `firstTokenMs` (a model
   * that thinks first), longer by the difference, for both, as far as the
   * request's deadline leaves a step behind it in the chain `attemptMs` of
   * its own; further bounded by what is left of the deadline.
   */
  readonly attemptMs: number
  /**
   * From the start of an attempt to the response headers: a stream's, and a
   * plain call's where they come before its answer
   * (`LlmProvider.Capabilities.headersBeforeAnswer`).
   */
  readonly firstByteMs: number
  /** From the response headers to the first streamed token (answer or reasoning), for models not listed below. */
  readonly firstTokenMs: number
  /** The same for models that think silently before their first token, or are asked to think (see {@link firstTokenLimit}). */
  readonly thinkingFirstTokenMs: number
  /** Per-model first-token limits, keyed by `provider/model` or by model: they win over the two above. */
  readonly firstTokenMsByModel: Readonly<Record<string, number>>
  /** The longest silence between two stream events that carry text, a tool call or reasoning. */
  readonly idleMs: number
}

/**
 * The whole policy.
 *
 * @since 0.1.0
 */
export interface FallbackPolicy {
  /** Deadline of a request, all attempts included (a request's `timeout` option overrides it). */
  readonly requestTimeoutMs: number
  /** Retries on the same provider for retryable errors. */
  readonly maxRetries: number
  /**
   * Per-step retries, keyed by `provider/model` or by model: they win over `maxRetries` (see {@link maxRetriesFor}).
   * A request naming a model (`options.model`) is retried by that model's entry, not its provider's default model's.
   */
  readonly maxRetriesByModel: Readonly<Record<string, number>>
  /** First backoff delay; doubled each retry, jittered by ±20% (0: retries at once). */
  readonly retryBaseDelayMs: number
  readonly limits: Limits
  /** Start the next provider in parallel after this long without an answer; `undefined` disables hedging. */
  readonly hedgeDelayMs: number | undefined
  /**
   * Re-asks on the same provider after an answer that does not match the schema: at most this many per provider a
   * request tries, across its backoff retries (a retried re-ask is sent again as it was, not counted again).
   */
  readonly structuredOutputRetries: number
  /** Rescue a stream broken mid-answer (the default of a request's `rescue` option: `"auto"` when on, `"none"` when off). */
  readonly continueOnInterruption: boolean
  /**
   * How `generate` calls a provider: `"stream"` streams underneath (so a
   * stalled provider is detected within the first-token and idle limits)
   * when the provider reports usage on streams, `"generate"` always makes a
   * plain call (bounded by the attempt limit, and by the first-byte limit
   * where its headers come before its answer).
   */
  readonly generateVia: "stream" | "generate"
  /** Send a prompt one provider refused on policy grounds (`ContentFiltered`) to the next one. */
  readonly fallbackOnContentFilter: boolean
}

/**
 * The defaults, the same as `LlmConfig`'s.
 *
 * @since 0.1.0
 */
export const defaults: FallbackPolicy = {
  requestTimeoutMs: 60_000,
  maxRetries: 2,
  maxRetriesByModel: {},
  retryBaseDelayMs: 250,
  limits: {
    attemptMs: 30_000,
    firstByteMs: 10_000,
    firstTokenMs: 10_000,
    thinkingFirstTokenMs: 60_000,
    firstTokenMsByModel: {},
    idleMs: 15_000
  },
  hedgeDelayMs: undefined,
  structuredOutputRetries: 1,
  continueOnInterruption: true,
  generateVia: "stream",
  fallbackOnContentFilter: false
}

/**
 * A policy from the defaults and some overrides. A plain value, not
 * checked: {@link check} checks its numbers, when a manager is built with it.
 *
 * @since 0.1.0
 */
export const make = (
  overrides: Partial<Omit<FallbackPolicy, "limits">> & { readonly limits?: Partial<Limits> | undefined } = {}
): FallbackPolicy => ({
  ...defaults,
  ...overrides,
  limits: { ...defaults.limits, ...overrides.limits }
})

/** Each own entry of a per-model record, named `${name}["provider/model"]`. */
const entries = (
  name: string,
  byModel: Readonly<Record<string, number>>,
  least: LlmConfig.Least
): ReadonlyArray<readonly [string, number, LlmConfig.Least]> =>
  Object.entries(byModel).map(([key, n]) => [`${name}[${JSON.stringify(key)}]`, n, least])

/**
 * Every number of a policy, named `${name}.<field>`, with the least it may
 * be: the rule of each field, as data. Times are whole milliseconds of 1 or
 * more (a `hedgeDelayMs` too, when set); `maxRetries` (and each
 * `maxRetriesByModel` entry), `structuredOutputRetries` and
 * `retryBaseDelayMs` (retries at once) may be 0. The same as the variables
 * `LlmConfig` reads them from.
 */
const numbers = (
  policy: FallbackPolicy,
  name: string
): ReadonlyArray<readonly [string, number, LlmConfig.Least]> => [
  [`${name}.requestTimeoutMs`, policy.requestTimeoutMs, "positive"],
  [`${name}.maxRetries`, policy.maxRetries, "nonNegative"],
  ...entries(`${name}.maxRetriesByModel`, policy.maxRetriesByModel, "nonNegative"),
  [`${name}.retryBaseDelayMs`, policy.retryBaseDelayMs, "nonNegative"],
  [`${name}.limits.attemptMs`, policy.limits.attemptMs, "positive"],
  [`${name}.limits.firstByteMs`, policy.limits.firstByteMs, "positive"],
  [`${name}.limits.firstTokenMs`, policy.limits.firstTokenMs, "positive"],
  [`${name}.limits.thinkingFirstTokenMs`, policy.limits.thinkingFirstTokenMs, "positive"],
  ...entries(`${name}.limits.firstTokenMsByModel`, policy.limits.firstTokenMsByModel, "positive"),
  [`${name}.limits.idleMs`, policy.limits.idleMs, "positive"],
  ...(policy.hedgeDelayMs === undefined ? [] : [[`${name}.hedgeDelayMs`, policy.hedgeDelayMs, "positive"] as const]),
  [`${name}.structuredOutputRetries`, policy.structuredOutputRetries, "nonNegative"]
]

/**
 * The policy, once each of its numbers is a whole number in range (by
 * `LlmConfig.wholeNumber`, the rule of the variables they come from), else
 * an `LlmConfigError` naming the first that is not
 * (`policy.limits.firstTokenMs`, `policy.maxRetriesByModel["gpt-4o"]`;
 * `name` is the prefix). A `NaN` deadline would never end a request, and
 * a fractional limit could not be reported when it runs out:
 * `LlmManager.make` checks the policy it is given by it.
 *
 * @since 0.1.0
 */
export const check = (policy: FallbackPolicy, name = "policy"): Effect.Effect<FallbackPolicy, LlmConfigError> =>
  Effect.as(
    Effect.forEach(numbers(policy, name), ([field, n, least]) => LlmConfig.wholeNumber(field, n, least), {
      discard: true
    }),
    policy
  )

/**
 * The policy of a configuration.
 *
 * @since 0.1.0
 */
export const fromConfig = (settings: LlmConfig.Settings): FallbackPolicy => ({
  ...defaults,
  requestTimeoutMs: settings.requestTimeoutMs,
  maxRetries: settings.maxRetries,
  retryBaseDelayMs: settings.retryBaseDelayMs,
  limits: {
    ...defaults.limits,
    attemptMs: settings.attemptTimeoutMs,
    firstByteMs: settings.firstByteTimeoutMs,
    firstTokenMs: settings.firstTokenTimeoutMs,
    thinkingFirstTokenMs: settings.thinkingFirstTokenTimeoutMs,
    idleMs: settings.streamIdleTimeoutMs
  },
  hedgeDelayMs: Option.getOrUndefined(settings.hedgeDelayMs),
  structuredOutputRetries: settings.structuredOutputRetries,
  continueOnInterruption: settings.continueOnInterruption,
  fallbackOnContentFilter: settings.fallbackOnContentFilter
})

/** Names that think before answering, wherever they appear: DeepSeek's reasoner and R1, Gemini's thinking models. */
const thinkingNames = /reasoner|(^|[/-])r1\b|thinking|gemini-2\.5|gemini-3/i

/**
 * Models that think by default, by their name's start (after a `vendor/` an
 * OpenAI-compatible server may put first, or OpenAI's `ft:`): DeepSeek's V4
 * models (thinking is on unless the request turns it off), OpenAI's o-series
 * and gpt-5 and later.
 */
const thinkingByDefault = /(?:^|\/|^ft:)(?:deepseek-(?:flash|v4)|o\d+|gpt-(?:[5-9]|[1-9]\d+)(?:\.\d+)?)(?:[-:]|$)/i

/**
 * OpenAI's `gpt-N-chat` models (`gpt-5-chat-latest`), which do not reason;
 * the `gpt-N.M-chat` ones (`gpt-5.1-chat-latest`) do, as the OpenAI adapter
 * reads them.
 */
const openAiChatModel = /(?:^|\/|^ft:)gpt-\d+-chat/i

/**
 * True for models known to think before their first token, without sending
 * it (Gemini's 2.5 and 3 models, OpenAI's o-series and gpt-5 and later but
 * `gpt-5-chat-latest`) or as reasoning text Baton does not hand over
 * (DeepSeek's V4 models and R1): their first token gets
 * `thinkingFirstTokenMs`. Streamed reasoning counts as that first token, so
 * the longer limit matters only while a model thinks without streaming it.
 * By the name alone: a request's reasoning level may change it (any model
 * asked to think, Claude's included; see {@link firstTokenLimit}).
 *
 * @since 0.1.0
 */
export const thinksSilently = (model: string): boolean =>
  thinkingNames.test(model) || (thinkingByDefault.test(model) && !openAiChatModel.test(model))

/**
 * A per-model entry: `provider/model` first, then `model`. Only the record's
 * own keys count, so a model named like a property every object inherits
 * (`constructor`, `valueOf`, `__proto__`) finds no entry rather than a
 * function or an object.
 */
const entryFor = (byModel: Readonly<Record<string, number>>, provider: string, model: string): number | undefined => {
  const qualified = `${provider}/${model}`
  return Object.hasOwn(byModel, qualified)
    ? byModel[qualified]
    : Object.hasOwn(byModel, model)
    ? byModel[model]
    : undefined
}

/**
 * Whether a request at `reasoning` (`undefined`: none asked) waits on the
 * model's thinking before its first token; `stopsThinking`: the provider's
 * `"none"` turns it off.
 */
const thinksFirst = (model: string, reasoning: Reasoning | undefined, stopsThinking: boolean): boolean => {
  if (reasoning === undefined) return thinksSilently(model)
  return reasoning !== "none" || (thinksSilently(model) && !stopsThinking)
}

/**
 * The first-token limit of a model on a provider, for a request asking for
 * `reasoning` (`GenerationOptions.reasoning`): its entry in
 * `firstTokenMsByModel` (`provider/model` first, then `model`), whatever the
 * level; else `thinkingFirstTokenMs` when the model thinks first, else
 * `firstTokenMs`. Whether it thinks first:
 *
 * | `reasoning` | thinks first |
 * | --- | --- |
 * | left out | by its name ({@link thinksSilently}) |
 * | `"low"`, `"medium"`, `"high"` | always: the request asked it to (a model that cannot only has its stall noticed later) |
 * | `"none"` | by its name, but not when `stopsThinking`: the provider's `"none"` turns it fully off (`LlmProvider.Capabilities.stopsThinking`) |
 *
 * @since 0.1.0
 */
export const firstTokenLimit = (
  limits: Limits,
  provider: string,
  model: string,
  reasoning?: Reasoning,
  stopsThinking = false
): number =>
  entryFor(limits.firstTokenMsByModel, provider, model) ??
    (thinksFirst(model, reasoning, stopsThinking) ? limits.thinkingFirstTokenMs : limits.firstTokenMs)

/**
 * The retries of a model on a provider: its entry in `maxRetriesByModel`
 * (`provider/model` first, then `model`), else `maxRetries`.
 *
 * @since 0.1.0
 */
export const maxRetriesFor = (policy: FallbackPolicy, provider: string, model: string): number =>
  entryFor(policy.maxRetriesByModel, provider, model) ?? policy.maxRetries

/**
 * True when this error ends the whole request at once: the provider refused
 * the conversation itself (a rejection every provider would give), or a
 * content filter blocked it and the policy does not allow sending it
 * elsewhere. A read of the `fallback` column of `ErrorPolicy`'s table.
 *
 * @since 0.1.0
 */
export const stopsChain = (policy: FallbackPolicy, error: ProviderError): boolean =>
  !ErrorPolicy.fallsBack(error, policy)

/**
 * The wait a failure asks for before the same provider is tried again: the
 * server's hint where `ErrorPolicy`'s table honours it (`Retry-After` on a
 * 429, a 503 or an Anthropic 529), read by `ErrorPolicy.retryAfter`.
 *
 * @since 0.1.0
 */
export const retryAfter: (error: ProviderError) => Duration.Duration | undefined = ErrorPolicy.retryAfter

/**
 * The retry schedule on one provider for a request whose deadline is at
 * `deadlineAt` (epoch milliseconds, on the effect `Clock`). Its input is the
 * failure; it recurs only for retryable errors (a schema mismatch is re-asked
 * separately), at most `maxRetries` times, waits `retryBaseDelayMs * 2^n`
 * jittered by ±20%, at least the server's hint ({@link retryAfter}), and never waits past
 * the deadline: a wait that would outlive it ends the schedule so the next
 * provider gets the remaining budget. Inputs that are not provider errors
 * end it too. `maxRetries` defaults to the policy's (the manager passes
 * the step's, {@link maxRetriesFor}). `shorten`, when given, sees each wait
 * last, once every rule above let the retry happen, and may shorten it. The
 * manager's makes it none when the provider's circuit reads open past the
 * wait, so it will refuse the retry: the retry is skipped and the next
 * provider tried at once, not after the wait (a half-open circuit keeps it).
 *
 * @since 0.1.0
 */
export const retrySchedule = (
  policy: FallbackPolicy,
  deadlineAt: number,
  maxRetries: number = policy.maxRetries,
  shorten?: (wait: Duration.Duration) => Effect.Effect<Duration.Duration>
): Schedule.Schedule<Duration.Duration> => {
  const schedule = Schedule.exponential(Duration.millis(policy.retryBaseDelayMs)).pipe(
    Schedule.jittered,
    Schedule.setInputType<unknown>(),
    Schedule.modifyDelay(({ duration, input }) => {
      const hint = isProviderError(input) ? retryAfter(input) : undefined
      return Effect.succeed(hint === undefined ? duration : Duration.max(duration, hint))
    }),
    Schedule.while(({ duration, input, now }) =>
      isProviderError(input) && ErrorPolicy.retries(input) &&
      now + Duration.toMillis(duration) < deadlineAt
    ),
    Schedule.upTo({ times: maxRetries })
  )
  return shorten === undefined ? schedule : Schedule.modifyDelay(schedule, ({ duration }) => shorten(duration))
}
