/**
 * The whole stack a chaos run drives, as an application wires it: the real
 * OpenAI (primary) and Anthropic (fallback) adapters pointed at the mock
 * provider server, `LlmManager` with the Redis quota store and the Redis
 * circuit store, the PostgreSQL usage ledger and the PostgreSQL request log.
 *
 * The stack lives in its own scope: closing it flushes the ledger's and the
 * log's background writers, so a run reads its rows back afterwards through
 * a connection of its own (see `Verify`). Tables and keys carry a prefix of
 * the run, dropped when the reading scope closes.
 *
 * @since 0.1.0
 */
import type * as CircuitPolicy from "@baton/core/CircuitPolicy"
import type * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as LlmConfig from "@baton/core/LlmConfig"
import * as LlmManager from "@baton/core/LlmManager"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as Anthropic from "@baton/providers/Anthropic"
import * as OpenAi from "@baton/providers/OpenAi"
import * as RedisCircuitBreaker from "@baton/redis/RedisCircuitBreaker"
import * as RedisConnection from "@baton/redis/RedisConnection"
import * as RedisQuotaStore from "@baton/redis/RedisQuotaStore"
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import * as SqlRequestLog from "@baton/sql/SqlRequestLog"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import type * as MockProviderServer from "@baton/testing/MockProviderServer"
import { Context, Effect, Layer, Redacted } from "effect"

/**
 * Where the stack keeps its state and which policies it runs.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly redisUrl: string
  /** The database the ledger and the log write to (possibly through a proxy). */
  readonly databaseUrl: string
  readonly tablePrefix: string
  readonly keyPrefix: string
  /** The bound of each Redis command (the chaos machine may be loaded: event-loop lag is not an outage). */
  readonly redisTimeoutMs: number
  readonly policy: FallbackPolicy.FallbackPolicy
  readonly circuitPolicy: CircuitPolicy.CircuitPolicy
}

/**
 * A running stack: the manager and the quota it spends.
 *
 * @since 0.1.0
 */
export interface Stack {
  readonly manager: LlmManager.Service
  readonly quota: QuotaLimiter.Service
  /** What the manager logged, counted as it logged it (before any database). */
  readonly logged: Logged
}

/** Tokens and cost summed per provider, as records are written. */
type Sums = Record<string, { promptTokens: number; completionTokens: number; costNanoUsd: number }>

/**
 * Request-log records as the manager wrote them: how many, and the usage
 * they carry per provider, where the provider reported it (`reported`) and
 * in all (`all`). An attempt cut or abandoned before its whole usage is
 * billed an estimate of what came, which the mock bills only as far as it
 * had reported it: the mock's billing lies between the two.
 *
 * @since 0.1.0
 */
export interface Logged {
  records: number
  readonly reported: Sums
  readonly all: Sums
}

const add = (sums: Sums, record: RequestLog.LlmRequestLog) => {
  const usage = sums[record.provider] ??= { promptTokens: 0, completionTokens: 0, costNanoUsd: 0 }
  usage.promptTokens += record.promptTokens
  usage.completionTokens += record.completionTokens
  usage.costNanoUsd += record.costNanoUsd
}

/** A request-log sink that counts records and sums their usage. */
const countingSink = (logged: Logged): RequestLog.Sink => ({
  name: "chaos-count",
  write: (record) =>
    Effect.sync(() => {
      logged.records++
      add(logged.all, record)
      if (record.usageReported) add(logged.reported, record)
    })
})

/**
 * The primary and the fallback, in chain order.
 *
 * @since 0.1.0
 */
export const chain = { primary: "openai", fallback: "anthropic" } as const

/**
 * The model each provider is asked for (both priced at whole nano-USD per
 * token, so a sum of per-call costs equals the cost of summed tokens).
 *
 * @since 0.1.0
 */
export const models = { openai: "gpt-4o-mini", anthropic: "claude-haiku-4-5" } as const

const apiKey = Redacted.make("sk-chaos-key-0000")

/** Every store of the stack, as a layer over its configuration. */
const stores = (options: Options, logged: Logged) => {
  const config = LlmConfig.layerFromRecord({
    OPENAI_API_KEY: Redacted.value(apiKey),
    ANTHROPIC_API_KEY: Redacted.value(apiKey),
    LLM_PRIMARY_PROVIDER: chain.primary,
    LLM_FALLBACK_PROVIDER: chain.fallback,
    AI_DAILY_LIMIT_PER_TEACHER: "1000000",
    AI_QUOTA_TIMEZONE: "UTC",
    REDIS_URL: options.redisUrl
  })
  const tables = { tablePrefix: options.tablePrefix }
  return Layer.mergeAll(
    RedisQuotaStore.layerConfig({ prefix: `${options.keyPrefix}quota:`, timeout: options.redisTimeoutMs }).pipe(
      Layer.provide(config)
    ),
    RedisCircuitBreaker.layer({ prefix: `${options.keyPrefix}circuit:` }).pipe(
      Layer.provide(RedisConnection.layer({ url: options.redisUrl, commandTimeout: options.redisTimeoutMs }))
    ),
    SqlUsageLedger.layer(tables),
    RequestLog.layer([SqlRequestLog.sink(tables), countingSink(logged)])
  ).pipe(Layer.provide(SqlDatabase.layerUrl(options.databaseUrl)))
}

/**
 * Builds the stack in the current scope (it needs an `HttpClient` and
 * `Pricing`).
 *
 * @since 0.1.0
 */
export const make = (server: MockProviderServer.MockProviderServer["Service"], options: Options) =>
  Effect.gen(function*() {
    const zero = () => ({ promptTokens: 0, completionTokens: 0, costNanoUsd: 0 })
    const logged: Logged = {
      records: 0,
      reported: { [chain.primary]: zero(), [chain.fallback]: zero() },
      all: { [chain.primary]: zero(), [chain.fallback]: zero() }
    }
    const context = yield* Layer.build(stores(options, logged))
    const manager = yield* LlmManager.make({
      providers: [
        OpenAi.layer({ apiKey, baseUrl: server.baseUrl(chain.primary), model: models.openai }),
        Anthropic.layer({ apiKey, baseUrl: server.baseUrl(chain.fallback), model: models.anthropic })
      ],
      policy: options.policy,
      circuitPolicy: options.circuitPolicy
    }).pipe(Effect.provideContext(context))
    const stack: Stack = { manager, quota: Context.get(context, QuotaLimiter.QuotaLimiter), logged }
    return stack
  })
