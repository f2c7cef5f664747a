/**
 * Starts a workspace command written in TypeScript on a Node that can run it.
 *
 * The bins of the workspace are `.ts` programs (`@effect/platform-node` needs
 * Node >= 22.19, which also strips types). This launcher is plain JavaScript
 * that any Node (20 included) can load: it runs the program on the current
 * Node when that Node is recent enough, else on the workspace's own Node 24
 * (the npm package `node`, a root devDependency), forwarding arguments,
 * stdio, signals and the exit code. With neither, it says what to install.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import { constants } from "node:os"
import { fileURLToPath } from "node:url"

const runsTypeScript = (version) => {
  const [major, minor] = version.split(".").map(Number)
  return major > 22 || (major === 22 && minor >= 19)
}

const bundledNode = (from) => {
  try {
    return createRequire(from).resolve("node/bin/node")
  } catch {
    return undefined
  }
}

/**
 * Runs the TypeScript program at `entry` (a `file:` URL) with this
 * process's arguments, and exits with its exit code.
 *
 * @since 0.1.0
 */
export const launch = (entry) => {
  const node = runsTypeScript(process.versions.node) ? process.execPath : bundledNode(entry)
  if (node === undefined) {
    process.stderr.write(
      `This command needs Node >= 22.19 (this is ${process.version}). ` +
        "Install Node 24, or run it inside the workspace: npx -y pnpm@12 exec <command>\n"
    )
    process.exit(1)
  }
  const child = spawn(node, [fileURLToPath(entry), ...process.argv.slice(2)], { stdio: "inherit" })
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)))
}
