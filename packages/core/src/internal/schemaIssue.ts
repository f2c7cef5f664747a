import { type Schema, SchemaIssue } from "effect"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Control characters of a caller's input, written as escapes so they cannot break a log line or an error message. */
export const escapeControls = (text: string): string =>
  text.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** The first issue of a schema error as a dotted field path and a message (control characters escaped). */
export const firstIssue = (error: Schema.SchemaError, prefix: string): { field: string; message: string } => {
  const issue = formatter(error.issue).issues[0]
  const path = issue?.path?.map(String) ?? []
  const field = [prefix, ...path].filter((part) => part.length > 0).join(".")
  return { field: escapeControls(field), message: escapeControls(`${field}: ${issue?.message ?? error.message}`) }
}
