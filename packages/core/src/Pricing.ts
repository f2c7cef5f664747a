/**
 * Prices per provider and model, and the exact cost of a call.
 *
 * A price is USD per 1M tokens for uncached input, cached input and output
 * (reasoning tokens are output: every provider bills them so). Each provider
 * has a default row, used for any model the table does not list, and rows for
 * the models Baton knows; the result says which row priced it
 * (`usage.pricing`). Configuration overrides both (see `LlmConfig`).
 *
 * Costs are computed in integer nano-USD with one rounding (half up) per call,
 * so a ledger that sums them is exact to the nano-USD however many calls it
 * holds.
 *
 * Gotchas:
 * - The provider defaults are the ones Baton was specified with (DeepSeek
 *   $0.14 / $0.28, Gemini $0.075 / $0.30, OpenAI $3 / $15, Anthropic $3 / $15):
 *   conservative placeholders for unknown models, not any model's list price.
 * - DeepSeek bills more at peak hours (01-04 and 06-10 UTC on weekdays); the
 *   table holds the peak price so budgets are never under-estimated.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Pricing from "@baton/core/Pricing"
 * import * as Ids from "@baton/core/Ids"
 *
 * const program = Effect.gen(function*() {
 *   const pricing = yield* Pricing.Pricing
 *   const usage = pricing.usage(Ids.ProviderName.make("deepseek"), Ids.ModelId.make("deepseek-flash"), {
 *     promptTokens: 1200,
 *     completionTokens: 300
 *   })
 *   return usage.estimatedCostUsd
 * }).pipe(Effect.provide(Pricing.layerDefault))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Layer, Schema } from "effect"
import type { ModelId, ProviderName } from "./Ids.ts"
import * as TokenUsage from "./TokenUsage.ts"

/** At most $1,000,000 per 1M tokens: any real price, and a cost that stays an exact integer of nano-USD. */
const UsdPerMillion = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000 }))

/**
 * USD per 1M tokens. `cachedInput` defaults to `input` when a provider gives
 * no cache discount.
 *
 * @since 0.1.0
 */
export const Price = Schema.Struct({
  input: UsdPerMillion,
  cachedInput: Schema.optionalKey(UsdPerMillion),
  output: UsdPerMillion
})

/** @since 0.1.0 */
export type Price = typeof Price.Type

/**
 * The prices of one provider: a default row and rows per model.
 *
 * @since 0.1.0
 */
export interface ProviderPrices {
  readonly default: Price
  readonly models: Readonly<Record<string, Price>>
}

/**
 * Prices of every provider, keyed by provider name.
 *
 * @since 0.1.0
 */
export type PriceTable = Readonly<Record<string, ProviderPrices>>

/**
 * The table Baton ships: the specified provider defaults and the public list
 * prices (late 2026) of the models each adapter uses by default and their
 * common siblings.
 *
 * @since 0.1.0
 */
export const defaultTable: PriceTable = {
  deepseek: {
    default: { input: 0.14, output: 0.28 },
    models: {
      "deepseek-flash": { input: 0.30, cachedInput: 0.006, output: 1.20 },
      "deepseek-v4-pro": { input: 1.32, cachedInput: 0.044, output: 3.96 }
    }
  },
  gemini: {
    default: { input: 0.075, output: 0.30 },
    models: {
      "gemini-2.5-flash": { input: 0.30, output: 2.50 },
      "gemini-2.5-flash-lite": { input: 0.10, output: 0.40 },
      "gemini-3.5-flash": { input: 1.50, output: 9.00 },
      "gemini-3.8-flash": { input: 0.75, output: 3.75 }
    }
  },
  openai: {
    default: { input: 3, output: 15 },
    models: {
      "gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.60 },
      "gpt-4.1": { input: 2.00, cachedInput: 0.50, output: 8.00 },
      "gpt-5": { input: 1.25, cachedInput: 0.125, output: 10.00 },
      "gpt-5.6-luna": { input: 0.20, cachedInput: 0.02, output: 1.20 }
    }
  },
  anthropic: {
    default: { input: 3, output: 15 },
    models: {
      "claude-haiku-4-5": { input: 1.00, cachedInput: 0.10, output: 5.00 },
      "claude-sonnet-4-6": { input: 3.00, cachedInput: 0.30, output: 15.00 },
      "claude-sonnet-5-5": { input: 2.00, cachedInput: 0.10, output: 10.00 },
      "claude-haiku-5-5": { input: 0.10, cachedInput: 0.01, output: 0.50 }
    }
  }
}

/**
 * A table with `overrides` laid over `base`: a provider's default row is
 * replaced when the override gives one, model rows are merged.
 *
 * @since 0.1.0
 */
export const mergeTables = (
  base: PriceTable,
  overrides: Readonly<Record<string, Partial<ProviderPrices>>>
): PriceTable => {
  const merged: Record<string, ProviderPrices> = { ...base }
  for (const [provider, override] of Object.entries(overrides)) {
    const current = merged[provider]
    const fallbackDefault = override.default ?? current?.default ?? { input: 0, output: 0 }
    merged[provider] = {
      default: fallbackDefault,
      models: { ...current?.models, ...override.models }
    }
  }
  return merged
}

/**
 * The price row for a model and where it came from.
 *
 * @since 0.1.0
 */
export const lookup = (
  table: PriceTable,
  provider: ProviderName,
  model: ModelId
): { readonly price: Price; readonly source: TokenUsage.PriceSource } => {
  const prices = table[provider]
  if (prices === undefined) return { price: { input: 0, output: 0 }, source: "unpriced" }
  const row = prices.models[model]
  return row === undefined ? { price: prices.default, source: "provider-default" } : { price: row, source: "model" }
}

const NANO_PER_USD = 1_000_000_000
const MILLION = 1_000_000
const HALF_MILLION = MILLION / 2
const MILLION_N = BigInt(MILLION)
const HALF_MILLION_N = BigInt(HALF_MILLION)

const nanoUsdPerMillion = (usdPerMillion: number): number => Math.round(usdPerMillion * NANO_PER_USD)

/** Three values in the order of the terms: uncached prompt, cached prompt, completion. */
type Terms = readonly [number, number, number]

/** True when every one is a non-negative safe integer. */
const allNaturals = (values: Terms): boolean => {
  for (const value of values) if (!(Number.isSafeInteger(value) && value >= 0)) return false
  return true
}

/**
 * `Σ tokens × rates + 500,000`, divided by a million in `bigint` (truncated
 * toward zero), from the counts as given: `prompt` includes `cached`, and
 * every product may pass 2^53.
 */
const scaledInBigint = (prompt: number, cached: number, completion: number, [x, y, z]: Terms): number => {
  const cachedN = BigInt(cached)
  return Number(
    ((BigInt(prompt) - cachedN) * BigInt(x) + cachedN * BigInt(y) + BigInt(completion) * BigInt(z) + HALF_MILLION_N) /
      MILLION_N
  )
}

/**
 * The exact cost of some token counts at a price, in integer nano-USD,
 * rounded half up once.
 *
 * @since 0.1.0
 */
export const costNanoUsd = (price: Price, counts: TokenUsage.TokenCounts): number => {
  const cached = counts.cachedPromptTokens ?? 0
  const tokens: Terms = [counts.promptTokens - cached, cached, counts.completionTokens]
  const rates: Terms = [
    nanoUsdPerMillion(price.input),
    nanoUsdPerMillion(price.cachedInput ?? price.input),
    nanoUsdPerMillion(price.output)
  ]
  const scaled = tokens[0] * rates[0] + tokens[1] * rates[1] + tokens[2] * rates[2] + HALF_MILLION
  // non-negative integers: exact in a `number` while the sum stays within 2^53 (every term is then smaller too)
  return scaled <= Number.MAX_SAFE_INTEGER && allNaturals(tokens) && allNaturals(rates)
    ? (scaled - (scaled % MILLION)) / MILLION
    : scaledInBigint(counts.promptTokens, cached, counts.completionTokens, rates)
}

/**
 * The pricing service: turns a provider's token counts into a priced
 * `TokenUsage`.
 *
 * @since 0.1.0
 */
export class Pricing extends Context.Service<Pricing, {
  readonly table: PriceTable
  readonly usage: (provider: ProviderName, model: ModelId, counts: TokenUsage.TokenCounts) => TokenUsage.TokenUsage
}>()("@baton/core/Pricing") {}

/**
 * A pricing service over the given table.
 *
 * @since 0.1.0
 */
export const make = (table: PriceTable): Pricing["Service"] =>
  Pricing.of({
    table,
    usage: (provider, model, counts) => {
      const { price, source } = lookup(table, provider, model)
      return TokenUsage.make(counts, costNanoUsd(price, counts), source)
    }
  })

/**
 * A layer with the given table.
 *
 * @since 0.1.0
 */
export const layerTable = (table: PriceTable): Layer.Layer<Pricing> => Layer.succeed(Pricing, make(table))

/**
 * A layer with Baton's {@link defaultTable}.
 *
 * @since 0.1.0
 */
export const layerDefault: Layer.Layer<Pricing> = layerTable(defaultTable)

/**
 * Reads the current pricing service and prices some counts.
 *
 * @since 0.1.0
 */
export const usage = (provider: ProviderName, model: ModelId, counts: TokenUsage.TokenCounts) =>
  Pricing.useSync((pricing) => pricing.usage(provider, model, counts))
