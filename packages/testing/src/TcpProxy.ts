/**
 * A TCP proxy on a spare port of 127.0.0.1, in front of a server the test
 * cannot disturb itself (the shared PostgreSQL, a Redis): it plays the
 * network between a client and that server.
 *
 * Its `mode` says what happens to the connections it accepts from now on:
 * - `"forward"`: piped to the target (the default with a target);
 * - `"refuse"`: destroyed at once, as a partitioned network or a restarting
 *   database does;
 * - `"hang"`: left open and never answered, as a paused server or a hung
 *   proxy does (the default without a target). The proxy reads what such a
 *   connection sends, so it sees the client close it.
 *
 * A mode never touches the connections already open: `cut` destroys those
 * (both of their sides), and `stall` stops forwarding on them both ways, as
 * a server paused by SIGSTOP answers nothing, new ones then hanging; the
 * proxy still reads and drops what their clients send, so, as in `"hang"`,
 * it sees a client close its connection. So a partition is
 * `mode("refuse")` then `cut`, and its end `mode("forward")`; a paused
 * server is `stall`, and its end `cut` then `mode("forward")`. Without a
 * target there is nothing to forward to, and `"forward"` leaves connections
 * unanswered as `"hang"` does.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as TcpProxy from "@baton/testing/TcpProxy"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const proxy = yield* TcpProxy.make({ host: "127.0.0.1", port: 5432 })
 *   // point a client at 127.0.0.1:proxy.port, then partition it for a while
 *   yield* proxy.mode("refuse")
 *   yield* proxy.cut
 *   yield* Effect.sleep("2 seconds")
 *   yield* proxy.mode("forward")
 * }))
 * ```
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { connect, createServer, type Socket } from "node:net"
import * as TestServer from "./TestServer.ts"

/**
 * What happens to the connections the proxy accepts.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "forward" | "refuse" | "hang"

/**
 * Where the proxy forwards to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly host: string
  readonly port: number
}

/**
 * A running proxy and its controls.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpProxy {
  /** The port the proxy listens on, on 127.0.0.1. */
  readonly port: number
  /** Connections accepted so far, whatever the mode. */
  readonly accepted: () => number
  /** Waits until a connection was accepted and every accepted one is closed. */
  readonly allClosed: Effect.Effect<void>
  /** Sets what happens to the connections accepted from now on. */
  readonly mode: (mode: Mode) => Effect.Effect<void>
  /** Destroys every open connection, both of its sides. */
  readonly cut: Effect.Effect<void>
  /**
   * Stops forwarding on every open connection, both ways (what the client
   * sends is read and dropped, what the target sends is left unread; neither
   * is delivered), and sets the mode to `"hang"`: a server paused. A client
   * closing its connection is still seen (`allClosed`), and the proxy then
   * closes the one to the target.
   */
  readonly stall: Effect.Effect<void>
}

/**
 * Starts a proxy to `target` (without one, a server that never answers);
 * it stops with the scope, destroying every connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (target?: Target): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.gen(function*() {
    const open = new Set<Socket>()
    const waiters = new Set<() => void>()
    let accepted = 0
    const forwarded = new Set<readonly [Socket, Socket]>()
    let mode: Mode = target === undefined ? "hang" : "forward"
    const track = (socket: Socket) => {
      open.add(socket)
      socket.on("error", () => {})
      socket.once("close", () => {
        open.delete(socket)
        if (open.size === 0) { for (const waiter of waiters) waiter() }
      })
    }
    const server = createServer((client) => {
      accepted++
      track(client)
      if (mode === "refuse") {
        client.destroy()
      } else if (mode === "forward" && target !== undefined) {
        const upstream = connect(target)
        track(upstream)
        client.pipe(upstream).pipe(client)
        const pair = [client, upstream] as const
        forwarded.add(pair)
        client.once("close", () => upstream.destroy())
        upstream.once("close", () => {
          forwarded.delete(pair)
          client.destroy()
        })
      } else {
        client.resume()
      }
    })
    const cut = Effect.sync(() => {
      for (const socket of open) socket.destroy()
    })
    const stall = Effect.sync(() => {
      mode = "hang"
      for (const [client, upstream] of forwarded) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        // what the client sends is read and dropped, as "hang" does, so that its close is seen
        client.resume()
        upstream.pause()
      }
    })
    const port = yield* TestServer.listen(server)
    // added after `listen`, so it runs before the server closes
    yield* Effect.addFinalizer(() => cut)
    const allClosed = Effect.callback<undefined>((resume) => {
      const done = () => {
        waiters.delete(done)
        resume(Effect.undefined)
      }
      if (accepted > 0 && open.size === 0) {
        done()
        return
      }
      waiters.add(done)
      return Effect.sync(() => waiters.delete(done))
    })
    return {
      port,
      accepted: () => accepted,
      allClosed,
      mode: (next) =>
        Effect.sync(() => {
          mode = next
        }),
      cut,
      stall
    }
  })
