/**
 * The text an id (`SubjectId`, `RequestId`) may hold: no control character
 * (a newline or a NUL would reach logs, keys and database rows), no lone
 * surrogate (a database stores one as U+FFFD, so two ids would become one),
 * and no white space or invisible format character (`\p{Cf}`: a zero-width
 * space, a byte-order mark) at either end (`" "` would be one subject for
 * every blank caller, `"t-1 "` or `"t-1\u200b"` a second quota beside
 * `"t-1"`); inside, a format character may join an emoji, and the tag
 * characters of an emoji flag (U+E0020 to U+E007F) may end an id. With the `u` flag a
 * surrogate pair is one code point, outside the ranges: only a lone half
 * matches them. The empty text matches: the schemas refuse it apart.
 */
export const idText =
  /^(?:(?:[^\s\p{Cc}\p{Cf}\uD800-\uDFFF]|[\u{E0020}-\u{E007F}])(?:[^\p{Cc}\uD800-\uDFFF]*(?:[^\s\p{Cc}\p{Cf}\uD800-\uDFFF]|[\u{E0020}-\u{E007F}]))?)?$/u
