/**
 * Scrubbing of secrets from text that is about to be logged.
 *
 * Two nets: the exact values of the keys Baton was configured with, and the
 * shapes of provider keys and credentials that a provider may echo back in an
 * error message (`sk-...`, `AIza...`, `Bearer ...`, `api_key=...`). The one
 * rule for the request log and for every field of a provider error: scrub
 * first, then truncate, so a cut can never leave part of a key behind.
 *
 * One cut comes before the last scrub, though: an adapter scrubs only its own
 * key before it truncates, and the manager scrubs every configured key after.
 * Another provider's key echoed by the endpoint may straddle the adapter's cut
 * and reach the manager as a prefix, which no exact match finds. So `scrub`
 * also replaces a prefix of a configured secret (of at least 8 characters)
 * that ends where a text was cut: at the end of the text, or just before a
 * marker `truncate` wrote (`...[N more characters]`, which a suffix such as
 * ` (check the API key)` may follow).
 *
 * A provider may echo a key masked, its first characters kept
 * (`Incorrect API key provided: sk-CANAR****7890`): a mask, a run of `*`,
 * is a cut too, so a prefix of a configured secret (of at least 8
 * characters, none a `*`) before one is replaced, and the `sk-` shape takes
 * `*`. A run is looked at only when the 8 characters before it may end such
 * a prefix (one lookup): Markdown's `**bold**` costs no search.
 *
 * @since 0.1.0
 */
import { Redacted } from "effect"
import { cutsOf, minFragmentLength } from "./internal/cuts.ts"

const REPLACEMENT = "[redacted]"

const keyShapes: ReadonlyArray<RegExp> = [
  /sk-[A-Za-z0-9_*-]{8,}/g,
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
 * Where the proper prefix of `value` (of at least `minFragmentLength`
 * characters) that ends at `end` starts, if one does, not before `from`.
 * Only the `value.length - 1` characters before `end` are read: the cost
 * does not grow with the text.
 */
const fragmentAt = (text: string, value: string, end: number, from: number): number | undefined => {
  const first = value.charCodeAt(0)
  for (let at = Math.max(from, end - value.length + 1); at <= end - minFragmentLength; at++) {
    if (text.charCodeAt(at) !== first) continue
    let length = 1
    while (at + length < end && text.charCodeAt(at + length) === value.charCodeAt(length)) length++
    if (at + length === end) return at
  }
  return undefined
}

/**
 * `text` with a prefix of one of `values` that ends where the text was cut
 * replaced, built in one pass (a text of many markers is copied once, not
 * once per marker).
 */
const cutFragments = (text: string, values: ReadonlyArray<string>): string => {
  const parts: Array<string> = []
  let kept = 0
  for (const cut of cutsOf(text, values)) {
    for (const value of values) {
      const at = fragmentAt(text, value, cut, kept)
      if (at !== undefined) {
        parts.push(text.slice(kept, at), REPLACEMENT)
        kept = cut
        break
      }
    }
  }
  if (kept === 0) return text
  parts.push(text.slice(kept))
  return parts.join("")
}

/**
 * Text with every configured secret (of at least `minSecretLength`
 * characters) replaced by `[redacted]`, and a prefix of one (of at least 8
 * characters) where the text was cut: at its end, before a marker
 * `truncate` wrote, or before a mask (`sk-CANAR****`). No key shape is looked for: for a model's own output
 * (a structured answer, a refusal), where ordinary words hold them
 * (`risk-management` holds `sk-`); {@link scrub} is this and the shapes.
 *
 * @since 0.1.0
 */
export const scrubSecrets = (text: string, secrets: ReadonlyArray<Redacted.Redacted>): string => {
  const values = valuesOf(secrets)
  if (values.length === 0) return text
  let out = text
  for (const value of values) {
    if (out.includes(value)) out = out.split(value).join(REPLACEMENT)
  }
  return cutFragments(out, values)
}

/** The words of a query parameter's name that say its value is a credential. */
const credentialWords: ReadonlySet<string> = new Set([
  "auth",
  "authorization",
  "credential",
  "credentials",
  "key",
  "password",
  "passwd",
  "secret",
  "sig",
  "signature",
  "token"
])

/**
 * Whether a query parameter's name says its value is a credential: one of
 * its words (split at `-`, `_` and `.`, in any case) is a credential's word
 * or ends in `key` or `token` (`key`, `api_key`, `apiKey`, `access_token`,
 * Azure's `sig`); not `keyspace`, `tokenizer` or `author`.
 */
const isCredentialParameter = (name: string): boolean =>
  name.toLowerCase().split(/[-_.]/).some((word) =>
    credentialWords.has(word) || word.endsWith("key") || word.endsWith("token")
  )

/**
 * The secrets a URL's query holds: the value of each parameter whose name
 * says it is a credential (Gemini's `?key=`, a proxy's `?access_token=`),
 * as written, decoded and encoded again, each form a server quoting the URL
 * may show. A provider's base URL may carry one; its adapter scrubs them as
 * its key, and `LlmConfig.secrets` lists them with the keys. A URL that does
 * not parse holds none.
 *
 * @since 0.1.0
 */
export const urlSecrets = (url: string): ReadonlyArray<Redacted.Redacted> => {
  const query = URL.parse(url)?.search.slice(1) ?? ""
  const values = new Set<string>()
  for (const pair of query.length === 0 ? [] : query.split("&")) {
    const separator = pair.indexOf("=")
    const written = separator < 0 ? "" : pair.slice(separator + 1)
    const parsed = new URLSearchParams(pair).entries().next().value
    if (written.length === 0 || parsed === undefined || !isCredentialParameter(parsed[0])) continue
    values.add(written).add(parsed[1]).add(encodeURIComponent(parsed[1]))
  }
  return Array.from(values, (value) => Redacted.make(value))
}

/**
 * The values of `secrets` long enough to be secrets, each also as a URL
 * encodes it where that differs (a key of base64 characters, `+`, `/`, `=`,
 * quoted by a server in a URL), its escapes in either case, longest first:
 * one that holds another is replaced whole.
 */
const valuesOf = (secrets: ReadonlyArray<Redacted.Redacted>): ReadonlyArray<string> => {
  const values: Array<string> = []
  for (const secret of secrets) {
    const value = Redacted.value(secret)
    if (typeof value !== "string" || value.length < minSecretLength) continue
    values.push(value)
    const encoded = encodeURIComponent(value)
    if (encoded === value) continue
    // a server may write the escapes in lower case (`%2b`)
    const lower = encoded.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase())
    values.push(encoded, lower)
  }
  return values.length > 1 ? values.sort((a, b) => b.length - a.length) : values
}

/**
 * Text with every configured secret (of at least `minSecretLength`
 * characters) and every key-shaped token replaced by `[redacted]`, and a
 * prefix of a configured secret (of at least 8 characters) where the text
 * was cut: at its end, before a marker `truncate` wrote, or before a mask.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { scrub } from "@baton/core/Redact"
 *
 * const secrets = [Redacted.make("canary-secret-value")]
 * scrub("echoed canary-secret-value", secrets) // "echoed [redacted]"
 * scrub("echoed canary-sec...[8 more characters]", secrets) // "echoed [redacted]...[8 more characters]"
 * ```
 *
 * @since 0.1.0
 */
export const scrub = (text: string, secrets: ReadonlyArray<Redacted.Redacted>): string => {
  let out = scrubSecrets(text, secrets)
  if (!mayHoldShape.test(out)) return out
  for (const shape of keyShapes) {
    out = out.replace(shape, (_match, prefix: unknown) => `${typeof prefix === "string" ? prefix : ""}${REPLACEMENT}`)
  }
  return out
}

/**
 * At most `max` characters of `text`, saying how many were cut: the first
 * `max` (one fewer where the cut would split a surrogate pair, such as an
 * emoji: a lone half is not Unicode), then `...[N more characters]` (the
 * marker `scrub` looks before for part of a secret).
 *
 * @since 0.1.0
 */
export const truncate = (text: string, max: number): string => {
  if (text.length <= max) return text
  const kept = splitsPair(text, max) ? max - 1 : max
  return `${text.slice(0, kept)}...[${text.length - kept} more characters]`
}

/** True when `index` falls between the two halves of a surrogate pair. */
const splitsPair = (text: string, index: number): boolean =>
  index > 0 && isHigh(text.charCodeAt(index - 1)) && isLow(text.charCodeAt(index))

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff

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
