/**
 * One chaos scenario, start to finish: its own Redis server (on a spare
 * port, stoppable by pid), a TCP proxy in front of PostgreSQL, the mock
 * provider server with the seeded fault mix on the primary and the
 * fallback, the stack, the load, and an optional disturbance running beside
 * the load (Redis killed or paused, the database connection cut). Once the
 * load has ended and the quota has settled, the stack is closed (its writers
 * flush) and everything is read back into a `Report`.
 *
 * @since 0.1.0
 */
import * as FallbackPolicy from "@baton/core/FallbackPolicy"
import * as Pricing from "@baton/core/Pricing"
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RedisServer from "@baton/testing/RedisServer"
import * as TcpProxy from "@baton/testing/TcpProxy"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Exit, Fiber, Layer, Schedule, Scope } from "effect"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as FaultMix from "./FaultMix.ts"
import * as Load from "./Load.ts"
import * as Stack from "./Stack.ts"
import type { Report } from "./Summary.ts"
import * as Verify from "./Verify.ts"

/**
 * The PostgreSQL the suite uses: `DATABASE_URL`, default
 * `postgres://postgres@127.0.0.1:5432/test`.
 *
 * @since 0.1.0
 */
export const databaseUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

/**
 * What a disturbance can act on while the load runs.
 *
 * @since 0.1.0
 */
export interface Environment {
  readonly redis: RedisServer.RedisServer
  readonly database: TcpProxy.TcpProxy
  /** Waits (real time) until `n` calls have ended. */
  readonly settled: (n: number) => Effect.Effect<void>
  /** Notes what was done, for the summary. */
  readonly note: (event: string) => Effect.Effect<void>
}

/**
 * A scenario.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly name: string
  readonly requests: number
  readonly concurrency: number
  readonly faultRates: { readonly primary: number; readonly fallback: number }
  readonly seed: number
  /** The faults of the mix (default: `FaultMix.faults(limitMs)`). */
  readonly faults?: ReadonlyArray<FaultMix.Entry> | undefined
  /** Runs beside the load. */
  readonly disturb?: ((environment: Environment) => Effect.Effect<void>) | undefined
  /** The subject of request `index` (default: one of 50 teachers). */
  readonly subject?: ((index: number) => string) | undefined
  /** Calls started per second (default: as fast as the concurrency allows). */
  readonly ratePerSecond?: number | undefined
  /** Real time the quota gets to settle (late reservations undone) before it is read; default 0. */
  readonly settleMs?: number | undefined
}

/**
 * The per-attempt limit of the chaos policy: first byte, first token and
 * stream silence.
 *
 * @since 0.1.0
 */
export const limitMs = 6_000

/**
 * Each request's deadline.
 *
 * @since 0.1.0
 */
export const timeoutMs = 40_000

const policy = FallbackPolicy.make({
  requestTimeoutMs: timeoutMs,
  maxRetries: 1,
  retryBaseDelayMs: 20,
  limits: { attemptMs: 2 * limitMs, firstByteMs: limitMs, firstTokenMs: limitMs, idleMs: limitMs }
})

const viaProxy = (url: string, port: number): string => {
  const parsed = new URL(url)
  parsed.hostname = "127.0.0.1"
  parsed.port = String(port)
  return parsed.toString()
}

const counting = () => {
  let count = 0
  const handler = () => {
    count++
  }
  return Effect.acquireRelease(
    Effect.sync(() => {
      process.on("unhandledRejection", handler)
      process.on("uncaughtException", handler)
      return () => count
    }),
    () =>
      Effect.sync(() => {
        process.off("unhandledRejection", handler)
        process.off("uncaughtException", handler)
      })
  )
}

/**
 * Runs a scenario and reports what it measured.
 *
 * @since 0.1.0
 */
export const run = (options: Options) =>
  Effect.gen(function*() {
    const runId = `chaos${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`
    const tablePrefix = `${runId}_`
    const redis = yield* RedisServer.start
    const target = new URL(databaseUrl)
    const database = yield* TcpProxy.make({ host: target.hostname, port: Number(target.port || 5432) })
    const server = yield* MockProviderServer.start({ seed: options.seed })
    const reader = yield* Layer.build(SqlDatabase.layerUrl(databaseUrl))
    yield* Effect.addFinalizer(() => Effect.ignore(Effect.provideContext(Verify.dropTables(tablePrefix), reader)))
    const faults = options.faults ?? FaultMix.faults(limitMs)
    yield* FaultMix.inject(server, Stack.chain.primary, faults, options.faultRates.primary)
    yield* FaultMix.inject(server, Stack.chain.fallback, faults, options.faultRates.fallback)
    const unhandled = yield* counting()
    const droppedBefore = yield* Verify.droppedRows

    const http = yield* Layer.build(Layer.mergeAll(NodeHttpClient.layerUndici, Pricing.layerDefault))
    const stackScope = yield* Scope.make()
    const stack = yield* Stack.make(server, {
      redisUrl: redis.url,
      databaseUrl: viaProxy(databaseUrl, database.port),
      tablePrefix,
      keyPrefix: `${runId}:`,
      redisTimeoutMs: 2_000,
      policy,
      circuitPolicy: { failureThreshold: 25, cooldownMs: 1_000 }
    }).pipe(
      Scope.provide(stackScope),
      Effect.provideContext(http)
    )

    const lag = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const histogram = monitorEventLoopDelay({ resolution: 20 })
        histogram.enable()
        return histogram
      }),
      (histogram) =>
        Effect.sync(() => {
          histogram.disable()
        })
    )
    const progress = { settled: 0 }
    const events: Array<string> = []
    const started = performance.now()
    const environment: Environment = {
      redis,
      database,
      settled: (n) =>
        Effect.promise(async () => {
          while (progress.settled < n) await new Promise((resolve) => setTimeout(resolve, 10))
        }),
      note: (event) =>
        Effect.sync(() => {
          events.push(
            `${event} at ${progress.settled} settled (${((performance.now() - started) / 1000).toFixed(1)} s)`
          )
        })
    }
    const disturbance = yield* Effect.forkChild(options.disturb?.(environment) ?? Effect.void)
    const outcomes = yield* Load.run(stack.manager, {
      requests: options.requests,
      concurrency: options.concurrency,
      timeoutMs,
      runId,
      subject: options.subject ?? ((index) => `teacher-${index % 50}`),
      ratePerSecond: options.ratePerSecond,
      onSettled: (settled) => {
        progress.settled = settled
      }
    })
    yield* Fiber.join(disturbance)
    const durationMs = performance.now() - started
    yield* Effect.sleep(options.settleMs ?? 0)
    // read after the load, when a loaded process may still be slow to hear Redis: retried, never guessed
    const quota = yield* Verify.quotaCounts(stack.quota, outcomes).pipe(
      Effect.retry({ times: 10, schedule: Schedule.spaced("1 second") })
    )
    yield* Scope.close(stackScope, Exit.void)

    const rows = yield* Effect.provideContext(Verify.logRows(tablePrefix), reader)
    const report: Report = {
      name: options.name,
      requests: options.requests,
      concurrency: options.concurrency,
      timeoutMs,
      faultRates: options.faultRates,
      durationMs,
      outcomes,
      logRows: rows,
      logMismatches: Verify.logMismatches(outcomes, rows),
      ledger: yield* Effect.provideContext(Verify.ledgerTotals(tablePrefix), reader),
      logged: stack.logged,
      billed: yield* Verify.billed(server),
      quota,
      dropped: yield* Effect.map(Verify.droppedRows, (after) => ({
        ledger: after.ledger - droppedBefore.ledger,
        log: after.log - droppedBefore.log
      })),
      unhandled: unhandled(),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      eventLoopDelayMs: { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
      events
    }
    return report
  }).pipe(Effect.scoped)
