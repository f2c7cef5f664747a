/**
 * A server a test starts itself (`node:http`, `node:http2`, ...): listening
 * on a spare port of 127.0.0.1 until the test's scope closes, its open
 * connections closed then too.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { createServer } from "node:http"
 * import * as TestServer from "@baton/testing/TestServer"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const port = yield* TestServer.listen(createServer((_, res) => res.end("ok")))
 *   // point a client at `http://127.0.0.1:${port}`
 * }))
 * ```
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import type { AddressInfo } from "node:net"

/**
 * What `listen` needs of a server: `node:http`'s and `node:http2`'s have it.
 *
 * @since 0.1.0
 */
export interface Listenable {
  readonly listen: (port: number, host: string, listening: () => void) => unknown
  readonly address: () => AddressInfo | string | null
  readonly close: () => unknown
  readonly closeAllConnections?: (() => void) | undefined
}

/**
 * Listens on a spare port of 127.0.0.1 and succeeds with it; closes the
 * server (and its connections) when the scope closes.
 *
 * @since 0.1.0
 */
export const listen = (server: Listenable): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<number>((resume) => {
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
      })
    }),
    () =>
      Effect.sync(() => {
        server.closeAllConnections?.()
        server.close()
      })
  )
