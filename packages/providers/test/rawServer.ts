/**
 * An HTTP server for tests that answers every request with exactly the given
 * body (JSON, or a raw string) or, for a stream, with the given SSE events.
 */
import { Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

/** What the server answers. */
export interface Reply {
  readonly status?: number
  readonly body: unknown
  readonly events: ReadonlyArray<unknown>
}

/** A server that answers every request with `body` (JSON) or, for a stream, with `events` as SSE. */
export const rawServer = (reply: Reply) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly url: string; readonly close: () => void }>((resolve) => {
        const server = createServer((req, res) => {
          let text = ""
          req.on("data", (chunk: Buffer) => {
            text += chunk.toString()
          })
          req.on("end", () => {
            const streamed = text.includes("\"stream\":true") || (req.url ?? "").includes("alt=sse")
            if (streamed) {
              res.writeHead(200, { "content-type": "text/event-stream" })
              for (const event of reply.events) {
                res.write(`data: ${typeof event === "string" ? event : JSON.stringify(event)}\n\n`)
              }
              res.end()
            } else {
              res.writeHead(reply.status ?? 200, { "content-type": "application/json" })
              res.end(typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body))
            }
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as AddressInfo
          resolve({ url: `http://127.0.0.1:${port}`, close: () => server.close() })
        })
      })
    ),
    (server) => Effect.sync(server.close)
  )
