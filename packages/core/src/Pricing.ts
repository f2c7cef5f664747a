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
 * A table with `overrides` laid over `base`. Each row an override gives (a
 * provider's default row, a model's row) is laid over the row it replaces,
 * field by field: a row given without `cachedInput` keeps the replaced row's
 * cached-input rate, capped at the row's new `input` rate (a cached token
 * never costs more than an uncached one). To bill a model's cached tokens at
 * its full input rate, give `cachedInput` equal to `input`. Neither table is
 * changed.
 *
 * @since 0.1.0
 */
export const mergeTables = (
  base: PriceTable,
  overrides: Readonly<Record<string, Partial<ProviderPrices>>>
): PriceTable => {
  const merged: Record<string, ProviderPrices> = { ...base }
  for (const [provider, override] of Object.entries(overrides)) {
    const current = Object.hasOwn(base, provider) ? base[provider] : undefined
    const models: Record<string, Price> = { ...current?.models }
    for (const [model, row] of Object.entries(override.models ?? {})) {
      setOwn(models, model, layRow(Object.hasOwn(models, model) ? models[model] : undefined, row))
    }
    setOwn(merged, provider, {
      default: override.default === undefined
        ? current?.default ?? { input: 0, output: 0 }
        : layRow(current?.default, override.default),
      models
    })
  }
  return merged
}

/** `row` over `replaced`: the cached-input rate `row` leaves out is `replaced`'s, at most `row`'s input rate. */
const layRow = (replaced: Price | undefined, row: Price): Price =>
  row.cachedInput !== undefined || replaced?.cachedInput === undefined
    ? row
    : { input: row.input, cachedInput: Math.min(replaced.cachedInput, row.input), output: row.output }

/** Sets an own entry, whatever the key (an assignment to `__proto__` would replace the prototype instead). */
const setOwn = <A>(record: Record<string, A>, key: string, value: A): void => {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true })
}

const unpriced: { readonly price: Price; readonly source: TokenUsage.PriceSource } = {
  price: { input: 0, output: 0 },
  source: "unpriced"
}

/**
 * The price row for a model and where it came from. Only a table's own
 * entries count: a model or provider named like a property every object
 * inherits (`constructor`, `toString`, `__proto__`) is looked up like any
 * other name.
 *
 * @since 0.1.0
 */
export const lookup = (
  table: PriceTable,
  provider: ProviderName,
  model: ModelId
): { readonly price: Price; readonly source: TokenUsage.PriceSource } => {
  const prices = Object.hasOwn(table, provider) ? table[provider] : undefined
  if (prices === undefined) return unpriced
  const row = Object.hasOwn(prices.models, model) ? prices.models[model] : undefined
  return row === undefined ? { price: prices.default, source: "provider-default" } : { price: row, source: "model" }
}

const NANO_PER_USD = 1_000_000_000
const MILLION = 1_000_000
const HALF_MILLION = MILLION / 2
const MILLION_N = BigInt(MILLION)
const HALF_MILLION_N = BigInt(HALF_MILLION)

const nanoUsdPerMillion = (usdPerMillion: number): number => Math.round(usdPerMillion * NANO_PER_USD)

const MAX_SAFE_N = BigInt(Number.MAX_SAFE_INTEGER)

/** True for a non-negative safe integer. */
const isNatural = (value: number): boolean => Number.isSafeInteger(value) && value >= 0

/**
 * A count or rate as a non-negative `bigint`: 0 for a negative or `NaN`
 * value, a fraction truncated, an infinity the largest double (every cost is
 * capped at the end anyway), so no value throws.
 */
const natural = (value: number): bigint =>
  value > 0 ? BigInt(Number.isFinite(value) ? Math.floor(value) : Number.MAX_VALUE) : 0n

/**
 * `Σ tokens × rates + 500,000`, divided by a million in `bigint` (truncated
 * toward zero) and capped at `Number.MAX_SAFE_INTEGER`, from the counts as
 * given: `prompt` includes `cached` (`cached <= prompt`), and every product
 * may pass 2^53.
 */
const scaledInBigint = (
  prompt: number,
  cached: number,
  completion: number,
  uncachedRate: number,
  cachedRate: number,
  completionRate: number
): number => {
  const cachedN = natural(cached)
  const cost = ((natural(prompt) - cachedN) * natural(uncachedRate) + cachedN * natural(cachedRate) +
    natural(completion) * natural(completionRate) + HALF_MILLION_N) / MILLION_N
  return cost > MAX_SAFE_N ? Number.MAX_SAFE_INTEGER : Number(cost)
}

/**
 * The exact cost of some token counts at a price, in integer nano-USD,
 * rounded half up once.
 *
 * The cached tokens are part of the prompt's: a cached count above the
 * prompt's (an OpenAI-compatible proxy can report one) is billed as the whole
 * prompt cached, a negative one as none. A cost past
 * `Number.MAX_SAFE_INTEGER` nano-USD (about $9M for one call: only absurd
 * counts or prices reach it) is capped there, so it is always a safe integer,
 * 0 or more (Baton's adapters read no count above a billion tokens).
 *
 * @since 0.1.0
 */
export const costNanoUsd = (price: Price, counts: TokenUsage.TokenCounts): number => {
  const prompt = counts.promptTokens
  const cached = TokenUsage.cachedPart(counts)
  const uncached = prompt - cached
  const completion = counts.completionTokens
  const uncachedRate = nanoUsdPerMillion(price.input)
  const cachedRate = nanoUsdPerMillion(price.cachedInput ?? price.input)
  const completionRate = nanoUsdPerMillion(price.output)
  const scaled = uncached * uncachedRate + cached * cachedRate + completion * completionRate + HALF_MILLION
  // non-negative integers: exact in a `number` while the sum stays within 2^53 (every term is then smaller too)
  return scaled <= Number.MAX_SAFE_INTEGER && isNatural(uncached) && isNatural(cached) && isNatural(completion) &&
      isNatural(uncachedRate) && isNatural(cachedRate) && isNatural(completionRate)
    ? (scaled - (scaled % MILLION)) / MILLION
    : scaledInBigint(prompt, cached, completion, uncachedRate, cachedRate, completionRate)
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
