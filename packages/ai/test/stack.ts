/**
 * The whole stack under an `effect/ai` program: a fresh mock provider server
 * on 127.0.0.1, the real adapters pointed at it over undici, an `LlmManager`
 * over a chain of them with an in-memory quota and usage ledger, and
 * `BatonLanguageModel.layer` on top.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmManager from "@baton/core/LlmManager"
import * as Pricing from "@baton/core/Pricing"
import * as ProviderThrottle from "@baton/core/ProviderThrottle"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as Anthropic from "@baton/providers/Anthropic"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as Gemini from "@baton/providers/Gemini"
import * as OpenAi from "@baton/providers/OpenAi"
import * as LiveWait from "@baton/testing/LiveWait"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, Redacted } from "effect"
import * as BatonLanguageModel from "../src/BatonLanguageModel.ts"
import * as LanguageModelProvider from "../src/LanguageModelProvider.ts"
import * as ChatLanguageModel from "./chatLanguageModel.ts"

const apiKey = Redacted.make("sk-test-key")

const adapters = {
  openai: OpenAi.layer,
  anthropic: Anthropic.layer,
  deepseek: DeepSeek.layer,
  gemini: Gemini.layer
} as const

/**
 * A step of a test chain: a Baton adapter, or `"effect-ai"`, an effect/ai `LanguageModel` step
 * (`ChatLanguageModel` on the mock's OpenAI route, named `openai`).
 */
export type Step = MockProviderServer.MockProvider | "effect-ai"

/**
 * The chain and the daily quota of a test stack; the quota's extras (a failing `overrides` lookup), the manager's
 * policy overrides (no retries and a circuit that never opens by default), and the providers' local throttle.
 */
export interface StackOptions {
  readonly chain: ReadonlyArray<Step>
  readonly dailyLimit?: number
  readonly quota?: QuotaLimiter.Extras
  readonly policy?: Parameters<typeof FallbackPolicy.make>[0]
  readonly circuitFailureThreshold?: number
  readonly throttle?: ProviderThrottle.LimitTable
}

/** The services a test reads besides the model: the server, the quota and the ledger. */
export const services = (dailyLimit: number, quota: QuotaLimiter.Extras = {}) =>
  Layer.mergeAll(
    MockProviderServer.layer(),
    NodeHttpClient.layerUndici,
    Pricing.layerDefault,
    QuotaLimiter.layerMemoryWith({ maxQuestionsPerRequest: 20, dailyLimit, timeZone: "UTC", ...quota }),
    UsageLedger.layerMemory()
  )

/** A manager over real adapters (or an effect/ai step) pointed at the mock server, no retries on the same provider. */
export const manager = (
  chain: ReadonlyArray<Step>,
  options: Omit<StackOptions, "chain" | "dailyLimit" | "quota"> = {}
) =>
  Layer.unwrap(Effect.map(MockProviderServer.MockProviderServer, (server) =>
    LlmManager.layer({
      providers: chain.map((kind) =>
        kind === "effect-ai"
          ? LanguageModelProvider.layer({
            name: "openai",
            model: "gpt-4o-mini",
            languageModel: ChatLanguageModel.layer(server.baseUrl("openai"), "gpt-4o-mini")
          })
          : adapters[kind]({ apiKey, baseUrl: server.baseUrl(kind) })
      ),
      policy: FallbackPolicy.make({ maxRetries: 0, retryBaseDelayMs: 10, ...options.policy }),
      circuitPolicy: { failureThreshold: options.circuitFailureThreshold ?? 100, cooldownMs: 60_000 }
    }).pipe(Layer.provide(ProviderThrottle.layerMemory(options.throttle ?? {})))))

/** `LanguageModel.LanguageModel` over Baton, with the manager and the services kept in context. */
export const stack = (options: StackOptions) =>
  BatonLanguageModel.layer.pipe(
    Layer.provideMerge(manager(options.chain, options)),
    Layer.provideMerge(services(options.dailyLimit ?? 100, options.quota))
  )

/** Queues a fault on the server. */
export const inject = (...args: Parameters<MockProviderServer.MockProviderServer["Service"]["inject"]>) =>
  Effect.flatMap(MockProviderServer.MockProviderServer, (server) => server.inject(...args))

/** The server's counters for a provider. */
export const stats = (kind: MockProviderServer.MockProvider) =>
  Effect.flatMap(MockProviderServer.MockProviderServer, (server) => server.stats(kind))

/**
 * Waits (real time) until the server has received `count` requests for a provider: a request on the wire has its
 * attempt limits armed, so `TestClock.adjust` past one then ends that attempt, however slow the machine.
 */
export const received = (kind: MockProviderServer.MockProvider, count: number) =>
  LiveWait.eventually(Effect.map(stats(kind), (counters) => counters.requests >= count))

/** The bodies of the requests the server received for a provider, in order. */
export const bodies = (kind: MockProviderServer.MockProvider) =>
  Effect.flatMap(
    MockProviderServer.MockProviderServer,
    (server) => Effect.map(server.received(kind), (requests) => requests.map((request) => request.body))
  )
