/**
 * Fiber steps per call: how many primitives Effect's run loop evaluates for
 * one call of each Baton case over the loopback mock server, counted by a
 * tracer's `context` hook (Effect calls it once for every primitive of a
 * fiber whose tracer has one). Unlike CPU time and, inside a short window,
 * instruction counts (bench/README.md, "Thirty-seventh session"), the count
 * is the same from run to run on the same code (for a streamed case, as long
 * as the body arrives in as many socket reads, as over loopback it does): it
 * judges a cut of a few steps that no timing on a shared machine can see.
 * Only the fibers of the calls are counted (they carry the tracer), not a
 * layer's own. A step is not a fixed cost (a `Sync` may run a whole
 * decoder), so read it beside the timing.
 *
 * With `BENCH_STEPS_TRACE=<case>`, prints every step of one call of the case
 * whose name contains it: its fiber, its primitive and the start of the
 * function it runs, to see where a call's steps go.
 *
 * Run: `npx -y pnpm@12 bench:steps`, or `node steps.ts [case-name
 * substring]` in `bench/` (`BENCH_STEPS_CALLS` calls per case after 500 of
 * warm-up, default 200).
 */
import * as LlmRequest from "@baton/core/LlmRequest"
import * as UsageLedger from "@baton/core/UsageLedger"
import { Effect, Exit, Stream, Tracer } from "effect"
import * as Baton from "./internal/libraries/baton.ts"
import * as L from "./internal/library.ts"
import * as Server from "./internal/server.ts"

const calls = Number(process.env["BENCH_STEPS_CALLS"] ?? 200)
const traced = process.env["BENCH_STEPS_TRACE"]
const wanted = process.argv[2]

/** Effect's keys of a primitive: how to run it, what it is, what it holds (effect 4.1's `internal/core`). */
const evaluate = "~effect/Effect/evaluate"
const identifier = "~effect/Effect/identifier"
const args = "~effect/Effect/args"

interface Primitive {
  readonly [evaluate]: (fiber: unknown) => unknown
  readonly [identifier]?: string
  readonly [args]?: unknown
}

let steps = 0
let trace: Array<string> | undefined

/** One step as a line: the fiber, the primitive, and the start of the function it runs. */
const describe = (primitive: Primitive, fiber: { readonly id: number }): string => {
  const held = primitive[args]
  const what = typeof held === "function" ? held.toString().replace(/\s+/g, " ").slice(0, 100) : ""
  return `${fiber.id} ${primitive[identifier] ?? "?"} ${what}`
}

/** The bench's tracer (every span built, none exported), counting each step it is handed. */
const tracer = Tracer.make({
  span: (options) => new Tracer.NativeSpan(options),
  context: ((primitive: Primitive, fiber: { readonly id: number }) => {
    steps++
    trace?.push(describe(primitive, fiber))
    return primitive[evaluate](fiber)
  }) as Tracer.Tracer["context"]
})

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provideService(effect, Tracer.Tracer, tracer))

const server = await Server.start()
const managers = await Baton.managers(server.url, UsageLedger.layerMemory())
const input = { prompt: L.prompt, metadata: { subjectId: Baton.subjectId } }
const request = await run(LlmRequest.make(input))
const refused = { ...input, metadata: { subjectId: Baton.refusedSubject } }
// the refused subject spends its one unit of the day; the first failure opens the primary's circuit for the run
await run(managers.streamed.generate(refused))
await run(Effect.exit(managers.openCircuitAlone.generate(input)))

/** A refused call's exit: a call that was not refused would count another path's steps. */
const refusal = async (call: Effect.Effect<unknown, unknown>): Promise<Exit.Exit<unknown, unknown>> => {
  const exit = await run(Effect.exit(call))
  if (Exit.isSuccess(exit)) throw new Error("the call should have been refused")
  return exit
}
const cases: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
  [L.names.adapter, () => run(managers.adapter.generate(request))],
  [L.names.adapterStream, () => run(Stream.runDrain(managers.adapter.stream(request)))],
  [L.names.generate, () => run(managers.streamed.generate(input))],
  [L.names.plain, () => run(managers.plain.generate(input))],
  [L.names.stream, () => run(Stream.runDrain(managers.streamed.stream(input)))],
  [L.names.openCircuitAlone, () => refusal(managers.openCircuitAlone.generate(input))],
  [L.names.quota, () => refusal(managers.streamed.generate(refused))]
]

try {
  for (const [name, call] of cases) {
    if (wanted !== undefined && !name.includes(wanted)) continue
    for (let i = 0; i < 500; i++) await call()
    if (traced !== undefined && name.includes(traced)) {
      trace = []
      await call()
      console.log(`${name}, one call:\n${trace.join("\n")}\n`)
      trace = undefined
    }
    steps = 0
    for (let i = 0; i < calls; i++) await call()
    console.log(`${(steps / calls).toFixed(1).padStart(7)} steps  ${name}`)
  }
} finally {
  await managers.close()
  server.stop()
}
