/**
 * What the repeated-event tests put in a text literal's place: middles that
 * are not exactly one JSON string literal, which a decoder must parse whole
 * (and so find malformed).
 */

/** Each middle, named for the test title. */
export const malformedLiterals: ReadonlyArray<readonly [name: string, literal: string]> = [
  ["a number", "42"],
  ["two literals", "\"c\" \"d\""],
  ["an unescaped quote", "\"c\"d\""],
  ["a raw control character", "\"c\u0001\""],
  ["an unterminated literal", "\"c"],
  ["a bad escape", "\"\\x\""],
  ["a closing quote alone", "1\""]
]
