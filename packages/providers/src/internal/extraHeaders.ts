/**
 * The extra headers a caller gives an endpoint (`OpenAiCompatible`'s
 * `headers`): which of their values are secrets, and how they are sent
 * beside the codec's.
 *
 * A value is a secret when it is `Redacted`, or when its header's name says
 * it carries a credential: the name, in any case, contains `auth`
 * (`authorization`, `proxy-authorization`, `x-custom-auth`), `key`
 * (`api-key`, `x-api-key`), `token`, `secret`, `password`, `cookie` or
 * `credential`. Any other plain value (OpenRouter's `HTTP-Referer`, an
 * `X-Title`) is not: scrubbing it would mangle every message it occurs in.
 * A secret of the form `<scheme> <credential>` (`Token abc...`,
 * `Basic ...`) makes its credential a secret too, since a server may quote
 * the credential alone.
 *
 * A header whose name, in any case, is one of the codec's (`authorization`
 * when a key is given) is dropped: the key's is sent, never both.
 */
import { Redacted } from "effect"

/** The extra headers, a secret's value redacted, and the secrets to scrub from every error. */
export interface ExtraHeaders {
  readonly values: ReadonlyArray<readonly [name: string, value: string | Redacted.Redacted]>
  readonly secrets: ReadonlyArray<Redacted.Redacted>
}

const credentialName = /auth|key|token|secret|password|cookie|credential/i

/** `<scheme> <credential>`: the credential, the rest after the first run of blanks. */
const schemed = /^\s*\S+\s+(\S.*?)\s*$/s

/** The secrets a secret value holds: the value, and the credential of `<scheme> <credential>`. */
const secretsIn = (value: Redacted.Redacted): ReadonlyArray<Redacted.Redacted> => {
  const credential = schemed.exec(Redacted.value(value))?.[1]
  return credential === undefined ? [value] : [value, Redacted.make(credential)]
}

/** The headers as given, a credential's plain value redacted at once. */
export const make = (headers: Readonly<Record<string, string | Redacted.Redacted>> | undefined): ExtraHeaders => {
  const values: Array<readonly [string, string | Redacted.Redacted]> = []
  const secrets: Array<Redacted.Redacted> = []
  for (const [name, given] of Object.entries(headers ?? {})) {
    const value = typeof given === "string" && credentialName.test(name) ? Redacted.make(given) : given
    values.push([name, value])
    if (typeof value !== "string") secrets.push(...secretsIn(value))
  }
  return { values, secrets }
}

/** The headers of one request, revealed: the extra ones but those the codec's `own` name, then `own`. */
export const withOwn = (extra: ExtraHeaders, own: Record<string, string>): Record<string, string> => {
  if (extra.values.length === 0) return own
  const taken = new Set(Object.keys(own).map((name) => name.toLowerCase()))
  const headers: Record<string, string> = {}
  for (const [name, value] of extra.values) {
    if (!taken.has(name.toLowerCase())) headers[name] = typeof value === "string" ? value : Redacted.value(value)
  }
  return Object.assign(headers, own)
}
