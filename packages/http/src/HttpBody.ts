/**
 * Request bodies decoded by a `Schema`, failing with Baton's
 * `InvalidOptions` that names the offending field (a 400 through
 * `HttpProblem`), so a handler has one error vocabulary.
 *
 * @since 0.1.0
 */
import { InvalidOptions } from "@baton/core/LlmError"
import { Effect, type Schema, SchemaIssue } from "effect"
import { HttpServerRequest } from "effect/http"

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

const fromSchemaError = (error: Schema.SchemaError): InvalidOptions => {
  const first = standard(error.issue).issues[0]
  const field = (first?.path ?? []).map(String).join(".") || "body"
  return new InvalidOptions({ field, message: `${field}: ${first?.message ?? "invalid"}` })
}

/**
 * The JSON body of the current request, decoded by `schema`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const json = <A, RD>(
  schema: Schema.ConstraintDecoder<A, RD>
): Effect.Effect<A, InvalidOptions, HttpServerRequest.HttpServerRequest | RD> =>
  HttpServerRequest.schemaBodyJson(schema).pipe(
    Effect.catchTags({
      SchemaError: (error) => Effect.fail(fromSchemaError(error)),
      HttpServerError: () => Effect.fail(new InvalidOptions({ field: "body", message: "body: not valid JSON" }))
    })
  )
