/**
 * The one HTTP exchange an adapter makes: a JSON POST, its status, headers
 * and body, pulled in batches of byte chunks or read whole.
 *
 * Two ways to it. An `HttpClient` built by `ProviderHttpClient.layer` carries
 * its own undici `Agent`, and the adapter dispatches on it directly, on
 * undici's handler interface: no request object, URL parse, promise,
 * `AbortController`, `Readable`, async resource or `DOMException` per call,
 * and the body's chunks are read in batches (`bench/README.md`, "Transport"
 * and "undici's handler interface"). Any other `HttpClient` (a fake in
 * tests, a proxy, `FetchHttpClient`) is called through its interface.
 *
 * Either way, interrupting the fiber aborts the request (waiting for the
 * headers) or destroys the body (reading it): the server sees the connection
 * closed. Every request asks for its body unencoded (`accept-encoding:
 * identity`); a server (or a proxy) that compresses it anyway has it decoded
 * on the dispatcher (see {@link decoders}; any other client decodes by
 * itself, or not). A body its reader left after reading all it needs (a stream's end
 * marker: `Response.complete`) is first drained a moment for its end, so the
 * connection is kept for the next request when the end was on its way.
 */
import type { Hold } from "@baton/core/LlmProvider"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Undici from "@effect/platform-node/Undici"
import { Cause, Channel, Context, Effect, Layer, type Pull, Scope, Stream, Tracer } from "effect"
import { isArrayNonEmpty, type NonEmptyReadonlyArray } from "effect/Array"
import { FetchHttpClient, HttpBody, HttpClient, type HttpClientError, HttpClientRequest } from "effect/http"
import type { Transform } from "node:stream"
import * as Zlib from "node:zlib"

/**
 * What went wrong on the wire: before the response headers (`request`), while reading the body (`body`), or
 * decoding it (`encoding`: a content coding Baton has no decoder for, or a body that does not decode).
 */
export interface TransportFailure {
  readonly _tag: "TransportFailure"
  readonly stage: "request" | "body" | "url" | "encoding"
  readonly cause: unknown
}

/** A response: status, headers (read on demand) and body. */
export interface Response {
  readonly status: number
  readonly headers: () => Readonly<Record<string, string | undefined>>
  /** The `content-type` header, read without flattening the others. */
  readonly contentType: string | undefined
  /**
   * The body's chunks, pulled in `scope` (a consumer that is itself a
   * stream's pull); closing `scope` before the end (the consumer stopped, or
   * was interrupted) closes the connection.
   */
  readonly pull: (scope: Scope.Scope) => Effect.Effect<Pull.Pull<NonEmptyReadonlyArray<Uint8Array>, TransportFailure>>
  /**
   * The whole body, read to its end, or `undefined` as soon as more than
   * `maxBytes` came (the connection is then closed); interruption closes it too.
   */
  readonly readAll: (maxBytes: number) => Effect.Effect<Buffer | undefined, TransportFailure>
  /**
   * The body's chunks handed to `onChunks` as they arrive, until its end or
   * until `onChunks` returns `false` (the connection is then closed, as it
   * is on interruption); a `Hold` it returns stops the reading until it
   * resumes it (past `highWaterMark` unread bytes the socket is paused). A
   * throw of `onChunks` is a defect of the effect.
   */
  readonly each: (onChunks: OnChunks) => Effect.Effect<void, TransportFailure>
  /**
   * Says the consumer read all it needs of the body (a stream's end marker):
   * left before its end, the body is then read on and discarded for up to
   * `drainMs`, so that a connection whose end is on its way is kept for the
   * next request, and only then closed (a server holding it open). A body
   * given as a stream (any other `HttpClient`) is closed at once, as before.
   */
  readonly complete: () => void
}

/** What a reader does with each batch of chunks: `true` reads on, `false` stops, a `Hold` waits to be resumed. */
export type OnChunks = (chunks: ReadonlyArray<Uint8Array>) => boolean | Hold

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
 * The `accept-encoding` of every request: the body unencoded (a proxy
 * compressing a stream may hold its events back, and decoding costs CPU).
 */
const identity = "identity"

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

/** Body bytes held for a consumer that has not pulled them before the socket is paused. */
const highWaterMark = 64 * 1024

/**
 * One request dispatched on undici's handler interface: the response's
 * status and headers go to `started`, its chunks to a queue the body's
 * reader takes, in batches. No promise, `AbortController`, `Readable` or async
 * resource per request (`bench/README.md`, "Transport"). Past
 * `highWaterMark` unread bytes the socket is paused until the consumer
 * pulls. `abort` closes the connection; a request aborted before it reached
 * a socket fails there unwritten, leaving the socket to the next request
 * (undici's private queue hook, which would take it out of the queue at
 * once, is not used). The consumer is woken in a microtask, never inside
 * undici's parser callbacks, so that what it does next (abort, dispatch
 * another request) runs outside them.
 */
class Exchange implements Undici.Dispatcher.DispatchHandler {
  controller: Undici.Dispatcher.DispatchController | undefined
  /** Why the exchange was aborted before it reached a socket. */
  abortedWith: Error | undefined
  /** Resumes the caller with the response (or the failure before it); unset once it has. */
  started: ((outcome: Effect.Effect<Response, TransportFailure>) => void) | undefined
  /** The response's status and headers (or a failure before them) arrived. */
  answered = false
  chunks: Array<Uint8Array> = []
  queued = 0
  ended = false
  failed: TransportFailure | undefined
  /** Wakes the body's reader waiting for a chunk, the end or a failure. */
  wake: (() => void) | undefined
  /** The consumer read all it needs (`Response.complete`): a body left before its end is drained, not aborted. */
  complete = false
  /** The content codings of the body, outermost first, until its first chunk starts their decoders. */
  codings: ReadonlyArray<string> | undefined
  /** Decodes a body sent with a content coding (see {@link decoders}): the chunks are its output's. */
  decoder: { readonly input: Decoder; readonly output: Decoder; readonly chain: ReadonlyArray<Decoder> } | undefined

  onRequestStart(controller: Undici.Dispatcher.DispatchController): void {
    // aborted while it waited for a connection: failed before it is written, the socket stays usable
    if (this.abortedWith !== undefined) throw this.abortedWith
    this.controller = controller
  }

  onResponseStart(
    _controller: Undici.Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | Array<string> | undefined>
  ): void {
    // a 1xx is informational: the response is still to come
    if (status < 200) return
    const contentType = headers["content-type"]
    const coding = headers["content-encoding"]
    this.hand(Effect.succeed({
      status,
      headers: () => flatHeaders(headers),
      contentType: Array.isArray(contentType) ? contentType.join(", ") : contentType,
      pull: (scope) => pullOf(this, scope),
      readAll: (maxBytes) => readOf(this, () => gatherer(maxBytes)),
      each: (onChunks) => readOf(this, () => handing(onChunks)),
      complete: () => {
        this.complete = true
      }
    }))
    if (coding !== undefined) this.encoded(Array.isArray(coding) ? coding.join(", ") : coding)
  }

  onResponseData(_controller: Undici.Dispatcher.DispatchController, chunk: Uint8Array): void {
    if (this.failed !== undefined) return
    if (this.codings !== undefined) this.decode(this.codings, chunk)
    if (this.decoder === undefined) this.received(chunk)
    else this.decoder.input.write(chunk)
  }

  onResponseEnd(): void {
    this.controller = undefined
    // an empty body decodes to nothing
    this.codings = undefined
    if (this.decoder !== undefined) {
      this.decoder.input.end()
      return
    }
    this.ended = true
    this.signal()
  }

  onResponseError(_controller: Undici.Dispatcher.DispatchController | null, error: Error): void {
    this.controller = undefined
    this.undecode()
    if (this.answered) {
      this.failed ??= bodyFailure(error)
      this.signal()
    } else {
      this.hand(Effect.fail(failure("request", error)))
    }
  }

  /**
   * Hands the response (or the failure before it) to the caller, in a
   * microtask: until then `started` stays set, so an interruption in
   * between still aborts the exchange.
   */
  hand(outcome: Effect.Effect<Response, TransportFailure>): void {
    if (this.answered) return
    this.answered = true
    queueMicrotask(() => {
      const started = this.started
      this.started = undefined
      started?.(outcome)
    })
  }

  /** A chunk of the body (decoded, where it was encoded): past `highWaterMark` unread bytes, no more is read. */
  received(chunk: Uint8Array): void {
    this.chunks.push(chunk)
    this.queued += chunk.length
    if (this.queued > highWaterMark) {
      this.controller?.pause()
      this.decoder?.output.pause()
    }
    this.signal()
  }

  /**
   * The body comes in the content codings `coding` names (applied in that
   * order, so decoded in the reverse one): decoded from its first chunk on
   * ({@link decode}), or failed at once, naming the coding, when one has no
   * decoder here.
   */
  encoded(coding: string): void {
    const codings = coding.split(",").map((name) => name.trim().toLowerCase()).filter((name) =>
      name !== "" && name !== identity
    ).reverse()
    const unknown = codings.find((name) => !(name in decoders))
    if (unknown !== undefined) {
      const error = new Error(`encoded as ${unknown}, which Baton cannot decode`)
      this.failed = failure("encoding", error)
      this.abort(error)
    } else if (codings.length > 0) {
      this.codings = codings
    }
  }

  /**
   * Starts the decoders of `codings` for a body whose first chunk is `first`
   * (which tells raw deflate from zlib's). The decoded chunks are the body's:
   * its end is the last decoder's, and a body that does not decode fails.
   */
  decode(codings: ReadonlyArray<string>, first: Uint8Array): void {
    this.codings = undefined
    const chain = codings.map((name, index) => (decoders[name] as DecoderOf)(index === 0 ? first : undefined))
    const failed = (name: string) => (error: Error & { readonly code?: string }): void => {
      const why = error.code === undefined ? error.message : `${error.code}: ${error.message}`
      this.failed ??= failure("encoding", new Error(`that does not decode as ${name} (${why})`))
      this.abort(error)
      this.signal()
    }
    let output = chain[0] as Decoder
    output.on("error", failed(codings[0] as string))
    for (const [index, next] of chain.entries()) {
      if (index === 0) continue
      next.on("error", failed(codings[index] as string))
      output = output.pipe(next)
    }
    output.on("data", (chunk: Uint8Array) => {
      this.received(chunk)
    })
    output.on("end", () => {
      this.ended = true
      this.signal()
    })
    this.decoder = { input: chain[0] as Decoder, output, chain }
  }

  /** Wakes the body's waiting reader, if any, in a microtask. */
  signal(): void {
    const wake = this.wake
    if (wake === undefined) return
    this.wake = undefined
    queueMicrotask(wake)
  }

  /** Stops decoding the body (its decoders destroyed): nothing more of it is wanted, or it broke. */
  undecode(): void {
    const decoder = this.decoder
    if (decoder === undefined) return
    this.decoder = undefined
    for (const stream of decoder.chain) stream.destroy()
  }

  /** Closes the connection (the server sees it closed), now or as soon as the request reaches a socket. */
  abort(reason: Error): void {
    this.undecode()
    if (this.controller === undefined) this.abortedWith ??= reason
    else this.controller.abort(reason)
  }
}

/** A stream decoding one content coding. */
type Decoder = Transform

/** A decoder of one content coding, for a body whose first chunk is `first` (none: not the outermost coding). */
type DecoderOf = (first: Uint8Array | undefined) => Decoder

/** zlib's flushes: what was decoded comes at once, and a body's end is not required to end a compressed block. */
const zlibFlush = { flush: Zlib.constants.Z_SYNC_FLUSH, finishFlush: Zlib.constants.Z_SYNC_FLUSH }

/**
 * The decoders of the content codings Node decodes (RFC 9110, 8.4.1; `x-gzip`
 * is gzip; zstd where Node has it), each flushing what it decoded at once,
 * so that a compressed stream's events come as they arrive, and ending where
 * the body ends (its framing, not the compressed data, says it is whole).
 * `deflate` is zlib's format, or raw deflate where the body does not start
 * with zlib's header (as some servers send it).
 */
const decoders: Readonly<Record<string, DecoderOf>> = {
  gzip: () => Zlib.createGunzip(zlibFlush),
  "x-gzip": () => Zlib.createGunzip(zlibFlush),
  deflate: (first) =>
    first !== undefined && ((first[0] ?? 0) & 0x0f) !== 0x08
      ? Zlib.createInflateRaw(zlibFlush)
      : Zlib.createInflate(zlibFlush),
  br: () =>
    Zlib.createBrotliDecompress({
      flush: Zlib.constants.BROTLI_OPERATION_FLUSH,
      finishFlush: Zlib.constants.BROTLI_OPERATION_FLUSH
    }),
  ...(typeof Zlib.createZstdDecompress === "function"
    ? {
      zstd: () =>
        Zlib.createZstdDecompress({ flush: Zlib.constants.ZSTD_e_flush, finishFlush: Zlib.constants.ZSTD_e_flush })
    }
    : {})
}

const interrupted = () => new Error("the request was interrupted")
const leftEarly = () => new Error("the response body was left before its end")

const viaDispatcher = (dispatcher: Undici.Dispatcher): Post => (origin, path, headers, body) =>
  resendOnClosedIdle(Effect.callback<Response, TransportFailure>((resume) => {
    const exchange = new Exchange()
    exchange.started = resume
    // a request undici refuses at once (a closed agent, bad options) comes back through `onResponseError`
    dispatcher.dispatch({
      origin,
      path,
      method: "POST",
      headers: { ...headers, "content-type": json, "accept-encoding": identity },
      body,
      // the adapter or the manager's watchdog owns time
      headersTimeout: 0,
      bodyTimeout: 0
    }, exchange)
    return Effect.sync(() => {
      // the response was not handed over (its body's reader closes the connection once it was)
      if (exchange.started === undefined) return
      exchange.started = undefined
      exchange.abort(interrupted())
    })
  }))

/**
 * The body of `exchange` pulled in `scope`: each pull takes every chunk
 * received so far, waiting only when there is none. A body left before its
 * end (`scope` closed early: the consumer stopped, or was interrupted)
 * aborts the exchange, which closes the connection.
 */
const pullOf = (
  exchange: Exchange,
  scope: Scope.Scope
): Effect.Effect<Pull.Pull<NonEmptyReadonlyArray<Uint8Array>, TransportFailure>> => {
  const wait = Effect.callback<undefined>((resume) => {
    exchange.wake = () => {
      resume(Effect.undefined)
    }
    return Effect.sync(() => {
      exchange.wake = undefined
    })
  })
  const pull: Pull.Pull<NonEmptyReadonlyArray<Uint8Array>, TransportFailure> = Effect.suspend(() => {
    const chunks = exchange.chunks
    if (isArrayNonEmpty(chunks)) {
      take(exchange)
      return Effect.succeed(chunks)
    }
    if (exchange.failed !== undefined) return Effect.fail(exchange.failed)
    if (exchange.ended) return Cause.done()
    return Effect.flatMap(wait, () => pull)
  })
  return Effect.as(
    Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        leave(exchange)
      })
    ),
    pull
  )
}

/** The chunks `exchange` received and not yet taken, taken: the socket resumed if they had paused it. */
const take = (exchange: Exchange): Array<Uint8Array> => {
  const chunks = exchange.chunks
  exchange.chunks = []
  const paused = exchange.queued > highWaterMark
  exchange.queued = 0
  if (paused) {
    exchange.controller?.resume()
    exchange.decoder?.output.resume()
  }
  return chunks
}

/**
 * Leaves `exchange` unless its body ended (or failed): aborted (the server
 * sees the connection closed), or, once its consumer read all it needs,
 * drained first (`drain`).
 */
const leave = (exchange: Exchange): void => {
  if (exchange.ended || exchange.failed !== undefined) return
  if (exchange.complete) drain(exchange)
  else exchange.abort(leftEarly())
}

/**
 * How long the rest of a body read to its end marker (`Response.complete`)
 * is read and discarded, waiting for its end, before the connection is
 * closed: a well-behaved server's end follows its marker at once (perhaps in
 * the next packet), and the connection is then kept for the next request; a
 * server holding the response open loses it.
 */
const drainMs = 500

/** The rest of the body of `exchange` discarded as it comes, until its end, a failure, or `drainMs` (then aborted). */
const drain = (exchange: Exchange): void => {
  const timer = setTimeout(() => {
    exchange.abort(leftEarly())
  }, drainMs)
  // a drain keeps no process alive
  timer.unref()
  const discard = (): void => {
    take(exchange)
    if (exchange.ended || exchange.failed !== undefined) clearTimeout(timer)
    else exchange.wake = discard
  }
  discard()
}

/** One read of a body: what to do with each batch of chunks, and its result once done. */
interface Reader<A> {
  readonly chunks: OnChunks
  readonly done: () => A
}

/** The reader of a whole body: `undefined` as soon as more than `maxBytes` came. */
const gatherer = (maxBytes: number): Reader<Buffer | undefined> => {
  const chunks: Array<Uint8Array> = []
  let bytes = 0
  return {
    chunks: (taken) => {
      for (const chunk of taken) {
        chunks.push(chunk)
        bytes += chunk.length
      }
      return bytes <= maxBytes
    },
    done: () => bytes > maxBytes ? undefined : Buffer.concat(chunks, bytes)
  }
}

/** The reader handing each batch to `onChunks`, with no result. */
const handing = (onChunks: OnChunks): Reader<undefined> => ({
  chunks: onChunks,
  done: () => undefined
})

/**
 * The body of `exchange` read by the reader `start` makes, as the chunks
 * arrive, in the microtask its callbacks queue (never inside undici's
 * parser): no step of a fiber per chunk. A reader that holds is gathered
 * again once it resumes (in a microtask), the chunks meanwhile left with
 * the exchange. A reader that stops leaves the body (the exchange is
 * aborted unless it ended), and so does an interruption; a throw of the
 * reader, which runs outside any fiber, is caught and ends the effect as a
 * defect.
 */
const readOf = <A>(exchange: Exchange, start: () => Reader<A>): Effect.Effect<A, TransportFailure> =>
  Effect.callback<A, TransportFailure>((resume) => {
    const reader = start()
    // once the effect ended (or was interrupted), a held reader's late resume reads nothing
    let settled = false
    const end = (outcome: Effect.Effect<A, TransportFailure>): void => {
      settled = true
      resume(outcome)
    }
    const resumed = (): void => {
      if (!settled) queueMicrotask(gather)
    }
    const hand = (): void => {
      // taking resumes a paused socket, whose parser may hand more chunks (and the end) at once: handed too
      for (let taken = take(exchange); taken.length > 0; taken = take(exchange)) {
        const next = reader.chunks(taken)
        // the reader's consumer, resumed in place, stopped: the effect was interrupted, the exchange left
        if (settled) return
        if (next === false) {
          leave(exchange)
          end(Effect.succeed(reader.done()))
          return
        }
        if (next !== true) {
          next(resumed)
          return
        }
      }
      if (exchange.failed !== undefined) end(Effect.fail(exchange.failed))
      else if (exchange.ended) end(Effect.succeed(reader.done()))
      else exchange.wake = gather
    }
    const gather = (): void => {
      if (settled) return
      try {
        hand()
      } catch (defect) {
        leave(exchange)
        end(Effect.die(defect))
      }
    }
    gather()
    return Effect.sync(() => {
      settled = true
      exchange.wake = undefined
      leave(exchange)
    })
  })

/** Waits until `hold` resumes its reader (at once if it does so when called). */
export const held = (hold: Hold): Effect.Effect<undefined> =>
  Effect.callback<undefined>((resume) => {
    hold(() => {
      resume(Effect.undefined)
    })
  })

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

/** A body given as a stream, pulled and read from it. */
const bodyOfStream = (
  body: Stream.Stream<Uint8Array, TransportFailure>
): Pick<Response, "pull" | "readAll" | "each" | "complete"> => {
  // stops at the end, or once `onChunks` says so (which leaves the stream: the connection closed)
  const each: Response["each"] = (onChunks) =>
    Stream.runForEachWhile(body, (chunk) =>
      Effect.suspend(() => {
        const next = onChunks([chunk])
        return typeof next === "boolean" ? Effect.succeed(next) : Effect.as(held(next), true)
      }))
  return {
    pull: (scope) => Channel.toPullScoped(Stream.toChannel(body), scope),
    // a stream left before its end is closed at once: nothing is drained
    complete: () => {},
    readAll: (maxBytes) =>
      Effect.suspend(() => {
        const reader = gatherer(maxBytes)
        return Effect.map(each(reader.chunks), reader.done)
      }),
    each
  }
}

/**
 * The `RequestInit` a `FetchHttpClient` sends with: the caller's, with
 * redirects not followed (`fetch` follows them by default and keeps a key in
 * any header but `Authorization` for the host a redirect names, Gemini's and
 * Anthropic's among them). A redirect fails the attempt on its status, as it
 * does on the dispatcher.
 */
const noRedirects = (context: Context.Context<never>): Context.Context<never> =>
  Context.add(context, FetchHttpClient.RequestInit, {
    ...Context.getOrUndefined(context, FetchHttpClient.RequestInit),
    redirect: "manual"
  })

const viaClient = (client: HttpClient.HttpClient): Post => (origin, path, headers, body) =>
  client.execute(HttpClientRequest.post(origin + path, {
    headers: { ...headers, "accept-encoding": identity },
    body: HttpBody.text(body, json)
  })).pipe(
    Effect.map((response): Response => ({
      status: response.status,
      headers: () => response.headers,
      contentType: response.headers["content-type"],
      ...bodyOfStream(Stream.mapError(response.stream, fromClientError))
    })),
    Effect.mapError(fromClientError),
    // the manager owns tracing: no client span, no trace headers to the provider
    Effect.provideService(Tracer.DisablePropagation, true),
    Effect.updateContext(noRedirects)
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
