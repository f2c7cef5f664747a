/**
 * Whether something accepts TCP connections at a URL's host and port: how
 * test suites decide whether a shared server (PostgreSQL, Redis) is there
 * before they run against it (fail loudly under `CI=true`, skip visibly
 * otherwise); and a spare port for a server a test starts itself.
 *
 * @since 0.1.0
 */
import { connect, createServer } from "node:net"

/**
 * True when `url`'s host accepts a connection on its port (or
 * `defaultPort`) within `timeoutMs`.
 *
 * @since 0.1.0
 */
export const reachable = (url: string, defaultPort: number, timeoutMs = 2_000): Promise<boolean> => {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || defaultPort), timeout: timeoutMs })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once("connect", () => {
      done(true)
    })
    socket.once("timeout", () => {
      done(false)
    })
    socket.once("error", () => {
      done(false)
    })
  })
}

/**
 * A TCP port nothing listens on now, on 127.0.0.1 (the OS picks it, and it is
 * closed before it is handed out): for a server a test starts and stops.
 *
 * @since 0.1.0
 */
export const sparePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => {
        resolve(port)
      })
    })
  })
