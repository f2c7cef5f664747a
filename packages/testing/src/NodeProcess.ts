/**
 * A Node script run as a user would run it: its own process, a fresh empty
 * directory, only `PATH` and `HOME` from the environment (plus what the test
 * gives), judged by its exit code and what it printed. How the tests of the
 * `baton` command and of the demo run them.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/**
 * How a process ended and what it printed.
 *
 * @since 0.1.0
 */
export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * `PATH` and `HOME` of this process: the environment a script gets by default.
 *
 * @since 0.1.0
 */
export const baseEnv: Readonly<Record<string, string>> = {
  PATH: process.env["PATH"] ?? "",
  HOME: process.env["HOME"] ?? ""
}

/**
 * A new empty directory under the system's temporary directory.
 *
 * @since 0.1.0
 */
export const freshDir = (prefix = "baton-"): string => mkdtempSync(join(tmpdir(), prefix))

/**
 * Runs `script` with `args` on `node` (default: this process's Node) in `cwd`
 * (default: a fresh directory) with {@link baseEnv} and `env`, and resolves
 * once it exits.
 *
 * @since 0.1.0
 */
export const run = (
  script: string,
  args: ReadonlyArray<string> = [],
  options: {
    readonly node?: string | undefined
    readonly cwd?: string | undefined
    readonly env?: Readonly<Record<string, string>> | undefined
  } = {}
): Promise<Ran> =>
  new Promise((resolve) => {
    const child = spawn(options.node ?? process.execPath, [script, ...args], {
      cwd: options.cwd ?? freshDir(),
      env: { ...baseEnv, ...options.env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("exit", (code) => {
      resolve({ code, stdout, stderr })
    })
  })
