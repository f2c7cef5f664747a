/**
 * Request bodies decoded by a `Schema`, failing with Baton's
 * `InvalidOptions` that names the offending field (a 400 through
 * `HttpProblem`), so a handler has one error vocabulary. Fields the schema
 * does not declare are ignored, as a `Schema.Struct` ignores them.
 *
 * A body is read up to `maxBytes` (`defaultMaxBytes`, 1 MiB, unless told):
 * a `Content-Length` over it is refused before a byte is read, and a body
 * that brings more bytes than that (chunked, without a length) stops being
 * buffered at the limit. Either is a `BodyTooLarge` (a 413 through
 * `HttpProblem`).
 *
 * @since 0.1.0
 */
import { InvalidOptions } from "@baton/core/LlmError"
import { ByteSize, Effect, Schema, SchemaIssue } from "effect"
import { HttpIncomingMessage, HttpServerError, HttpServerRequest } from "effect/http"

/**
 * The most bytes a body is read to when no `maxBytes` is given: 1 MiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxBytes = 1_048_576

/**
 * The request's body is over `maxBytes` bytes, by its `Content-Length` or by
 * the bytes it sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class BodyTooLarge extends Schema.TaggedError<BodyTooLarge>()("BodyTooLarge", {
  maxBytes: Schema.Number
}) {
  override get message(): string {
    return `The request body is over ${this.maxBytes} bytes.`
  }
}

/**
 * How a body is read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The most bytes read (default `defaultMaxBytes`). */
  readonly maxBytes?: number | undefined
}

const isOverflow = (error: unknown): boolean =>
  HttpServerError.isHttpServerError(error) && error.reason._tag === "RequestParseError" &&
  error.reason.reason === "BodyTooLarge"

/**
 * Runs `read`, a read of the current request's body, with at most
 * `maxBytes` bytes: fails with `BodyTooLarge` at once when the
 * `Content-Length` says more, or when more bytes arrive (the server stops
 * buffering them).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withMaxBytes = (maxBytes: number) =>
<A, E, R>(
  read: Effect.Effect<A, E, R>
): Effect.Effect<A, E | BodyTooLarge, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (request) =>
      Number(request.headers["content-length"] ?? "0") > maxBytes
        ? Effect.fail(new BodyTooLarge({ maxBytes }))
        : read.pipe(
          Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBytes)),
          Effect.mapError((error) => isOverflow(error) ? new BodyTooLarge({ maxBytes }) : error)
        )
  )

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

const fromSchemaError = (error: Schema.SchemaError): InvalidOptions => {
  const first = standard(error.issue).issues[0]
  const field = (first?.path ?? []).map(String).join(".") || "body"
  return new InvalidOptions({ field, message: `${field}: ${first?.message ?? "invalid"}` })
}

/**
 * The JSON body of the current request, decoded by `schema`, read up to
 * `options.maxBytes` (see `withMaxBytes`).
 *
 * @since 0.1.0
 * @category decoding
 */
export const json = <A, RD>(
  schema: Schema.ConstraintDecoder<A, RD>,
  options: Options = {}
): Effect.Effect<A, InvalidOptions | BodyTooLarge, HttpServerRequest.HttpServerRequest | RD> =>
  HttpServerRequest.schemaBodyJson(schema).pipe(
    withMaxBytes(options.maxBytes ?? defaultMaxBytes),
    Effect.catchTags({
      SchemaError: (error) => Effect.fail(fromSchemaError(error)),
      HttpServerError: () => Effect.fail(new InvalidOptions({ field: "body", message: "body: not valid JSON" }))
    })
  )
