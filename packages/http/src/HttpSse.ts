/**
 * A `manager.stream` as a Server-Sent Events response.
 *
 * Events:
 * - `delta`: `{"text": "..."}` for each piece of text;
 * - `tool_call`: `{"index", "id", "name", "argumentsDelta"}` for each piece of
 *   a tool call, only for a request that carries tools (see
 *   `GenerationResult.ToolCallDelta`), and `replay` on the piece whose
 *   provider sent one with it (a Gemini 3 call's signature: no reasoning);
 * - `restart`: `{"reason"}`, only for a request that asked for
 *   `rescue: "restart"`: discard the text shown so far, the whole new answer
 *   follows;
 * - `finish`: `{"provider", "model", "finishReason", "usage"}` (and
 *   `toolCalls` when the model called tools, each with its `replay` when the
 *   provider asked for one: see below), the only clean end of an answer;
 * - `error`: a Problem Details object (see `HttpProblem`) when the stream
 *   fails after the response has started. A client that sees the body end
 *   without `finish` must treat the answer as cut.
 *
 * **Replays carry reasoning.** A `finish` event's `toolCalls` are sent as
 * the manager gives them, `replay` included (`Tool.Replay`): a Gemini 3
 * call's opaque signature, and on the first call of a DeepSeek thinking-mode
 * answer the model's raw chain of thought (`replay.reasoning`), so a client
 * can send its calls back and the next turn is not refused. A service whose
 * clients must not read the model's reasoning strips `replay` before it
 * encodes the stream; those clients' calls then go back without it and get
 * the fallback `Tool.Replay` describes:
 *
 * ```ts
 * import type { StreamPart } from "@baton/core/GenerationResult"
 *
 * const withoutReplays = (part: StreamPart): StreamPart => {
 *   if (part._tag === "ToolCallDelta" && part.replay !== undefined) {
 *     const { replay: _, ...delta } = part
 *     return delta
 *   }
 *   return part._tag === "Finish" && part.toolCalls !== undefined
 *     ? { ...part, toolCalls: part.toolCalls.map(({ replay: _, ...call }) => call) }
 *     : part
 * }
 * // HttpSse.response(Stream.map(manager.stream(input), withoutReplays))
 * ```
 *
 * **Proxies.** Each event is meant to reach the client as it is written, so
 * the response says `Cache-Control: no-cache, no-transform` ({@link streamHeaders}: no hop may
 * store, compress or otherwise rewrite it; `effect/http`'s compression
 * middleware leaves it alone too) and `X-Accel-Buffering: no` (nginx, which
 * buffers a proxied response by default, passes each event on at once).
 *
 * **Keep-alive.** A comment (`: keep-alive`) is sent as the body starts
 * (so the headers leave then) and every {@link keepAliveMs} (15 s) while
 * the body is open, so that a long silence (a slow first token, a model
 * reasoning at length, a restart on another provider) is not cut by a proxy's idle limit (nginx's `proxy_read_timeout`
 * is 60 s). SSE clients skip comments. The first part is awaited for one
 * interval before the response starts: a failure within it (a spent quota,
 * every provider down at once) is an error response with its status; past
 * it the response starts (200) with a comment, and a later failure is an
 * `error` event. {@link streamResponse} and {@link start} are the two steps,
 * for any other event stream (the gateway's).
 *
 * **Lifetime.** The started stream (the manager's call, its provider
 * connection and the subject's quota reservation) lives in a child of the
 * caller's `Scope`: it ends when the body ends, or when that scope closes,
 * whichever comes first. In an `effect/http` handler that scope is the
 * request's, which the server keeps open while it sends the body and closes
 * when the request ends, so a response that is never sent (the client went
 * away while the handler still ran, a later step failed, the response was
 * replaced) cancels its call: the quota is refunded and the attempt is
 * logged and billed as `cancelled` at once. Do not wrap `response` in
 * `Effect.scoped`: that cancels the stream before the body is sent.
 *
 * @since 0.1.0
 */
import type { StreamPart } from "@baton/core/GenerationResult"
import type { StreamError } from "@baton/core/LlmManager"
import { DateTime, Effect, Exit, Fiber, Option, Pull, Scope, Stream, Struct } from "effect"
import { Sse } from "effect/encoding"
import { HttpServerResponse } from "effect/http"
import * as HttpProblem from "./HttpProblem.ts"

const event = (name: string, data: unknown): Sse.Event => ({
  _tag: "Event",
  event: name,
  id: undefined,
  data: JSON.stringify(data)
})

const toEvent = (part: StreamPart): Sse.Event => {
  switch (part._tag) {
    case "TextDelta":
      return event("delta", { text: part.text })
    case "ToolCallDelta":
      return event("tool_call", Struct.omit(part, ["_tag"]))
    case "Restart":
      return event("restart", { reason: part.reason })
    case "Finish":
      return event("finish", {
        provider: part.provider,
        model: part.model,
        finishReason: part.finishReason,
        usage: part.usage,
        ...(part.toolCalls === undefined ? {} : { toolCalls: part.toolCalls })
      })
  }
}

const errorEvent = (error: StreamError, options: HttpProblem.Options) =>
  Effect.map(DateTime.now, (now) => event("error", HttpProblem.toProblem(error, now, options).problem))

/**
 * The headers of an event stream meant to reach its client event by event:
 * no hop may store, compress or rewrite it (`no-transform`; `effect/http`'s
 * compression middleware leaves it alone too), and nginx, which buffers a
 * proxied response by default, passes each event on at once. `response`
 * sends them; so does any other SSE answer (the gateway's).
 *
 * @since 0.1.0
 * @category constants
 */
export const streamHeaders: Readonly<Record<string, string>> = {
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no"
}

/**
 * How often an event stream sends a comment (`: keep-alive`) by default: 15
 * seconds, well within a proxy's idle limit (nginx's `proxy_read_timeout`
 * is 60 s), so a silence (a slow first token, a restart on another
 * provider) does not end the response. SSE clients ignore comments.
 *
 * @since 0.1.0
 * @category constants
 */
export const keepAliveMs = 15_000

/**
 * The options of an event stream's response.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions {
  /** Headers beside {@link streamHeaders} (which they may override). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * How often a comment is sent (default {@link keepAliveMs}): a whole
   * number of ms, 1 or more; anything else (0, negative, fractional, `NaN`,
   * which would send comments without pause) is a defect, a `RangeError`
   * naming `keepAliveMs`.
   */
  readonly keepAliveMs?: number | undefined
}

const keepAliveComment = new TextEncoder().encode(": keep-alive\n\n")

/** `StreamOptions.keepAliveMs`, {@link keepAliveMs} by default; throws a `RangeError` naming it unless it is a whole number of ms, 1 or more. */
const intervalOf = (options: Pick<StreamOptions, "keepAliveMs">): number => {
  const ms = options.keepAliveMs ?? keepAliveMs
  if (Number.isSafeInteger(ms) && ms >= 1) return ms
  throw new RangeError(`keepAliveMs: ${ms} is not a whole number of milliseconds, 1 or more`)
}

/**
 * An encoded event stream that opens with a comment (written at once, so the
 * response's headers leave then, not with a late first event) and has one
 * every `intervalMs` while it is open; it ends with `body`.
 */
const keepAlive = <E>(body: Stream.Stream<Uint8Array, E>, intervalMs: number): Stream.Stream<Uint8Array, E> =>
  Stream.concat(
    Stream.succeed(keepAliveComment),
    Stream.merge(body, Stream.tick(intervalMs).pipe(Stream.drop(1), Stream.as(keepAliveComment)), {
      haltStrategy: "left"
    })
  )

/**
 * An SSE response of the encoded events `body`, with {@link streamHeaders}
 * and `options.headers`, and a comment (`: keep-alive`) first, so the
 * headers leave at once, then every `options.keepAliveMs` while the body is
 * open. It throws a `RangeError` naming `keepAliveMs` when that is no whole
 * number of ms, 1 or more.
 *
 * @example
 * ```ts
 * import * as HttpSse from "@baton/http/HttpSse"
 * import { Stream } from "effect"
 *
 * const response = HttpSse.streamResponse(Stream.encodeText(Stream.make("data: [DONE]\n\n")), {
 *   headers: { "x-request-id": "r-1" }
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamResponse = <E>(
  body: Stream.Stream<Uint8Array, E>,
  options: StreamOptions = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(keepAlive(body, intervalOf(options)), {
    contentType: "text/event-stream",
    headers: { ...streamHeaders, ...options.headers }
  })

/**
 * Starts `parts` in `scope` and waits for its first parts, one
 * `keepAliveMs` (default {@link keepAliveMs}) at most: it fails with the
 * stream's error when the stream fails within that time, so the caller can
 * answer with an error status, and otherwise gives the whole stream (the
 * first parts, waited for there when they are late, and the rest), for a
 * response whose comments keep it alive meanwhile ({@link streamResponse}).
 *
 * `parts` runs in `scope` and stops when it closes: close it when the body
 * ends (`Stream.ensuring`) and when this effect fails. A `keepAliveMs` that
 * is no whole number of ms, 1 or more, is a defect (`RangeError`), before
 * `parts` starts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = <A, E>(
  parts: Stream.Stream<A, E>,
  scope: Scope.Scope,
  options: Pick<StreamOptions, "keepAliveMs"> = {}
): Effect.Effect<Stream.Stream<A, E>, E> =>
  Effect.gen(function*() {
    const interval = intervalOf(options)
    const pull = yield* Scope.provide(Stream.toPull(parts), scope)
    const first = yield* Effect.forkIn(Pull.catchDone(pull, () => Effect.succeed<ReadonlyArray<A>>([])), scope)
    const early = yield* Effect.timeoutOption(Fiber.await(first), interval)
    if (Option.isSome(early) && Exit.isFailure(early.value)) return yield* Effect.failCause(early.value.cause)
    return Stream.concat(
      Stream.flattenIterable(Stream.fromEffect(Fiber.join(first))),
      Stream.fromPull(Effect.succeed(pull))
    )
  })

/**
 * Starts `parts` and answers with an SSE response once its first part is
 * there or {@link keepAliveMs} has passed without one; fails with the
 * stream's error when it fails before either.
 *
 * The stream runs in a child of the caller's `Scope` (the request's, in an
 * `effect/http` handler): it is stopped when the body ends or when that scope
 * closes, so a response dropped before its body ends cannot keep the call,
 * its connection or its quota.
 *
 * @since 0.1.0
 * @category constructors
 */
export const response = (
  parts: Stream.Stream<StreamPart, StreamError>,
  options: HttpProblem.Options = {}
): Effect.Effect<HttpServerResponse.HttpServerResponse, StreamError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      // closed by the body when it ends, else with the caller's scope (closing it twice does nothing)
      const scope = yield* Scope.fork(yield* Effect.scope)
      const started = yield* restore(start(parts, scope)).pipe(
        Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit))
      )
      const body = started.pipe(
        Stream.map(toEvent),
        Stream.catch((error) => Stream.fromEffect(errorEvent(error, options))),
        Stream.ensuring(Scope.close(scope, Exit.void)),
        Stream.pipeThroughChannel(Sse.encode()),
        Stream.encodeText
      )
      return streamResponse(body)
    })
  )
