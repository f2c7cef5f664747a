/**
 * Prices per provider and model, and the exact cost of a call.
 *
 * A price is USD per 1M tokens for uncached input, cached input and output
 * (reasoning tokens are output: every provider bills them so). Each provider
 * has a default row, used for any model the table does not list, and rows for
 * the models Baton knows; the result says which row priced it
 * (`usage.pricing`). Configuration overrides both (see `LlmConfig`).
 *
 * A row may carry a long-context tier (`longContext`): a prompt of more than
 * `above` tokens bills the whole call, uncached input, cached input and
 * output, at the row's rates times the tier's multipliers. That is how the
 * providers apply theirs: the threshold is on the request's input tokens,
 * cached ones included (output tokens never count toward it), and once a
 * prompt crosses it every token of the call costs the higher rate, not only
 * the tokens past it. A tier's cached input follows its `input` multiplier
 * unless it gives its own (a cached token is an input token). The shipped
 * table has the tiers of Baton's price sources: `gpt-5.6-luna` 2x input and
 * 1.5x output above 272K (272,000) prompt tokens, `claude-haiku-5-5` 5x
 * above 100K; a multiplier given without saying which rates it applies to
 * (haiku's "5x") is read as applying to all three, so a budget is never
 * under-estimated.
 *
 * Costs are computed in integer nano-USD with one rounding (half up) per call,
 * so a ledger that sums them is exact to the nano-USD however many calls it
 * holds. `make` turns every row into its nano-USD rates once, so pricing a
 * call is a lookup, a comparison and a sum.
 *
 * Gotchas:
 * - A provider's default row is at least as dear as every row the shipped
 *   table lists for that provider, rate by rate (input, cached input and
 *   output, a tier's rates included), so a model the table does not know
 *   (a new one, a legacy name such as `deepseek-v4-flash`) is never billed
 *   below one it knows: DeepSeek's is `deepseek-v4-pro`'s peak $1.32 /
 *   $0.044 cached / $3.96, Gemini's `gemini-3.5-flash`'s $1.50 / $9.00,
 *   OpenAI's and Anthropic's the $3 / $15 Baton was specified with. A
 *   default is an upper bound for budgets, not any model's list price: give
 *   a model you use its own row (`LLM_PRICES`).
 * - DeepSeek bills more at peak hours (01-04 and 06-10 UTC on weekdays); the
 *   table holds the peak price so budgets are never under-estimated.
 * - `gemini-3.8-flash` doubles on 2027-01-01 ($0.75 / $3.75 before); the
 *   table holds the 2027 price, $1.50 / $7.50, for the same reason.
 * - A known under-estimate: Anthropic bills a cache write
 *   (`cache_creation_input_tokens`) at 1.25x the input rate (5-minute cache)
 *   or 2x (1-hour), but a price row has no write rate: written tokens are
 *   counted as prompt tokens and billed at the plain input rate, short by
 *   0.25x or 1x the input rate on each. Baton never sends `cache_control`,
 *   so a call straight to Anthropic writes nothing; writes appear only
 *   behind a proxy that adds cache breakpoints, or from another
 *   Anthropic-format server. `LLM_PRICES` cannot correct it: once counted, a
 *   written token is not told apart from any other uncached prompt token,
 *   and the only bound it can give is an `input` rate of 2x the list price,
 *   which over-bills every other uncached token as much.
 * - An override row without `cachedInput` keeps the cached rate of the row
 *   it replaces, at most its own `input` (see {@link mergeTables}), a
 *   provider's `default` row too: `LLM_PRICES`
 *   `{"deepseek":{"default":{"input":5,"output":10}}}` bills 1M cached
 *   tokens of a model the table does not list at the shipped default's
 *   $0.044, not $5. Raising a default, give its `cachedInput` as well.
 * - A row has at most one tier, its multipliers between 1 and 100 and its
 *   threshold a positive integer (`LLM_PRICES` refuses anything else with an
 *   `LlmConfigError`). An override row without `longContext` keeps the tier of
 *   the row it replaces (see {@link mergeTables}); multipliers of 1 turn it
 *   off.
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

/** At least 1 (a longer prompt never costs less a token) and at most 100 (past any real surcharge). */
const Multiplier = Schema.Finite.check(Schema.isBetween({ minimum: 1, maximum: 100 }))

/**
 * A long-context tier: a prompt of more than `above` tokens (cached ones
 * included) bills the whole call at its row's rates times these multipliers.
 * `above` is a positive integer; `cachedInput` defaults to `input`.
 *
 * @example
 * ```ts
 * import * as Pricing from "@baton/core/Pricing"
 *
 * // 2x input (cached too) and 1.5x output once the prompt is above 272,000 tokens
 * const luna: Pricing.Price = {
 *   input: 0.20,
 *   cachedInput: 0.02,
 *   output: 1.20,
 *   longContext: { above: 272_000, input: 2, output: 1.5 }
 * }
 * ```
 *
 * @since 0.1.0
 */
export const LongContext = Schema.Struct({
  above: Schema.Int.check(Schema.isGreaterThan(0)),
  input: Multiplier,
  cachedInput: Schema.optionalKey(Multiplier),
  output: Multiplier
})

/** @since 0.1.0 */
export type LongContext = typeof LongContext.Type

/**
 * USD per 1M tokens. `cachedInput` defaults to `input` when a provider gives
 * no cache discount; `longContext`, when given, prices prompts above its
 * threshold (see {@link LongContext}).
 *
 * @since 0.1.0
 */
export const Price = Schema.Struct({
  input: UsdPerMillion,
  cachedInput: Schema.optionalKey(UsdPerMillion),
  output: UsdPerMillion,
  longContext: Schema.optionalKey(LongContext)
})

/** @since 0.1.0 */
export type Price = typeof Price.Type

/**
 * The prices of one provider: rows per model and a default row for the
 * models without one; without a default row, such a model is unpriced
 * (`pricing: "unpriced"`, costed at 0).
 *
 * @since 0.1.0
 */
export interface ProviderPrices {
  readonly default?: Price | undefined
  readonly models: Readonly<Record<string, Price>>
}

/**
 * Prices of every provider, keyed by provider name.
 *
 * @since 0.1.0
 */
export type PriceTable = Readonly<Record<string, ProviderPrices>>

/**
 * The table Baton ships: the public list prices (late 2026) of the models
 * each adapter uses by default and their common siblings, with their
 * long-context tiers, and per provider a default row at least as dear as
 * every one of those rows.
 *
 * @since 0.1.0
 */
export const defaultTable: PriceTable = {
  deepseek: {
    default: { input: 1.32, cachedInput: 0.044, output: 3.96 },
    models: {
      "deepseek-flash": { input: 0.30, cachedInput: 0.006, output: 1.20 },
      "deepseek-v4-pro": { input: 1.32, cachedInput: 0.044, output: 3.96 }
    }
  },
  gemini: {
    default: { input: 1.50, output: 9.00 },
    models: {
      "gemini-2.5-flash": { input: 0.30, output: 2.50 },
      "gemini-2.5-flash-lite": { input: 0.10, output: 0.40 },
      "gemini-3.5-flash": { input: 1.50, output: 9.00 },
      "gemini-3.8-flash": { input: 1.50, output: 7.50 }
    }
  },
  openai: {
    default: { input: 3, output: 15 },
    models: {
      "gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.60 },
      "gpt-4.1": { input: 2.00, cachedInput: 0.50, output: 8.00 },
      "gpt-5": { input: 1.25, cachedInput: 0.125, output: 10.00 },
      "gpt-5.6-luna": {
        input: 0.20,
        cachedInput: 0.02,
        output: 1.20,
        longContext: { above: 272_000, input: 2, output: 1.5 }
      },
      "gpt-6-sol": { input: 2.00, cachedInput: 0.20, output: 10.00 },
      "gpt-6-luna": { input: 0.10, cachedInput: 0.01, output: 0.50 }
    }
  },
  anthropic: {
    default: { input: 3, output: 15 },
    models: {
      "claude-haiku-4-5": { input: 1.00, cachedInput: 0.10, output: 5.00 },
      "claude-sonnet-4-6": { input: 3.00, cachedInput: 0.30, output: 15.00 },
      "claude-sonnet-5-5": { input: 2.00, cachedInput: 0.10, output: 10.00 },
      "claude-haiku-5-5": {
        input: 0.10,
        cachedInput: 0.01,
        output: 0.50,
        longContext: { above: 100_000, input: 5, output: 5 }
      }
    }
  }
}

/**
 * A table with `overrides` laid over `base`. Each row an override gives (a
 * provider's default row, a model's row) is laid over the row it replaces,
 * field by field: a row given without `cachedInput` keeps the replaced row's
 * cached-input rate, capped at the row's new `input` rate (a cached token
 * never costs more than an uncached one). To bill a model's cached tokens at
 * its full input rate, give `cachedInput` equal to `input`. A row given
 * without `longContext` keeps the replaced row's tier, whose multipliers then
 * apply to the new rates; one given with it replaces the tier whole
 * (multipliers of 1 turn it off). A provider `base` does not price, given
 * rows for some models and no default row, has none: its other models are
 * unpriced (`pricing: "unpriced"`), not billed at a row of zeros as if it
 * were their price. Neither table is changed.
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
    // a provider given rows for some models only keeps no default row: its other models are unpriced, not free
    const fallback = override.default === undefined ? current?.default : layRow(current?.default, override.default)
    setOwn(merged, provider, fallback === undefined ? { models } : { default: fallback, models })
  }
  return merged
}

/**
 * `row` over `replaced`: the cached-input rate `row` leaves out is
 * `replaced`'s, at most `row`'s input rate; the tier it leaves out is
 * `replaced`'s.
 */
const layRow = (replaced: Price | undefined, row: Price): Price => {
  const cachedInput = row.cachedInput ??
    (replaced?.cachedInput === undefined ? undefined : Math.min(replaced.cachedInput, row.input))
  const longContext = row.longContext ?? replaced?.longContext
  return {
    input: row.input,
    ...(cachedInput === undefined ? undefined : { cachedInput }),
    output: row.output,
    ...(longContext === undefined ? undefined : { longContext })
  }
}

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
  if (row !== undefined) return { price: row, source: "model" }
  return prices.default === undefined ? unpriced : { price: prices.default, source: "provider-default" }
}

const NANO_PER_USD = 1_000_000_000
const MILLION = 1_000_000
const HALF_MILLION = MILLION / 2
const MILLION_N = BigInt(MILLION)
const HALF_MILLION_N = BigInt(HALF_MILLION)

const nanoUsdPerMillion = (usdPerMillion: number): number => Math.round(usdPerMillion * NANO_PER_USD)

/** A price's rates, in nano-USD per 1M tokens. */
interface Rates {
  readonly uncached: number
  readonly cached: number
  readonly output: number
}

/** A row ready to bill: its rates for a prompt of up to `above` tokens, and its `long` rates past that. */
interface Billing {
  readonly above: number
  readonly base: Rates
  readonly long: Rates
}

/** `base` times a tier's multipliers, rounded to the nano-USD. */
const scaled = (base: Rates, tier: LongContext): Rates => ({
  uncached: Math.round(base.uncached * tier.input),
  cached: Math.round(base.cached * (tier.cachedInput ?? tier.input)),
  output: Math.round(base.output * tier.output)
})

/** A price's rates, computed once (a row without a tier bills every prompt at its base rates). */
const billing = (price: Price): Billing => {
  const base = {
    uncached: nanoUsdPerMillion(price.input),
    cached: nanoUsdPerMillion(price.cachedInput ?? price.input),
    output: nanoUsdPerMillion(price.output)
  }
  const tier = price.longContext
  return tier === undefined
    ? { above: Number.POSITIVE_INFINITY, base, long: base }
    : { above: tier.above, base, long: scaled(base, tier) }
}

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
const scaledInBigint = (prompt: number, cached: number, completion: number, rates: Rates): number => {
  const cachedN = natural(cached)
  const cost = ((natural(prompt) - cachedN) * natural(rates.uncached) + cachedN * natural(rates.cached) +
    natural(completion) * natural(rates.output) + HALF_MILLION_N) / MILLION_N
  return cost > MAX_SAFE_N ? Number.MAX_SAFE_INTEGER : Number(cost)
}

/** The cost of `counts` at the rates their prompt size selects, in integer nano-USD (see {@link costNanoUsd}). */
const bill = (row: Billing, counts: TokenUsage.TokenCounts): number => {
  const prompt = counts.promptTokens
  const rates = prompt > row.above ? row.long : row.base
  const cached = TokenUsage.cachedPart(counts)
  const uncached = prompt - cached
  const completion = counts.completionTokens
  const sum = uncached * rates.uncached + cached * rates.cached + completion * rates.output + HALF_MILLION
  // non-negative integers: exact in a `number` while the sum stays within 2^53 (every term is then smaller too)
  return sum <= Number.MAX_SAFE_INTEGER && isNatural(uncached) && isNatural(cached) && isNatural(completion) &&
      isNatural(rates.uncached) && isNatural(rates.cached) && isNatural(rates.output)
    ? (sum - (sum % MILLION)) / MILLION
    : scaledInBigint(prompt, cached, completion, rates)
}

/**
 * The exact cost of some token counts at a price, in integer nano-USD,
 * rounded half up once.
 *
 * A prompt of more than the price's `longContext.above` tokens (cached ones
 * included) is billed whole at the tier's rates. The cached tokens are part
 * of the prompt's: a cached count above the prompt's (an OpenAI-compatible
 * proxy can report one) is billed as the whole prompt cached, a negative one
 * as none. A cost past `Number.MAX_SAFE_INTEGER` nano-USD (about $9M for one
 * call: only absurd counts or prices reach it) is capped there, so it is
 * always a safe integer, 0 or more (Baton's adapters read no count above a
 * billion tokens).
 *
 * @since 0.1.0
 */
export const costNanoUsd = (price: Price, counts: TokenUsage.TokenCounts): number => bill(billing(price), counts)

/** A table's row ready to bill, with where it came from. */
interface Priced extends Billing {
  readonly source: TokenUsage.PriceSource
}

/** A provider's rows ready to bill, keyed by model. */
interface ProviderBilling {
  readonly default: Priced
  readonly models: ReadonlyMap<string, Priced>
}

const unpricedBilling: Priced = { ...billing(unpriced.price), source: "unpriced" }

/** Every row of `table` ready to bill (a `Map`: only the table's own entries count, whatever their names). */
const compile = (table: PriceTable): ReadonlyMap<string, ProviderBilling> =>
  new Map(
    Object.entries(table).map(([provider, prices]) => [provider, {
      default: prices.default === undefined
        ? unpricedBilling
        : { ...billing(prices.default), source: "provider-default" },
      models: new Map(
        Object.entries(prices.models).map(([model, row]) => [model, { ...billing(row), source: "model" }])
      )
    }])
  )

/** The row that prices a model: its own, its provider's default, or none. */
const billingOf = (table: ReadonlyMap<string, ProviderBilling>, provider: string, model: string): Priced => {
  const prices = table.get(provider)
  return prices === undefined ? unpricedBilling : prices.models.get(model) ?? prices.default
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
 * A pricing service over the given table. Every row's rates (its tier's
 * included) are computed here, once: pricing a call looks its row up and
 * sums, allocating nothing but the `TokenUsage`.
 *
 * @since 0.1.0
 */
export const make = (table: PriceTable): Pricing["Service"] => {
  const compiled = compile(table)
  return Pricing.of({
    table,
    usage: (provider, model, counts) => {
      const row = billingOf(compiled, provider, model)
      return TokenUsage.make(counts, bill(row, counts), row.source)
    }
  })
}

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
