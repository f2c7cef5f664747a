/**
 * Baton's configuration, read from the environment through Effect `Config`
 * and checked once, when the layer is built.
 *
 * Every variable, its default and its rule:
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | `LLM_PRIMARY_PROVIDER` | `deepseek` | first provider of the chain: `deepseek`, `gemini`, `openai` or `anthropic` (only spaces: an error saying it is blank; empty: unset) |
 * | `LLM_FALLBACK_PROVIDER` | `gemini` (`none` when the primary is `gemini`) | the fallback; `none` for no fallback (blank: the default) |
 * | `LLM_FALLBACK_PROVIDERS` | unset | a longer chain, comma-separated (`gemini,openai`); replaces `LLM_FALLBACK_PROVIDER` (blank: unset; a list naming no provider, an empty entry or `none` beside a provider is an error) |
 * | `LLM_CHAIN` | unset | the whole chain as steps `provider[/model]`, comma-separated (`deepseek/deepseek-flash,deepseek/deepseek-v4-pro,gemini,ollama`); replaces the three variables above (setting both is an error); a provider may appear with several models |
 * | `LLM_COMPAT_<NAME>_BASE_URL` | unset | declares `<name>` (lower-case in `LLM_CHAIN`; `-` is `_` in the variable) as an OpenAI-compatible endpoint: its `http(s)://` base URL, up to the version segment (a hosted provider's name is no endpoint: set for one in the chain, an error) |
 * | `LLM_COMPAT_<NAME>_MODEL` | the first model `LLM_CHAIN` names for it | the endpoint's default model |
 * | `LLM_COMPAT_<NAME>_API_KEY` | unset | the endpoint's key (`Authorization: Bearer`); unset for servers without auth |
 * | `LLM_COMPAT_<NAME>_ASSISTANT_PREFILL` | `false` | whether the endpoint continues a final assistant message |
 * | `DEEPSEEK_API_KEY`, `GEMINI_API_KEY`, `OPENAI_API_KEY`, `ANTHROPIC_API_KEY` | unset | required for every provider in the chain |
 * | `DEEPSEEK_MODEL`, `GEMINI_MODEL`, `OPENAI_MODEL`, `ANTHROPIC_MODEL` | `deepseek-flash`, `gemini-2.5-flash`, `gpt-4o-mini`, `claude-haiku-4-5` | default model per provider |
 * | `DEEPSEEK_BASE_URL`, `GEMINI_BASE_URL`, `OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL` | the public endpoints | `http(s)://` base URL per provider (a proxy, the mock server) |
 * | `DEEPSEEK_ASSISTANT_PREFILL`, `GEMINI_ASSISTANT_PREFILL`, `OPENAI_ASSISTANT_PREFILL`, `ANTHROPIC_ASSISTANT_PREFILL` | `true` but for OpenAI, and DeepSeek's own host outside `/beta` (set `DEEPSEEK_BASE_URL` to `https://api.deepseek.com/beta` for it) | whether the model continues a final assistant message (a broken stream is then continued there, not restarted) |
 * | `AI_GENERATION_ENABLED` | `true` | `false` fails every call with `GenerationDisabled` |
 * | `AI_MAX_QUESTIONS_PER_REQUEST` | `20` | per-request limit, positive |
 * | `AI_DAILY_LIMIT_PER_TEACHER` | `100` | daily limit per subject, positive |
 * | `AI_QUOTA_TIMEZONE` | `UTC` | IANA zone whose midnight resets daily quotas |
 * | `LLM_REQUEST_TIMEOUT_MS` | `60000` | deadline of a whole request, all attempts included |
 * | `LLM_ATTEMPT_TIMEOUT_MS` | `30000` | limit of one attempt: a plain call's whole wait (a structured answer, `generateVia: "generate"`), a stream's until its first token (both longer for a model that thinks first, by what `LLM_THINKING_FIRST_TOKEN_TIMEOUT_MS` adds to `LLM_FIRST_TOKEN_TIMEOUT_MS`, as far as the deadline leaves a fallback that will run after it (no hedging, its circuit not known open) this limit: with the defaults a model that thinks first has 30 s before such a fallback, 80 s as the last step or with `LLM_REQUEST_TIMEOUT_MS` of 110000 or more) |
 * | `LLM_MAX_RETRIES` | `2` | retries on the same provider for retryable errors (0 or more) |
 * | `LLM_RETRY_BASE_DELAY_MS` | `250` | first backoff delay, doubled each retry, with jitter (0 or more: 0 retries at once) |
 * | `LLM_CIRCUIT_FAILURE_THRESHOLD` | `5` | consecutive failures that open a provider's circuit |
 * | `LLM_CIRCUIT_COOLDOWN_MS` | `30000` | how long a circuit stays open before one probe |
 * | `LLM_FIRST_BYTE_TIMEOUT_MS` | `10000` | per attempt: longest wait for the response headers of a stream, and of a plain call on DeepSeek, which sends them before its answer (OpenAI, Anthropic and Gemini send a plain call's with the whole answer: the attempt limit bounds it) |
 * | `LLM_FIRST_TOKEN_TIMEOUT_MS` | `10000` | per attempt: longest wait for the first streamed token (answer or reasoning) |
 * | `LLM_THINKING_FIRST_TOKEN_TIMEOUT_MS` | `60000` | the same for models that think before their first token, by name (`FallbackPolicy.thinksSilently`): DeepSeek V4, `deepseek-reasoner` and R1, OpenAI o-series and gpt-5+ but `gpt-5-chat-latest`, Gemini 2.5 / 3, any `thinking` model; and for any model a request asks for `reasoning` `"low"`, `"medium"` or `"high"`. `"none"` gets the plain limit where the provider's adapter turns thinking fully off (`FallbackPolicy.firstTokenLimit`, by `LlmProvider.Capabilities.stopsThinking`): DeepSeek V4 (on DeepSeek and on the Anthropic format), OpenAI gpt-5.1+ but `-chat`, Gemini 2.5 Flash and Flash-Lite, Claude; not an OpenAI-compatible endpoint or an `effect/ai` model, which are sent nothing for it |
 * | `LLM_STREAM_IDLE_TIMEOUT_MS` | `15000` | per attempt: longest silence between two stream events |
 * | `LLM_HEDGE_DELAY_MS` | unset | start the next provider in parallel after this long without an answer; unset: no hedging |
 * | `LLM_STRUCTURED_OUTPUT_RETRIES` | `1` | re-asks on the same provider when an answer does not match the schema (0 or more): per provider a request tries, its retries included (a re-ask that fails with a retryable error is retried as the same re-ask, not counted again) |
 * | `LLM_CONTINUE_ON_INTERRUPTION` | `true` | rescue a stream broken mid-answer (continue with a prefill, or restart suppressing the replayed text); `false` makes `rescue: "none"` the default |
 * | `LLM_FALLBACK_ON_CONTENT_FILTER` | `false` | send a prompt one provider refused on policy grounds to the next provider |
 * | `LLM_MAX_BODY_BYTES` | unset: the adapters' `16777216` (16 MiB) | largest plain reply body read from a provider; over it the attempt is a `MalformedResponse` and the chain falls back |
 * | `LLM_MAX_EVENT_BYTES` | unset: the adapters' `1048576` (1 MiB) | largest single stream event (UTF-16 code units); the same rule |
 * | `REDIS_URL` | unset | Redis for shared quotas, circuits and throttles: `redis://[user:password@]host[:port][/db]` (`rediss://` for TLS) |
 * | `LLM_USAGE_STORE_URL` | unset | usage ledger database: `sqlite:path`, `file:path`, `sqlite::memory:` or `postgres://...` |
 * | `LLM_LOG_PROMPTS` | `false` | log (truncated) prompt text |
 * | `LLM_PRICES` | unset | JSON price overrides, USD per 1M tokens: `{"openai":{"models":{"gpt-4.1":{"input":2,"output":8}}}}`; each key a provider's name as it bills (under the gateway, one of its providers or a hosted one) |
 *
 * The chain is `steps`: one provider and model per step. `LlmManager.layerConfig`
 * builds each step's provider layer with `CurrentStep` set to that step, so
 * the configured layers (`Providers.layerFromConfig`,
 * `OpenAiCompatible.layerConfig`) take the step's model and, for an
 * OpenAI-compatible step, its endpoint. `layerWithoutChain` reads all but
 * the chain, for a program that brings its own providers (a gateway's config
 * file): no chain variable is read, no provider key required.
 *
 * Errors are `LlmConfigError`s naming the variable: unknown provider names
 * (the message lists the valid ones), a primary that is also a fallback, the
 * same step twice, `LLM_CHAIN` next to the older chain variables, a provider
 * in the chain without its key, an OpenAI-compatible endpoint without a base
 * URL or model, a model name that is no model id (over 256 characters, a
 * control character inside, blank; the error says which) or that holds a
 * configured key (a key pasted there: {@link keyAsModelProblem}), non-positive
 * limits, malformed numbers, booleans, URLs, zones and prices. A key the
 * chain requires is checked last: a missing one is named only once every
 * other variable reads. A provider
 * name, model, boolean, URL, zone, chain step or `LLM_PRICES` key an error
 * repeats is cut after 64 characters, its control characters escaped.
 * Keys stay `Redacted`, and every error's message is scrubbed of the
 * configured keys' values (the hosted providers', every
 * `LLM_COMPAT_<NAME>_API_KEY`), so a key pasted into another variable is
 * shown as `[redacted]`.
 *
 * Keys (`<PROVIDER>_API_KEY`, `LLM_COMPAT_<NAME>_API_KEY`) are trimmed (the
 * final newline of a mounted secret file goes); a key left in a pair of
 * matching quotes (`"sk-..."` or `'sk-...'`, a `.env` value copied as is)
 * or with whitespace, a control or a non-ASCII character inside is an error
 * naming the variable (and the character's position), never the value. Base URLs are `http:` or
 * `https:` only and carry no credentials (`user:password@`: the adapters send
 * to the URL's origin; the key goes in the key variable); an error never
 * shows a URL's user part or query. `LLM_USAGE_STORE_URL` must name a
 * database `SqlDatabase` opens (see {@link databaseUrl}); an error shows
 * only its scheme. `REDIS_URL` must be a Redis URL (see
 * {@link redisUrlProblem}); an error shows its scheme at most. Booleans are
 * `true` or `false` in any case, spaces around ignored (`yes`/`no`, `on`/`off`, `1`/`0`, `y`/`n` too).
 * Numbers are plain decimal digits, spaces around ignored (`1e3`, `+5`,
 * `0x10` are errors), whole and in range by {@link wholeNumber} (at most
 * `Number.MAX_SAFE_INTEGER`, a larger one refused as too large): the rule
 * `LlmManager.make` checks a policy built in code by. A blank number
 * variable is unset: its default.
 *
 * Tests build it from a map, never by touching `process.env`:
 *
 * @example
 * ```ts
 * import { ConfigProvider, Effect, Layer } from "effect"
 * import * as LlmConfig from "@baton/core/LlmConfig"
 *
 * const TestConfig = LlmConfig.layer.pipe(
 *   Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
 *     DEEPSEEK_API_KEY: "sk-test",
 *     GEMINI_API_KEY: "g-test"
 *   })))
 * )
 * ```
 *
 * @since 0.1.0
 */
import {
  Array as Arr,
  Config,
  ConfigProvider,
  Context,
  type DateTime,
  Duration,
  Effect,
  Formatter,
  Layer,
  Option,
  Redacted,
  Schema,
  SchemaIssue
} from "effect"
import { ModelId, ProviderName } from "./Ids.ts"
import { firstIssue } from "./internal/schemaIssue.ts"
import { namedZone } from "./internal/timeZone.ts"
import { LlmConfigError } from "./LlmError.ts"
import * as Pricing from "./Pricing.ts"
import { excerpt, minSecretLength, scrubSecrets, urlSecrets } from "./Redact.ts"

/**
 * The providers Baton configures from the environment.
 *
 * @since 0.1.0
 */
export const ProviderKind = Schema.Literals(["deepseek", "gemini", "openai", "anthropic"])

/** @since 0.1.0 */
export type ProviderKind = typeof ProviderKind.Type

/**
 * What builds a step of the chain: one of the hosted providers' adapters, or
 * the OpenAI-compatible one.
 *
 * @since 0.1.0
 */
export type StepKind = ProviderKind | "openai-compatible"

/**
 * One step of the chain: a provider (a hosted kind, or an OpenAI-compatible
 * endpoint's name) and the model it is called with.
 *
 * @since 0.1.0
 */
export interface ChainStep {
  readonly provider: ProviderName
  readonly kind: StepKind
  readonly model: ModelId
  /** The variable that named this step, for error messages. */
  readonly variable: string
}

/**
 * The step whose provider layer is being built: `LlmManager.layerConfig`
 * sets it around each step's layer, and the configured provider layers read
 * their model (and an OpenAI-compatible endpoint its name) from it.
 * `undefined` outside a chain: a configured layer then uses its provider's
 * default model.
 *
 * @since 0.1.0
 */
export const CurrentStep = Context.Reference<ChainStep | undefined>("@baton/core/LlmConfig/CurrentStep", {
  defaultValue: () => undefined
})

/**
 * Settings of one OpenAI-compatible endpoint (`LLM_COMPAT_<NAME>_*`).
 *
 * @since 0.1.0
 */
export interface CompatibleSettings {
  readonly name: ProviderName
  readonly baseUrl: string
  /** The default model: `LLM_COMPAT_<NAME>_MODEL`, else the first model `LLM_CHAIN` names for it. */
  readonly model: ModelId
  /** `None` for a server without auth. */
  readonly apiKey: Option.Option<Redacted.Redacted>
  readonly assistantPrefill: Option.Option<boolean>
}

/**
 * Settings of one provider.
 *
 * @since 0.1.0
 */
export interface ProviderSettings {
  readonly kind: ProviderKind
  readonly apiKey: Option.Option<Redacted.Redacted>
  /** The variable the key is read from, for error messages. */
  readonly apiKeyVariable: string
  readonly model: ModelId
  readonly baseUrl: string
  /** `<PROVIDER>_ASSISTANT_PREFILL`: overrides the provider's own prefill capability when set. */
  readonly assistantPrefill: Option.Option<boolean>
}

/**
 * The whole configuration.
 *
 * @since 0.1.0
 */
export interface Settings {
  /** The chain, in the order it is tried: a provider and model per step. */
  readonly steps: ReadonlyArray<ChainStep>
  /** The hosted provider kinds the chain uses, each once, in order of first use. */
  readonly chain: ReadonlyArray<ProviderKind>
  readonly providers: Readonly<Record<ProviderKind, ProviderSettings>>
  /** The OpenAI-compatible endpoints the chain names, by name. */
  readonly compatible: Readonly<Record<string, CompatibleSettings>>
  /**
   * Every `LLM_COMPAT_<NAME>_API_KEY` set, trimmed, whether the chain names
   * its endpoint or not: none is sent outside the chain, but each is a
   * secret of the environment ({@link secrets}). Required: `Settings` built
   * in code give `[]` when they hold none.
   */
  readonly compatibleKeys: ReadonlyArray<Redacted.Redacted>
  readonly generationEnabled: boolean
  readonly maxQuestionsPerRequest: number
  readonly dailyLimitPerTeacher: number
  readonly quotaTimeZone: string
  readonly requestTimeoutMs: number
  readonly attemptTimeoutMs: number
  readonly maxRetries: number
  readonly retryBaseDelayMs: number
  readonly circuitFailureThreshold: number
  readonly circuitCooldownMs: number
  readonly firstByteTimeoutMs: number
  readonly firstTokenTimeoutMs: number
  readonly thinkingFirstTokenTimeoutMs: number
  readonly streamIdleTimeoutMs: number
  /** `None`: no hedging. */
  readonly hedgeDelayMs: Option.Option<number>
  readonly structuredOutputRetries: number
  readonly continueOnInterruption: boolean
  readonly fallbackOnContentFilter: boolean
  readonly redisUrl: Option.Option<Redacted.Redacted>
  readonly usageStoreUrl: Option.Option<Redacted.Redacted>
  readonly logPrompts: boolean
  readonly prices: Pricing.PriceTable
  /** `LLM_MAX_BODY_BYTES`; `None`: the adapters' default. */
  readonly maxBodyBytes: Option.Option<number>
  /** `LLM_MAX_EVENT_BYTES`; `None`: the adapters' default. */
  readonly maxEventBytes: Option.Option<number>
}

/**
 * The configuration service.
 *
 * @since 0.1.0
 */
export class LlmConfig extends Context.Service<LlmConfig, Settings>()("@baton/core/LlmConfig") {}

const defaults: Readonly<Record<ProviderKind, { readonly model: ModelId; readonly baseUrl: string }>> = {
  deepseek: { model: ModelId.make("deepseek-flash"), baseUrl: "https://api.deepseek.com" },
  gemini: { model: ModelId.make("gemini-2.5-flash"), baseUrl: "https://generativelanguage.googleapis.com/v1beta" },
  openai: { model: ModelId.make("gpt-4o-mini"), baseUrl: "https://api.openai.com/v1" },
  anthropic: { model: ModelId.make("claude-haiku-4-5"), baseUrl: "https://api.anthropic.com" }
}

const kinds = ProviderKind.literals
const isProviderKind = Schema.is(ProviderKind)

const read = <A>(variable: string, config: Config.Config<A>): Effect.Effect<A, LlmConfigError> =>
  Effect.catch(config, (error) =>
    Effect.flatMap(
      Effect.option(Config.String(variable)),
      (raw) => {
        const problem = Schema.isSchemaError(error.cause) ? issueText(error.cause) : error.message
        return fail(variable, Option.isSome(raw) ? `${problem}, got "${excerpt(raw.value)}"` : problem)
      }
    ))

const issueText = (error: Schema.SchemaError): string => {
  const issue = SchemaIssue.makeFormatterStandardSchemaV1()(error.issue).issues[0]
  return issue?.message ?? error.message
}

const fail = (variable: string, problem: string) =>
  Effect.fail(new LlmConfigError({ variable, message: `${variable}: ${problem}` }))

const providerName = (variable: string, value: string): Effect.Effect<ProviderKind, LlmConfigError> => {
  const name = value.trim().toLowerCase()
  return isProviderKind(name)
    ? Effect.succeed(name)
    : fail(variable, `unknown provider "${excerpt(value)}"; valid providers: ${kinds.join(", ")}`)
}

/**
 * The least a whole-number setting may be: `"positive"` (1 or more: a time
 * limit, a delay, a threshold, a size) or `"nonNegative"` (0 or more: a
 * count of retries, a backoff that may be none).
 *
 * @since 0.1.0
 */
export type Least = "positive" | "nonNegative"

/**
 * What is wrong with `n` as a whole-number setting, or `undefined` when it
 * is one: a safe integer (no `NaN`, `Infinity` or fraction: milliseconds
 * are whole) of at least `least`, at most `Number.MAX_SAFE_INTEGER` (a
 * larger one is said to be too large). The one rule of every count and time
 * of Baton's settings, read from a variable or given in code.
 */
const wholeProblem = (n: number, least: Least): string | undefined =>
  n > Number.MAX_SAFE_INTEGER
    ? `must be at most ${Number.MAX_SAFE_INTEGER}`
    : Number.isSafeInteger(n) && n >= (least === "positive" ? 1 : 0)
    ? undefined
    : least === "positive"
    ? "must be a positive integer"
    : "must be an integer of 0 or more"

/**
 * Checks a number of a setting given in code (a policy's
 * `requestTimeoutMs`) by the rule its variable is read by: a safe integer
 * of at least `least` (see {@link Least}), else an `LlmConfigError` naming
 * `name` (`policy.requestTimeoutMs`) and showing the number.
 * `LlmManager.make` checks its policies by it (`FallbackPolicy.check`,
 * `CircuitPolicy.check`).
 *
 * @since 0.1.0
 */
export const wholeNumber = (name: string, n: number, least: Least): Effect.Effect<number, LlmConfigError> => {
  const problem = wholeProblem(n, least)
  return problem === undefined ? Effect.succeed(n) : fail(name, `${problem}, got ${n}`)
}

/** `input` as a message quotes it: a string in quotes, a `Duration` formatted, nanoseconds named, an object or pair as written (`NaN` too). */
const quotedDuration = (input: Duration.Input): string =>
  typeof input === "string"
    ? `"${excerpt(input)}"`
    : Duration.isDuration(input)
    ? Duration.format(input)
    : typeof input === "bigint"
    ? `${input} nanoseconds`
    : typeof input === "object"
    ? excerpt(Formatter.format(input))
    : String(input)

/** True when a number of `input` is `NaN`, which `Duration.fromInput` reads as 0. */
const holdsNaN = (input: Duration.Input): boolean =>
  typeof input === "number"
    ? Number.isNaN(input)
    : typeof input === "object" && !Duration.isDuration(input)
    ? Object.values(input).some((part) => typeof part === "number" && Number.isNaN(part))
    : false

/** What a duration of each {@link Least} takes, and what its message asks for instead. */
const durationFloors = {
  positive: {
    takes: Duration.isPositive,
    what: "a positive duration",
    example: `"30 seconds" or 30000 (milliseconds)`
  },
  nonNegative: {
    takes: (duration: Duration.Duration) => !Duration.isNegative(duration),
    what: "a duration of 0 or more",
    example: `"1 second" or 1000 (milliseconds)`
  }
} as const

/**
 * Checks a duration of a setting given in code (a ledger's `queryTimeout`,
 * a writer's `flushInterval`, a Redis connection's `commandTimeout`): one
 * `Duration.fromInput` reads, of at least `least` (`"positive"`: more than
 * 0), `Duration.infinity` for no bound, or, given `maxMillis` (a bound
 * handed to a Node timer, which takes at most 2,147,483,647 ms), finite and
 * at most that; else (`"10 secs"`, a negative duration, `NaN` anywhere in
 * it, which `Duration.fromInput` reads as 0) an `LlmConfigError` naming
 * `name` and quoting the input.
 *
 * @since 0.1.0
 */
export const duration = (
  name: string,
  input: Duration.Input,
  least: Least,
  maxMillis?: number
): Effect.Effect<Duration.Duration, LlmConfigError> => {
  const { example, takes, what } = durationFloors[least]
  const fits = (duration: Duration.Duration) =>
    takes(duration) && (maxMillis === undefined || Duration.toMillis(duration) <= maxMillis)
  const asked = maxMillis === undefined
    ? `${what}; use one such as ${example}, or Duration.infinity for no bound`
    : `${what} of at most ${maxMillis} milliseconds; use one such as ${example}`
  return Option.match(holdsNaN(input) ? Option.none() : Option.filter(Duration.fromInput(input), fits), {
    onNone: () => fail(name, `${quotedDuration(input)} is not ${asked}`),
    onSome: Effect.succeed
  })
}

const optionalString = (variable: string) => read(variable, Config.option(Config.String(variable)))

/** A variable that is blank reads as unset. */
const optionalNonBlank = (variable: string) =>
  Effect.map(optionalString(variable), Option.filter((value) => value.trim().length > 0))

/**
 * A number variable: unset or blank is `None`; else its value, trimmed,
 * must be plain decimal digits (no sign, exponent, `0x`, `_` or inner space)
 * of a whole number by the rule of {@link wholeNumber}, or an error naming
 * the variable and showing the value.
 */
const optionalWhole = (variable: string, least: Least): Effect.Effect<Option.Option<number>, LlmConfigError> =>
  Effect.flatMap(optionalNonBlank(variable), (raw) => {
    if (Option.isNone(raw)) return Effect.succeedNone
    const digits = raw.value.trim()
    const problem = /^\d+$/.test(digits)
      ? wholeProblem(Number(digits), least)
      : `${wholeProblem(Number.NaN, least)} in decimal digits`
    return problem === undefined
      ? Effect.succeedSome(Number(digits))
      : fail(variable, `${problem}, got "${excerpt(raw.value)}"`)
  })

/**
 * The port written as `text`: decimal digits only, 0 (any free port) to
 * 65535, else `None`. Refuses what `Number` or Node's `listen` would take
 * (`0x50`, `8e1`, `+80`, ` 80`, `80.0`) and `70000`. The one rule of a port,
 * read from a variable ({@link port}) or a command's `--port` flag.
 *
 * @since 0.1.0
 */
export const portOf = (text: string): Option.Option<number> =>
  /^[0-9]{1,5}$/.test(text) && Number(text) <= 65535 ? Option.some(Number(text)) : Option.none()

/**
 * The port in `variable` (`PORT`) by the rule of {@link portOf}, `fallback`
 * when the variable is unset or blank, else an `LlmConfigError` naming the
 * variable and showing the value (a configured key's value `[redacted]`).
 *
 * @example
 * ```ts
 * import * as LlmConfig from "@baton/core/LlmConfig"
 *
 * // PORT=0x50 fails with 'PORT: a port is decimal digits, 0 to 65535, got "0x50"'
 * const port = LlmConfig.port("PORT", 3000)
 * ```
 *
 * @since 0.1.0
 */
export const port = (variable: string, fallback: number): Effect.Effect<number, LlmConfigError> =>
  hidingKeys(Effect.flatMap(optionalNonBlank(variable), (raw) => {
    if (Option.isNone(raw)) return Effect.succeed(fallback)
    return Option.match(portOf(raw.value), {
      onNone: () => fail(variable, `a port is decimal digits, 0 to 65535, got "${excerpt(raw.value)}"`),
      onSome: Effect.succeed
    })
  }))

const whole = (variable: string, least: Least, fallback: number) =>
  Effect.map(optionalWhole(variable, least), Option.getOrElse(() => fallback))

const positiveInt = (variable: string, fallback: number) => whole(variable, "positive", fallback)

const nonNegativeInt = (variable: string, fallback: number) => whole(variable, "nonNegative", fallback)

const optionalPositiveInt = (variable: string) => optionalWhole(variable, "positive")

/** The spellings of a boolean, compared trimmed and lower-cased: `true`/`false`, and those `Config.Boolean` took. */
const booleans: ReadonlyMap<string, boolean> = new Map([
  ["true", true],
  ["false", false],
  ["yes", true],
  ["no", false],
  ["on", true],
  ["off", false],
  ["1", true],
  ["0", false],
  ["y", true],
  ["n", false]
])

const optionalBool = (variable: string): Effect.Effect<Option.Option<boolean>, LlmConfigError> =>
  Effect.flatMap(optionalString(variable), (raw) => {
    if (Option.isNone(raw)) return Effect.succeedNone
    const value = booleans.get(raw.value.trim().toLowerCase())
    return value === undefined
      ? fail(variable, `expected true or false, got "${excerpt(raw.value)}"`)
      : Effect.succeedSome(value)
  })

const bool = (variable: string, fallback: boolean) =>
  Effect.map(optionalBool(variable), Option.getOrElse(() => fallback))

const optionalRedacted = (variable: string) =>
  Effect.map(
    read(variable, Config.option(Config.Redacted(variable))),
    Option.filter((key) => Redacted.value(key).trim().length > 0)
  )

/** What a key's characters must be: visible ASCII, as every provider's keys are and an HTTP header can carry. */
const keyCharacter = /[\x21-\x7e]/

/** A value in a pair of matching quotes, which a `.env` value copied as is (into docker's `--env-file`) keeps. */
const quoted = /^(["'])[\s\S]*\1$/

/** Why a trimmed key is none, without showing it: quotes around it, else its first bad character and where. */
const keyProblem = (key: string): string | undefined => {
  if (quoted.test(key)) {
    return "is in quotes, which are no part of a key (a .env value copied as is); remove the quotes (the key is not shown)"
  }
  for (let i = 0; i < key.length; i++) {
    const char = key[i] ?? ""
    if (keyCharacter.test(char)) continue
    const what = char === "\n" || char === "\r"
      ? "a line break"
      : char === " "
      ? "a space"
      : /\s/.test(char)
      ? "whitespace"
      : /\p{Cc}/u.test(char)
      ? "a control character"
      : "a non-ASCII character"
    return `holds ${what} at character ${
      i + 1
    }; a key is visible ASCII only (check the secret's value; it is not shown)`
  }
  return undefined
}

/**
 * Reads an API key from `variable`: unset or blank is `None`; the whitespace
 * around it (the final newline of a mounted secret file) is trimmed; what is
 * left must be visible ASCII and not in a pair of matching quotes (`'sk-...'`),
 * else an `LlmConfigError` naming the variable, never the value. The key is
 * labelled with the variable (`Redacted.label`), for an error to name where
 * a value holding it came from. The rule every Baton door reads keys by.
 *
 * @since 0.1.0
 */
export const apiKey = (variable: string): Effect.Effect<Option.Option<Redacted.Redacted>, LlmConfigError> =>
  Effect.flatMap(
    read(variable, Config.option(Config.Redacted(variable))),
    (raw) => Option.isNone(raw) ? Effect.succeedNone : checkKey(variable, raw.value)
  )

/**
 * A key given in code (a provider layer's `apiKey`) by the rule
 * {@link apiKey} reads a variable by: trimmed, blank is `None`, else visible
 * ASCII in no quotes or an `LlmConfigError` naming `name`, never the key. A key undici
 * would refuse as a header never reaches it (each call would fail as a
 * retryable connection failure). The key is labelled `name`.
 *
 * @since 0.1.0
 */
export const checkKey = (
  name: string,
  key: Redacted.Redacted
): Effect.Effect<Option.Option<Redacted.Redacted>, LlmConfigError> => {
  const value = Redacted.value(key)
  const trimmed = value.trim()
  if (trimmed.length === 0) return Effect.succeedNone
  const problem = keyProblem(trimmed)
  if (problem !== undefined) return fail(name, problem)
  return Effect.succeedSome(Redacted.make(trimmed, { label: name }))
}

/**
 * Every key the configuration holds, to scrub wherever text leaves Baton
 * and to refuse where a key must not go: the hosted providers' and every
 * `LLM_COMPAT_<NAME>_API_KEY` set, the chain's endpoints' and the others'
 * (`compatibleKeys`), and the credentials a base URL's query carries
 * (`Redact.urlSecrets`: Gemini's `?key=`), each value once. The request log
 * (`RequestLog.optionsFromConfig`), `LlmManager.layerConfig` and the gateway
 * read it.
 *
 * @since 0.1.0
 */
export const secrets = (settings: Settings): ReadonlyArray<Redacted.Redacted> =>
  Arr.dedupe([
    ...[...Object.values(settings.providers), ...Object.values(settings.compatible)].flatMap((provider) => [
      ...Option.toArray(provider.apiKey),
      ...urlSecrets(provider.baseUrl)
    ]),
    ...settings.compatibleKeys
  ])

/**
 * The URLs a usage store may be given, as an error lists them.
 *
 * @since 0.1.0
 */
export const databaseUrlForms = "sqlite:<path>, file:<path>, sqlite::memory: or postgres://user@host:port/db"

/**
 * The database a URL names, by the one rule `LLM_USAGE_STORE_URL` is
 * checked by and `SqlDatabase.layerUrl` opens by: an SQLite file
 * (`sqlite:<path>`, `file:<path>`, the path not blank; `sqlite::memory:` in
 * memory) or PostgreSQL (`postgres://`, `postgresql://`); `undefined` for
 * any other (see {@link databaseUrlForms}).
 *
 * @since 0.1.0
 */
export const databaseUrl = (
  url: string
): { readonly _tag: "Sqlite"; readonly filename: string } | { readonly _tag: "Postgres" } | undefined => {
  const filename = /^(?:sqlite|file):(.*\S.*)$/.exec(url)?.[1]
  if (filename !== undefined) return { _tag: "Sqlite", filename }
  return /^postgres(?:ql)?:\/\//.test(url) ? { _tag: "Postgres" } : undefined
}

/** A URL's scheme (`mysql:`): letters, digits, `+`, `-` and `.`, so never a password. */
const urlScheme = /^[A-Za-z][A-Za-z0-9+.-]*:/

/**
 * Reads a database URL from `variable`: `None` when unset or blank, else
 * one {@link databaseUrl} takes, or an `LlmConfigError` naming the variable
 * that shows the URL's scheme at most.
 */
const optionalDatabaseUrl = (variable: string) =>
  Effect.flatMap(optionalRedacted(variable), (url) => {
    if (Option.isNone(url) || databaseUrl(Redacted.value(url.value)) !== undefined) return Effect.succeed(url)
    const scheme = urlScheme.exec(Redacted.value(url.value))?.[0]
    const named = scheme === undefined ? "" : ` (scheme "${excerpt(scheme)}")`
    return fail(variable, `unsupported database URL${named}; use ${databaseUrlForms}`)
  })

/** The shape of a Redis URL, as an error gives it. */
const redisUrlForm = "redis://[user:password@]host[:port][/db] or rediss://..."

/**
 * What is wrong with a Redis URL, or `undefined` when it is one: the one
 * rule `REDIS_URL` is checked by when the layer is built and
 * `RedisConnection` connects by. A Redis URL is `redis://` (`rediss://` for
 * TLS), then an optional `user:password@` (percent-encoded), a host (not
 * left out: `redis://` alone names no server), an optional port (0-65535)
 * and an optional `/<database number>`. The problem
 * never shows the URL, which may carry a password: its scheme at most.
 *
 * @since 0.1.0
 */
export const redisUrlProblem = (url: string): string | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return `expected ${redisUrlForm} (a port is 0-65535)`
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    return `the scheme is "${excerpt(parsed.protocol)}", expected redis: or rediss: (${redisUrlForm})`
  }
  if (parsed.hostname === "") return `no host (${redisUrlForm})`
  if (!/^(?:\/\d*)?$/.test(parsed.pathname)) return `the path must be a database number (${redisUrlForm})`
  // the client reads the database from the path alone: `?db=7` would be database 0, shared with every other
  if (parsed.search !== "" || parsed.hash !== "") {
    return `a query or fragment is not read: put the database in the path, /7 (${redisUrlForm})`
  }
  try {
    decodeURIComponent(parsed.username)
    decodeURIComponent(parsed.password)
  } catch {
    return "the user or password is not valid percent-encoding"
  }
  return undefined
}

/**
 * Checks a Redis URL by {@link redisUrlProblem}: the URL, or an
 * `LlmConfigError` naming `variable` that never shows the URL.
 *
 * @since 0.1.0
 */
export const redisUrl =
  (variable: string) => (url: Redacted.Redacted): Effect.Effect<Redacted.Redacted, LlmConfigError> => {
    const problem = redisUrlProblem(Redacted.value(url))
    return problem === undefined ? Effect.succeed(url) : fail(variable, `not a Redis URL (${problem})`)
  }

/** Reads `REDIS_URL`: `None` when unset or blank, else a URL `redisUrl` takes. */
const optionalRedisUrl = Effect.flatMap(
  optionalRedacted("REDIS_URL"),
  (url) => Effect.transposeOption(Option.map(url, redisUrl("REDIS_URL")))
)

/** A URL for an error message: its user part and query (where credentials go) masked. */
const maskUrl = (text: string): string => {
  const query = text.indexOf("?")
  const head = query < 0 ? text : `${text.slice(0, query)}?***`
  const at = head.lastIndexOf("@")
  if (at < 0) return head
  const scheme = head.indexOf("://")
  const start = scheme >= 0 && scheme < at ? scheme + 3 : 0
  return `${head.slice(0, start)}***${head.slice(at)}`
}

/**
 * `value` decoded by `schema`, or an `LlmConfigError` naming `option` with
 * what is wrong: how an adapter or a chain step checks the options it is
 * built with (`name`, `model`) instead of throwing on them.
 *
 * @since 0.1.0
 */
export const option = <A>(
  schema: Schema.Codec<A, string>,
  name: string,
  value: string
): Effect.Effect<A, LlmConfigError> =>
  Effect.mapError(
    Schema.decodeUnknownEffect(schema)(value),
    (error) => new LlmConfigError({ variable: name, message: `${name}: ${error.message}` })
  )

/**
 * Checks a provider's base URL: http or https, without credentials (the
 * adapters send to the URL's origin and would drop them); gives it without
 * a trailing slash. Errors name `variable` (and `keyVariable`, where the key
 * belongs) and never show a password.
 *
 * @since 0.1.0
 */
export const baseUrl =
  (variable: string, keyVariable: string) => (raw: string): Effect.Effect<string, LlmConfigError> => {
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      return fail(variable, `expected a URL such as https://api.example.com/v1, got "${excerpt(maskUrl(raw))}"`)
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return fail(variable, `expected an http:// or https:// URL, got one with the scheme "${excerpt(url.protocol)}"`)
    }
    if (url.username !== "" || url.password !== "") {
      return fail(
        variable,
        `must not carry credentials (user:password@): Baton sends requests to the URL's origin without them; put the key in ${keyVariable} instead`
      )
    }
    return Effect.succeed(url.href.replace(/\/+$/, ""))
  }

const isProviderName = Schema.is(ProviderName)

const isModelId = Schema.is(ModelId)

/** Why a trimmed model name is no `ModelId`, without repeating it: blank, its length, or where a control character is. */
const modelProblem = (model: string): string => {
  if (model.length === 0) return "must not be blank"
  if (model.length > 256) return `is ${model.length} characters; a model id is at most 256 characters`
  const control = model.search(/\p{Cc}/u)
  return control >= 0
    ? `holds a control character at character ${control + 1}; a model id has no control characters`
    : "a model id is not blank, has no leading or trailing space and no control characters"
}

/**
 * What is wrong with `model` when it holds one of `keys` (a key pasted
 * where a model name goes: `DEEPSEEK_MODEL=sk-...`), or `undefined` when it
 * holds none: the whole key, or its first 8 characters or more as the whole
 * model (a cut paste) or before a mask (`sk-CANAR****7890`, a key as a
 * provider shows it). Only where the model starts: a model that merely ends
 * with a key's first characters (`llama-3.1-8b-instruct` beside a key
 * `instructkey-...`) is a name. The problem names the key's variable
 * ({@link heldKeyProblem}), never the value. Such a model
 * would be sent, logged, stored and metered as a name; `LlmConfig` refuses
 * every model variable and `LLM_CHAIN` model by it, the gateway its config
 * file's models.
 *
 * @since 0.1.0
 */
export const keyAsModelProblem = (model: string, keys: ReadonlyArray<Redacted.Redacted>): string | undefined => {
  const key = keyHeldIn(model, keys)
  return key === undefined ? undefined : heldKeyProblem(key, "put a model name here and the key in its key variable")
}

/**
 * The first of `keys` that `text` holds, by the rule of
 * {@link keyAsModelProblem}; `undefined` when it holds none.
 *
 * @since 0.1.0
 */
export const keyHeldIn = (text: string, keys: ReadonlyArray<Redacted.Redacted>): Redacted.Redacted | undefined =>
  keys.find((key) => holdsKey(text, Redacted.value(key)))

/**
 * What is wrong with a text holding `key` ({@link keyHeldIn}: whole, or its
 * start), never showing the value: the variable it was read from (its label, as {@link apiKey}
 * gives it) and `fix`, and, as the variable may hold a placeholder of an
 * endpoint without auth rather than a key, the advice to change it; without
 * a label, an API key and `fix`.
 *
 * @since 0.1.0
 */
export const heldKeyProblem = (key: Redacted.Redacted, fix: string): string =>
  key.label === undefined
    ? `holds an API key (the value is not shown); ${fix}`
    : `holds (the start of) the value of ${key.label} (an API key; not shown); ${fix}, or change ${key.label} if its value ` +
      "is a placeholder"

/** Whether `model` holds `key` (a secret: `minSecretLength` or more) whole, or starts with 8+ of its first characters up to its end or a mask. */
const holdsKey = (model: string, key: unknown): boolean => {
  if (typeof key !== "string" || key.length < minSecretLength) return false
  const mask = model.indexOf("*")
  const head = mask < 0 ? model : model.slice(0, mask)
  return model.includes(key) || (head.length >= minSecretLength && key.startsWith(head))
}

/** `model`, read from `variable`, unless it holds a configured key (`keyAsModelProblem`): then an error naming `variable`. */
const modelNotKey = (variable: string, model: ModelId, what = ""): Effect.Effect<ModelId, LlmConfigError> =>
  Effect.flatMap(configuredKeys, (keys) => {
    const problem = keyAsModelProblem(model, keys)
    return problem === undefined ? Effect.succeed(model) : fail(variable, `${what}${problem}`)
  })

/** A model variable: unset is `None`; set, its value, trimmed, must be a `ModelId` and no key, else an error naming it. */
const optionalModel = (variable: string): Effect.Effect<Option.Option<ModelId>, LlmConfigError> =>
  Effect.flatMap(optionalString(variable), (raw) => {
    if (Option.isNone(raw)) return Effect.succeedNone
    const model = raw.value.trim()
    return isModelId(model) ? Effect.asSome(modelNotKey(variable, model)) : fail(variable, modelProblem(model))
  })

/** The variable a hosted provider's key is read from: `DEEPSEEK_API_KEY`. */
const keyVariableOf = (kind: ProviderKind) => `${kind.toUpperCase()}_API_KEY`

const readProvider = (kind: ProviderKind): Effect.Effect<ProviderSettings, LlmConfigError> =>
  Effect.gen(function*() {
    const prefix = kind.toUpperCase()
    const apiKeyVariable = keyVariableOf(kind)
    const key = yield* apiKey(apiKeyVariable)
    const model = yield* optionalModel(`${prefix}_MODEL`)
    const url = yield* optionalString(`${prefix}_BASE_URL`).pipe(
      Effect.map(Option.getOrElse(() => defaults[kind].baseUrl)),
      Effect.flatMap(baseUrl(`${prefix}_BASE_URL`, apiKeyVariable))
    )
    return {
      kind,
      apiKey: key,
      apiKeyVariable,
      model: Option.getOrElse(model, () => defaults[kind].model),
      baseUrl: url,
      assistantPrefill: yield* optionalBool(`${prefix}_ASSISTANT_PREFILL`)
    }
  })

type Providers = Readonly<Record<ProviderKind, ProviderSettings>>

const hostedStep = (providers: Providers, kind: ProviderKind, variable: string): ChainStep => ({
  provider: ProviderName.make(kind),
  kind,
  model: providers[kind].model,
  variable
})

/** The chain of `LLM_PRIMARY_PROVIDER` and `LLM_FALLBACK_PROVIDER(S)`: one step per kind, its default model. */
const readKindChain = (providers: Providers) =>
  Effect.gen(function*() {
    const primaryRaw = yield* read(
      "LLM_PRIMARY_PROVIDER",
      Config.String("LLM_PRIMARY_PROVIDER").pipe(Config.withDefault("deepseek"))
    )
    if (primaryRaw.trim().length === 0) {
      // a blank value is no silent default: a template's empty line most likely meant a provider
      return yield* fail(
        "LLM_PRIMARY_PROVIDER",
        `is blank; set one of ${kinds.join(", ")}, or unset it for the default (deepseek)`
      )
    }
    const primary = yield* providerName("LLM_PRIMARY_PROVIDER", primaryRaw)
    // a blank variable is an unset one (a blank fallback is never a silent "none")
    const list = yield* optionalNonBlank("LLM_FALLBACK_PROVIDERS")
    const variable = Option.isSome(list) ? "LLM_FALLBACK_PROVIDERS" : "LLM_FALLBACK_PROVIDER"
    // the default fallback is gemini, unless gemini is already the primary
    const defaultFallback = primary === "gemini" ? "none" : "gemini"
    const raw = Option.isSome(list)
      ? list.value
      : Option.getOrElse(yield* optionalNonBlank(variable), () => defaultFallback)
    const entries = raw.split(",").map((name) => name.trim())
    if (entries.every((name) => name.length === 0)) {
      return yield* fail(variable, `names no provider; set "none" for no fallback`)
    }
    if (entries.includes("")) return yield* fail(variable, `has an empty entry ("${excerpt(raw)}")`)
    const names = entries.filter((name) => name.toLowerCase() !== "none")
    if (names.length > 0 && names.length < entries.length) {
      return yield* fail(variable, `"none" stands alone; it cannot be listed with providers`)
    }
    const fallbacks = yield* Effect.forEach(names, (name) => providerName(variable, name))
    if (fallbacks.includes(primary)) {
      return yield* fail(
        variable,
        `"${primary}" is already the primary provider (LLM_PRIMARY_PROVIDER); a fallback must differ`
      )
    }
    const duplicate = fallbacks.find((name, index) => fallbacks.indexOf(name) !== index)
    if (duplicate !== undefined) return yield* fail(variable, `"${duplicate}" is listed twice`)
    return [
      hostedStep(providers, primary, "LLM_PRIMARY_PROVIDER"),
      ...fallbacks.map((kind) => hostedStep(providers, kind, variable))
    ]
  })

/** A provider name as the variables of its OpenAI-compatible endpoint spell it: `ollama-2` -> `OLLAMA_2`. */
const compatibleName = (name: string) => name.toUpperCase().replaceAll("-", "_")

/** The prefix of an OpenAI-compatible endpoint's variables: `ollama-2` -> `LLM_COMPAT_OLLAMA_2`. */
const compatiblePrefix = (name: string) => `LLM_COMPAT_${compatibleName(name)}`

interface StepText {
  readonly name: ProviderName
  readonly model: Option.Option<ModelId>
}

const parseStep = (text: string): Effect.Effect<StepText, LlmConfigError> => {
  const item = text.trim()
  const slash = item.indexOf("/")
  const name = (slash < 0 ? item : item.slice(0, slash)).trim().toLowerCase()
  const model = slash < 0 ? undefined : item.slice(slash + 1).trim()
  if (!isProviderName(name)) {
    return fail("LLM_CHAIN", `step "${excerpt(item)}": a step is provider or provider/model (deepseek/deepseek-flash)`)
  }
  if (model === undefined) return Effect.succeed({ name, model: Option.none() })
  return isModelId(model)
    ? Effect.map(modelNotKey("LLM_CHAIN", model, `step "${name}/...": the model after "/" `), (checked) => ({
      name,
      model: Option.some(checked)
    }))
    : fail("LLM_CHAIN", `step "${excerpt(item)}": the model after "/" ${modelProblem(model)}`)
}

const readCompatible = (name: ProviderName, steps: ReadonlyArray<StepText>) =>
  Effect.gen(function*() {
    const prefix = compatiblePrefix(name)
    const rawUrl = yield* optionalString(`${prefix}_BASE_URL`)
    if (Option.isNone(rawUrl)) {
      return yield* fail(
        "LLM_CHAIN",
        `unknown provider "${name}"; valid providers: ${
          kinds.join(", ")
        }, or an OpenAI-compatible endpoint declared with ${prefix}_BASE_URL`
      )
    }
    const url = yield* baseUrl(`${prefix}_BASE_URL`, `${prefix}_API_KEY`)(rawUrl.value)
    const model = Option.orElse(
      yield* optionalModel(`${prefix}_MODEL`),
      () => Option.firstSomeOf(steps.filter((step) => step.name === name).map((step) => step.model))
    )
    if (Option.isNone(model)) {
      return yield* fail(`${prefix}_MODEL`, `is required: LLM_CHAIN names ${name} without a model`)
    }
    const settings: CompatibleSettings = {
      name,
      baseUrl: url,
      model: model.value,
      apiKey: yield* apiKey(`${prefix}_API_KEY`),
      assistantPrefill: yield* optionalBool(`${prefix}_ASSISTANT_PREFILL`)
    }
    return settings
  })

/** `LLM_CHAIN`: steps of any provider and model, OpenAI-compatible endpoints included. */
const readStepChain = (providers: Providers, raw: string) =>
  Effect.gen(function*() {
    for (const older of ["LLM_PRIMARY_PROVIDER", "LLM_FALLBACK_PROVIDER", "LLM_FALLBACK_PROVIDERS"]) {
      if (Option.isSome(yield* optionalNonBlank(older))) {
        return yield* fail("LLM_CHAIN", `replaces ${older}; set one of them, not both`)
      }
    }
    const texts = yield* Effect.forEach(raw.split(","), parseStep)
    const compatible: Record<string, CompatibleSettings> = {}
    const steps: Array<ChainStep> = []
    for (const text of texts) {
      if (isProviderKind(text.name)) {
        const kind: ProviderKind = text.name
        const step = hostedStep(providers, kind, "LLM_CHAIN")
        steps.push({ ...step, model: Option.getOrElse(text.model, () => step.model) })
        continue
      }
      const twin = Object.keys(compatible).find((name) =>
        name !== text.name && compatiblePrefix(name) === compatiblePrefix(text.name)
      )
      if (twin !== undefined) {
        return yield* fail(
          "LLM_CHAIN",
          `"${twin}" and "${text.name}" share the variables ${compatiblePrefix(twin)}_*; name them apart`
        )
      }
      // an own entry only: a name such as `constructor` is an endpoint's name, not `Object.prototype`'s
      const endpoint = Object.hasOwn(compatible, text.name)
        ? compatible[text.name] as CompatibleSettings
        : yield* readCompatible(text.name, texts)
      compatible[text.name] = endpoint
      steps.push({
        provider: text.name,
        kind: "openai-compatible",
        model: Option.getOrElse(text.model, () => endpoint.model),
        variable: "LLM_CHAIN"
      })
    }
    const keys = steps.map((step) => `${step.provider}/${step.model}`)
    const duplicate = keys.find((key, index) => keys.indexOf(key) !== index)
    if (duplicate !== undefined) return yield* fail("LLM_CHAIN", `"${duplicate}" is listed twice`)
    return { steps, compatible }
  })

const readChain = (providers: Providers) =>
  Effect.flatMap(
    optionalNonBlank("LLM_CHAIN"),
    Option.match({
      onNone: () => Effect.map(readKindChain(providers), (steps) => ({ steps, compatible: {} })),
      onSome: (raw) => readStepChain(providers, raw)
    })
  ).pipe(Effect.tap((chain) => checkNoCompatibleHosted(chain.steps)))

/**
 * A hosted provider of the chain has no `LLM_COMPAT_<KIND>_BASE_URL`: its
 * name calls the hosted adapter, so that URL would be ignored without a
 * word (`<KIND>_BASE_URL` points the adapter elsewhere). The error shows
 * no URL.
 */
const checkNoCompatibleHosted = (steps: ReadonlyArray<ChainStep>) =>
  Effect.forEach(new Set(steps.flatMap((step) => step.kind === "openai-compatible" ? [] : [step.kind])), (kind) => {
    const variable = `${compatiblePrefix(kind)}_BASE_URL`
    const prefix = kind.toUpperCase()
    return Effect.flatMap(optionalNonBlank(variable), (url) =>
      Option.isNone(url) ? Effect.void : fail(
        variable,
        `${kind} is a hosted provider, whose adapter the chain's ${kind} calls, so this URL would be ignored; ` +
          `set ${prefix}_BASE_URL to send ${kind} elsewhere, or give the OpenAI-compatible endpoint another name ` +
          `(LLM_COMPAT_MY_${prefix}_BASE_URL, my-${kind} in LLM_CHAIN)`
      ))
  }, { discard: true })

/** Every hosted kind of the chain needs its key. */
const checkKeys = (providers: Providers, steps: ReadonlyArray<ChainStep>) =>
  Effect.forEach(steps, (step, index) => {
    if (step.kind === "openai-compatible" || Option.isSome(providers[step.kind].apiKey)) return Effect.void
    const role = index === 0 ? "the primary provider" : "a fallback provider"
    return fail(
      providers[step.kind].apiKeyVariable,
      `is required because ${step.kind} is ${role}; set it or change the chain`
    )
  }, { discard: true })

const PriceOverrides = Schema.fromJsonString(Schema.Record(
  Schema.String,
  Schema.Struct({
    default: Schema.optionalKey(Pricing.Price),
    models: Schema.optionalKey(Schema.Record(Schema.String, Pricing.Price))
  })
))

/**
 * Fails with an `LlmConfigError` naming `LLM_PRICES` unless every provider
 * the price table `prices` names is a hosted kind or one of `providers`:
 * for a program that knows every provider it bills under (the gateway: its
 * config's providers), where a key naming none of them is a typo whose
 * prices would never bill. `LlmConfig` itself cannot tell: a provider built
 * in code (`OpenAiCompatible.layer({ name })`, `@baton/ai`'s
 * `LanguageModelProvider`) bills under a name no variable declares.
 *
 * A key pasted as a provider name is `[redacted]` in the error: every key
 * variable of the current `ConfigProvider` and every one of `secrets` (the
 * keys a program reads from variables of its own: the gateway's `apiKeyEnv`).
 *
 * @since 0.1.0
 */
export const checkPricedProviders = (
  prices: Pricing.PriceTable,
  providers: ReadonlySet<string>,
  secrets: ReadonlyArray<Redacted.Redacted> = []
): Effect.Effect<void, LlmConfigError> => {
  const unknown = unknownProviders(Object.keys(prices), providers)[0]
  if (unknown === undefined) return Effect.void
  return hidingKeys(
    fail(
      "LLM_PRICES",
      `prices provider "${excerpt(unknown)}", which no call can bill under; valid providers: ${
        [...new Set([...kinds, ...providers])].join(", ")
      }`
    ),
    secrets
  )
}

/**
 * The names among `names` that are neither a hosted kind nor one of
 * `providers`: the one rule a table keyed by provider is checked by, the
 * prices of `LLM_PRICES` and the limits of a `ProviderThrottle` given to
 * `LlmManager` (through {@link warnUnknownProviders}).
 */
const unknownProviders = (
  names: ReadonlyArray<string>,
  providers: ReadonlySet<string>
): ReadonlyArray<string> => names.filter((name) => !isProviderKind(name) && !providers.has(name))

/**
 * Logs one warning when `option`'s table names providers that are neither
 * a hosted kind nor in the chain `chain`, most likely a typo (`deepsek`),
 * though a provider built in code may bear the name: `LLM_PRICES
 * prices "deepsek": neither a hosted provider nor a step of the chain
 * (deepseek); <consequence>`, `verb` saying what the table does to them
 * and `consequence` what a typo there costs. The text is scrubbed of
 * `secrets`: a key pasted as a provider name is `[redacted]`.
 *
 * @since 0.1.0
 */
export const warnUnknownProviders = (options: {
  readonly option: string
  readonly verb: string
  readonly names: ReadonlyArray<string>
  readonly chain: ReadonlySet<string>
  readonly consequence: string
  readonly secrets: ReadonlyArray<Redacted.Redacted>
}): Effect.Effect<void> => {
  const unknown = unknownProviders(options.names, options.chain)
  return unknown.length === 0 ? Effect.void : Effect.logWarning(scrubSecrets(
    `${options.option} ${options.verb} ${unknown.map((name) => `"${excerpt(name)}"`).join(", ")}: neither a hosted ` +
      `provider nor a step of the chain (${[...options.chain].join(", ")}); ${options.consequence}`,
    options.secrets
  ))
}

/**
 * The providers the chain's steps call, each once: those a program that
 * serves the configured chain alone bills under (`baton serve` without a
 * config file, whose check `baton check` applies with
 * {@link checkPricedProviders}).
 *
 * @since 0.1.0
 */
export const chainProviders = (settings: Settings): ReadonlySet<string> =>
  new Set(settings.steps.map((step) => step.provider))

/**
 * Logs a warning when `LLM_PRICES` prices a provider that is neither a
 * hosted kind nor a step of the configured chain: most likely a typo
 * (`deepsek`), whose prices bill nothing, though a provider built in code
 * under that name would bill by them, so it is no error.
 * `LlmManager.layerConfig` runs it. A key pasted as such a name is
 * `[redacted]`: every key of {@link secrets}, and every key variable set in
 * the environment it runs in (an OpenAI-compatible endpoint's outside the
 * chain too).
 *
 * @since 0.1.0
 */
export const warnUnknownPricedProviders = (settings: Settings): Effect.Effect<void> =>
  // every configured key, an endpoint's outside the chain too: a key pasted as a price's provider is never shown
  Effect.flatMap(configuredKeys, (keys) =>
    warnUnknownProviders({
      option: "LLM_PRICES",
      verb: "prices",
      names: Object.keys(settings.prices),
      chain: chainProviders(settings),
      consequence: "only a provider built in code under that name bills by it",
      secrets: [...secrets(settings), ...keys]
    }))

const readPrices = Effect.flatMap(optionalString("LLM_PRICES"), (json) =>
  Option.match(json, {
    onNone: () => Effect.succeed(Pricing.defaultTable),
    onSome: (text) =>
      Schema.decodeUnknownEffect(PriceOverrides)(text, { onExcessProperty: "error" }).pipe(
        Effect.map((overrides) => Pricing.mergeTables(Pricing.defaultTable, overrides)),
        Effect.catch((error) => fail("LLM_PRICES", firstIssue(error, "").message))
      )
  }))

/**
 * The quota time zone named `zone`, or an `LlmConfigError` for
 * `AI_QUOTA_TIMEZONE` when it is not an IANA zone.
 *
 * @since 0.1.0
 */
export const quotaTimeZone = (zone: string): Effect.Effect<DateTime.TimeZone.Named, LlmConfigError> =>
  namedZone("AI_QUOTA_TIMEZONE", zone)

/** `AI_QUOTA_TIMEZONE`, read and checked: `quotaZone` before its keys are hidden, for `makeWith`. */
const readQuotaZone = Effect.flatMap(
  read("AI_QUOTA_TIMEZONE", Config.String("AI_QUOTA_TIMEZONE").pipe(Config.withDefault("UTC"))),
  (zone) => Effect.as(quotaTimeZone(zone), zone)
)

/** The steps of a path of variables: a name's part (an environment splits names at `_`) or an array's index. */
type Path = ReadonlyArray<string | number>

/** Whether a variable under `path` can start with `prefix`: one of them does, or the path is a start of `prefix`. */
const leadsTo = (path: Path, prefix: string): boolean => {
  const name = path.join("_")
  return name.startsWith(prefix) || prefix.startsWith(`${name}_`)
}

/** What a `ConfigProvider` holds under `node`: a record's keys, an array's indexes. */
const childrenOf = (node: ConfigProvider.Node | undefined): ReadonlyArray<string | number> =>
  node?._tag === "Record"
    ? [...node.keys]
    : node?._tag === "Array"
    ? Array.from({ length: node.length }, (_, i) => i)
    : []

/**
 * The names of the variables `provider` holds that start with `prefix`,
 * from `path` down: an environment holds `LLM_COMPAT_LOCAL_API_KEY` as
 * `LLM`, `COMPAT`, `LOCAL`, ...; a map holds it whole.
 */
const variablesUnder = (
  provider: ConfigProvider.ConfigProvider,
  prefix: string,
  path: Path
): Effect.Effect<ReadonlyArray<string>> =>
  provider.load(path).pipe(
    Effect.flatMap((node) => {
      const name = path.join("_")
      const here = node !== undefined && node.value !== undefined && name.startsWith(prefix) ? [name] : []
      const below = childrenOf(node).map((child) => [...path, child]).filter((child) => leadsTo(child, prefix))
      return Effect.map(
        Effect.forEach(below, (child) => variablesUnder(provider, prefix, child)),
        (found) => [...here, ...found.flat()]
      )
    }),
    Effect.orElseSucceed(() => [])
  )

/** Whether a variable holds an OpenAI-compatible endpoint's key: `LLM_COMPAT_<NAME>_API_KEY`. */
const compatibleKeyVariable = /^LLM_COMPAT_.+_API_KEY$/

/**
 * The value of every key variable set, trimmed as {@link apiKey} reads it:
 * the hosted providers' and every `LLM_COMPAT_<NAME>_API_KEY`, whether the
 * chain names that endpoint or not. With the spellings of it an error
 * repeats when it is a chain step's name: lower-cased (`parseStep`), and as
 * its endpoint's variables name it (`LLM_COMPAT_<NAME>_BASE_URL`). What
 * the configuration's errors are scrubbed of (`Redact.scrubSecrets`), for a
 * program that shows a variable's value (`baton check`'s ledger URL).
 *
 * @since 0.1.0
 */
export const configuredKeys: Effect.Effect<ReadonlyArray<Redacted.Redacted>> = Effect.gen(function*() {
  const keys = yield* environmentKeys
  return keys.flatMap((key) => {
    const value = Redacted.value(key)
    return [value, value.toLowerCase(), compatibleName(value)].map((spelling) =>
      Redacted.make(spelling, { label: key.label })
    )
  })
})

/** The names of the `LLM_COMPAT_` variables set that `pattern` matches. */
const compatibleVariables = (pattern: RegExp): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const names = yield* variablesUnder(yield* ConfigProvider.ConfigProvider, "LLM_COMPAT_", [])
    return names.filter((name) => pattern.test(name))
  })

/**
 * The values of the variables `names` that are set and not blank, trimmed as
 * {@link apiKey} reads them, each labelled with its variable.
 */
const keyValues = (names: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Redacted.Redacted>> =>
  Effect.map(
    Effect.forEach(names, (name) => Effect.option(Config.String(name))),
    (values) =>
      values.flatMap((value, i) => {
        const key = Option.isSome(value) ? value.value.trim() : ""
        return key === "" ? [] : [Redacted.make(key, { label: names[i] })]
      })
  )

/** `Settings.compatibleKeys`: every `LLM_COMPAT_<NAME>_API_KEY` set, the chain's or not. */
const readCompatibleKeys: Effect.Effect<ReadonlyArray<Redacted.Redacted>> = Effect.flatMap(
  compatibleVariables(compatibleKeyVariable),
  keyValues
)

const compatibleUrlVariable = /^LLM_COMPAT_.+_BASE_URL$/

/**
 * The credentials the base URL variables set carry in their queries
 * (`Redact.urlSecrets`: Gemini's `?key=`), each labelled with its variable:
 * keys as much as the `*_API_KEY` values are.
 */
const urlKeys: Effect.Effect<ReadonlyArray<Redacted.Redacted>> = Effect.map(
  Effect.flatMap(
    compatibleVariables(compatibleUrlVariable),
    (compatible) => keyValues([...kinds.map((kind) => `${kind.toUpperCase()}_BASE_URL`), ...compatible])
  ),
  (urls) =>
    urls.flatMap((url) =>
      urlSecrets(Redacted.value(url)).map((secret) => Redacted.make(Redacted.value(secret), { label: url.label }))
    )
)

/**
 * The value of every key variable set in the current `ConfigProvider`,
 * trimmed as {@link apiKey} reads it and labelled with its variable: the
 * hosted providers' (`<PROVIDER>_API_KEY`) and every
 * `LLM_COMPAT_<NAME>_API_KEY`, whatever the chain names, and the
 * credentials a base URL variable's query carries (Gemini's `?key=`). A program that
 * holds them without reading `Settings` (the gateway's config file) checks
 * and scrubs its texts with them; a variable that cannot be read is none.
 *
 * @since 0.1.0
 */
export const environmentKeys: Effect.Effect<ReadonlyArray<Redacted.Redacted>> = Effect.zipWith(
  Effect.flatMap(
    compatibleVariables(compatibleKeyVariable),
    (compatible) => keyValues([...kinds.map(keyVariableOf), ...compatible])
  ),
  urlKeys,
  (keys, inUrls) => [...keys, ...inUrls]
)

/**
 * `effect` with its `LlmConfigError`'s message scrubbed of every configured
 * key's value (`Redact.scrubSecrets`), and of `extra` (keys read from
 * variables of a program's own): a key pasted into another variable
 * (a base URL, a number) is never shown by that variable's error. Every
 * reading of the configuration ends in it (`make`, `layerWithoutChain`,
 * `quotaZone`, `port`, `checkPricedProviders`), so every message, present or future, is covered.
 */
const hidingKeys = <A>(
  effect: Effect.Effect<A, LlmConfigError>,
  extra: ReadonlyArray<Redacted.Redacted> = []
): Effect.Effect<A, LlmConfigError> =>
  Effect.catch(
    effect,
    (error) =>
      Effect.flatMap(configuredKeys, (keys) =>
        Effect.fail(
          new LlmConfigError({ variable: error.variable, message: scrubSecrets(error.message, [...keys, ...extra]) })
        ))
  )

/**
 * `AI_QUOTA_TIMEZONE`, the zone whose midnight resets the daily quotas, read
 * from the current `ConfigProvider` (`UTC` when unset) and checked by
 * `quotaTimeZone`: the one reading of the variable, for `make` and for a
 * tool that needs the quotas' day without the rest of the configuration
 * (no provider key). Its error never shows a configured key's value.
 *
 * @example
 * ```ts
 * import { DateTime, Effect } from "effect"
 * import * as LlmConfig from "@baton/core/LlmConfig"
 * import * as UsageLedger from "@baton/core/UsageLedger"
 *
 * const today = Effect.gen(function*() {
 *   return UsageLedger.dayOf(yield* DateTime.now, yield* LlmConfig.quotaZone)
 * })
 * ```
 *
 * @since 0.1.0
 */
export const quotaZone: Effect.Effect<string, LlmConfigError> = hidingKeys(readQuotaZone)

/** The chain's part of `Settings`: its steps and the OpenAI-compatible endpoints they name. */
type Chain = Pick<Settings, "steps" | "compatible">

/** Reads and checks every variable but the keys the chain requires, its chain read by `readChainOf`. */
const readSettings = Effect.fnUntraced(function*(
  readChainOf: (providers: Providers) => Effect.Effect<Chain, LlmConfigError>
) {
  const providers = yield* Effect.all({
    deepseek: readProvider("deepseek"),
    gemini: readProvider("gemini"),
    openai: readProvider("openai"),
    anthropic: readProvider("anthropic")
  })
  const { compatible, steps } = yield* readChainOf(providers)
  const chain = [...new Set(steps.flatMap((step) => step.kind === "openai-compatible" ? [] : [step.kind]))]
  return {
    steps,
    chain,
    providers,
    compatible,
    compatibleKeys: yield* readCompatibleKeys,
    generationEnabled: yield* bool("AI_GENERATION_ENABLED", true),
    maxQuestionsPerRequest: yield* positiveInt("AI_MAX_QUESTIONS_PER_REQUEST", 20),
    dailyLimitPerTeacher: yield* positiveInt("AI_DAILY_LIMIT_PER_TEACHER", 100),
    quotaTimeZone: yield* readQuotaZone,
    requestTimeoutMs: yield* positiveInt("LLM_REQUEST_TIMEOUT_MS", 60_000),
    attemptTimeoutMs: yield* positiveInt("LLM_ATTEMPT_TIMEOUT_MS", 30_000),
    maxRetries: yield* nonNegativeInt("LLM_MAX_RETRIES", 2),
    retryBaseDelayMs: yield* nonNegativeInt("LLM_RETRY_BASE_DELAY_MS", 250),
    circuitFailureThreshold: yield* positiveInt("LLM_CIRCUIT_FAILURE_THRESHOLD", 5),
    circuitCooldownMs: yield* positiveInt("LLM_CIRCUIT_COOLDOWN_MS", 30_000),
    firstByteTimeoutMs: yield* positiveInt("LLM_FIRST_BYTE_TIMEOUT_MS", 10_000),
    firstTokenTimeoutMs: yield* positiveInt("LLM_FIRST_TOKEN_TIMEOUT_MS", 10_000),
    thinkingFirstTokenTimeoutMs: yield* positiveInt("LLM_THINKING_FIRST_TOKEN_TIMEOUT_MS", 60_000),
    streamIdleTimeoutMs: yield* positiveInt("LLM_STREAM_IDLE_TIMEOUT_MS", 15_000),
    hedgeDelayMs: yield* optionalPositiveInt("LLM_HEDGE_DELAY_MS"),
    structuredOutputRetries: yield* nonNegativeInt("LLM_STRUCTURED_OUTPUT_RETRIES", 1),
    continueOnInterruption: yield* bool("LLM_CONTINUE_ON_INTERRUPTION", true),
    fallbackOnContentFilter: yield* bool("LLM_FALLBACK_ON_CONTENT_FILTER", false),
    redisUrl: yield* optionalRedisUrl,
    usageStoreUrl: yield* optionalDatabaseUrl("LLM_USAGE_STORE_URL"),
    logPrompts: yield* bool("LLM_LOG_PROMPTS", false),
    prices: yield* readPrices,
    maxBodyBytes: yield* optionalPositiveInt("LLM_MAX_BODY_BYTES"),
    maxEventBytes: yield* optionalPositiveInt("LLM_MAX_EVENT_BYTES")
  }
})

/**
 * Reads and checks the configuration, its chain read by `readChainOf`: the
 * keys the chain requires last, so that a missing key is named only when
 * every other variable reads (a bad value is never hidden behind a key the
 * bundled mock would stand in for), and no message shows a key.
 */
const makeWith = (
  readChainOf: (providers: Providers) => Effect.Effect<Chain, LlmConfigError>
): Effect.Effect<Settings, LlmConfigError> =>
  hidingKeys(Effect.tap(readSettings(readChainOf), (settings) => checkKeys(settings.providers, settings.steps)))

/**
 * Reads and checks the whole configuration from the current `ConfigProvider`:
 * every variable, then the keys the chain requires, so that a missing key is
 * named only when nothing else is wrong. No error shows a configured key.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<Settings, LlmConfigError> = makeWith(readChain)

/**
 * The configuration read from the current `ConfigProvider` (the environment
 * by default). Fails to build with an `LlmConfigError` naming the variable.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<LlmConfig, LlmConfigError> = Layer.effect(LlmConfig, make)

/**
 * As `layer`, without the chain: for a program that brings its own providers
 * (a gateway's config file) and takes the rest (policies, limits, quotas,
 * stores, prices) from the environment. No chain variable is read and no
 * provider key is required: `steps`, `chain` and `compatible` are empty;
 * `providers` holds each hosted provider's settings (its key when set).
 * `LLM_PRICES` may name the program's own providers: the program checks it
 * with {@link checkPricedProviders} once it knows them (the gateway does).
 *
 * @since 0.1.0
 */
export const layerWithoutChain: Layer.Layer<LlmConfig, LlmConfigError> = Layer.effect(
  LlmConfig,
  makeWith(() => Effect.succeed({ steps: [], compatible: {} }))
)

/**
 * The configuration read from an explicit map of variables, ignoring the
 * environment (tests, embedded use).
 *
 * @since 0.1.0
 */
export const layerFromRecord = (variables: Readonly<Record<string, string>>): Layer.Layer<LlmConfig, LlmConfigError> =>
  layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(variables))))

/**
 * The pricing service built from the configured price table.
 *
 * @since 0.1.0
 */
export const layerPricing: Layer.Layer<Pricing.Pricing, never, LlmConfig> = Layer.effect(
  Pricing.Pricing,
  LlmConfig.useSync((settings) => Pricing.make(settings.prices))
)
