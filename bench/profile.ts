/**
 * CPU profile of one case at concurrency 1: the V8 sampling profiler is
 * started (through `node:inspector`) after warm-up and stopped after
 * `BENCH_PROFILE_CALLS` calls (default 3000), so the profile holds the
 * measured calls alone. Prints, in µs per call: the time by package, the top
 * functions by self time, and the top Baton functions by inclusive time; writes
 * the profile to `bench/profile.cpuprofile` (open it in Chrome DevTools).
 * The sampler's attribution around undici's WebAssembly HTTP parser is off:
 * it charged `parseHeaders` 61 µs per call of the default `generate`, which
 * costs 1.5 µs timed directly (bench/README.md, "Twelfth session"); check a
 * surprising row with `bench:instructions` or a direct timing.
 *
 * Run: `npx -y pnpm@12 bench:profile` or `node --expose-gc bench/profile.ts
 * [case-name substring]` (default: `manager.generate (default`).
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { fileURLToPath } from "node:url"
import * as L from "./internal/library.ts"
import * as Measure from "./internal/measure.ts"
import * as Registry from "./internal/registry.ts"
import * as Server from "./internal/server.ts"

const calls = Number(process.env["BENCH_PROFILE_CALLS"] ?? 3000)
const wanted = process.argv[2] ?? "manager.generate (default"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** Where a function lives: a Baton file, a package, or V8's own buckets. */
const place = (url: string): string => {
  const baton = /\/packages\/([^/]+)\/src\/(.+)$/.exec(url)
  if (baton !== null) return `@baton/${baton[1]}/${baton[2]}`
  const pkg = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.+)$/.exec(url)
  if (pkg !== null) return `${pkg[1]}/${pkg[2]}`
  return url === "" ? "(native)" : url.replace(/^.*\/bench\//, "bench/")
}
const packageOf = (url: string): string => {
  const p = place(url)
  if (p.startsWith("@baton/")) {
    return p.split("/").slice(0, 2).join("/") + (p.includes("/internal/") ? " (internal)" : "")
  }
  if (p.startsWith("effect/")) return `effect/${p.split("/")[2] ?? ""}`.replace(/\.js$/, "")
  if (p.startsWith("@")) return p.split("/").slice(0, 2).join("/")
  return p.split("/")[0] ?? p
}

const top = (map: Map<string, number>, n: number) => [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)

/**
 * The profile by package, by function (self time) and by Baton function
 * (inclusive). The sampler runs on wall time, so on a loaded machine a
 * function is also charged while the process waits for a core: every figure
 * is scaled so that the non-idle samples add up to the CPU the calls used
 * (`cpuMicros` per call).
 */
const analyse = (profile: Profile, cpuMicros: number): string => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const packages = new Map<string, number>()
  const label = (n: Node) =>
    `${n.callFrame.functionName || "(anonymous)"} ${place(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
  let total = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    total += dt
    const node = byId.get(id)
    if (node === undefined) return
    const name = node.callFrame.url === "" ? node.callFrame.functionName : label(node)
    self.set(name, (self.get(name) ?? 0) + dt)
    const pkg = node.callFrame.url === "" ? node.callFrame.functionName : packageOf(node.callFrame.url)
    packages.set(pkg, (packages.get(pkg) ?? 0) + dt)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at)
      if (n === undefined || !n.callFrame.url.includes("/packages/")) continue
      const key = label(n)
      if (!seen.has(key)) {
        seen.add(key)
        inclusive.set(key, (inclusive.get(key) ?? 0) + dt)
      }
    }
  })
  const busy = total - (self.get("(idle)") ?? 0)
  const scale = (cpuMicros * calls) / busy
  const row = ([name, us]: [string, number]) =>
    `${((us * scale) / calls).toFixed(1).padStart(8)} µs/call ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}`
  self.delete("(idle)")
  packages.delete("(idle)")
  return [
    `profile of "${wanted}": ${calls} calls, ${(busy / calls).toFixed(0)} µs of non-idle samples per call, scaled by ${
      scale.toFixed(2)
    } to the ${cpuMicros.toFixed(0)} µs of CPU per call measured`,
    "",
    "by package (self time):",
    ...top(packages, 20).map(row),
    "",
    "top functions by self time:",
    ...top(self, 30).map(row),
    "",
    "Baton functions by inclusive time:",
    ...top(inclusive, 30).map(row)
  ].join("\n")
}

const server = await Server.start()
try {
  const libraries = await Promise.all(
    (["floor", "baton"] as const).map(async (name) => (await Registry.libraries[name]()).setup(server.url))
  )
  const found = libraries.flatMap((l) => l.cases).find((c) => c.name.includes(wanted))
  if (found === undefined) throw new Error(`no case matches "${wanted}"`)
  await Measure.runCalls(found.call, L.model, Measure.warmupCalls, 1)
  Measure.minorGc()
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 50 })
  const cpu = process.cpuUsage()
  await session.post("Profiler.start")
  await Measure.runCalls(found.call, L.model, calls, 1)
  const { profile } = await session.post("Profiler.stop")
  const used = process.cpuUsage(cpu)
  session.disconnect()
  writeFileSync(fileURLToPath(new URL("profile.cpuprofile", import.meta.url)), JSON.stringify(profile))
  const cpuMicros = (used.user + used.system) / calls
  console.log(`${found.name}: ${cpuMicros.toFixed(0)} µs CPU per call (profiler on)\n`)
  console.log(analyse(profile as unknown as Profile, cpuMicros))
  for (const l of libraries) await l.close()
} finally {
  server.stop()
}
