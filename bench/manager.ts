/**
 * The manager's own CPU, without a network: `LlmManager` (the bench's whole
 * stack: request log with a discarding sink, the in-memory ledger and quota,
 * a subject on every request, metrics, spans built by an installed tracer)
 * over a provider that answers at once in process (or after one event-loop
 * turn: the `hop:` cases), beside that provider called alone. What the manager
 * adds to one adapter call is the difference; the refusals (quota, open
 * circuit) and the failover are whole costs. The `price:` cases take the
 * services away one at a time: what each costs a plain `generate` (run them
 * alone, `price`, so that their ratios are to the case with every service;
 * the memory ledger keeps every row, so its price includes the heap it
 * grows). The `hop price:` cases do the same over a provider that answers
 * after an event-loop turn: a loop of calls that never leaves the microtask
 * queue runs no timer (the ledger's flush never runs) and keeps every cache
 * hot, and there each service costs up to twice what `price:` says
 * (bench/README.md, "Twenty-third session"; run them alone too: `hop
 * price`). In µs per call (CPU and wall, hot), and as a ratio of CPU to the
 * first case printed.
 *
 * The cases' batches are interleaved, round after round, after a warm-up
 * of each (at least 20,000 calls: V8 still compiles a manager call's path
 * past its 10,000th, and one batch of 2,000 left it compiling in the timed
 * rounds); every figure is the median over the rounds, and the ratio
 * is the median of the per-round ratios (min-max in brackets): on a shared
 * machine only ratios taken this way hold still.
 *
 * Run: `node --expose-gc bench/manager.ts [words]` in `bench/` (only the cases
 * whose name contains one of the comma-separated words; `BENCH_MANAGER_CALLS`
 * per batch, default 2000; `BENCH_MANAGER_ROUNDS`, default 7).
 */
import * as CircuitPolicy from "@baton/core/CircuitPolicy"
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { GenerationResult, StreamPart } from "@baton/core/GenerationResult"
import { ModelId, ProviderName } from "@baton/core/Ids"
import type { LlmConfigError } from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import { ProviderUnavailable } from "@baton/core/ProviderError"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as TokenUsage from "@baton/core/TokenUsage"
import * as UsageLedger from "@baton/core/UsageLedger"
import { Context, Effect, Exit, Layer, Scope, Stream, Tracer } from "effect"
import * as Measure from "./internal/measure.ts"

const calls = Number(process.env["BENCH_MANAGER_CALLS"] ?? 2000)
const prompt = "Write one multiple-choice question about photosynthesis for 12-year-olds."
const usage = TokenUsage.make({ promptTokens: 20, completionTokens: 40 }, 1234, "model")

/** How an {@link instant} provider answers (each off by default). */
interface Answering {
  /** Answers 503. */
  readonly failing?: boolean
  /** Answers after one turn of the event loop (as a network reply would), else at once. */
  readonly hop?: boolean
  /** Streams sixteen deltas and a finish, each in a chunk of its own (as a network stream arrives), not one chunk. */
  readonly chunked?: boolean
}

/** A provider answering in process: plain, or in three deltas and a finish, as `answering` says. */
const instant = (
  name: string,
  { chunked = false, failing = false, hop = false }: Answering = {}
): Layer.Layer<LlmProvider.LlmProvider> => {
  const provider = ProviderName.make(name)
  const model = ModelId.make("bench-model")
  const unavailable = () => new ProviderUnavailable({ provider, model, status: 503, message: "503 at once" })
  const result = (request: LlmRequest.LlmRequest): GenerationResult => ({
    content: "Which gas do plants take in? A) O2 B) CO2 C) N2 (B)",
    usage,
    model,
    provider,
    latencyMs: 0,
    finishReason: "stop",
    requestId: request.requestId,
    attempts: []
  })
  const parts: ReadonlyArray<StreamPart> = [
    { _tag: "TextDelta", text: "Which gas do plants take in? " },
    { _tag: "TextDelta", text: "A) O2 B) CO2 C) N2 " },
    { _tag: "TextDelta", text: "(B)" },
    { _tag: "Finish", finishReason: "stop", usage, provider, model }
  ]
  const sixteen: ReadonlyArray<StreamPart> = [
    ...Array.from({ length: 16 }, (_, i): StreamPart => ({ _tag: "TextDelta", text: `token ${i} ` })),
    { _tag: "Finish", finishReason: "stop", usage, provider, model }
  ]
  return LlmProvider.layer({
    name: provider,
    model,
    capabilities: { assistantPrefill: false, streamUsage: true, structuredOutput: "json-schema" },
    generate: (request) =>
      failing
        ? Effect.suspend(() => Effect.fail(unavailable()))
        : hop
        ? Effect.callback<GenerationResult>((resume) => {
          setImmediate(() => {
            resume(Effect.succeed(result(request)))
          })
        })
        : Effect.succeed(result(request)),
    generateStructured: () => Effect.die("not measured"),
    stream: () =>
      failing
        ? Stream.suspend(() => Stream.fail(unavailable()))
        : hop
        ? Stream.unwrap(Effect.callback<Stream.Stream<StreamPart>>((resume) => {
          setImmediate(() => {
            resume(Effect.succeed(Stream.fromIterable(parts)))
          })
        }))
        : chunked
        ? Stream.rechunk(Stream.fromIterable(sixteen), 1)
        : Stream.fromIterable(parts)
  })
}

// the services `LlmManager` takes from context, each optional
const discardingLog = RequestLog.layer([{ name: "discard", write: () => Effect.void }])
const memoryLedger = UsageLedger.layerMemory()
const memoryQuota = QuotaLimiter.layerMemoryWith({
  maxQuestionsPerRequest: 20,
  dailyLimit: 1_000_000_000,
  timeZone: "UTC",
  overrides: QuotaLimiter.overridesFromRecord({ "teacher-refused": { daily: 1 } })
})

const manager = (
  options: LlmManager.Options<never, never>,
  services: Layer.Layer<never, LlmConfigError> = Layer.mergeAll(discardingLog, memoryLedger, memoryQuota)
) =>
  Effect.map(
    Layer.build(LlmManager.layer(options).pipe(Layer.provide(services))),
    (context) => Context.get(context, LlmManager.LlmManager)
  )

const input = (subjectId = "teacher-bench"): LlmRequest.Input => ({ prompt, metadata: { subjectId } })
const viaGenerate = { providers: [instant("deepseek")], policy: FallbackPolicy.make({ generateVia: "generate" }) }
const noRetry = FallbackPolicy.make({ maxRetries: 0 })
const openOnFirst = { failureThreshold: 1, cooldownMs: 24 * 3_600_000 }

/** A measured case: its name, one call, and the tracer it runs under (default {@link tracer}). */
type Case = readonly [name: string, call: () => Effect.Effect<unknown, unknown>, tracer?: Tracer.Tracer]

/** The measured cases, built in `scope` (the managers live as long as it). */
export const makeCases = (scope: Scope.Scope) => Scope.provide(program, scope)

const program = Effect.gen(function*(): Effect.fn.Return<ReadonlyArray<Case>, unknown, Scope.Scope> {
  const alone = Context.get(yield* Layer.build(instant("deepseek")), LlmProvider.LlmProvider)
  const streamed = yield* manager({ providers: [instant("deepseek")] })
  const aloneHop = Context.get(yield* Layer.build(instant("deepseek", { hop: true })), LlmProvider.LlmProvider)
  const streamedHop = yield* manager({ providers: [instant("deepseek", { hop: true })] })
  const viaGenerateHop = { ...viaGenerate, providers: [instant("deepseek", { hop: true })] }
  const plainHop = yield* manager(viaGenerateHop)
  const plain = yield* manager(viaGenerate)
  const noLogHop = yield* manager(viaGenerateHop, Layer.mergeAll(memoryLedger, memoryQuota))
  const noLedgerHop = yield* manager(viaGenerateHop, Layer.mergeAll(discardingLog, memoryQuota))
  const bareHop = yield* manager(viaGenerateHop, Layer.empty)
  const aloneChunked = Context.get(yield* Layer.build(instant("deepseek", { chunked: true })), LlmProvider.LlmProvider)
  const streamedChunked = yield* manager({ providers: [instant("deepseek", { chunked: true })] })
  const noLog = yield* manager(viaGenerate, Layer.mergeAll(memoryLedger, memoryQuota))
  const noLedger = yield* manager(viaGenerate, Layer.mergeAll(discardingLog, memoryQuota))
  const bare = yield* manager(viaGenerate, Layer.empty)
  const openAlone = yield* manager({
    providers: [instant("deepseek", { failing: true })],
    policy: noRetry,
    circuitPolicy: openOnFirst
  })
  const openThenFallback = yield* manager({
    providers: [instant("deepseek", { failing: true }), instant("openai")],
    policy: noRetry,
    circuitPolicy: openOnFirst
  })
  const failover = yield* manager({
    providers: [instant("deepseek", { failing: true }), instant("openai")],
    policy: noRetry,
    circuitPolicy: { ...CircuitPolicy.defaults, failureThreshold: Number.MAX_SAFE_INTEGER }
  })
  // the refused subject spends its one unit of the day; the first failure opens each primary's circuit for the run
  yield* streamed.generate(input("teacher-refused"))
  yield* Effect.exit(openAlone.generate(input()))
  yield* Effect.exit(openThenFallback.generate(input()))
  const checked = yield* LlmRequest.make(input())
  return [
    ["adapter alone: provider.generate (instant, in process)", () => alone.generate(checked)],
    ["adapter alone: provider.stream drained", () => Stream.runDrain(alone.stream(checked))],
    ["manager.generate (generateVia: generate)", () => plain.generate(input())],
    ["hop: adapter alone: provider.generate", () => aloneHop.generate(checked)],
    ["hop: adapter alone: provider.stream drained", () => Stream.runDrain(aloneHop.stream(checked))],
    ["hop: manager.generate (generateVia: generate)", () => plainHop.generate(input())],
    ["hop: manager.generate (default: streams)", () => streamedHop.generate(input())],
    ["manager.generate (default: streams)", () => streamed.generate(input())],
    ["manager.stream (drained)", () => Stream.runDrain(streamed.stream(input()))],
    ["chunked: adapter alone: provider.stream drained", () => Stream.runDrain(aloneChunked.stream(checked))],
    ["chunked: manager.generate (default: streams)", () => streamedChunked.generate(input())],
    ["chunked: manager.stream (drained)", () => Stream.runDrain(streamedChunked.stream(input()))],
    ["quota refusal", () => Effect.exit(streamed.generate(input("teacher-refused")))],
    ["open circuit, no fallback (refused)", () => Effect.exit(openAlone.generate(input()))],
    ["open circuit -> fallback", () => openThenFallback.generate(input())],
    ["primary 503 at once -> fallback (no retry)", () => failover.generate(input())],
    // what each service costs `generate` (plain calls), against the first
    ["price: manager.generate (generateVia: generate), every service", () => plain.generate(input())],
    ["price: without the request log", () => noLog.generate(input())],
    ["price: without the usage ledger", () => noLedger.generate(input())],
    ["price: without a subject (no quota spent)", () => plain.generate({ prompt })],
    // Effect's `nativeTracer`: Baton opens no span for it
    ["price: without a tracer (no spans)", () => plain.generate(input()), Tracer.nativeTracer],
    ["price: none of them", () => bare.generate({ prompt }), Tracer.nativeTracer],
    // the same after an event-loop turn: timers run (the ledger's flush), caches cool
    ["hop price: manager.generate (generateVia: generate), every service", () => plainHop.generate(input())],
    ["hop price: without the request log", () => noLogHop.generate(input())],
    ["hop price: without the usage ledger", () => noLedgerHop.generate(input())],
    ["hop price: without a subject (no quota spent)", () => plainHop.generate({ prompt })],
    ["hop price: without a tracer (no spans)", () => plainHop.generate(input()), Tracer.nativeTracer],
    ["hop price: none of them", () => bareHop.generate({ prompt }), Tracer.nativeTracer]
  ]
})

/** A tracer that builds every span and exports none (with no tracer installed Baton opens no spans). */
const tracer = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })

const rounds = Number(process.env["BENCH_MANAGER_ROUNDS"] ?? 7)

/** Runs one call of a case under its tracer. */
export const runOnce = ([, call, caseTracer = tracer]: Case): Promise<unknown> =>
  Effect.runPromise(Effect.provideService(call(), Tracer.Tracer, caseTracer))

/** Whether a case's name contains one of the comma-separated `words` (any name without words). */
export const named = (words: string | undefined) => {
  const wanted = words?.split(",").filter((word) => word.length > 0) ?? []
  return (name: string): boolean => wanted.length === 0 || wanted.some((word) => name.includes(word))
}

/** The cases whose name contains one of the comma-separated `words` (every case without words), built in `scope`. */
export const selectCases = async (scope: Scope.Scope, words: string | undefined): Promise<ReadonlyArray<Case>> => {
  const wanted = named(words)
  return (await Effect.runPromise(makeCases(scope))).filter(([name]) => wanted(name))
}

/** CPU and wall µs per call of one batch of a case. */
const batch = async (c: Case): Promise<readonly [number, number]> => {
  Measure.minorGc()
  const cpu = process.cpuUsage()
  const start = performance.now()
  for (let i = 0; i < calls; i++) await runOnce(c)
  const used = process.cpuUsage(cpu)
  return [(used.user + used.system) / calls, (performance.now() - start) * 1000 / calls] as const
}

if (import.meta.main) {
  const scope = Scope.makeUnsafe()
  const cases = await selectCases(scope, process.argv[2])
  // a warm-up of each, then the cases' batches interleaved round by round
  for (const c of cases) {
    for (let i = 0; i < Measure.warmupCalls; i++) await runOnce(c)
  }
  const runs = cases.map((c) => ({ c, batches: [] as Array<readonly [number, number]> }))
  for (let round = 0; round < rounds; round++) {
    for (const run of runs) run.batches.push(await batch(run.c))
  }
  const baseline = runs[0]?.batches ?? []
  for (const { batches, c: [name] } of runs) {
    const ratios = batches.map(([cpu], round) => cpu / (baseline[round]?.[0] ?? Number.NaN))
    const cpu = Measure.median(batches.map(([cpu]) => cpu)).toFixed(1).padStart(8)
    const wall = Measure.median(batches.map(([, wall]) => wall)).toFixed(1).padStart(8)
    const ratio = `x${Measure.median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}-${
      Math.max(...ratios).toFixed(2)
    })`
    console.log(`${cpu} µs CPU ${wall} µs wall ${ratio.padStart(18)}  ${name}`)
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
}
