/**
 * Small, allocation-free checks for reading provider JSON.
 *
 * Replies are parsed with `JSON.parse` and read with these guards instead of
 * a Schema: a reply is read once, on the hot path, and only a handful of its
 * fields matter.
 */

/** A JSON object. */
export type JsonObject = { readonly [key: string]: unknown }

/** True for a non-null, non-array object. */
export const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

/** The value when it is a string (numbers are rendered). */
export const string = (u: unknown): string | undefined =>
  typeof u === "string" ? u : typeof u === "number" ? String(u) : undefined

/**
 * The most a count read from a reply can be: a billion (tokens), a hundred
 * times the largest context window. No call reports more; a larger count
 * (a `1e300` from a broken proxy) would make sums and costs inexact, so it
 * is not a count.
 */
export const MAX_COUNT = 1_000_000_000

/**
 * The value when it is an integer from 0 to {@link MAX_COUNT}. A token count
 * that is not one is read as not reported, like any ill-typed count: an
 * OpenAI-style or Anthropic usage without its input or output count is then
 * estimated from the text and says so (`estimated: true`); a cached or
 * reasoning count is taken as 0.
 */
export const count = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u >= 0 && u <= MAX_COUNT ? u : undefined

/** The parsed text, or `undefined` when it is not JSON. */
export const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
