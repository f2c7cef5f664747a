/**
 * Token usage and its cost, as the provider billed it.
 *
 * Every result carries a `TokenUsage` mapped from the provider's own usage
 * fields, priced by `Pricing`. Only when a provider reports no usage at all
 * (an OpenAI-compatible server without stream usage), or reports it in part
 * (a stream that stops, or ends, before its whole usage came; a Gemini
 * usage without the output's count), are the counts estimated from the text
 * and the streamed reasoning, four characters a token ({@link estimate}; a
 * provider's provisional counts raised to it), and the usage says so with
 * `estimated: true` (as do the request-log record and the ledger row), so
 * the call is still charged:
 *
 * - `promptTokens` counts every input token, cached ones included;
 *   `cachedPromptTokens` is the cached part of it (a cached count reported
 *   above `promptTokens`, as an OpenAI-compatible proxy can send, is taken as
 *   all of it, and priced so).
 * - `completionTokens` counts every billed output token, reasoning included;
 *   `reasoningTokens` is the reasoning part of it.
 * - `costNanoUsd` is the exact cost as an integer number of nano-USD
 *   (1 USD = 1e9), so sums over millions of calls never drift;
 *   `estimatedCostUsd` is the same value in dollars, for display.
 * - `pricing` says where the price came from: the model's own row of the price
 *   table, the provider's default row because the model has none, or nothing
 *   (an endpoint with no price configured, costed at 0).
 *
 * Integer nano-USD stays exact up to about 9 million USD per value
 * (`Number.MAX_SAFE_INTEGER`); aggregate in the database beyond that.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A token count or an amount of nano-USD: an integer, 0 or more.
 *
 * @since 0.1.0
 */
export const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * The counted fields of a usage (tokens and exact cost), shared by every
 * record that carries usage: log records, ledger rows and their sums.
 *
 * @since 0.1.0
 */
export const countFields = {
  promptTokens: Count,
  completionTokens: Count,
  totalTokens: Count,
  cachedPromptTokens: Count,
  reasoningTokens: Count,
  costNanoUsd: Count
}

/**
 * Where the price of a usage came from.
 *
 * @since 0.1.0
 */
export const PriceSource = Schema.Literals(["model", "provider-default", "unpriced"])

/** @since 0.1.0 */
export type PriceSource = typeof PriceSource.Type

/**
 * Token counts and cost of one provider call (or of several, summed).
 *
 * @since 0.1.0
 */
export const TokenUsage = Schema.Struct({
  ...countFields,
  /**
   * True when the counts are Baton's estimate (prompt, answer text and streamed reasoning, four characters a
   * token), or a provider's provisional counts raised to it (a stream that stopped, or ended, before its whole
   * usage came; a reply without its output's count).
   */
  estimated: Schema.optionalKey(Schema.Boolean),
  estimatedCostUsd: Schema.Finite,
  pricing: PriceSource
})

/** @since 0.1.0 */
export type TokenUsage = typeof TokenUsage.Type

/**
 * Token counts as a provider reports them, before pricing. Missing fields
 * mean the provider did not report them and count as 0.
 *
 * @since 0.1.0
 */
export interface TokenCounts {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly cachedPromptTokens?: number | undefined
  readonly reasoningTokens?: number | undefined
}

/** Nano-USD in one USD. @since 0.1.0 */
export const NANO_USD_PER_USD = 1_000_000_000

/**
 * Converts an integer nano-USD amount to dollars.
 *
 * @since 0.1.0
 */
export const nanoUsdToUsd = (nanoUsd: number): number => nanoUsd / NANO_USD_PER_USD

/**
 * The cached part of the prompt, within `[0, promptTokens]` whatever was
 * reported: what the usage keeps and `Pricing.costNanoUsd` bills.
 *
 * @since 0.1.0
 */
export const cachedPart = (counts: TokenCounts): number => {
  const prompt = counts.promptTokens
  const cached = counts.cachedPromptTokens ?? 0
  return cached > 0 && prompt > 0 ? (cached < prompt ? cached : prompt) : 0
}

/** The reasoning part of the output, within `[0, completionTokens]` whatever was reported. */
const reasoningPart = (counts: TokenCounts): number => {
  const reasoning = counts.reasoningTokens ?? 0
  return reasoning > 0 ? Math.min(reasoning, counts.completionTokens) : 0
}

/**
 * Usage with the given counts and cost. The cached count is kept within
 * `[0, promptTokens]`, the reasoning count within `[0, completionTokens]`
 * (each is a part of the other).
 *
 * @since 0.1.0
 */
export const make = (counts: TokenCounts, costNanoUsd: number, pricing: PriceSource): TokenUsage => ({
  promptTokens: counts.promptTokens,
  completionTokens: counts.completionTokens,
  totalTokens: counts.promptTokens + counts.completionTokens,
  cachedPromptTokens: cachedPart(counts),
  reasoningTokens: reasoningPart(counts),
  costNanoUsd,
  estimatedCostUsd: nanoUsdToUsd(costNanoUsd),
  pricing
})

/** Characters per token of the estimate: the usual rule of thumb for English text. */
const CHARS_PER_TOKEN = 4

/**
 * Token counts estimated from text, for a provider that reported none (or a
 * stream stopped before its whole usage): the
 * prompt's characters and the answer's, four to a token, rounded up, and
 * `reasoningCharacters` of reasoning the model streamed (output tokens too).
 *
 * @since 0.1.0
 */
export const estimate = (
  prompt: ReadonlyArray<string>,
  completion: string,
  reasoningCharacters = 0
): TokenCounts => {
  const reasoningTokens = Math.ceil(reasoningCharacters / CHARS_PER_TOKEN)
  return {
    promptTokens: Math.ceil(prompt.reduce((chars, text) => chars + text.length, 0) / CHARS_PER_TOKEN),
    completionTokens: Math.ceil(completion.length / CHARS_PER_TOKEN) + reasoningTokens,
    reasoningTokens
  }
}

/**
 * No tokens, no cost: the neutral start of a sum (its price source is the
 * most certain one, so it never lowers the certainty of what is added to it).
 *
 * @since 0.1.0
 */
export const zero: TokenUsage = make({ promptTokens: 0, completionTokens: 0 }, 0, "model")

/**
 * The sum of two usages; exact, because costs are integers. The price source
 * of a sum is the least certain of the two.
 *
 * @since 0.1.0
 */
export const add = (self: TokenUsage, that: TokenUsage): TokenUsage => {
  const sum = make(
    {
      promptTokens: self.promptTokens + that.promptTokens,
      completionTokens: self.completionTokens + that.completionTokens,
      cachedPromptTokens: self.cachedPromptTokens + that.cachedPromptTokens,
      reasoningTokens: self.reasoningTokens + that.reasoningTokens
    },
    self.costNanoUsd + that.costNanoUsd,
    leastCertain(self.pricing, that.pricing)
  )
  return self.estimated === true || that.estimated === true ? { ...sum, estimated: true } : sum
}

const certainty: Record<PriceSource, number> = { model: 2, "provider-default": 1, unpriced: 0 }

const leastCertain = (a: PriceSource, b: PriceSource): PriceSource => certainty[a] <= certainty[b] ? a : b
