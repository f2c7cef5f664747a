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
 * The stream is pulled once before the response is made, so a failure before
 * any text (a spent quota, every provider down) is an ordinary error response
 * with its status (429, 503, ...) rather than a 200 carrying an error event.
 *
 * **Proxies.** Each event is meant to reach the client as it is written, so
 * the response says `Cache-Control: no-cache, no-transform` ({@link streamHeaders}: no hop may
 * store, compress or otherwise rewrite it; `effect/http`'s compression
 * middleware leaves it alone too) and `X-Accel-Buffering: no` (nginx, which
 * buffers a proxied response by default, passes each event on at once).
 *
 * **Keep-alive.** Once the response has started (with the first event),
 * a comment (`: keep-alive`) is sent every {@link keepAliveMs} (15 s) while
 * the body is open, so that a long silence after it (a restart on another
 * provider, reasoning the events do not carry) is not cut by a proxy's idle
 * limit. SSE clients skip comments. Before the first event nothing is sent,
 * not even the headers (a failure there gets its own status): a proxy in
 * front must allow a first byte as late as the request's deadline
 * (`LLM_REQUEST_TIMEOUT_MS`, 60 s by default: retries and fallbacks may come
 * before the first text), which reaches nginx's default
 * `proxy_read_timeout` of 60 s.
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
import { DateTime, Effect, Exit, Pull, Scope, Stream, Struct } from "effect"
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
 * How often a started event stream sends a comment (`: keep-alive`): 15
 * seconds, well within a proxy's idle limit (nginx's `proxy_read_timeout`
 * is 60 s), so a silence after its first event (a restart on another
 * provider) does not end the response. SSE clients ignore comments.
 *
 * @since 0.1.0
 * @category constants
 */
export const keepAliveMs = 15_000

const keepAliveComment = new TextEncoder().encode(": keep-alive\n\n")

/** An encoded event stream with a comment every {@link keepAliveMs} while it is open; it ends with `body`. */
const keepAlive = <E, R>(body: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.merge(body, Stream.tick(keepAliveMs).pipe(Stream.drop(1), Stream.as(keepAliveComment)), {
    haltStrategy: "left"
  })

/**
 * Starts `parts` and answers with an SSE response once its first part is
 * there; fails with the stream's error when it fails before any part.
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
      const pull = yield* Scope.provide(Stream.toPull(parts), scope)
      const first = yield* restore(Pull.catchDone(pull, () => Effect.succeed<ReadonlyArray<StreamPart>>([]))).pipe(
        Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit))
      )
      const body = Stream.concat(Stream.fromIterable(first), Stream.fromPull(Effect.succeed(pull))).pipe(
        Stream.map(toEvent),
        Stream.catch((error) => Stream.fromEffect(errorEvent(error, options))),
        Stream.ensuring(Scope.close(scope, Exit.void)),
        Stream.pipeThroughChannel(Sse.encode()),
        Stream.encodeText,
        keepAlive
      )
      return HttpServerResponse.stream(body, {
        contentType: "text/event-stream",
        headers: streamHeaders
      })
    })
  )
