/**
 * A provider error scrubbed of every secret the manager knows.
 *
 * Each adapter scrubs its own key from the errors it builds, but an endpoint
 * may echo another provider's key (two providers behind one proxy), which
 * only the manager, holding every provider's key, can catch. It scrubs each
 * failed attempt's error once, as the attempt fails: the circuit, the span,
 * the request log, the ledger and the caller's error then all hold the same
 * scrubbed error, of the same class and `_tag`.
 *
 * Cheap where nothing is found (a scan of the error's text fields); only an
 * error holding a secret is rebuilt, through the `ProviderError` schema, so
 * every text field of every class (`message`, `param`, `refusal`, ...) is
 * covered without a list to keep in step with the classes.
 */
import { Option, type Redacted, Schema } from "effect"
import { Defect, ProviderError } from "../ProviderError.ts"
import { scrub } from "../Redact.ts"

const encode = Schema.encodeSync(ProviderError)
const decode = Schema.decodeUnknownOption(ProviderError)

/** The fields Baton itself sets (who failed): never scrubbed. */
const own: ReadonlySet<string> = new Set(["_tag", "provider", "model"])

/**
 * `error`, or a copy of it (same class, same fields) with every secret and
 * key-shaped token in its text replaced by `[redacted]` when it holds one.
 */
export const scrubError = (error: ProviderError, secrets: ReadonlyArray<Redacted.Redacted>): ProviderError => {
  const dirty = (text: unknown): boolean => typeof text === "string" && scrub(text, secrets) !== text
  // `message` is not enumerable (an `Error`'s own) or a getter over the fields
  const fields: ReadonlyArray<unknown> = Object.values(error)
  if (!dirty(error.message) && !fields.some(dirty)) return error
  const encoded: Record<string, unknown> = { ...encode(error) }
  for (const [key, value] of Object.entries(encoded)) {
    if (typeof value === "string" && !own.has(key)) encoded[key] = scrub(value, secrets)
  }
  // a scrubbed text always decodes; were it not to, the error would still leave without the secret
  return Option.getOrElse(
    decode(encoded),
    () =>
      new Defect({
        provider: error.provider,
        ...(error.model === undefined ? {} : { model: error.model }),
        message: scrub(error.message, secrets)
      })
  )
}
