/**
 * Scrubbing of secrets from text that is about to be logged.
 *
 * Two nets: the exact values of the keys Baton was configured with, and the
 * shapes of provider keys and credentials that a provider may echo back in an
 * error message (`sk-...`, `AIza...`, `Bearer ...`, `api_key=...`). The one
 * rule for the request log and for every field of a provider error: scrub
 * first, then truncate, so a cut can never leave part of a key behind.
 *
 * @since 0.1.0
 */
import { Redacted } from "effect"

const REPLACEMENT = "[redacted]"

const keyShapes: ReadonlyArray<RegExp> = [
  /sk-[A-Za-z0-9_-]{8,}/g,
  /AIza[0-9A-Za-z_-]{20,}/g,
  /(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /((?:api[_-]?key|x-goog-api-key|authorization)["']?\s*[=:]\s*["']?)[A-Za-z0-9._~+/=-]{8,}/gi
]

/** Whether text may hold a key shape: every shape starts with one of these (checked once, not shape by shape). */
const mayHoldShape = /sk-|AIza|bearer|api[_-]?key|authorization/i

/**
 * Configured values shorter than this are placeholders (`"x"`, `"test"`), not
 * secrets: scrubbing them would mangle every message they occur in.
 *
 * @since 0.1.0
 */
export const minSecretLength = 8

/**
 * Text with every configured secret (of at least `minSecretLength`
 * characters) and every key-shaped token replaced by `[redacted]`.
 *
 * @since 0.1.0
 */
export const scrub = (text: string, secrets: ReadonlyArray<Redacted.Redacted>): string => {
  let out = text
  for (const secret of secrets) {
    const value = Redacted.value(secret)
    if (typeof value === "string" && value.length >= minSecretLength && out.includes(value)) {
      out = out.split(value).join(REPLACEMENT)
    }
  }
  if (!mayHoldShape.test(out)) return out
  for (const shape of keyShapes) {
    out = out.replace(shape, (_match, prefix: unknown) => `${typeof prefix === "string" ? prefix : ""}${REPLACEMENT}`)
  }
  return out
}

/**
 * At most `max` characters of `text`, saying how many were cut.
 *
 * @since 0.1.0
 */
export const truncate = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max)}...[${text.length - max} more characters]`

/**
 * `text` with its control characters, line separators and bidirectional
 * controls (Unicode's `Bidi_Control`: U+061C, U+200E, U+200F,
 * U+202A-U+202E, U+2066-U+2069) escaped (`\u001b`, `\u2028`, `\u202e`):
 * they would otherwise start a line or reorder the text a reader sees.
 *
 * @since 0.1.0
 */
export const escapeControls = (text: string): string =>
  text.replace(
    /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/gu,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

/**
 * A value as an error message repeats it: a caller's or a variable's value
 * may hold anything, so only its first `max` characters (64 by default),
 * with `escapeControls`.
 *
 * @example
 * ```ts
 * import { excerpt } from "@baton/core/Redact"
 *
 * excerpt("a\u001bb") // "a\\u001bb"
 * excerpt("x".repeat(100)) // the first 64, then "...[36 more characters]"
 * ```
 *
 * @since 0.1.0
 */
export const excerpt = (value: string, max = 64): string => escapeControls(truncate(value, max))
