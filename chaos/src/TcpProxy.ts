/**
 * A TCP proxy in front of a server the test cannot kill (the shared
 * PostgreSQL): `cut` drops every connection through it and refuses new ones,
 * as a network partition or a database restart does; `restore` lets
 * connections through again.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { connect, createServer, type Socket } from "node:net"

/**
 * A running proxy.
 *
 * @since 0.1.0
 */
export interface TcpProxy {
  /** The port the proxy listens on, on 127.0.0.1. */
  readonly port: number
  /** Connections dropped by `cut` so far. */
  readonly dropped: () => number
  /** Destroys every open connection and refuses new ones until `restore`. */
  readonly cut: Effect.Effect<void>
  readonly restore: Effect.Effect<void>
}

/**
 * Starts a proxy to `host:port`; it closes with the scope.
 *
 * @since 0.1.0
 */
export const start = (target: { readonly host: string; readonly port: number }): Effect.Effect<
  TcpProxy,
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const state = { down: false, dropped: 0 }
    const open = new Set<Socket>()
    const track = (socket: Socket) => {
      open.add(socket)
      socket.once("close", () => open.delete(socket))
      socket.on("error", () => socket.destroy())
    }
    const server = createServer((client) => {
      track(client)
      if (state.down) {
        client.destroy()
        return
      }
      const upstream = connect(target)
      track(upstream)
      client.pipe(upstream)
      upstream.pipe(client)
      client.once("close", () => upstream.destroy())
      upstream.once("close", () => client.destroy())
    })
    const port = yield* Effect.acquireRelease(
      Effect.callback<number>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      }),
      () =>
        Effect.callback<undefined>((resume) => {
          for (const socket of open) socket.destroy()
          server.close(() => {
            resume(Effect.undefined)
          })
        })
    )
    return {
      port,
      dropped: () => state.dropped,
      cut: Effect.sync(() => {
        state.down = true
        state.dropped += open.size
        for (const socket of open) socket.destroy()
      }),
      restore: Effect.sync(() => {
        state.down = false
      })
    }
  })
