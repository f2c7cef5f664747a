import { Effect, Scope, Tracer } from "effect"
import { makeCases } from "./manager.ts"
const tracer = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })
const scope = Scope.makeUnsafe()
const cases = await Effect.runPromise(makeCases(scope))
const f = cases.find(([n]) => n === "hop: manager.generate (generateVia: generate)")![1]
const flags = ["NONE", "AB_NOCIRCUIT"]
const N = 3000; const res: Record<string, number[]> = {}
for (let r = 0; r < 9; r++) for (const fl of flags) {
  for (const k of flags) delete process.env[k]
  if (fl !== "NONE") process.env[fl] = "1"
  globalThis.gc?.(); const c = process.cpuUsage(); for (let i = 0; i < N; i++) await Effect.runPromise(Effect.provideService(f() as any, Tracer.Tracer, tracer)); const u = process.cpuUsage(c)
  if (r > 0) (res[fl] ??= []).push((u.user + u.system) / N)
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
for (const fl of flags) console.log(fl.padEnd(14), med(res[fl]!).toFixed(1), "ratio", med(res[fl]!.map((v, i) => v / res.NONE![i]!)).toFixed(2))
process.exit(0)
