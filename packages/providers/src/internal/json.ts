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

/** The value when it is a non-negative integer. */
export const count = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u >= 0 ? u : undefined

/** The parsed text, or `undefined` when it is not JSON. */
export const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
