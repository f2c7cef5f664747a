/**
 * The one HTTP exchange an adapter makes: a JSON POST, its status, headers
 * and body as a stream of byte chunks.
 *
 * Two ways to it. An `HttpClient` built by `ProviderHttpClient.layer` carries
 * its own undici `Agent`, and the adapter calls that dispatcher directly:
 * no request object, URL parse, `AbortController`, finalization registry or
 * `DOMException` per call, and the body's chunks are read in batches
 * (`bench/README.md`, "Transport"). Any other `HttpClient` (a fake in tests,
 * a proxy, `FetchHttpClient`) is called through its interface.
 *
 * Either way, interrupting the fiber aborts the request (waiting for the
 * headers) or destroys the body (reading it): the server sees the connection
 * closed.
 */
import { NodeHttpClient } from "@effect/platform-node"
import type * as Undici from "@effect/platform-node/Undici"
import { Cause, Channel, Effect, Layer, type Pull, Scope, Stream, Tracer } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { HttpBody, HttpClient, type HttpClientError, HttpClientRequest } from "effect/http"
import type { Readable } from "node:stream"

/** What went wrong on the wire: before the response headers (`request`) or while reading the body (`body`). */
export interface TransportFailure {
  readonly _tag: "TransportFailure"
  readonly stage: "request" | "body" | "url"
  readonly cause: unknown
}

/** A response: status, headers (read on demand) and body. */
export interface Response {
  readonly status: number
  readonly headers: () => Readonly<Record<string, string | undefined>>
  /** The body's chunks; stopping early (or interruption) closes the connection. */
  readonly body: Stream.Stream<Uint8Array, TransportFailure>
}

/** One POST of a JSON body. */
export type Post = (
  origin: string,
  path: string,
  headers: Record<string, string>,
  body: string
) => Effect.Effect<Response, TransportFailure>

const failure = (stage: TransportFailure["stage"], cause: unknown): TransportFailure => ({
  _tag: "TransportFailure",
  stage,
  cause
})

const bodyFailure = (cause: unknown) => failure("body", cause)

const dispatchers = new WeakMap<HttpClient.HttpClient, Undici.Dispatcher>()

/** `content-type` on every request body. */
const json = "application/json"

/**
 * The server closed a connection that had already carried an answer, before
 * any byte of this one: a keep-alive connection the server closed as idle
 * just as the request left on it (the likelier the busier the process). The
 * provider never read the request, so it is sent once more, on another
 * connection, rather than failing the attempt (a backoff and a failure
 * against the circuit). A new connection closed unanswered still fails.
 */
const closedIdle = (error: TransportFailure): boolean => {
  const cause = error.cause as { readonly code?: unknown; readonly socket?: { readonly bytesRead?: unknown } } | null
  return cause?.code === "UND_ERR_SOCKET" && typeof cause.socket?.bytesRead === "number" && cause.socket.bytesRead > 0
}

/**
 * `send` once more when it failed on a closed idle connection: a catch, not
 * `Effect.retry`, whose schedule every request would hold while it waits for
 * its headers (bench/README.md, "Memory").
 */
const resendOnClosedIdle = <A>(send: Effect.Effect<A, TransportFailure>): Effect.Effect<A, TransportFailure> =>
  Effect.catch(send, (error) => closedIdle(error) ? send : Effect.fail(error))

const viaDispatcher = (dispatcher: Undici.Dispatcher): Post => (origin, path, headers, body) =>
  Effect.map(
    resendOnClosedIdle(
      Effect.tryPromise({
        try: (signal) =>
          dispatcher.request({
            origin,
            path,
            method: "POST",
            headers: { ...headers, "content-type": json },
            body,
            signal,
            // the adapter or the manager's watchdog owns time
            headersTimeout: 0,
            bodyTimeout: 0
          }),
        catch: (cause) => failure("request", cause)
      })
    ),
    (response): Response => ({
      status: response.statusCode,
      headers: () => flatHeaders(response.headers),
      body: bodyStream(response.body)
    })
  )

/**
 * An undici body as a stream: each pull takes every chunk Node has buffered,
 * waiting for `readable` only when there is none. A body left before its end
 * (the consumer stopped, or was interrupted) is destroyed, which closes the
 * connection.
 */
const bodyStream = (body: Readable): Stream.Stream<Uint8Array, TransportFailure> =>
  Stream.fromChannel(Channel.fromTransform((_, scope) =>
    Effect.suspend(() => {
      let failed: TransportFailure | undefined
      let wake: (() => void) | undefined
      const signal = () => wake?.()
      const onError = (cause: unknown) => {
        failed ??= bodyFailure(cause)
        signal()
      }
      const onClose = () => {
        if (!body.readableEnded) onError(new Error("the response body closed before its end"))
      }
      // stays attached: an error after the consumer left must not be unhandled
      body.on("error", onError)
      body.on("readable", signal)
      body.on("end", signal)
      body.on("close", onClose)
      const wait = Effect.callback<undefined>((resume) => {
        wake = () => {
          wake = undefined
          resume(Effect.undefined)
        }
        return Effect.sync(() => {
          wake = undefined
        })
      })
      const pull: Pull.Pull<NonEmptyReadonlyArray<Uint8Array>, TransportFailure> = Effect.suspend(() => {
        let chunk = body.read() as Uint8Array | null
        if (chunk !== null) {
          const chunks: [Uint8Array, ...Array<Uint8Array>] = [chunk]
          while ((chunk = body.read() as Uint8Array | null) !== null) chunks.push(chunk)
          return Effect.succeed(chunks)
        }
        if (failed !== undefined) return Effect.fail(failed)
        if (body.readableEnded) return Cause.done()
        return Effect.flatMap(wait, () => pull)
      })
      return Effect.as(
        Scope.addFinalizer(
          scope,
          Effect.sync(() => {
            body.off("readable", signal)
            body.off("end", signal)
            body.off("close", onClose)
            if (!body.readableEnded) body.destroy()
          })
        ),
        pull
      )
    })
  ))

const flatHeaders = (
  headers: Record<string, string | Array<string> | undefined>
): Record<string, string | undefined> => {
  const flat: Record<string, string | undefined> = {}
  for (const name in headers) {
    const value = headers[name]
    flat[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return flat
}

const fromClientError = (error: HttpClientError.HttpClientError): TransportFailure => {
  const reason = error.reason
  switch (reason._tag) {
    case "TransportError":
      return failure("request", reason.cause)
    case "InvalidUrlError":
      return failure("url", reason.cause)
    default:
      return failure("body", "cause" in reason ? reason.cause : reason._tag)
  }
}

const viaClient = (client: HttpClient.HttpClient): Post => (origin, path, headers, body) =>
  client.execute(HttpClientRequest.post(origin + path, {
    headers,
    body: HttpBody.text(body, json)
  })).pipe(
    Effect.map((response): Response => ({
      status: response.status,
      headers: () => response.headers,
      body: Stream.mapError(response.stream, fromClientError)
    })),
    Effect.mapError(fromClientError),
    // the manager owns tracing: no client span, no trace headers to the provider
    Effect.provideService(Tracer.DisablePropagation, true)
  )

/** The POST of an adapter given `client`: its dispatcher directly when it carries one. */
export const post = (client: HttpClient.HttpClient): Post => {
  const dispatcher = dispatchers.get(client)
  return dispatcher === undefined ? viaClient(client) : viaDispatcher(dispatcher)
}

/** An `HttpClient` on a new undici `Agent` (closed with the layer) that adapters call directly. */
export const layer = (options?: Undici.Agent.Options): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.flatMap(NodeHttpClient.makeDispatcherOptions(options), (dispatcher) =>
      Effect.map(
        Effect.provideService(NodeHttpClient.makeUndici, NodeHttpClient.Dispatcher, dispatcher),
        (client) => {
          dispatchers.set(client, dispatcher)
          return client
        }
      ))
  )
