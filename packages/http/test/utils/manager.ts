/**
 * A manager over providers of the mock server (no retries by default), with memory
 * stores (10 units a day, 20 a request, days in UTC), the default prices and
 * the mock server in the layer's output.
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import type { LlmConfigError } from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import type * as LlmProvider from "@baton/core/LlmProvider"
import * as Pricing from "@baton/core/Pricing"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer } from "effect"
import type { HttpClient } from "effect/http"

type ProviderLayer = Layer.Layer<LlmProvider.LlmProvider, LlmConfigError, HttpClient.HttpClient | Pricing.Pricing>

/** The manager over the chain of providers `providersOf` makes given the mock server, with `policy`. */
export const managerOver = (
  providersOf: (server: MockProviderServer.MockProviderServer["Service"]) => ReadonlyArray<ProviderLayer>,
  policy: FallbackPolicy.FallbackPolicy = FallbackPolicy.make({ maxRetries: 0 })
) =>
  Layer.unwrap(
    Effect.map(MockProviderServer.MockProviderServer, (server) =>
      LlmManager.layer({ providers: providersOf(server), policy }))
  ).pipe(
    Layer.provideMerge(Layer.mergeAll(
      RequestLog.layerMemory(),
      UsageLedger.layerMemory(),
      QuotaLimiter.layerMemoryWith({ maxQuestionsPerRequest: 20, dailyLimit: 10, timeZone: "UTC" })
    )),
    Layer.provideMerge(Layer.mergeAll(MockProviderServer.layer(), NodeHttpClient.layerUndici, Pricing.layerDefault))
  )
