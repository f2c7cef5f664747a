/**
 * A Redis server of a test's own, on a spare port, that the test can pause
 * (SIGSTOP), resume (SIGCONT), kill and restart by its pid, without touching
 * the shared Redis other tests use.
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { answers } from "./redisTest.ts"

/** A running server and its controls. */
export interface RedisServer {
  readonly url: string
  readonly port: number
  /** Stops the process (SIGSTOP): connections stay open and get no reply. */
  readonly pause: Effect.Effect<void>
  /** Resumes a paused process (SIGCONT). */
  readonly resume: Effect.Effect<void>
  /** Kills the process (SIGKILL) and waits for it to exit. */
  readonly kill: Effect.Effect<void>
  /** Starts the server again on the same port. */
  readonly restart: Effect.Effect<void>
}

const sparePort = (): Promise<number> =>
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

const start = async (port: number): Promise<ChildProcess> => {
  const child = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], {
    stdio: "ignore"
  })
  // a worker killed on a test timeout skips finalisers: never leave the server behind
  process.once("exit", () => {
    child.kill("SIGKILL")
  })
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    if (await answers(url, 200)) return child
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  child.kill("SIGKILL")
  throw new Error(`redis-server on port ${port} did not start`)
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

/** Starts a server, stopped (by its pid) when the scope closes. */
export const redisServer: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.gen(function*() {
  const port = yield* Effect.promise(sparePort)
  const state = { child: yield* Effect.promise(() => start(port)) }
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
      state.child = await start(port)
    })
  }
})
