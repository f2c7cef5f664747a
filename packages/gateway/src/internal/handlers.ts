/**
 * The gateway's request handlers: authentication, strict body decoding,
 * chain selection, the JSON and SSE answers, quota headers and the one
 * mapping of failures to OpenAI error responses; the model list and its
 * entries; OpenAI's 404 for a path no route serves.
 *
 * A content filter's stop is a failure to Baton (`ContentFiltered`) but an
 * answer to OpenAI: it is answered as one, with `finish_reason:
 * "content_filter"`, or, when the model declined in its own words, with its
 * `refusal` and `finish_reason: "stop"` (`failure.ts`, `filterStop`). Before
 * any text it is a whole answer without text (Baton keeps none of what the
 * filter cut); after some, the stream's last chunks. The manager failed the
 * call, so its unit was given back, and the quota headers say so.
 */
import type { Finish, StreamPart, ToolCallDelta } from "@baton/core/GenerationResult"
import { textDelta } from "@baton/core/GenerationResult"
import type { SubjectId } from "@baton/core/Ids"
import { InvalidOptions, type RateLimitExceeded } from "@baton/core/LlmError"
import type * as LlmManager from "@baton/core/LlmManager"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import { excerpt } from "@baton/core/Redact"
import * as StructuredOutput from "@baton/core/StructuredOutput"
import * as HttpBody from "@baton/http/HttpBody"
import type * as HttpRoutes from "@baton/http/HttpRoutes"
import * as HttpSse from "@baton/http/HttpSse"
import { DateTime, Duration, Effect, Exit, Option, Schema, Scope, Stream } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { randomUUID } from "node:crypto"
import * as GatewayConfig from "../GatewayConfig.ts"
import type * as Chains from "./chains.ts"
import { type CallError, type FilterStop, filterStop, Rejected, toHttp } from "./failure.ts"
import * as QuotaNote from "./quotaNote.ts"
import * as Wire from "./wire.ts"

/**
 * One accepted call: its manager, body, Baton request, the client's
 * structured output (a `json_schema` response format's, compiled), who it is
 * for and its quota note.
 */
interface Call {
  readonly manager: LlmManager.Service
  readonly body: Wire.ChatRequest
  readonly input: ReturnType<typeof Wire.toInput>
  readonly output: StructuredOutput.StructuredOutput<unknown> | undefined
  readonly requestId: string
  readonly subjectId: SubjectId
  readonly note: QuotaNote.Note
}

/**
 * A call's whole answer: its text (`null` when there is none to show), how
 * it ended, and the failure Baton ended the call with when a content filter
 * stopped it (the call failed to the manager, which gave its unit back),
 * with the model's refusal when it declined.
 */
interface Whole {
  readonly content: string | null
  readonly ending: Wire.Ending
  readonly failure?: CallError | undefined
  readonly refusal?: string | undefined
}

/** The model's refusal, sent as OpenAI streams one: a chunk whose delta carries `refusal`. */
interface Refusal {
  readonly _tag: "Refusal"
  readonly text: string
}

/** What the gateway streams: Baton's parts and a refusal. */
type Part = StreamPart | Refusal

const decodeChatRequest = Schema.decodeUnknownEffect(Wire.ChatRequest)

const reject = (status: Rejected["status"], code: string, message: string, param: string | null = null) =>
  new Rejected({ status, code, param, message })

const errorResponse = (error: CallError, headers: Readonly<Record<string, string>> = {}, requestId?: string) => {
  const failure = toHttp(error, requestId)
  return HttpServerResponse.jsonUnsafe(Wire.errorBody(failure.body), {
    status: failure.status,
    headers: { ...headers, ...failure.headers }
  })
}

const bearer = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const header = request.headers["authorization"]
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

const authenticate = (config: GatewayConfig.GatewayConfig, request: HttpServerRequest.HttpServerRequest) => {
  const presented = bearer(request)
  const key = presented === undefined ? Option.none() : GatewayConfig.authenticate(config, presented)
  return Option.match(key, {
    onNone: () =>
      Effect.fail(
        reject(
          401,
          "invalid_api_key",
          presented === undefined
            ? "missing gateway key: send Authorization: Bearer <key>"
            : "unknown or revoked gateway key"
        )
      ),
    onSome: Effect.succeed
  })
}

const readBody = (request: HttpServerRequest.HttpServerRequest, maxBytes: number) =>
  Effect.gen(function*() {
    const text = yield* request.text.pipe(
      HttpBody.withMaxBytes(maxBytes),
      Effect.provideService(HttpServerRequest.HttpServerRequest, request),
      Effect.mapError((error) =>
        error._tag === "BodyTooLarge"
          ? reject(413, "request_too_large", `the request body is over ${maxBytes} bytes`)
          : reject(400, "invalid_body", "the request body could not be read")
      )
    )
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (error) =>
        reject(400, "invalid_json", `malformed JSON body: ${error instanceof Error ? error.message : String(error)}`)
    })
    // strict at the top level: an unknown field is an error (a message ignores the keys it does not declare)
    const body = yield* decodeChatRequest(json, { onExcessProperty: "error" }).pipe(
      Effect.mapError((error) => {
        const issue = Wire.describeIssue(error)
        return reject(400, "invalid_request", issue.message, issue.param === "" ? null : issue.param)
      })
    )
    const refused = Wire.unsupported(body)
    return refused === undefined ? body : yield* reject(400, "unsupported_value", refused.message, refused.param)
  })

/** OpenAI's 404 for a model that is neither an alias nor a configured `provider/model`. */
const unknownModel = (name: string) =>
  reject(404, "model_not_found", `the model "${excerpt(name)}" does not exist`, "model")

const chainFor = (config: GatewayConfig.GatewayConfig, body: Wire.ChatRequest) =>
  Effect.gen(function*() {
    const primary = GatewayConfig.resolveModel(config, body.model)
    if (primary === undefined) return yield* unknownModel(body.model)
    const steps = [...primary]
    for (const [i, name] of (body.fallbacks ?? []).entries()) {
      const fallback = GatewayConfig.resolveModel(config, name)
      if (fallback === undefined) {
        return yield* reject(
          400,
          "invalid_fallback",
          `fallbacks[${i}]: "${excerpt(name)}" is not a configured alias or provider/model`,
          `fallbacks[${i}]`
        )
      }
      steps.push(...fallback)
    }
    return steps.filter((step, i) =>
      steps.findIndex((other) => other.provider === step.provider && other.model === step.model) === i
    )
  })

/** The client's schema is not the program's: its patterns run in linear time (`StructuredOutput`'s `untrusted`). */
const structuredOutput = (format: Wire.JsonSchemaFormat) =>
  StructuredOutput.fromJsonSchema(Wire.schemaOf(format), { name: format.json_schema.name, untrusted: true }).pipe(
    Effect.mapError((error) => reject(400, "invalid_schema", error.message, "response_format.json_schema"))
  )

const sse = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`

/**
 * A content filter's stop as OpenAI answers it: a whole answer without text
 * (Baton keeps none of what the filter cut), with the model's refusal when
 * it declined; any other failure stays one.
 */
const filterStopped = (failure: CallError): Effect.Effect<Whole, CallError> => {
  const stop = filterStop(failure)
  return stop === undefined
    ? Effect.fail(failure)
    : Effect.succeed({ content: null, ending: stop.finish, refusal: stop.refusal, failure })
}

/** A content filter's stop as the stream's last parts: the model's refusal when it declined, then the `Finish`. */
const stopParts = ({ finish, refusal }: FilterStop): ReadonlyArray<Part> =>
  refusal === undefined ? [finish] : [{ _tag: "Refusal", text: refusal }, finish]

/** A whole answer as a stream's parts: its text and `Finish`, or, without text, a content filter's last parts. */
const wholeParts = ({ content, ending, refusal }: Whole): ReadonlyArray<Part> => {
  const finish: Finish = { _tag: "Finish", ...ending }
  return content === null ? stopParts({ finish, refusal }) : [textDelta(content), finish]
}

/** A content filter's stop after some text: the stream's last parts; any other failure stays one. */
const filterFinish = (failure: CallError): Stream.Stream<Part, CallError> => {
  const stop = filterStop(failure)
  return stop === undefined ? Stream.fail(failure) : Stream.fromIterable(stopParts(stop))
}

/**
 * Encodes stream parts as OpenAI chunks; `modelOf` says who produced the
 * latest text. Each chunk goes out as its part comes: the delta that opens
 * a tool call carries Google's field for the call's signature when the
 * delta has the call's replay (Gemini sends each call whole, signed), the
 * only place the Vercel AI SDK reads it from in a stream; the finish chunk
 * carries every call's replay.
 */
const chunkEncoder = (id: string, created: number, includeUsage: boolean, modelOf: () => string) => {
  let started = false
  const opened = new Set<number>()
  /** A chunk of `fields`; the first of the answer opens the assistant's message (`content: null` when not text). */
  const deltaChunk = (fields: Record<string, unknown>): string => {
    const delta = started ? fields : { role: "assistant", content: null, ...fields }
    started = true
    return sse(Wire.chunk(id, created, modelOf(), { delta, finish_reason: null }))
  }
  /** The chunk of a tool call's delta: the first of the call opens it. */
  const toolChunk = (part: ToolCallDelta): string => {
    if (opened.has(part.index)) return deltaChunk(Wire.argumentsDelta(part))
    opened.add(part.index)
    return deltaChunk(Wire.openingDelta(part))
  }
  /** The finish chunk, carrying every call's replay, and the usage chunk when asked for. */
  const finishChunks = (part: Finish): string => {
    const model = Wire.producedBy(part.provider, part.model)
    const finish = sse(
      Wire.chunk(id, created, model, {
        delta: { ...(started ? {} : { role: "assistant", content: "" }), ...Wire.replayDelta(part.toolCalls) },
        finish_reason: Wire.finishReason(part.finishReason)
      })
    )
    return includeUsage ? finish + sse(Wire.chunk(id, created, model, undefined, part.usage)) : finish
  }
  return (part: Part): string => {
    switch (part._tag) {
      case "TextDelta":
        return deltaChunk({ content: part.text })
      case "Refusal":
        return deltaChunk({ refusal: part.text })
      case "ToolCallDelta":
        return toolChunk(part)
      // a `Restart` comes only with `rescue: "restart"`, which the gateway never asks for
      case "Restart":
        return ""
      case "Finish":
        return finishChunks(part)
    }
  }
}

/** The manager's refusal of a request's options, naming the field as the client's body does (`Wire.bodyField`). */
const inBodyTerms = (error: InvalidOptions, body: Wire.ChatRequest): InvalidOptions => {
  const field = Wire.bodyField(error.field, body)
  const message = error.message.startsWith(error.field)
    ? `${field}${error.message.slice(error.field.length)}`
    : error.message
  return new InvalidOptions({ field, message })
}

/** The longest `Retry-After` the OpenAI SDKs wait for; past it they retry after their own backoff. */
const SDK_RETRY_AFTER_MAX_MS = 60_000

/**
 * A spent quota's headers (`RateLimit-*`, `Retry-After`), and
 * `x-should-retry: false` when it resets more than a minute away: the OpenAI
 * SDKs retry every 429 that does not say so, after their own short backoff
 * when `Retry-After` is over a minute, so a spent daily quota cost three
 * requests where one answers.
 */
const spentHeaders = (error: RateLimitExceeded, now: DateTime.Utc): Readonly<Record<string, string>> => {
  const headers = QuotaLimiter.rateLimitHeaders(error, now)
  return Duration.toMillis(DateTime.distance(now, error.resetsAt)) > SDK_RETRY_AFTER_MAX_MS ?
    { ...headers, "x-should-retry": "false" } :
    headers
}

/** The handlers of one gateway. */
export const make = (
  config: GatewayConfig.GatewayConfig,
  chains: Chains.Chains,
  quota: QuotaLimiter.Service,
  keepAliveMs: number
) => {
  /** From the call's reservation; a call refused before reserving reads the store. */
  const quotaHeaders = (subjectId: SubjectId, note: QuotaNote.Note, error?: CallError) =>
    Effect.gen(function*() {
      const now = yield* DateTime.now
      if (error?._tag === "RateLimitExceeded") return spentHeaders(error, now)
      const noted = QuotaNote.statusAfter(note, error !== undefined)
      if (noted !== undefined) return QuotaLimiter.rateLimitHeaders(noted, now)
      const status = yield* Effect.option(quota.remaining(subjectId))
      return Option.match(status, {
        onNone: () => ({}),
        onSome: (s) => QuotaLimiter.rateLimitHeaders(s, now)
      })
    })

  /** A call's response headers: the subject's quota and `x-request-id`, the id of its request-log records. */
  const callHeaders = (requestId: string, subjectId: SubjectId, note: QuotaNote.Note, error?: CallError) =>
    Effect.map(quotaHeaders(subjectId, note, error), (headers) => ({ ...headers, "x-request-id": requestId }))

  const eventStream = (call: Call, events: Stream.Stream<Uint8Array>, failure?: CallError) =>
    Effect.map(
      callHeaders(call.requestId, call.subjectId, call.note, failure),
      (headers) => HttpSse.streamResponse(events, { headers, keepAliveMs })
    )

  /** The whole answer: the client's structured output once validated, else the model's text. */
  const wholeAnswer = ({ input, manager, output }: Call): Effect.Effect<Whole, CallError> =>
    output === undefined
      ? Effect.map(manager.generate(input), (result) => ({ content: result.content, ending: result }))
      : Effect.map(manager.generateStructured(input, output), (result) => ({
        content: JSON.stringify(result.value),
        ending: result
      }))

  /**
   * What a streamed answer streams: the manager's stream, or, for a
   * structured answer (validated whole before any of it is sent), its whole
   * answer's parts once there, the answer's provider noted as its text's.
   */
  const streamedParts = (call: Call): Stream.Stream<Part, CallError> =>
    call.output === undefined
      ? call.manager.stream(call.input)
      : Stream.fromIterableEffect(
        wholeAnswer(call).pipe(
          Effect.tap(({ ending: { model, provider } }) =>
            Effect.sync(() => {
              chains.producers.note(call.requestId, { provider, model })
            })
          ),
          Effect.map(wholeParts)
        )
      )

  /**
   * Answers the call's parts ({@link streamedParts}) as chunks. Waits for
   * the first part before answering, `keepAliveMs` at most
   * (`HttpSse.start`), so that a call failing before any text gets an HTTP
   * error status (a content filter's stop: the whole answer, a finish chunk
   * alone); past it the response starts, kept alive by comments until the
   * first part comes (a later failure is an in-band error). The response stream then owns
   * the call's stream and closes it when it ends or the client leaves.
   * The stream runs in a child of the request's scope (as `HttpSse.response`
   * does): a response dropped before its body is sent (the client gone while
   * a later step ran) cancels the call when the request ends, refunding its
   * quota, instead of leaving it to run on to its limits.
   */
  const streamAnswer = (call: Call) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        // closed by the body when it ends, else with the request's scope (closing it twice does nothing)
        const scope = yield* Scope.fork(yield* Effect.scope)
        yield* chains.producers.watch(call.requestId, scope)
        const close = Scope.close(scope, Exit.void)
        return yield* restore(startStream(call, scope, close)).pipe(Effect.onError(() => close))
      })
    )

  const startStream = (call: Call, scope: Scope.Scope, close: Effect.Effect<void>) =>
    Effect.gen(function*() {
      const { body, requestId } = call
      const started = yield* HttpSse.start(streamedParts(call), scope, { keepAliveMs }).pipe(
        Effect.result
      )
      if (started._tag === "Failure") {
        // nothing streamed yet: a content filter's stop is answered whole, any other failure with its status
        return yield* Effect.flatMap(
          filterStopped(started.failure),
          (whole) => Effect.andThen(close, respond(call, whole))
        )
      }
      const created = Date.now()
      const encode = chunkEncoder(
        `chatcmpl-${requestId}`,
        created,
        body.stream_options?.include_usage === true,
        () => {
          const producer = chains.producers.latest(requestId)
          return producer === undefined ? body.model : Wire.producedBy(producer.provider, producer.model)
        }
      )
      const events = started.success.pipe(
        Stream.catch(filterFinish),
        Stream.map(encode),
        Stream.concat(Stream.succeed("data: [DONE]\n\n")),
        Stream.catch((error) => Stream.succeed(sse(Wire.errorBody(toHttp(error, requestId).body)))),
        Stream.ensuring(close),
        Stream.encodeText
      )
      return yield* eventStream(call, events)
    })

  /** A whole answer as a `chat.completion`, or as the chunks of one when the client asked for a stream. */
  const respond = (call: Call, whole: Whole) =>
    Effect.gen(function*() {
      const { content, ending, failure, refusal } = whole
      const id = `chatcmpl-${call.requestId}`
      if (call.body.stream !== true) {
        return HttpServerResponse.jsonUnsafe(Wire.completion(id, Date.now(), ending, content, refusal ?? null), {
          headers: yield* callHeaders(call.requestId, call.subjectId, call.note, failure)
        })
      }
      const encode = chunkEncoder(
        id,
        Date.now(),
        call.body.stream_options?.include_usage === true,
        () => Wire.producedBy(ending.provider, ending.model)
      )
      return yield* eventStream(
        call,
        Stream.encodeText(Stream.succeed(wholeParts(whole).map(encode).join("") + "data: [DONE]\n\n")),
        failure
      )
    })

  const answer = (call: Call) =>
    wholeAnswer(call).pipe(
      Effect.catch(filterStopped),
      Effect.flatMap((whole) => respond(call, whole))
    )

  const accept = (
    request: HttpServerRequest.HttpServerRequest,
    subjectId: SubjectId,
    note: QuotaNote.Note,
    requestId: string
  ) =>
    Effect.gen(function*() {
      const body = yield* readBody(request, config.maxBodyBytes)
      const manager = yield* chains.managerFor(yield* chainFor(config, body)).pipe(
        Effect.mapError((error) => reject(404, "model_unavailable", error.message, "model"))
      )
      const input = Wire.toInput(body, { subjectId, requestId })
      const format = body.response_format
      const output = format?.type === "json_schema" ? yield* structuredOutput(format) : undefined
      const call: Call = { manager, body, input, output, requestId, subjectId, note }
      return yield* (body.stream === true ? streamAnswer(call) : answer(call)).pipe(
        Effect.mapError((error) => error._tag === "InvalidOptions" ? inBodyTerms(error, body) : error)
      )
    })

  const chatCompletions = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.flatMap(Effect.result(authenticate(config, request)), (auth) => {
      if (auth._tag === "Failure") return Effect.succeed(errorResponse(auth.failure))
      const note: QuotaNote.Note = { reservation: undefined }
      const requestId = randomUUID()
      return accept(request, auth.success.subject, note, requestId).pipe(
        Effect.catch((error: CallError) =>
          Effect.map(
            callHeaders(requestId, auth.success.subject, note, error),
            (headers) => errorResponse(error, headers, requestId)
          )
        ),
        Effect.provideService(QuotaNote.CurrentNote, note)
      )
    })

  /** The model object of each alias and `provider/model` a client may ask for. */
  const modelObjects = [
    ...[...config.aliases.keys()].map((id) => ({ id, owned_by: "baton" })),
    ...[...config.providers.values()].flatMap((provider) =>
      provider.models.map((model) => ({ id: `${provider.name}/${model}`, owned_by: provider.name }))
    )
  ].map((entry) => ({ ...entry, object: "model", created: 0 }))

  /** The list, or the one model `id` names (`""` for the list: `/v1/models` or `/v1/models/`). */
  const modelsAnswer = (id: string): Effect.Effect<unknown, Rejected> => {
    if (id === "") return Effect.succeed({ object: "list", data: modelObjects })
    const model = modelObjects.find((entry) => entry.id === id)
    return model === undefined ? Effect.fail(unknownModel(id)) : Effect.succeed(model)
  }

  /**
   * `GET /v1/models` and `GET /v1/models/{id}`, one wildcard route: the id
   * of a `provider/model` has a `/`, which the openai SDK sends as `%2F` and
   * `curl` may send raw.
   */
  const models = (request: HttpServerRequest.HttpServerRequest) =>
    authenticate(config, request).pipe(
      Effect.andThen(HttpRouter.params),
      Effect.flatMap((params) => modelsAnswer(params["*"] ?? "")),
      Effect.match({
        onFailure: (error) => errorResponse(error),
        onSuccess: (answer) => HttpServerResponse.jsonUnsafe(answer)
      })
    )

  const health = Effect.succeed(HttpServerResponse.jsonUnsafe({ status: "ok" }))

  return { chatCompletions, models, health }
}

/** OpenAI's error for a request no route serves: its refusal's status and code, naming the method and path. */
export const refused = (refusal: HttpRoutes.Refusal, request: HttpServerRequest.HttpServerRequest) => {
  const asked = `${request.method} ${excerpt(request.url.replace(/[?#].*$/s, ""), 200)}`
  switch (refusal._tag) {
    case "MalformedPath":
      return errorResponse(reject(400, "invalid_url", `Invalid request URL: ${asked} has a malformed percent escape`))
    case "MethodNotAllowed":
      return errorResponse(
        reject(405, "method_not_allowed", `Method not allowed: ${asked}; this path serves ${refusal.allow}`)
      )
    case "NotFound":
      return errorResponse(reject(404, "unknown_url", `Unknown request URL: ${asked}`))
  }
}
