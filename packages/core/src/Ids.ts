/**
 * Branded identifiers used across Baton.
 *
 * A provider name, a model id, a subject id (the person a quota and a usage
 * ledger are kept for, such as a teacher) and a request id are all strings on
 * the wire, but mixing them up is a bug: the brands make the compiler catch
 * `quota.remaining(modelId)`. Each brand is a `Schema`, so values read from
 * JSON, HTTP or configuration are checked once at the edge and trusted after.
 *
 * @example
 * ```ts
 * import * as Ids from "@baton/core/Ids"
 *
 * const teacher = Ids.SubjectId.make("teacher-42")
 * const model = Ids.ModelId.make("gpt-4o-mini")
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { idText } from "./internal/idText.ts"

/**
 * The name a provider is known by in logs, metrics, prices and configuration
 * (`deepseek`, `gemini`, `openai`, `anthropic`, or the name given to an
 * OpenAI-compatible endpoint). Lower-case letters, digits, `-` and `_`.
 *
 * @since 0.1.0
 */
export const ProviderName = Schema.String.check(
  Schema.isPattern(/^[a-z][a-z0-9_-]{0,63}$/, {
    message: "a provider name is 1-64 lower-case letters, digits, '-' or '_', starting with a letter"
  })
).pipe(Schema.brand("ProviderName"))

/** @since 0.1.0 */
export type ProviderName = typeof ProviderName.Type

/**
 * A model id as the provider spells it (`deepseek-flash`, `gemini-2.5-flash`).
 * At most 256 characters (the providers' ids are under 64, a fine-tuned
 * OpenAI id under 100), not blank, no leading or trailing space and no
 * control characters: a caller's model name reaches logs, metric labels,
 * circuit keys and database rows.
 *
 * @since 0.1.0
 */
export const ModelId = Schema.String.check(
  // first: a longer name is refused without the pattern reading it (decoding stops at the first issue by default)
  Schema.isMaxLength(256, { message: "a model id is at most 256 characters" }),
  // first and last: neither space nor control character; between: no control character
  Schema.isPattern(/^[^\s\p{Cc}](?:\P{Cc}*[^\s\p{Cc}])?$/u, {
    message: "a model id is not blank, has no leading or trailing space and no control characters"
  })
).pipe(Schema.brand("ModelId"))

/** @since 0.1.0 */
export type ModelId = typeof ModelId.Type

/**
 * The subject a quota and a usage ledger are kept for: a teacher id in
 * DreamAI, a user or tenant id elsewhere. At most 256 characters, no control
 * characters (a newline or a NUL would reach logs, keys and database rows),
 * no lone surrogate (a database stores one as U+FFFD: two subjects would
 * share their ledger rows), not blank and no white space or invisible format
 * character (a zero-width space, a byte-order mark) at either end (`"t-1 "`
 * would be a second quota beside `"t-1"`).
 *
 * @since 0.1.0
 */
export const SubjectId = Schema.String.check(
  Schema.isNonEmpty({ message: "a subject id must not be empty" }),
  Schema.isMaxLength(256, { message: "a subject id is at most 256 characters" }),
  Schema.isPattern(idText, {
    message:
      "a subject id must not be blank, start or end with white space or an invisible format character (zero-width space, byte-order mark, ...), or contain control characters (newline, NUL, escape, ...) or a lone surrogate"
  })
).pipe(Schema.brand("SubjectId"))

/** @since 0.1.0 */
export type SubjectId = typeof SubjectId.Type

/**
 * The id that links every attempt of one logical request. Callers may choose
 * it (an HTTP request id: at most 128 characters, no control character, no
 * lone surrogate, no white space or invisible format character at either
 * end); otherwise Baton generates a
 * UUID.
 *
 * @since 0.1.0
 */
export const RequestId = Schema.NonEmptyString.check(
  Schema.isMaxLength(128, { message: "a request id is at most 128 characters" }),
  Schema.isPattern(idText, {
    message:
      "a request id must not be blank, start or end with white space or an invisible format character, or contain control characters or a lone surrogate"
  })
).pipe(Schema.brand("RequestId"))

/** @since 0.1.0 */
export type RequestId = typeof RequestId.Type
