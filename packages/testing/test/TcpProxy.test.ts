/**
 * `TcpProxy.stall` in front of an echo server: what was forwarded before
 * arrives, nothing after (either way), a new connection hangs, and the
 * proxy still sees its clients close theirs (`allClosed`), as a paused
 * server's system does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { connect, createServer, type Socket } from "node:net"
import * as TcpProxy from "../src/TcpProxy.ts"
import * as TestServer from "../src/TestServer.ts"

/** What a socket received, and an effect that waits for its close. */
const received = (socket: Socket) => {
  let text = ""
  socket.on("data", (chunk) => {
    text += String(chunk)
  })
  socket.on("error", () => {})
  const closed = Effect.callback<undefined>((resume) => {
    if (socket.closed) resume(Effect.undefined)
    else {socket.once("close", () => {
        resume(Effect.undefined)
      })}
  })
  return { text: () => text, closed }
}

/** Waits until `socket` received `data`. */
const arrived = (socket: Socket, data: string) =>
  Effect.callback<undefined>((resume) => {
    socket.once("data", (chunk) => {
      if (String(chunk) === data) resume(Effect.undefined)
    })
  })

describe("TcpProxy", () => {
  it.live(
    "stall: nothing goes through either way, new connections hang, clients' closes are seen",
    () =>
      Effect.gen(function*() {
        const upstreams: Array<ReturnType<typeof received> & { readonly socket: Socket }> = []
        const echo = createServer((socket) => {
          const seen = received(socket)
          upstreams.push({ ...seen, socket })
          socket.on("data", (chunk) => socket.write(chunk))
        })
        const port = yield* TestServer.listen(echo)
        const proxy = yield* TcpProxy.make({ host: "127.0.0.1", port })
        const client = connect(proxy.port, "127.0.0.1")
        const fromProxy = received(client)
        client.write("a")
        yield* arrived(client, "a")
        yield* proxy.stall
        client.write("b")
        const upstream = upstreams.at(0)
        if (upstream === undefined) return assert.fail("the first connection did not reach the server")
        upstream.socket.write("z")
        const late = connect(proxy.port, "127.0.0.1")
        late.on("error", () => {})
        late.write("x")
        client.end()
        late.end()
        yield* proxy.allClosed
        yield* fromProxy.closed
        yield* upstream.closed
        assert.strictEqual(upstream.text(), "a", "the server received what was sent after the stall")
        assert.strictEqual(fromProxy.text(), "a", "the client received what the server sent after the stall")
        assert.strictEqual(upstreams.length, 1, "a connection after the stall reached the server")
        assert.strictEqual(proxy.accepted(), 2)
      }).pipe(Effect.scoped),
    10_000
  )
})
