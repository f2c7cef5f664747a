/**
 * The test bench for `LlmManager`: the mock provider server on 127.0.0.1,
 * the real provider adapters pointed at it over undici, and a manager built
 * from a chain of them with a chosen policy; with the clock drivers and
 * assertions the manager tests share.
 */
import * as Anthropic from "@baton/providers/Anthropic"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as Gemini from "@baton/providers/Gemini"
import * as OpenAi from "@baton/providers/OpenAi"
import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
import * as Providers from "@baton/providers/Providers"
import { eventually, liveNow, liveWait } from "@baton/testing/LiveWait"
import type * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert } from "@effect/vitest"
import { Clock, Context, Effect, Fiber, Layer, Logger, Redacted, type Scope } from "effect"
import type { HttpClient } from "effect/http"
import { TestClock } from "effect/testing"
import type { Attempt } from "../../src/Attempt.ts"
import type * as CircuitPolicy from "../../src/CircuitPolicy.ts"
import * as FallbackPolicy from "../../src/FallbackPolicy.ts"
import * as LlmConfig from "../../src/LlmConfig.ts"
import type { LlmConfigError, LlmError } from "../../src/LlmError.ts"
import * as LlmManager from "../../src/LlmManager.ts"
import * as Pricing from "../../src/Pricing.ts"
import * as QuotaLimiter from "../../src/QuotaLimiter.ts"

/** The providers the mock server speaks. */
export type Kind = MockProviderServer.MockProvider

const apiKey = Redacted.make("sk-test-key")

const layers = {
  openai: OpenAi.layer,
  anthropic: Anthropic.layer,
  deepseek: DeepSeek.layer,
  gemini: Gemini.layer
} as const

/** The mock server, the providers' HTTP client and the default prices. */
export const Bench = Layer.mergeAll(MockProviderServer.layer(), ProviderHttpClient.layer, Pricing.layerDefault)

/** Options of a test manager: the chain, and policy overrides. */
export interface ChainOptions {
  readonly chain: ReadonlyArray<Kind>
  readonly policy?: Parameters<typeof FallbackPolicy.make>[0]
  readonly circuit?: CircuitPolicy.CircuitPolicy
  readonly generationEnabled?: boolean
  /** The adapters' own `timeoutMs` (it applies only to a provider used without the manager). */
  readonly providerTimeoutMs?: number
  /** The adapters' body and stream event size caps. */
  readonly maxBodyBytes?: number
  readonly maxEventBytes?: number
}

/** A manager over real provider adapters pointed at the mock server. */
export const manager = (
  options: ChainOptions
): Effect.Effect<
  LlmManager.Service,
  LlmConfigError,
  MockProviderServer.MockProviderServer | Scope.Scope | Pricing.Pricing | HttpClient.HttpClient
> =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    return yield* LlmManager.make({
      providers: options.chain.map((kind) =>
        layers[kind]({
          apiKey,
          baseUrl: server.baseUrl(kind),
          timeoutMs: options.providerTimeoutMs,
          maxBodyBytes: options.maxBodyBytes,
          maxEventBytes: options.maxEventBytes
        })
      ),
      policy: FallbackPolicy.make({ maxRetries: 0, retryBaseDelayMs: 10, ...options.policy }),
      circuitPolicy: options.circuit ?? { failureThreshold: 100, cooldownMs: 60_000 },
      generationEnabled: options.generationEnabled ?? true
    })
  })

/**
 * A manager with a quota (20 units a request, 100 a day, days in UTC;
 * `quota` on top) over an in-memory store, returned for the test to read.
 */
export const managerWithQuota = (quota: Partial<QuotaLimiter.Options>, options: ChainOptions) =>
  Effect.gen(function*() {
    const store = yield* QuotaLimiter.makeStoreMemory
    const limiter = yield* QuotaLimiter.make({
      maxQuestionsPerRequest: 20,
      dailyLimit: 100,
      timeZone: "UTC",
      ...quota
    }).pipe(Effect.provideService(QuotaLimiter.QuotaStore, store))
    const llm = yield* manager(options).pipe(Effect.provideService(QuotaLimiter.QuotaLimiter, limiter))
    return { llm, store }
  })

/** A manager over openai then anthropic whose circuit opens at openai's first failure, for `cooldownMs`. */
export const tripOnFirstFailure = (cooldownMs: number) =>
  manager({ chain: ["openai", "anthropic"], circuit: { failureThreshold: 1, cooldownMs } })

/**
 * A manager built as an application builds it, by `LlmManager.layerConfig`
 * from the environment `variables`, with every provider's key set and its
 * base URL on the mock server.
 */
export const managerFromEnv = (variables: Record<string, string>, overrides?: LlmManager.ConfigOverrides) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.MockProviderServer
    const environment: Record<string, string> = {}
    for (const kind of ["deepseek", "gemini", "openai", "anthropic"] as const) {
      environment[`${kind.toUpperCase()}_API_KEY`] = `sk-${kind}`
      environment[`${kind.toUpperCase()}_BASE_URL`] = server.baseUrl(kind)
    }
    const config = LlmConfig.layerFromRecord({ ...environment, ...variables })
    const context = yield* Layer.build(
      LlmManager.layerConfig(Providers.layersFromConfig, overrides).pipe(
        Layer.provide(LlmConfig.layerPricing),
        Layer.provideMerge(config)
      )
    )
    return Context.get(context, LlmManager.LlmManager)
  })

/** The warnings logged while `effect` runs. */
export const warningsOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const capture = Logger.make(({ logLevel, message }) => {
      if (logLevel === "Warn") warnings.push(Array.isArray(message) ? String(message[0]) : String(message))
    })
    yield* effect.pipe(Effect.provide(Logger.layer([capture])))
    return warnings
  })

/** Chosen fields of an attempt, as plain strings (the error as its tag), for compact assertions. */
export const pick =
  (...fields: ReadonlyArray<"provider" | "model" | "role" | "outcome" | "error">) =>
  (attempt: Attempt): Array<string | undefined> =>
    fields.map((field) => field === "error" ? attempt.error?._tag : attempt[field])

/** Asserts that `result` skipped openai, refused by the error tagged `error`, and anthropic answered. */
export const assertSkippedOpenAi = (result: { readonly attempts: ReadonlyArray<Attempt> }, error: string): void => {
  assert.deepStrictEqual(result.attempts.map(pick("provider", "outcome", "error")), [
    ["openai", "skipped", error],
    ["anthropic", "success", undefined]
  ])
}

/** The decode issue of a failed `generateStructured`'s first attempt, or the error that attempt failed with instead. */
export const firstIssue = (error: LlmError) => {
  const attempt = error._tag === "AllProvidersFailed" ? error.attempts[0]?.error : error
  return attempt?._tag === "StructuredOutputInvalid" ? attempt.issue : attempt
}

/** The server's counters for a provider. */
export const stats = (kind: Kind) => Effect.flatMap(MockProviderServer.MockProviderServer, (s) => s.stats(kind))

/** Queues a fault on the server. */
export const inject = (...args: Parameters<MockProviderServer.MockProviderServer["Service"]["inject"]>) =>
  Effect.flatMap(MockProviderServer.MockProviderServer, (server) => server.inject(...args))

/** The live waits, shared with the other packages' tests. */
export { eventually, liveNow, liveWait }

/** Moves the test clock in small steps, letting real I/O happen in between, until `fiber` is done. */
export const driveClock = <A, E>(fiber: Fiber.Fiber<A, E>, stepMs: number) =>
  eventually(
    Effect.gen(function*() {
      if (fiber.pollUnsafe() !== undefined) return true
      yield* TestClock.adjust(stepMs)
      return false
    }),
    10_000
  )

/** Runs `effect` in a child fiber, moving the test clock in `stepMs` steps until it is done. */
export const runDriven = <A, E, R>(effect: Effect.Effect<A, E, R>, stepMs: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* driveClock(fiber, stepMs)
    return yield* Fiber.join(fiber)
  })

/**
 * Generates `request` over `chain`, a primary and a fallback (2 retries, 100 ms backoff, a 10 s
 * deadline), after queuing `fault` on the primary, and asserts that it went straight to the fallback:
 * one call to the primary, failed with the error tagged `error`, and no sleep (the clock never moves,
 * so any sleep would hang the test).
 */
export const assertStraightToFallback = (options: {
  readonly request: LlmManager.Input
  readonly chain: readonly [primary: Kind, fallback: Kind]
  readonly fault: MockFault.MockFault
  readonly error: string
}) =>
  Effect.gen(function*() {
    const [primary, fallback] = options.chain
    const llm = yield* manager({
      chain: options.chain,
      policy: { maxRetries: 2, retryBaseDelayMs: 100, requestTimeoutMs: 10_000 }
    })
    yield* inject(primary, options.fault)
    const result = yield* llm.generate(options.request)
    assert.deepStrictEqual(result.attempts.map(pick("provider", "role", "error")), [
      [primary, "primary", options.error],
      [fallback, "fallback", undefined]
    ])
    assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    assert.strictEqual((yield* stats(primary)).requests, 1)
    return result
  })
