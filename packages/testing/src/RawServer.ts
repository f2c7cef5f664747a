/**
 * An HTTP server for tests that answers every request with exactly the reply
 * it was given, whatever the route: a plain body (JSON, or a raw string)
 * with a status, or, for a streamed request (`"stream":true` in the body or
 * `alt=sse` in the URL) answered with 200, the given SSE events (or, with
 * `streamAs: "body"`, the plain body as JSON, as a server that answers a
 * stream request with an error body does), then ends the reply or, as
 * `then` says, holds it open, keeps it alive or drops it. Unlike
 * `MockProviderServer` it speaks no wire format of its own, so a test can
 * send a provider's adapter any bytes at all. `set` changes the reply for
 * the next requests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RawServer from "@baton/testing/RawServer"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* RawServer.start({ body: { choices: 5 }, events: ["{\"choices\":5}"] })
 *   // point an adapter at server.url
 * }))
 * ```
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { createServer, type ServerResponse } from "node:http"
import * as Zlib from "node:zlib"
import * as TestServer from "./TestServer.ts"

/**
 * What the server answers. A string is sent as it is, anything else as JSON.
 *
 * @since 0.1.0
 */
export interface Reply {
  /** The status of a plain reply (default 200); a streamed request gets its events only with 200. */
  readonly status?: number | undefined
  readonly body: unknown
  readonly events: ReadonlyArray<unknown>
  /** What a streamed request answered with 200 gets: its `events` (the default), or the plain `body`. */
  readonly streamAs?: "events" | "body" | undefined
  /**
   * What a stream does after its events: ends the reply (`"end"`, the default), holds the connection open
   * (`"hold"`), holds it open sending an SSE comment every 100 ms (`"keepAlive"`), or closes the connection
   * without ending the reply (`"drop"`).
   */
  readonly then?: "end" | "hold" | "keepAlive" | "drop" | undefined
  /**
   * Sends the body (a stream's events) compressed, with this `content-encoding`: `gzip`, `deflate`, `br`, each
   * event flushed as it is written; any other name is sent as the header alone, the body as it is. (With `"drop"`
   * the connection may close before the encoder's last bytes are sent.)
   */
  readonly encoding?: string | undefined
}

/**
 * A running server.
 *
 * @since 0.1.0
 */
export interface RawServer {
  /** `http://127.0.0.1:port`. */
  readonly url: string
  /** Answers the next requests with `reply`. */
  readonly set: (reply: Reply) => void
}

const text = (value: unknown): string => typeof value === "string" ? value : JSON.stringify(value)

/** The encoders of `Reply.encoding`, each flushing what it wrote at once. */
const encoders: Readonly<Record<string, () => Zlib.Gzip | Zlib.Deflate | Zlib.BrotliCompress>> = {
  gzip: () => Zlib.createGzip({ flush: Zlib.constants.Z_SYNC_FLUSH }),
  deflate: () => Zlib.createDeflate({ flush: Zlib.constants.Z_SYNC_FLUSH }),
  br: () => Zlib.createBrotliCompress({ flush: Zlib.constants.BROTLI_OPERATION_FLUSH })
}

/** What a reply's body is written to: the response, or an encoder piped to it. */
interface Body {
  readonly write: (text: string, written?: () => void) => void
  readonly end: (text: string) => void
}

/**
 * Starts `res` with `status` and `contentType` and returns where its body
 * goes: `res`, or, with `encoding`, an encoder piped to it (an encoding it has
 * none for: the header alone; see `Reply.encoding`).
 */
const started = (res: ServerResponse, status: number, contentType: string, encoding: string | undefined): Body => {
  res.writeHead(status, {
    "content-type": contentType,
    ...(encoding === undefined ? {} : { "content-encoding": encoding })
  })
  const encoder = encoding === undefined ? undefined : encoders[encoding]?.()
  if (encoder === undefined) {
    return { write: (text, written) => res.write(text, written), end: (text) => res.end(text) }
  }
  encoder.pipe(res)
  res.on("close", () => encoder.destroy())
  return {
    // a write is flushed by the encoder once it wrote it to the response
    write: (text, written) =>
      encoder.write(text, () => {
        encoder.flush(() => written?.())
      }),
    end: (text) => encoder.end(text)
  }
}

/** Sends a stream's events to `body` (of `res`), then does what `then` says (see `Reply`). */
const sendEvents = (res: ServerResponse, body: Body, events: string, then: Reply["then"]): void => {
  switch (then ?? "end") {
    case "end":
      body.end(events)
      return
    case "hold":
      body.write(events)
      return
    case "keepAlive": {
      body.write(events)
      const timer = setInterval(() => {
        body.write(": keep-alive\n\n")
      }, 100)
      res.on("close", () => {
        clearInterval(timer)
      })
      return
    }
    case "drop":
      body.write(events, () => res.socket?.destroy())
  }
}

/**
 * Starts a server answering `reply`; it closes with the scope.
 *
 * @since 0.1.0
 */
export const start = (reply: Reply): Effect.Effect<RawServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    let current = reply
    const server = createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString()
      })
      req.on("end", () => {
        const status = current.status ?? 200
        const streamed = body.includes("\"stream\":true") || (req.url ?? "").includes("alt=sse")
        if (streamed && status === 200 && current.streamAs !== "body") {
          const body = started(res, 200, "text/event-stream", current.encoding)
          sendEvents(res, body, current.events.map((event) => `data: ${text(event)}\n\n`).join(""), current.then)
        } else {
          started(res, status, "application/json", current.encoding).end(text(current.body))
        }
      })
    })
    const port = yield* TestServer.listen(server)
    return {
      url: `http://127.0.0.1:${port}`,
      set: (next: Reply) => {
        current = next
      }
    }
  })
