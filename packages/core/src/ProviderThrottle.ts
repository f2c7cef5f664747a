/**
 * Local requests-per-minute and tokens-per-minute limits per provider,
 * checked before a call so the manager can skip a provider whose budget is
 * spent and go to the next one at once, instead of queueing or collecting a
 * 429.
 *
 * **How it works**
 *
 * Each limited provider has up to two token buckets in `effect/persistence`'s
 * `RateLimiter` (memory store in one process, Redis store from
 * `@baton/redis` for many): `<provider>:rpm` holds `requestsPerMinute`
 * requests and `<provider>:tpm` holds `tokensPerMinute` tokens, both refilled
 * evenly over a minute. Buckets run on the Effect clock, so `TestClock` drives
 * them in tests.
 *
 * - `check(provider, { tokens })` takes one request and `tokens` (an estimate
 *   of the call's tokens, default 0) from the buckets, or fails at once with
 *   `ProviderThrottled` (`limit` says which bucket, `retryAfter` when it
 *   refills enough). Nothing is taken when it fails on the request bucket; a
 *   failure on the token bucket keeps the request it took. `tokens` above
 *   `tokensPerMinute` itself never fit: such a check fails before either
 *   bucket, taking nothing, without `retryAfter` (no wait makes it fit).
 * - `record(provider, tokens)` charges tokens after the call (the actual
 *   usage minus the estimate passed to `check`). It never fails: a bucket may
 *   go into debt, and the next `check` fails until the debt is repaid.
 * - The manager passes {@link estimateTokens} (prompt characters / 4 plus
 *   `maxTokens`, or Baton's default 2000 when the limit is left to the
 *   provider) to `check` before each attempt its circuit lets through (a
 *   skipped one spends nothing) and records what the usage
 *   exceeded it by; an estimate that was too high is not given back (the
 *   bucket refills with time), so the limit errs on the provider's side.
 * - A provider without limits is never throttled and costs nothing.
 *
 * **Gotchas**
 *
 * - A throttle is a courtesy to the provider, not a quota: when its store
 *   fails, the check lets the call through (fail open) and a record is
 *   dropped. Each throttle warns of it at most once per 10 seconds, as the
 *   quota limiter does, saying how many failures it kept quiet meanwhile.
 *   A `remote` throttle (the Redis one) is bounded by each request's
 *   deadline under `LlmManager` (see `Service`'s `remote`).
 * - `ProviderThrottled` is not retryable and asks for fallback: calling the
 *   same provider again before `retryAfter` only fails again.
 * - The limits are checked when the throttle is built ({@link checkLimits}):
 *   a limit that is no positive whole number, a key that is no provider
 *   name or a field that is no limit is an `LlmConfigError` naming it
 *   (`ProviderThrottle.limits.openai.requestsPerMinute`). A key that is a
 *   provider name but neither a hosted provider nor one of the chain is
 *   warned about when the throttle is given to `LlmManager`: a typo there
 *   limits nothing, though a provider built in code may bear the name.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as ProviderThrottle from "@baton/core/ProviderThrottle"
 * import { ProviderName } from "@baton/core/Ids"
 *
 * const openai = ProviderName.make("openai")
 * const program = Effect.gen(function*() {
 *   const throttle = yield* ProviderThrottle.ProviderThrottle
 *   yield* throttle.check(openai, { tokens: 1_500 }) // fails with ProviderThrottled when spent
 *   // ... call the provider, then charge what the estimate missed:
 *   yield* throttle.record(openai, 300)
 * }).pipe(Effect.provide(ProviderThrottle.layerMemory({ openai: { requestsPerMinute: 500, tokensPerMinute: 200_000 } })))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Predicate, type Redacted } from "effect"
import { RateLimiter } from "effect/persistence"
import { defaultMaxTokens } from "./GenerationOptions.ts"
import { type ModelId, ProviderName } from "./Ids.ts"
import { damped } from "./internal/damped.ts"
import * as LlmConfig from "./LlmConfig.ts"
import { LlmConfigError } from "./LlmError.ts"
import type { LlmRequest } from "./LlmRequest.ts"
import { ProviderThrottled } from "./ProviderError.ts"
import { excerpt } from "./Redact.ts"
import * as StoreDeadline from "./StoreDeadline.ts"

/**
 * The limits of one provider; an absent limit is off.
 *
 * @since 0.1.0
 */
export interface Limits {
  readonly requestsPerMinute?: number | undefined
  readonly tokensPerMinute?: number | undefined
}

/**
 * Limits keyed by provider name; providers not listed are not throttled.
 * Checked when the throttle is built ({@link checkLimits}); `LlmManager`
 * warns about a key naming neither a hosted provider nor one of its chain.
 *
 * @since 0.1.0
 */
export type LimitTable = Readonly<Record<string, Limits>>

const limitNames = ["requestsPerMinute", "tokensPerMinute"] as const satisfies ReadonlyArray<keyof Limits>

const isLimitName = (field: string): boolean => (limitNames as ReadonlyArray<string>).includes(field)

const refused = (variable: string, problem: string) =>
  Effect.fail(new LlmConfigError({ variable, message: `${variable}: ${problem}` }))

/** A limit that is no number as a message shows it: a string in quotes, named as one (`"5"` reads as 5 otherwise). */
const notANumber = (limit: unknown): string =>
  typeof limit === "string" ? `the string "${excerpt(limit)}"` : excerpt(String(limit))

/** One entry of a table, named `ProviderThrottle.limits.<key>`: its provider, checked with its limits. */
const checkEntry = (key: string, entry: unknown): Effect.Effect<ProviderName, LlmConfigError> => {
  const option = `ProviderThrottle.limits.${excerpt(key)}`
  return Effect.flatMap(LlmConfig.option(ProviderName, option, key), (provider) => {
    // a table read from a file is untyped: an entry may be no object, a limit no number
    if (!Predicate.isObject(entry)) {
      return refused(option, `expected an object of ${limitNames.join(" and/or ")}, got ${String(entry)}`)
    }
    const unknown = Object.keys(entry).find((field) => !isLimitName(field))
    if (unknown !== undefined) {
      return refused(
        `${option}.${excerpt(unknown)}`,
        `not a limit; a provider's limits are ${limitNames.join(" and ")}`
      )
    }
    return Effect.as(
      Effect.forEach(limitNames, (field) => {
        const limit: unknown = entry[field]
        return limit === undefined
          ? Effect.void
          : typeof limit !== "number"
          ? refused(`${option}.${field}`, `must be a number (a positive integer), got ${notANumber(limit)}`)
          : Effect.asVoid(LlmConfig.wholeNumber(`${option}.${field}`, limit, "positive"))
      }, { discard: true }),
      provider
    )
  })
}

/**
 * Checks a limit table as the throttle is built, and gives the providers it
 * limits. Each key must be a provider name (`ProviderName`: `OpenAI` names
 * no provider, and would leave the `openai` it meant unthrottled), each
 * entry an object of `requestsPerMinute` and/or `tokensPerMinute` only (a
 * misspelt `requestPerMinute` would be no limit), each limit a positive
 * whole number (`LlmConfig.wholeNumber`: 0, a negative or a fractional
 * limit would refuse every call with a Retry-After of a minute, `NaN` would
 * be no limit). Else an `LlmConfigError` naming the option, as
 * `ProviderThrottle.limits.openai.requestsPerMinute`.
 *
 * @since 0.1.0
 */
export const checkLimits = (limits: LimitTable): Effect.Effect<ReadonlyArray<ProviderName>, LlmConfigError> =>
  Effect.forEach(Object.entries(limits), ([key, entry]) => checkEntry(key, entry))

/**
 * The throttle service.
 *
 * @since 0.1.0
 */
export interface Service {
  /**
   * Takes one request and `tokens` (default 0) from the provider's buckets,
   * or fails with `ProviderThrottled` without waiting. `model` only labels
   * the error.
   */
  readonly check: (
    provider: ProviderName,
    options?: { readonly tokens?: number | undefined; readonly model?: ModelId | undefined }
  ) => Effect.Effect<void, ProviderThrottled>
  /** Charges `tokens` to the provider's token bucket after a call; never fails. */
  readonly record: (provider: ProviderName, tokens: number) => Effect.Effect<void>
  /**
   * The buckets' store waits on I/O (Redis): `LlmManager` then bounds its
   * commands by each request's deadline (`@baton/core/StoreDeadline`), and a
   * check cut by it lets the call through, as a store failure does.
   */
  readonly remote?: boolean | undefined
  /**
   * The providers it has limits for: `LlmManager` warns about one that is
   * neither hosted nor in its chain (`LlmConfig.warnUnknownProviders`).
   * Absent, none is.
   */
  readonly limited?: ReadonlyArray<ProviderName> | undefined
}

/**
 * The tokens a request may cost, as the manager passes it to `check` before
 * each attempt: its prompt at 4 characters per token, plus `maxTokens` (the
 * most it can be billed for output, as providers' own TPM limits count it).
 * It errs high, so a TPM limit acts before the debt, never after it. A limit
 * left to the provider (`"provider"`) is unknown here (often the model's
 * whole output window): the estimate counts Baton's default
 * (`GenerationOptions.defaultMaxTokens`) and may err low, and what the call
 * bills beyond it is recorded after the call, as a debt.
 *
 * @since 0.1.0
 */
export const estimateTokens = (request: LlmRequest): number => {
  let chars = 0
  for (const message of request.messages) chars += message.content.length
  const { maxTokens } = request.options
  return Math.ceil(chars / 4) + (maxTokens === "provider" ? defaultMaxTokens : maxTokens)
}

/**
 * The throttle tag.
 *
 * @since 0.1.0
 */
export class ProviderThrottle extends Context.Service<ProviderThrottle, Service>()("@baton/core/ProviderThrottle") {}

const window = Duration.minutes(1)

type Bucket = "requests-per-minute" | "tokens-per-minute"

const suffix: Record<Bucket, string> = { "requests-per-minute": "rpm", "tokens-per-minute": "tpm" }

/** What a store command cut by the request's deadline fails with: a store failure, so the throttle fails open. */
const unanswered = () =>
  new RateLimiter.RateLimiterError({
    reason: new RateLimiter.RateLimitStoreError({ message: "the throttle store did not answer by the deadline" })
  })

/**
 * The options of a throttle: `remote` when the `RateLimiter`'s store waits
 * on I/O (see `Service`).
 *
 * @since 0.1.0
 */
export interface Options {
  readonly remote?: boolean | undefined
}

/**
 * Builds the throttle over the current `RateLimiter`. Fails with an
 * `LlmConfigError` naming the first limit {@link checkLimits} refuses.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(limits: LimitTable, options: Options = {}) {
  const limited = yield* checkLimits(limits)
  const limiter = yield* RateLimiter.RateLimiter
  const remote = options.remote === true
  /** A remote store's command, bounded by the request's deadline (by at least `graceMs`). */
  const bounded = <A>(
    command: Effect.Effect<A, RateLimiter.RateLimiterError>,
    graceMs?: number
  ): Effect.Effect<A, RateLimiter.RateLimiterError> =>
    remote ? StoreDeadline.bound(command, { graceMs, onTimeout: unanswered }) : command

  const limitOf = (provider: ProviderName, bucket: Bucket): number | undefined => {
    const entry = Object.hasOwn(limits, provider) ? limits[provider] : undefined
    return bucket === "requests-per-minute" ? entry?.requestsPerMinute : entry?.tokensPerMinute
  }

  const throttled = (
    provider: ProviderName,
    bucket: Bucket,
    model: ModelId | undefined,
    retryAfter: Duration.Duration | undefined
  ) =>
    new ProviderThrottled({
      provider,
      ...(model === undefined ? {} : { model }),
      limit: bucket,
      ...(retryAfter === undefined ? {} : { retryAfter })
    })

  // one window for checks and records: an outage fails both, up to three times per attempt
  const failOpen = damped("provider throttle store unavailable; letting the call through")

  const take = (
    provider: ProviderName,
    bucket: Bucket,
    tokens: number,
    model: ModelId | undefined
  ): Effect.Effect<void, ProviderThrottled> => {
    const limit = limitOf(provider, bucket)
    if (limit === undefined) return Effect.void
    return bounded(limiter.consume({
      key: `${provider}:${suffix[bucket]}`,
      algorithm: "token-bucket",
      onExceeded: "fail",
      window,
      limit,
      tokens
    })).pipe(
      Effect.asVoid,
      Effect.catch((error) =>
        error.reason._tag === "RateLimitExceeded"
          ? Effect.fail(throttled(provider, bucket, model, error.reason.retryAfter))
          : failOpen(error)
      )
    )
  }

  const check: Service["check"] = (provider, options) => {
    const tokens = Math.max(0, Math.ceil(options?.tokens ?? 0))
    const tokenLimit = limitOf(provider, "tokens-per-minute")
    // more than a whole minute's tokens never fits: refused before the request bucket, with no time to wait for
    return tokenLimit !== undefined && tokens > tokenLimit
      ? Effect.fail(throttled(provider, "tokens-per-minute", options?.model, undefined))
      : Effect.andThen(
        take(provider, "requests-per-minute", 1, options?.model),
        take(provider, "tokens-per-minute", tokens, options?.model)
      )
  }

  const record: Service["record"] = (provider, tokens) => {
    const limit = limitOf(provider, "tokens-per-minute")
    if (limit === undefined || tokens <= 0) return Effect.void
    return bounded(
      limiter.consume({
        key: `${provider}:${suffix["tokens-per-minute"]}`,
        algorithm: "token-bucket",
        onExceeded: "delay",
        window,
        limit,
        tokens: Math.ceil(tokens)
      }),
      StoreDeadline.settleGraceMs
    ).pipe(Effect.asVoid, Effect.catch(failOpen))
  }

  return ProviderThrottle.of({ check, record, remote, limited })
})

/**
 * The throttle over the current `RateLimiter` (give it a memory or Redis
 * store); its limits are checked when it is built ({@link checkLimits}).
 *
 * @since 0.1.0
 */
export const layer = (
  limits: LimitTable,
  options: Options = {}
): Layer.Layer<ProviderThrottle, LlmConfigError, RateLimiter.RateLimiter> =>
  Layer.effect(ProviderThrottle, make(limits, options))

/**
 * The throttle with a process-local store.
 *
 * @since 0.1.0
 */
export const layerMemory = (limits: LimitTable): Layer.Layer<ProviderThrottle, LlmConfigError> =>
  layer(limits).pipe(Layer.provide(RateLimiter.layer), Layer.provide(RateLimiter.layerStoreMemory))

/**
 * Logs one warning when `throttle` limits a provider that is neither hosted
 * nor one of `providers` (the chain it serves), as `LLM_PRICES`' unknown
 * providers are warned about (`LlmConfig.warnUnknownProviders`), scrubbed of
 * `secrets`: most likely a typo, which limits nothing. `LlmManager.make`
 * calls it with its chain; a program serving several chains on one
 * throttle (the gateway) calls it once with all of them, and gives each
 * chain's manager the throttle {@link withoutLimited}.
 *
 * @since 0.1.0
 */
export const warnUnknown = (
  throttle: Service,
  providers: ReadonlyArray<string>,
  secrets: ReadonlyArray<Redacted.Redacted>
): Effect.Effect<void> =>
  LlmConfig.warnUnknownProviders({
    option: "ProviderThrottle.limits",
    verb: "limits",
    names: throttle.limited ?? [],
    chain: new Set(providers),
    consequence: "a typo there limits nothing; only a provider built in code under that name is throttled by it",
    secrets
  })

/**
 * `throttle`, not saying which providers it limits: a manager given it warns
 * about none (its program warned once, see {@link warnUnknown}).
 *
 * @since 0.1.0
 */
export const withoutLimited = (throttle: Service): Service => ({ ...throttle, limited: undefined })
