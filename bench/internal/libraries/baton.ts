/**
 * Baton: the DeepSeek adapter alone, and the whole stack (`LlmManager` with a
 * request log whose sink discards records, each record still built; the
 * in-memory usage ledger; the in-memory quota with a `subjectId` on every
 * request; metrics in the global registry; spans built by an installed
 * tracer that keeps them in memory, as a tracing backend's would be built,
 * exported nowhere) in each configuration the issue names. (With no tracer
 * installed Baton opens no spans: see `LlmMetrics`.)
 */
import * as CircuitPolicy from "@baton/core/CircuitPolicy"
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { LlmConfigError } from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import { LlmProvider } from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as OpenAi from "@baton/providers/OpenAi"
import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
import { Context, Effect, Exit, Layer, Redacted, Schema, Scope, Stream, Tracer } from "effect"
import type { HttpClient } from "effect/http"
import * as L from "../library.ts"

/** The subject every request is charged to. */
export const subjectId = "teacher-bench"
/** A subject whose daily quota (one request) is spent at set-up: every request is refused before any network call. */
export const refusedSubject = "teacher-refused"

/** The answer `generateStructured` asks for, as an Effect Schema and as a raw JSON Schema. */
const Quiz = Schema.Struct({ question: Schema.String, choices: Schema.Array(Schema.String), answer: Schema.Int })
const quizJsonSchema = {
  type: "object",
  properties: {
    question: { type: "string" },
    choices: { type: "array", items: { type: "string" } },
    answer: { type: "integer" }
  },
  required: ["question", "choices", "answer"],
  additionalProperties: false
}

/** A tracer that builds every span (Effect's in-memory `NativeSpan`) and exports none. */
const tracer = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })

/** Fails the promise when the effect fails, as a caller's `runPromise` would; spans go to `tracer`. */
export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provideService(effect, Tracer.Tracer, tracer))

const inputOf = (model: string, subject = subjectId): LlmRequest.Input => ({
  prompt: L.prompt,
  options: model === L.model ? undefined : { model },
  metadata: { subjectId: subject }
})

/**
 * A usage ledger whose store discards the rows (each row is still built and
 * batched): the leak check's, so that only what Baton should not keep shows.
 */
export const discardingLedger: Layer.Layer<UsageLedger.UsageLedger, LlmConfigError> = UsageLedger.layer(Effect.succeed({
  name: "discard",
  append: () => Effect.void,
  usageBySubject: () => Effect.succeed([]),
  usageByProvider: () => Effect.succeed([]),
  dailyTotals: () => Effect.succeed([])
}))

const makeManagers = (url: string, ledger: Layer.Layer<UsageLedger.UsageLedger, LlmConfigError>) => {
  const key = Redacted.make(L.apiKey)
  const deepseek = (model: string) => DeepSeek.layer({ apiKey: key, baseUrl: `${url}/deepseek`, model })
  const openai = OpenAi.layer({ apiKey: key, baseUrl: `${url}/openai/v1`, model: "gpt-4o-mini" })
  const failing = deepseek(`${L.model}@status=503`)
  const stores = Layer.mergeAll(
    RequestLog.layer([{ name: "discard", write: () => Effect.void }]),
    ledger,
    QuotaLimiter.layerMemoryWith({
      maxQuestionsPerRequest: 20,
      dailyLimit: 1_000_000_000,
      timeZone: "UTC",
      overrides: QuotaLimiter.overridesFromRecord({ [refusedSubject]: { daily: 1 } })
    })
  )
  const build = (options: LlmManager.Options<LlmConfigError, HttpClient.HttpClient | Pricing.Pricing>) =>
    Effect.map(
      Layer.build(LlmManager.layer(options).pipe(Layer.provide(stores))),
      (context) => Context.get(context, LlmManager.LlmManager)
    )
  const noRetry = FallbackPolicy.make({ maxRetries: 0 })
  return Effect.gen(function*() {
    const adapter = yield* Effect.map(Layer.build(deepseek(L.model)), (context) => Context.get(context, LlmProvider))
    return {
      adapter,
      streamed: yield* build({ providers: [deepseek(L.model)] }),
      plain: yield* build({ providers: [deepseek(L.model)], policy: FallbackPolicy.make({ generateVia: "generate" }) }),
      withFallback: yield* build({ providers: [deepseek(L.model), openai] }),
      // the primary's circuit opens at its first failure and stays open for the run
      openCircuit: yield* build({
        providers: [failing, openai],
        policy: noRetry,
        circuitPolicy: { failureThreshold: 1, cooldownMs: 24 * 3_600_000 }
      }),
      openCircuitAlone: yield* build({
        providers: [failing],
        policy: noRetry,
        circuitPolicy: { failureThreshold: 1, cooldownMs: 24 * 3_600_000 }
      }),
      // the primary answers 503 every time, its circuit never opens: each call fails over
      failover: yield* build({
        providers: [failing, openai],
        policy: noRetry,
        circuitPolicy: { ...CircuitPolicy.defaults, failureThreshold: Number.MAX_SAFE_INTEGER }
      })
    }
  })
}

/** The adapter and every manager the bench uses, and `close`, which releases their layers. */
export type Managers = Awaited<ReturnType<typeof managers>>

/** Every manager the bench uses, against the mock server with `ledger`; `close` releases their layers. */
export const managers = async (url: string, ledger: Layer.Layer<UsageLedger.UsageLedger, LlmConfigError>) => {
  const scope = Scope.makeUnsafe()
  // built in `scope` (not with `Effect.provide`, which would close the HTTP client when the build ends)
  const built = Effect.flatMap(
    Layer.build(Layer.merge(ProviderHttpClient.layer, Pricing.layerDefault)),
    (context) => Effect.provideContext(makeManagers(url, ledger), context)
  ).pipe(Scope.provide(scope))
  return { ...(await run(built)), close: () => run(Scope.close(scope, Exit.void)) }
}

/** Baton against the mock server with the in-memory usage ledger; `close` releases its layers. */
export const setup = (url: string): Promise<L.Library> => setupWith(url, UsageLedger.layerMemory())

/** Baton against the mock server with `ledger`. */
export const setupWith = async (
  url: string,
  ledger: Layer.Layer<UsageLedger.UsageLedger, LlmConfigError>
): Promise<L.Library> => {
  const m = await managers(url, ledger)
  await run(m.streamed.generate(inputOf(L.model, refusedSubject)))
  const requests = new Map<string, LlmRequest.LlmRequest>()
  const requestOf = async (model: string) => {
    const found = requests.get(model)
    if (found !== undefined) return found
    const made = await run(LlmRequest.make(inputOf(model)))
    requests.set(model, made)
    return made
  }
  const refused = (manager: LlmManager.Service): L.Call => (model) =>
    run(Effect.exit(manager.generate(inputOf(model, refusedSubject)))).then((exit) => {
      const error = Exit.findErrorOption(exit)
      if (error._tag === "None" || error.value._tag !== "RateLimitExceeded") {
        throw new Error("the quota should have refused the call")
      }
      return exit
    })
  const failed = (manager: LlmManager.Service): L.Call => (model) =>
    run(Effect.exit(manager.generate(inputOf(model)))).then((exit) => {
      if (Exit.isSuccess(exit)) throw new Error("the open circuit should have refused the call")
      return exit
    })
  const baton = (name: string, call: L.Call, headline = false, inFlight = false): L.Case => ({
    name,
    group: "baton",
    call,
    headline,
    inFlight
  })
  const firstDelta: L.FirstDelta = async (model) => {
    const start = performance.now()
    let first = Number.NaN
    await run(Stream.runForEach(m.streamed.stream(inputOf(model)), (part) =>
      Effect.sync(() => {
        if (Number.isNaN(first) && part._tag === "TextDelta" && part.text !== "") first = L.since(start)
      })))
    return first
  }
  return {
    cases: [
      baton(L.names.adapter, async (model) => run(m.adapter.generate(await requestOf(model))), true, true),
      baton(L.names.adapterStream, async (model) => run(Stream.runDrain(m.adapter.stream(await requestOf(model))))),
      baton(L.names.generate, (model) => run(m.streamed.generate(inputOf(model))), true, true),
      baton(L.names.plain, (model) => run(m.plain.generate(inputOf(model))), true, true),
      baton(L.names.structuredSchema, (model) => run(m.streamed.generateStructured(inputOf(model), Quiz)), true),
      baton(
        L.names.structuredJson,
        (model) => run(m.streamed.generateStructured(inputOf(model), quizJsonSchema)),
        true
      ),
      baton(L.names.stream, (model) => run(Stream.runDrain(m.streamed.stream(inputOf(model)))), true, true),
      baton(L.names.withFallback, (model) => run(m.withFallback.generate(inputOf(model)))),
      baton(L.names.openCircuit, () => run(m.openCircuit.generate(inputOf(L.model)))),
      baton(L.names.failover, () => run(m.failover.generate(inputOf(L.model)))),
      baton(L.names.openCircuitAlone, () => failed(m.openCircuitAlone)(L.model)),
      baton(L.names.quota, refused(m.streamed))
    ],
    firstDelta: [{ name: "Baton manager.stream", run: firstDelta }],
    close: m.close
  }
}
