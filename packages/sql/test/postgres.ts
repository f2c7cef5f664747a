/**
 * Whether the PostgreSQL of `DATABASE_URL` (default
 * `postgres://postgres@127.0.0.1:5432/test`) answers. With `CI=true` a
 * missing server fails the run loudly; otherwise its suites are skipped with
 * a visible warning.
 */
import { connect } from "node:net"

export const postgresUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

const reachable = (url: string): Promise<boolean> => {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 5432), timeout: 2000 })
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

export const postgresAvailable = await reachable(postgresUrl)

if (!postgresAvailable) {
  if (process.env["CI"] === "true") {
    throw new Error(`PostgreSQL is required in CI but ${new URL(postgresUrl).host} does not answer (DATABASE_URL)`)
  }
  console.warn(`SKIPPING PostgreSQL suites: nothing answers at ${new URL(postgresUrl).host} (set DATABASE_URL)`)
}
