/**
 * The mock provider server in a child process, so that its CPU is not
 * counted in the bench's `process.cpuUsage()`.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** A running mock server. */
export interface Server {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly stop: () => void
}

/** Starts `packages/testing/src/bin.ts --port 0` and resolves once it listens. */
export const start = (): Promise<Server> =>
  new Promise((resolve, reject) => {
    const bin = fileURLToPath(new URL("../../packages/testing/src/bin.ts", import.meta.url))
    const child = spawn(process.execPath, [bin, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.on("error", reject)
    child.on("exit", (code) => {
      reject(new Error(`the mock server exited (${code}) before it listened`))
    })
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (data: string) => {
      out += data
      const match = /server on (http:\/\/\S+)/.exec(out)
      if (match?.[1] !== undefined) {
        child.stdout.removeAllListeners("data")
        child.stdout.resume()
        child.removeAllListeners("exit")
        resolve({ url: match[1], stop: () => child.kill() })
      }
    })
  })
