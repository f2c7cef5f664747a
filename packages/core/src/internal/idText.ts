/**
 * The text an id (`SubjectId`, `RequestId`) may hold: no control character
 * (a newline or a NUL would reach logs, keys and database rows), no lone
 * surrogate (a database stores one as U+FFFD, so two ids would become one).
 * With the `u` flag a surrogate pair is one code point, outside the range:
 * only a lone half matches it.
 */
export const idText = /^[^\p{Cc}\uD800-\uDFFF]*$/u
