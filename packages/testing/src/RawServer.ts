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

/** Sends a stream's events, then does what `then` says (see `Reply`). */
const sendEvents = (res: ServerResponse, events: string, then: Reply["then"]): void => {
  switch (then ?? "end") {
    case "end":
      res.end(events)
      return
    case "hold":
      res.write(events)
      return
    case "keepAlive": {
      res.write(events)
      const timer = setInterval(() => res.write(": keep-alive\n\n"), 100)
      res.on("close", () => {
        clearInterval(timer)
      })
      return
    }
    case "drop":
      res.write(events, () => res.socket?.destroy())
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
          res.writeHead(200, { "content-type": "text/event-stream" })
          sendEvents(res, current.events.map((event) => `data: ${text(event)}\n\n`).join(""), current.then)
        } else {
          res.writeHead(status, { "content-type": "application/json" })
          res.end(text(current.body))
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
