/**
 * Where a text was cut, for `Redact.scrub`'s search for a prefix of a
 * secret that ends at a cut: the end of the text, a marker `truncate` wrote
 * (`...[N more characters]`), or a mask (`sk-CANAR****7890`, a run of `*`).
 *
 * A run of `*` is a mask only when the characters just before it may end a
 * prefix of a secret: Markdown's `**bold**` and `*emphasis*` are runs too,
 * and searching every secret's prefix before each of them made a scrub of a
 * Markdown prompt cost milliseconds. The check at a run is one lookup of
 * its last `minFragmentLength` characters, whatever the number of secrets.
 */

/** The shortest prefix of a secret that a scrub replaces where a text was cut: shorter ones are ordinary text. */
export const minFragmentLength = 8

/** What `truncate` writes where it cut (`matchAll` copies the regex: no state is shared). */
const truncationMarker = /\.\.\.\[\d+ more characters\]/g

/** A text holds a `truncationMarker` only if it holds this: one character, the cheapest search (no search table). */
const markerEnd = "]"

const star = 42

/**
 * The last `minFragmentLength` characters of every proper prefix of `values`
 * of that length or more: a prefix of a secret ends at a mask only if the
 * characters before the mask are one of these.
 */
const fragmentEnds = (values: ReadonlyArray<string>): ReadonlySet<string> => {
  const ends = new Set<string>()
  for (const value of values) {
    for (let end = minFragmentLength; end < value.length; end++) ends.add(value.slice(end - minFragmentLength, end))
  }
  return ends
}

/**
 * Where each mask starts that a prefix of one of `values` may end at, in
 * order: after `minFragmentLength` characters or more that are no `*` (a
 * key's kept characters), ending as a prefix of a secret may end.
 */
const masksOf = (text: string, values: ReadonlyArray<string>): ReadonlyArray<number> => {
  let at = text.indexOf("*")
  if (at < 0) return []
  const ends = fragmentEnds(values)
  const masks: Array<number> = []
  let previous = 0
  while (at >= 0) {
    if (at - previous >= minFragmentLength && ends.has(text.slice(at - minFragmentLength, at))) masks.push(at)
    while (text.charCodeAt(at) === star) at++
    previous = at
    at = text.indexOf("*", at)
  }
  return masks
}

/**
 * Where `text` was cut before which a prefix of one of `values` may end, in
 * order: where each truncation marker starts, each mask such a prefix may
 * end at, then the text's end.
 */
export const cutsOf = (text: string, values: ReadonlyArray<string>): ReadonlyArray<number> => {
  const markers = text.includes(markerEnd) ? Array.from(text.matchAll(truncationMarker), (match) => match.index) : []
  return [...markers, ...masksOf(text, values)].sort((a, b) => a - b).concat(text.length)
}
