/**
 * The knobs of one generation, validated before any network call.
 *
 * | field | default | rule |
 * | --- | --- | --- |
 * | `temperature` | 0.7 | finite, 0..2, or `"provider"` |
 * | `maxTokens` | 2000 (`defaultMaxTokens`) | integer from 1 to `maxTokensLimit` (10,000,000), or `"provider"` |
 * | `model` | the provider's configured model | non-empty |
 * | `responseFormat` | `"text"` | `"text"` or `"json"` (OpenAI, DeepSeek, compatible: `json_object`; Gemini: `application/json`; Anthropic, which has no JSON mode: an instruction in the system prompt) |
 * | `system` | none | a system prompt put before the messages |
 * | `stop` | none | 1-4 non-empty stop sequences, no lone surrogate: the answer ends before the first one the model completes (finish reason `"stop"`); Baton cuts it itself for the models that reject `stop` (OpenAI's o3, o4-mini, gpt-5), and on Anthropic at the sequences of whitespace alone, which it refuses |
 * | `seed` | none | integer; best effort where the provider supports it |
 * | `reasoning` | the model's own | `"none"`, `"low"`, `"medium"` or `"high"`: how much a reasoning model thinks before it answers ({@link Reasoning}) |
 * | `timeout` | the configured deadline | positive; milliseconds or a duration string (`"30 seconds"`) |
 * | `rescue` | `"auto"` | `"auto"`, `"restart"` or `"none"`: how `LlmManager.stream` completes an answer broken after its first delta (see `FallbackPolicy`) |
 *
 * The ranges are the widest any provider takes; a provider that takes less
 * for a model (Anthropic's temperature 0..1) rejects it and the manager falls
 * back (see `ErrorPolicy`). OpenAI's gpt-5 and o-series models and Claude
 * models after Opus 4.6, which take only their default temperature, are sent
 * none (`OpenAi`, `Anthropic`).
 *
 * `"provider"` ({@link ProviderDefault}) leaves `temperature` or `maxTokens`
 * to the provider: the field is not sent and the model's own default
 * applies (its whole output window; its default temperature, the only one
 * OpenAI's gpt-5 and o-series models take). Anthropic requires `max_tokens`,
 * so it is sent 4096 there (LiteLLM's fallback). The OpenAI gateway asks for
 * `"provider"` when its client leaves a field out; a throttle's token
 * estimate counts such a limit as 2000 (`ProviderThrottle.estimateTokens`).
 *
 * `decode` turns what a caller wrote (`Input`) into `GenerationOptions` or an
 * `InvalidOptions` naming the field, so a bad value never reaches a provider.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as GenerationOptions from "@baton/core/GenerationOptions"
 *
 * const options = GenerationOptions.decode({ temperature: 0.2, timeout: "20 seconds" })
 * // Effect<GenerationOptions, InvalidOptions>
 * ```
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schema } from "effect"
import { ModelId } from "./Ids.ts"
import { firstIssue } from "./internal/schemaIssue.ts"
import { InvalidOptions } from "./LlmError.ts"

/**
 * The largest `maxTokens` accepted: far above any model's output limit, low
 * enough that token estimates and budgets stay exact integers.
 *
 * @since 0.1.0
 */
export const maxTokensLimit = 10_000_000

/**
 * The `maxTokens` of a caller who gives none.
 *
 * @since 0.1.0
 */
export const defaultMaxTokens = 2000

/**
 * The value that leaves `maxTokens` or `temperature` to the provider: the
 * field is not sent (Anthropic, which requires `max_tokens`, gets 4096).
 *
 * @since 0.1.0
 */
export const ProviderDefault = Schema.Literal("provider")

/** @since 0.1.0 */
export type ProviderDefault = typeof ProviderDefault.Type

const PositiveDuration = Schema.Union([Schema.DurationFromMillis, Schema.DurationFromString]).check(
  Schema.makeFilter((d: Duration.Duration) =>
    Duration.isGreaterThan(d, Duration.zero) || "Expected a positive duration"
  )
)

/**
 * A stop sequence: not empty, and no lone surrogate (with the `u` flag a
 * pair is one code point, outside the range). A model never writes half a
 * character, so such a sequence would never match, and Baton's own cut
 * (OpenAI's reasoning models) would split a character at it.
 */
const StopSequence = Schema.NonEmptyString.check(
  Schema.makeFilter((text: string) =>
    !/[\uD800-\uDFFF]/u.test(text) || "Expected a stop sequence without a lone surrogate"
  )
)

/**
 * How much a reasoning model thinks before it answers, one scale for every
 * provider: `"none"` answers at once, where the model can (DeepSeek's
 * thinking mode off, Gemini 2.5 Flash's budget 0, OpenAI's gpt-5.1 and later
 * `"none"`, Claude's thinking off); a model that always thinks gets its least
 * (OpenAI's o-series `"low"`, gpt-5 `"minimal"`, Gemini's Pro models their
 * lowest). `"low"`, `"medium"` and `"high"` ask for more, each provider in its
 * own terms (see its adapter). Left out, nothing is sent and the model
 * decides (DeepSeek's current models think by default). Thinking is billed
 * as output and counts against `maxTokens` on most providers, so a small
 * `maxTokens` with much thinking can leave an empty answer (finish reason
 * `"length"`). A model that does not reason is sent nothing. Through
 * `LlmManager` the level also sets the first token's time limit
 * (`FallbackPolicy.firstTokenLimit`): the thinking one for `"low"`,
 * `"medium"` and `"high"`, the plain one for `"none"` where the provider
 * turns thinking fully off.
 *
 * @since 0.1.0
 */
export const Reasoning = Schema.Literals(["none", "low", "medium", "high"])

/** @since 0.1.0 */
export type Reasoning = typeof Reasoning.Type

const Temperature = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 2 }))

const MaxTokens = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: maxTokensLimit }))

/**
 * The options schema. Its `Encoded` side is what callers write.
 *
 * @since 0.1.0
 */
export const GenerationOptions = Schema.Struct({
  temperature: Schema.Union([Temperature, ProviderDefault]).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0.7))),
  maxTokens: Schema.Union([MaxTokens, ProviderDefault]).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(defaultMaxTokens))
  ),
  model: Schema.optionalKey(ModelId),
  responseFormat: Schema.optionalKey(Schema.Literals(["text", "json"])),
  system: Schema.optionalKey(Schema.String),
  stop: Schema.optionalKey(Schema.Array(StopSequence).check(Schema.isBetweenLength(1, 4))),
  seed: Schema.optionalKey(Schema.Int),
  reasoning: Schema.optionalKey(Reasoning),
  timeout: Schema.optionalKey(PositiveDuration),
  rescue: Schema.optionalKey(Schema.Literals(["auto", "restart", "none"]))
})

/**
 * Decoded options: defaults filled in, every value checked.
 *
 * @since 0.1.0
 */
export type GenerationOptions = typeof GenerationOptions.Type

/**
 * Options as a caller writes them.
 *
 * @since 0.1.0
 */
export type Input = typeof GenerationOptions.Encoded

const decodeOptions = Schema.decodeUnknownEffect(GenerationOptions)

/**
 * Checks options and fills in defaults, failing with `InvalidOptions` that
 * names the first bad field.
 *
 * @since 0.1.0
 */
export const decode = (input: unknown = {}): Effect.Effect<GenerationOptions, InvalidOptions> =>
  decodeOptions(input ?? {}).pipe(
    Effect.mapError((error) => new InvalidOptions(firstIssue(error, "options")))
  )

/**
 * The defaults alone.
 *
 * @since 0.1.0
 */
export const defaults: GenerationOptions = Schema.decodeUnknownSync(GenerationOptions)({})
