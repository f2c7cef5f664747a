/**
 * One client in a fresh process: its cold start (import, then set-up, then
 * the first call) and the memory one request holds in flight at concurrency
 * 512. Run by `stack.ts`, one child per measurement:
 * `node --expose-gc subject.ts <library> <case> <mock server url>`; prints
 * one JSON line.
 */
import * as L from "./internal/library.ts"
import * as Measure from "./internal/measure.ts"
import * as Registry from "./internal/registry.ts"

const [library = "", caseName = "", url = ""] = process.argv.slice(2)
if (!Registry.isName(library)) throw new Error(`unknown library "${library}"`)

const start = performance.now()
const module = await Registry.libraries[library]()
const imported = performance.now()
const client = await module.setup(url)
const setUp = performance.now()
const found = client.cases.find((c) => c.name === caseName)
if (found === undefined) throw new Error(`no case "${caseName}" in ${library}`)
await found.call(L.model)
const firstCall = performance.now()

// warm the connection pool to 512 sockets, then hold 512 requests in flight
await Measure.runCalls(found.call, L.model, 512, 512)
const held = await Measure.inFlight(found.call, L.slowModel, 512, 300)
await client.close()
console.log(JSON.stringify({
  importMs: imported - start,
  setupMs: setUp - imported,
  firstCallMs: firstCall - setUp,
  heapBytes: held.heapBytes,
  rssBytes: held.rssBytes,
  rssPeakBytes: held.rssPeakBytes,
  maxRssMiB: process.resourceUsage().maxRSS / 1024
}))
