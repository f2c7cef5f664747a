/**
 * The packages as a user installs them from a registry: every workspace
 * package packed (`pnpm pack`, which builds it first and applies its
 * `publishConfig`), the tarballs installed with npm into an empty project, and
 * the installed bins run from its `node_modules/.bin`. Node refuses to strip
 * types under `node_modules`, so this proves the published build is what
 * runs there.
 */
import * as NodeProcess from "@baton/testing/NodeProcess"
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, realpathSync, writeFileSync } from "node:fs"
import { delimiter, join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, beforeAll, describe, it } from "vitest"

const root = fileURLToPath(new URL("../../..", import.meta.url))

/** The system's Node 20, when the machine has one. */
const node20 = ["/usr/bin/node", "/usr/local/bin/node"].find((path) =>
  existsSync(path) && execFileSync(path, ["--version"]).toString().startsWith("v20")
)

/** Runs a packaging command with this process's environment (the registry's proxy and certificates). */
const shell = (command: string, args: ReadonlyArray<string>, cwd: string) =>
  execFileSync(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 })

/** pnpm as the workspace's scripts have it on `PATH` (`npx -y pnpm@12 test`), else fetched by npx. */
const pnpm: readonly [string, ...Array<string>] = (NodeProcess.baseEnv["PATH"] ?? "").split(delimiter)
    .map((dir) => join(dir, "pnpm")).some((path) => existsSync(path))
  ? ["pnpm"]
  : ["npx", "-y", "pnpm@12"]

describe("installed from packed tarballs", () => {
  const project = NodeProcess.freshDir("baton-installed-")
  const bin = (name: string) => realpathSync(join(project, "node_modules", ".bin", name))

  beforeAll(() => {
    const tarballs = NodeProcess.freshDir("baton-tarballs-")
    const [command, ...prefix] = pnpm
    shell(command, [...prefix, "-r", "--filter", "./packages/*", "pack", "--pack-destination", tarballs], root)
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }))
    const files = readdirSync(tarballs).map((file) => join(tarballs, file))
    shell("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...files], project)
  }, 240_000)

  it("runs `baton generate` from the published build", async () => {
    const ran = await NodeProcess.run(bin("baton"), ["generate", "Say hi"], { cwd: project })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.include(ran.stdout, "Mock answer from deepseek: Say hi")
    assert.include(bin("baton"), join("node_modules", "@baton", "cli"))
  })

  it("runs `baton-mock-server --help`", async () => {
    const ran = await NodeProcess.run(bin("baton-mock-server"), ["--help"], { cwd: project })
    assert.strictEqual(ran.code, 0, ran.stderr)
    assert.include(ran.stdout, "baton-mock-server")
  })

  it("names the Node it needs on Node 20, without a stack trace", async (context) => {
    if (node20 === undefined) context.skip()
    const ran = await NodeProcess.run(bin("baton"), ["--help"], { cwd: project, node: node20 })
    assert.strictEqual(ran.code, 1)
    assert.match(ran.stderr, /^This command needs Node >= 22\.19 \(this is v20\.[\d.]+\)\. Install Node 24\.\n$/)
  })
})
