/**
 * Starts a command written in TypeScript on a Node that can run it.
 *
 * The bins are `.ts` programs (`@effect/platform-node` needs Node >= 22.19,
 * which also strips types). This launcher is plain JavaScript that any Node
 * (20 included) can load: it runs the program on the current Node when that
 * Node is recent enough, else on the workspace's own Node 24 (the npm package
 * `node`, a root devDependency), forwarding arguments, stdio, signals and the
 * exit code. With neither, it says what to install.
 *
 * Which program: in the workspace, the sources (`src/bin.ts`). In an
 * installed package (under `node_modules`, where Node refuses to strip
 * types) the published build, `dist/bin.js`, which `npx -y pnpm@12 build`
 * writes and the package's `files` ship.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { constants } from "node:os"
import { sep } from "node:path"
import { fileURLToPath } from "node:url"

const recentEnough = (version) => {
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

const installed = (path) => path.split(sep).includes("node_modules")

/**
 * The program to run for the TypeScript source at `entry`: the source in a
 * workspace, its build (`src/x.ts` -> `dist/x.js`) in an installed package.
 * An installed package without its build is an error that says so.
 *
 * @since 0.1.0
 */
export const program = (entry) => {
  const source = fileURLToPath(entry)
  if (!installed(source)) return { path: source }
  const built = fileURLToPath(new URL(entry.href.replace(/\/src\/([^/]+)\.ts$/, "/dist/$1.js")))
  return existsSync(built)
    ? { path: built }
    : { error: `${built} is missing: this package was published without its build (npx -y pnpm@12 build)` }
}

/**
 * Runs the TypeScript program at `entry` (a `file:` URL; see {@link program})
 * with this process's arguments, and exits with its exit code.
 *
 * @since 0.1.0
 */
export const launch = (entry) => {
  const chosen = program(entry)
  if (chosen.error !== undefined) {
    process.stderr.write(`${chosen.error}\n`)
    process.exit(1)
  }
  const node = recentEnough(process.versions.node) ? process.execPath : bundledNode(entry)
  if (node === undefined) {
    process.stderr.write(
      `This command needs Node >= 22.19 (this is ${process.version}). Install Node 24` +
        (installed(chosen.path) ? ".\n" : ", or run it inside the workspace: npx -y pnpm@12 exec <command>\n")
    )
    process.exit(1)
  }
  const child = spawn(node, [chosen.path, ...process.argv.slice(2)], { stdio: "inherit" })
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)))
}
