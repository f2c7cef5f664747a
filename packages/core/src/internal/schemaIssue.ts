import { type Schema, SchemaIssue } from "effect"
import { escapeControls, excerpt } from "../Redact.ts"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * The first issue of a schema error as a dotted field path and a message
 * (control characters escaped). Each key of the path is repeated as
 * `excerpt` repeats a value: a record's keys are a caller's or an
 * operator's, of any length and holding anything. Without a field, the
 * message is the issue's alone.
 */
export const firstIssue = (error: Schema.SchemaError, prefix: string): { field: string; message: string } => {
  const issue = formatter(error.issue).issues[0]
  const path = (issue?.path ?? []).map((segment) =>
    excerpt(String(typeof segment === "object" ? segment.key : segment))
  )
  const field = [prefix, ...path].filter((part) => part.length > 0).join(".")
  const problem = escapeControls(issue?.message ?? error.message)
  return { field, message: field.length > 0 ? `${field}: ${problem}` : problem }
}
