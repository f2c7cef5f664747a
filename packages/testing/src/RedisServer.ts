/**
 * A Redis server of a test's own, on a spare port, that the test can pause
 * (SIGSTOP), resume (SIGCONT), kill and restart by its pid, without touching
 * the shared Redis other tests use.
 *
 * It needs `redis-server` on the `PATH`, starts without persistence (so a
 * kill loses every key) and is killed when the scope closes or the process
 * exits, whichever comes first.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RedisServer from "@baton/testing/RedisServer"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* RedisServer.start
 *   yield* server.pause
 *   // ... requests against server.url see a silent Redis
 *   yield* server.resume
 * }))
 * ```
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { connect } from "node:net"
import * as TcpProbe from "./TcpProbe.ts"

/**
 * A running server and its controls.
 *
 * @since 0.1.0
 */
export interface RedisServer {
  readonly url: string
  readonly port: number
  /** Stops the process (SIGSTOP): connections stay open and get no reply. */
  readonly pause: Effect.Effect<void>
  /** Resumes a paused process (SIGCONT). */
  readonly resume: Effect.Effect<void>
  /** Kills the process (SIGKILL) and waits for it to exit. */
  readonly kill: Effect.Effect<void>
  /** Starts the server again on the same port (killing it first if it runs). */
  readonly restart: Effect.Effect<void>
}

/**
 * True when a Redis on `127.0.0.1:port` answers `PING` within `timeoutMs`.
 *
 * @since 0.1.0
 */
export const answersPing = (port: number, timeoutMs = 200): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port })
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => {
      done(false)
    }, timeoutMs)
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => {
      done(data.toString("latin1").startsWith("+PONG"))
    })
    socket.once("error", () => {
      done(false)
    })
  })

const launch = async (port: number): Promise<ChildProcess> => {
  const child = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], {
    stdio: "ignore"
  })
  child.once("error", () => {})
  // a worker killed on a test timeout skips finalisers: never leave the server behind
  process.once("exit", () => {
    child.kill("SIGKILL")
  })
  for (let i = 0; i < 200; i++) {
    if (await answersPing(port)) return child
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  child.kill("SIGKILL")
  throw new Error(`redis-server on port ${port} did not start (is redis-server on the PATH?)`)
}

const killed = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve()
      return
    }
    child.once("exit", () => {
      resolve()
    })
    child.kill("SIGCONT")
    child.kill("SIGKILL")
  })

/**
 * Starts a server on a spare port; it is stopped (by its pid) when the scope
 * closes.
 *
 * @since 0.1.0
 */
export const start: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.gen(function*() {
  const port = yield* Effect.promise(TcpProbe.sparePort)
  const state = { child: yield* Effect.promise(() => launch(port)) }
  yield* Effect.addFinalizer(() => Effect.promise(() => killed(state.child)))
  const signal = (name: NodeJS.Signals) =>
    Effect.sync(() => {
      state.child.kill(name)
    })
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: signal("SIGSTOP"),
    resume: signal("SIGCONT"),
    kill: Effect.promise(() => killed(state.child)),
    restart: Effect.promise(async () => {
      await killed(state.child)
      state.child = await launch(port)
    })
  }
})
