import { type Schema, SchemaIssue } from "effect"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** The first issue of a schema error as a dotted field path and a message. */
export const firstIssue = (error: Schema.SchemaError, prefix: string): { field: string; message: string } => {
  const issue = formatter(error.issue).issues[0]
  const path = issue?.path?.map(String) ?? []
  const field = [prefix, ...path].filter((part) => part.length > 0).join(".")
  return { field, message: `${field}: ${issue?.message ?? error.message}` }
}
