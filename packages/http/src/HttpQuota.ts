/**
 * Per-subject quotas on an `effect/http` server: the subject of each request
 * (a teacher) from a header or a function, `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` on every response, success or
 * error, and Baton's errors as Problem Details (see `HttpProblem`).
 *
 * **Who reserves.** The `LlmManager` reserves the subject's quota for each
 * call that names a `subjectId` (and refunds it when the call fails or is
 * interrupted), so quota is spent in one place whatever the door. `handler`
 * reads the subject's quota after the call for the headers, or takes them
 * from the `RateLimitExceeded` that refused it (429 with `Retry-After`).
 *
 * @example
 * ```ts
 * import * as HttpQuota from "@baton/http/HttpQuota"
 * import * as LlmManager from "@baton/core/LlmManager"
 * import { Effect } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 *
 * const route = HttpRouter.add("POST", "/v1/answer", HttpQuota.handler({ subject: { header: "x-teacher-id" } })(
 *   (subjectId) => Effect.gen(function*() {
 *     const manager = yield* LlmManager.LlmManager
 *     const result = yield* manager.generate({ prompt: "Hi", metadata: { subjectId } })
 *     return HttpServerResponse.jsonUnsafe({ content: result.content })
 *   })
 * ))
 * ```
 *
 * @since 0.1.0
 */
import { SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import { InvalidOptions, type LlmConfigError } from "@baton/core/LlmError"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import { DateTime, Duration, Effect, Schema, SchemaIssue } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import * as HttpProblem from "./HttpProblem.ts"

/**
 * Where the subject of a request comes from: a header (a missing or invalid
 * value is a 400 naming the header) or a function of the request.
 *
 * @since 0.1.0
 * @category models
 */
export type SubjectSource =
  | { readonly header: string }
  | ((request: HttpServerRequest.HttpServerRequest) => Effect.Effect<SubjectId, InvalidOptions>)

/**
 * What `handler` needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends HttpProblem.Options {
  readonly subject: SubjectSource
  /**
   * How long the `RateLimit-*` headers may wait for the subject's quota
   * (its store, or an `overrides` lookup of one's own); default 1 second.
   * Past it the response goes without them, as when the store is down.
   * One that is not a positive duration (`"1 sec"`) makes every request a
   * 500 Problem Details, its handler not run, and logs an error naming
   * `HttpQuota.quotaHeadersTimeout` once; {@link checkOptions} refuses it
   * at startup.
   */
  readonly quotaHeadersTimeout?: Duration.Input | undefined
}

const decodeSubject = Schema.decodeUnknownEffect(SubjectId)

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

/** Why a header's value is not a subject id: missing, or the id rule it breaks. */
const whyNot = (value: string | undefined, error: Schema.SchemaError): string =>
  value === undefined
    ? "required, a non-empty id of at most 256 characters"
    : standard(error.issue).issues[0]?.message ?? "not a subject id"

const fromHeader = (name: string) => (request: HttpServerRequest.HttpServerRequest) => {
  const value = request.headers[name.toLowerCase()]
  return decodeSubject(value).pipe(
    Effect.mapError((error) =>
      new InvalidOptions({ field: `header ${name}`, message: `header ${name}: ${whyNot(value, error)}` })
    )
  )
}

/**
 * The subject of the current request.
 *
 * @since 0.1.0
 * @category accessors
 */
export const subjectOf = (
  source: SubjectSource
): Effect.Effect<SubjectId, InvalidOptions, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, typeof source === "function" ? source : fromHeader(source.header))

/**
 * The subject's quota headers now; none when the store cannot say within
 * `timeout` (or the subject is not one it keeps).
 */
const currentHeaders = (subjectId: SubjectId, timeout: Duration.Input) =>
  Effect.gen(function*() {
    const quota = yield* QuotaLimiter.QuotaLimiter
    const status = yield* Effect.timeout(quota.remaining(subjectId), timeout)
    return QuotaLimiter.rateLimitHeaders(status, yield* DateTime.now)
  }).pipe(Effect.catch(() => Effect.succeed({})))

const headersTimeoutOf = (options: Options) =>
  LlmConfig.duration("HttpQuota.quotaHeadersTimeout", options.quotaHeadersTimeout ?? Duration.seconds(1), "positive")

/**
 * Checks a handler's options at startup: a `quotaHeadersTimeout` that is not
 * a positive duration is an `LlmConfigError` naming
 * `HttpQuota.quotaHeadersTimeout` ({@link handler} would answer every
 * request 500).
 *
 * @since 0.1.0
 */
export const checkOptions = (options: Options): Effect.Effect<void, LlmConfigError> =>
  Effect.asVoid(headersTimeoutOf(options))

/**
 * Wraps a handler that serves one subject: resolves the subject, runs the
 * handler, renders a Baton error as Problem Details, and puts the subject's
 * `RateLimit-*` headers on the response.
 *
 * The headers are read after `handle` returns its response, so they count
 * the call it made, within `quotaHeadersTimeout` (default 1 second). A
 * response that holds a running call (`HttpSse.response`) ties it to the
 * request's `Scope`: a request that ends before its body is sent (the
 * client goes away while the headers are read) cancels the call and
 * refunds its quota.
 *
 * @since 0.1.0
 * @category combinators
 */
export const handler = (options: Options) =>
<E extends HttpProblem.BatonError, R>(
  handle: (subjectId: SubjectId) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | HttpServerRequest.HttpServerRequest | QuotaLimiter.QuotaLimiter
> => {
  const timeout = Effect.runSync(Effect.result(headersTimeoutOf(options)))
  let reported = false
  return Effect.gen(function*() {
    // refused before any request: the service is misconfigured, and no call is made (nor billed) while it is
    if (timeout._tag === "Failure") {
      if (!reported) {
        reported = true
        yield* Effect.logError(timeout.failure.message)
      }
      return HttpProblem.toResponse(timeout.failure, yield* DateTime.now, options)
    }
    const subject = yield* Effect.result(subjectOf(options.subject))
    if (subject._tag === "Failure") return HttpProblem.toResponse(subject.failure, yield* DateTime.now, options)
    const subjectId = subject.success
    const outcome = yield* Effect.result(handle(subjectId))
    if (outcome._tag === "Failure" && outcome.failure._tag === "RateLimitExceeded") {
      return HttpProblem.toResponse(outcome.failure, yield* DateTime.now, options)
    }
    const headers = yield* currentHeaders(subjectId, timeout.success)
    const response = outcome._tag === "Success"
      ? outcome.success
      : HttpProblem.toResponse(outcome.failure, yield* DateTime.now, options)
    return HttpServerResponse.setHeaders(response, headers)
  })
}
