/**
 * A provider's rewrite of a structured-output schema, made once per schema
 * rather than once per call.
 *
 * `make(rewrite)` is `rewrite` with its answers kept: by the schema object
 * (a `WeakMap`; an Effect Schema's JSON Schema is one object, compiled once
 * by `StructuredOutput`), and by the schema's JSON text in its own key order
 * (the {@link bounds} most recently used), for a schema decoded anew for
 * each call (a gateway's, from each request body), which is a new object
 * every time. The key order is kept in the text, not sorted, as a rewrite
 * keeps the properties in their order, which the model answers in.
 *
 * Gotchas: a schema must not change once used (as `StructuredOutput` asks
 * too), and the answer is shared between calls, not to be changed either. A
 * schema that is no JSON value (a cycle, a `bigint`) is kept by object only.
 */
import type { JsonSchema } from "@baton/core/StructuredOutput"

/** How many answers a cache keeps by text, and how many characters of JSON text their keys may add up to; a text over an eighth of it is not kept. */
const bounds = { entries: 256, chars: 4_000_000 }

/** An answer, kept even when it is `undefined`. */
interface Kept<A> {
  readonly value: A
}

const textOf = (schema: JsonSchema): string | undefined => {
  try {
    return JSON.stringify(schema)
  } catch {
    return undefined
  }
}

/** `rewrite` with its answers kept by schema object and by JSON text. */
export const make = <A>(rewrite: (schema: JsonSchema) => A): (schema: JsonSchema) => A => {
  const byObject = new WeakMap<JsonSchema, Kept<A>>()
  /** Least recently used first. */
  const byText = new Map<string, Kept<A>>()
  let chars = 0
  const forget = (text: string): void => {
    if (byText.delete(text)) chars -= text.length
  }
  const keep = (text: string, kept: Kept<A>): void => {
    forget(text)
    if (text.length > bounds.chars / 8) return
    byText.set(text, kept)
    chars += text.length
    for (const key of byText.keys()) {
      if (byText.size <= bounds.entries && chars <= bounds.chars) return
      forget(key)
    }
  }
  const byTextOf = (schema: JsonSchema): Kept<A> => {
    const text = textOf(schema)
    const kept = (text === undefined ? undefined : byText.get(text)) ?? { value: rewrite(schema) }
    if (text !== undefined) keep(text, kept)
    return kept
  }
  return (schema) => {
    const kept = byObject.get(schema) ?? byTextOf(schema)
    byObject.set(schema, kept)
    return kept.value
  }
}
