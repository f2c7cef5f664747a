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
 * covered without a list to keep in step with the classes; the model's own
 * output in them loses configured secrets only (see `output`). An error
 * holding a secret that its own schema does not hold (a provider built in
 * code set a field to the wrong type) becomes a scrubbed `Defect`.
 */
import { Option, type Redacted, Schema } from "effect"
import type { ModelId, ProviderName } from "../Ids.ts"
import { Defect, ProviderError } from "../ProviderError.ts"
import { scrub, scrubSecrets } from "../Redact.ts"

const encode = Schema.encodeOption(ProviderError)
const decode = Schema.decodeUnknownOption(ProviderError)

/** The fields Baton itself sets (who failed): never scrubbed. */
const own: ReadonlySet<string> = new Set(["_tag", "provider", "model"])

/**
 * The fields that hold the model's own output (a structured answer that did
 * not decode and its schema issue, the text a stream delivered, a refusal):
 * the re-ask sends them back to the model, so they lose configured secrets
 * only, never key shapes, which ordinary words hold (`risk-management`
 * holds `sk-`).
 */
const output: ReadonlySet<string> = new Set(["content", "issue", "partialText", "refusal"])

/** `text` as the field `key` is scrubbed. */
const scrubField = (key: string, text: string, secrets: ReadonlyArray<Redacted.Redacted>): string =>
  own.has(key) ? text : output.has(key) ? scrubSecrets(text, secrets) : scrub(text, secrets)

/**
 * `error`, or a copy of it (same class, same fields) with every secret and
 * key-shaped token in its text replaced by `[redacted]` when it holds one;
 * an ill-formed one becomes a `Defect` of the attempt's `provider` and
 * `model` (the error's own may be as ill-formed).
 */
export const scrubError = (
  error: ProviderError,
  secrets: ReadonlyArray<Redacted.Redacted>,
  provider: ProviderName,
  model: ModelId
): ProviderError => {
  const dirty = ([key, text]: readonly [string, unknown]): boolean =>
    typeof text === "string" && scrubField(key, text, secrets) !== text
  // `message` is a field of its own (not enumerable, an `Error`'s), or a getter over the fields checked here
  const message = Object.hasOwn(error, "message") && dirty(["message", error.message])
  if (!message && !Object.entries(error).some(dirty)) return error
  // an error its own schema does not hold (a field of the wrong type, set by a provider built in code) is a bug
  // of that provider, reported as one, as a throw is; a scrubbed text always decodes
  return Option.getOrElse(
    Option.flatMap(encode(error), (encoded) => decode(scrubFields(encoded, secrets))),
    () => new Defect({ provider, model, message: scrub(error.message, secrets) })
  )
}

/** An encoded error with each of its text fields scrubbed. */
const scrubFields = (encoded: object, secrets: ReadonlyArray<Redacted.Redacted>): Record<string, unknown> => {
  const scrubbed: Record<string, unknown> = { ...encoded }
  for (const [key, value] of Object.entries(scrubbed)) {
    if (typeof value === "string") scrubbed[key] = scrubField(key, value, secrets)
  }
  return scrubbed
}
