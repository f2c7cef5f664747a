/**
 * What each service costs `manager.generate` (default policy: streamed
 * underneath, the adapter's push) over the network, against the loopback
 * mock server: the same manager with every service (request log with a
 * discarding sink, the in-memory ledger, the in-memory quota with a subject,
 * spans built by an installed tracer), then without one of them at a time,
 * then with none; beside them the DeepSeek adapter alone, as `generate` and
 * as the push the manager reads its stream by (under a supervisor, as an
 * attempt runs it). `manager.ts`'s `price:` cases measure the same in
 * process, where a service costs less than beside a real call (its code and
 * the adapter's no longer share the caches); this is what a call pays.
 * Printed in µs of CPU per call (median over the rounds) and, per round, the
 * difference to "every service" (median and min-max).
 *
 * Run: `npx -y pnpm@12 bench:services`, or `node --expose-gc services.ts` in
 * `bench/` (`BENCH_SERVICES_CALLS` per batch, default 500;
 * `BENCH_SERVICES_ROUNDS`, default 11).
 */
import type { LlmConfigError } from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
import { Context, Effect, Exit, Layer, Redacted, Scope, Tracer } from "effect"
import type { HttpClient } from "effect/http"
import * as L from "./internal/library.ts"
import * as Measure from "./internal/measure.ts"
import * as Server from "./internal/server.ts"

const calls = Number(process.env["BENCH_SERVICES_CALLS"] ?? 500)
const rounds = Number(process.env["BENCH_SERVICES_ROUNDS"] ?? 11)

/** A tracer that builds every span and exports none (with no tracer installed Baton opens no spans). */
const tracer = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })

const server = await Server.start()
const scope = Scope.makeUnsafe()
const base = await Effect.runPromise(
  Layer.build(Layer.merge(ProviderHttpClient.layer, Pricing.layerDefault)).pipe(Scope.provide(scope))
)
const deepseek = DeepSeek.layer({ apiKey: Redacted.make(L.apiKey), baseUrl: `${server.url}/deepseek`, model: L.model })

/** Builds, in `scope`, what `layer` provides as `tag`. */
const built = <I, S>(
  layer: Layer.Layer<I, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing>,
  tag: Context.Key<I, S>
): Promise<S> =>
  Effect.runPromise(
    Effect.map(Layer.build(layer), (context) => Context.get(context, tag)).pipe(
      Effect.provideContext(base),
      Scope.provide(scope)
    )
  )

const log = RequestLog.layer([{ name: "discard", write: () => Effect.void }])
const ledger = UsageLedger.layerMemory()
const quota = QuotaLimiter.layerMemoryWith({ maxQuestionsPerRequest: 20, dailyLimit: 1_000_000_000, timeZone: "UTC" })
const manager = <S>(services: Layer.Layer<S, LlmConfigError>) =>
  built(LlmManager.layer({ providers: [deepseek] }).pipe(Layer.provide(services)), LlmManager.LlmManager)

const adapter = await built(deepseek, LlmProvider.LlmProvider)
const every = await manager(Layer.mergeAll(log, ledger, quota))
const noLog = await manager(Layer.mergeAll(ledger, quota))
const noLedger = await manager(Layer.mergeAll(log, quota))
const none = await manager(Layer.empty)
const request = await Effect.runPromise(LlmRequest.make({ prompt: L.prompt }))
const supervisor: LlmProvider.Supervisor = { usage: () => {} }
const input = { prompt: L.prompt, metadata: { subjectId: "teacher-bench" } }

const run = <A, E>(effect: Effect.Effect<A, E>, installed: Tracer.Tracer = tracer): Promise<A> =>
  Effect.runPromise(Effect.provideService(effect, Tracer.Tracer, installed))

/** The adapter's stream read by its push under a supervisor, as an attempt reads it. */
const pushed = () => {
  const push = LlmProvider.pushOf(adapter.stream(request))
  if (push === undefined) throw new Error("the adapter's stream has no push")
  return run(Effect.provideService(push(() => undefined), LlmProvider.Supervisor, supervisor))
}

const cases: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
  ["every service", () => run(every.generate(input))],
  ["without the request log", () => run(noLog.generate(input))],
  ["without the usage ledger", () => run(noLedger.generate(input))],
  ["without a subject (no quota spent)", () => run(every.generate({ prompt: L.prompt }))],
  ["without a tracer (no spans)", () => run(every.generate(input), Tracer.nativeTracer)],
  ["none of them", () => run(none.generate({ prompt: L.prompt }), Tracer.nativeTracer)],
  ["adapter alone: provider.generate", () => run(adapter.generate(request))],
  ["adapter alone: its stream's push (supervised)", pushed]
]

/** CPU µs per call of one batch of `call`. */
const batch = async (call: () => Promise<unknown>): Promise<number> => {
  Measure.minorGc()
  await Measure.pause(20)
  const cpu = process.cpuUsage()
  for (let i = 0; i < calls; i++) await call()
  const used = process.cpuUsage(cpu)
  return (used.user + used.system) / calls
}

try {
  for (const [, call] of cases) {
    for (let i = 0; i < Measure.warmupCalls / 4; i++) await call()
  }
  const samples = cases.map(() => [] as Array<number>)
  for (let round = 0; round < rounds; round++) {
    for (const [index, [, call]] of cases.entries()) samples[index]?.push(await batch(call))
  }
  const first = samples[0] ?? []
  for (const [index, [name]] of cases.entries()) {
    const own = samples[index] ?? []
    const differences = own.map((micros, round) => micros - (first[round] ?? Number.NaN))
    const spread = `${Math.round(Math.min(...differences))} to ${Math.round(Math.max(...differences))}`
    console.log(
      `${Measure.median(own).toFixed(0).padStart(5)} µs  ${
        Math.round(Measure.median(differences)).toFixed(0).padStart(5)
      } µs (${spread})  ${name}`
    )
  }
} finally {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  server.stop()
}
