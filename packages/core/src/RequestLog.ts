/**
 * One structured record per provider attempt: who asked what of whom, what it
 * cost and how it ended, without the prompt and without any key.
 *
 * The manager calls `write` with an {@link AttemptReport} once per attempt; the
 * log turns it into an {@link LlmRequestLog} record (an id of its own,
 * timestamp, provider, model, SHA-256 prompt hash, subject, the request's
 * `tags`, tokens, cost in nano-USD and USD, latency, outcome, error tag
 * and message, role, finish reason) and hands it to its sinks. All attempts
 * of one request share its `requestId`; `attempt` is their 1-based order.
 *
 * Sinks and layers:
 * - {@link layerJson} (the default): one JSON object per line, through the
 *   Effect `Logger` machinery with a dedicated JSON-lines logger, so app log
 *   levels and loggers neither drop nor reformat request records.
 * - {@link layerMemory}: records kept in memory, readable through
 *   {@link RequestLogMemory} (tests, demos).
 * - {@link layer}: a fan-out over any sinks ({@link jsonSink},
 *   {@link memorySink}, the database sink of `@baton/sql/SqlRequestLog`).
 *
 * Rules:
 * - Prompt text is never logged unless `logPrompts` is on (`LLM_LOG_PROMPTS=true`,
 *   see {@link layerFromConfig}); then it is truncated to `promptMaxChars`.
 *   The `promptHash` is always there to correlate identical prompts.
 * - Keys are never logged: the configured keys, the secrets of the manager
 *   that made the attempt (its providers' keys and those it was given), and
 *   anything shaped like a provider key are scrubbed from error messages
 *   and prompt text, whatever the setting.
 * - Writing never fails and never slows the request: a sink that fails is
 *   counted in `baton_sink_failures_total{sink}` (see `LlmMetrics`), warned
 *   about at most once every 10 seconds (the warning counts the failures it
 *   silenced), and the request goes on.
 * - Skipped attempts (Baton did not call the provider: open circuit, spent
 *   local budget) are logged too, with `outcome: "skipped"`, zero tokens and
 *   the skip reason as `errorTag` (`CircuitOpen`, `ProviderThrottled`), so a
 *   log reader sees why a provider was passed over.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RequestLog from "@baton/core/RequestLog"
 *
 * const records = Effect.gen(function*() {
 *   const memory = yield* RequestLog.RequestLogMemory
 *   return yield* memory.records
 * }).pipe(Effect.provide(RequestLog.layerMemory()))
 * ```
 *
 * @since 0.1.0
 */
import {
  type Cause,
  Context,
  DateTime,
  Effect,
  Layer,
  Logger,
  type Redacted,
  References,
  Schema,
  type Scope
} from "effect"
import { Attempt, type Attempt as AttemptType } from "./Attempt.ts"
import { FinishReason } from "./GenerationResult.ts"
import { ModelId, ProviderName, RequestId, SubjectId } from "./Ids.ts"
import { atEnd } from "./internal/attemptEnd.ts"
import { dampedBy } from "./internal/damped.ts"
import { isoString } from "./internal/isoTime.ts"
import { rowId } from "./internal/rowId.ts"
import { LlmConfig, secrets as configuredSecrets } from "./LlmConfig.ts"
import * as LlmMetrics from "./LlmMetrics.ts"
import type { LlmRequest } from "./LlmRequest.ts"
import { scrub, truncate } from "./Redact.ts"
import * as TokenUsage from "./TokenUsage.ts"

/**
 * What the manager knows about an attempt when it ends; the log turns it into
 * an `LlmRequestLog` record (timestamp, prompt hash, subject, cost ...).
 *
 * @since 0.1.0
 */
export interface AttemptReport {
  readonly request: LlmRequest
  /** 1-based position of the attempt within its request. */
  readonly attemptNumber: number
  readonly attempt: AttemptType
  /** Usage the provider billed for this attempt, when it reported any (failed and cancelled attempts included). */
  readonly usage: TokenUsage.TokenUsage | undefined
  readonly finishReason: FinishReason | undefined
  /**
   * When the attempt ended, in epoch milliseconds of the fiber's `Clock`
   * (`LlmManager` sets it). Without it the log and the ledger read the clock
   * when they write.
   */
  readonly endedAt?: number | undefined
  /**
   * The secrets of the attempt's manager (`LlmManager` sets them: its
   * providers' keys and those it was given): scrubbed from a logged prompt
   * with the log's own `secrets`, so that a log not given them (a provider
   * built in code, a gateway's config file) keeps none. (The manager has
   * scrubbed them from its errors.)
   */
  readonly secrets?: ReadonlyArray<Redacted.Redacted> | undefined
}

/**
 * One request-log record: one provider attempt. Every key is always present
 * (`null` when it does not apply) except `prompt`, present only when prompts
 * are logged.
 *
 * @since 0.1.0
 */
export const LlmRequestLog = Schema.Struct({
  /**
   * The record's own id, a random UUID given when it is built: the database
   * sink keeps the record once by it, however often its batch is written.
   * Two records may share a request id, attempt and timestamp (a caller
   * reusing its request id), never an id.
   */
  id: Schema.String,
  requestId: RequestId,
  attempt: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** ISO 8601, UTC, when the attempt ended. */
  timestamp: Schema.String,
  provider: ProviderName,
  model: ModelId,
  promptHash: Schema.String,
  subjectId: Schema.NullOr(SubjectId),
  /** The request's `metadata.tags` (`{}` when it had none). */
  tags: Schema.Record(Schema.String, Schema.String),
  role: Attempt.fields.role,
  outcome: Attempt.fields.outcome,
  latencyMs: Schema.Finite,
  /** False when the provider did not report the attempt's usage whole (token and cost fields are then 0, or an estimate). */
  usageReported: Schema.Boolean,
  /** True when the token and cost fields are Baton's estimate (`TokenUsage.estimated`), not what the provider reported. */
  usageEstimated: Schema.Boolean,
  ...TokenUsage.countFields,
  costUsd: Schema.Finite,
  finishReason: Schema.NullOr(FinishReason),
  errorTag: Schema.NullOr(Schema.String),
  errorMessage: Schema.NullOr(Schema.String),
  prompt: Schema.optionalKey(Schema.String)
})

/** @since 0.1.0 */
export type LlmRequestLog = typeof LlmRequestLog.Type

/**
 * How records are written: prompt logging, its truncation, and the secrets to
 * scrub besides key-shaped text.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly logPrompts?: boolean | undefined
  /** Characters of prompt text kept when prompts are logged (default 500). */
  readonly promptMaxChars?: number | undefined
  readonly secrets?: ReadonlyArray<Redacted.Redacted> | undefined
}

const ERROR_MESSAGE_MAX_CHARS = 1000

const renderPrompt = (request: LlmRequest): string =>
  request.messages.map((message) => `${message.role}: ${message.content}`).join("\n")

/** The prompt of `report`, scrubbed of the log's secrets and of those the report brings from its manager. */
const scrubbedPrompt = (report: AttemptReport, options: Options): string => {
  const own = options.secrets ?? []
  const brought = report.secrets ?? []
  const secrets = brought.length === 0 ? own : own.length === 0 ? brought : [...own, ...brought]
  return scrub(renderPrompt(report.request), secrets)
}

/**
 * The record of an attempt that ended at `timestamp`; each call makes a new
 * record, with an `id` of its own.
 *
 * @since 0.1.0
 */
export const toRecord = (report: AttemptReport, timestamp: DateTime.Utc, options: Options = {}): LlmRequestLog =>
  recordAt(report, DateTime.toEpochMillis(timestamp), options)

/** {@link toRecord} at `millis` (epoch milliseconds): the log's own path, with no `DateTime` built per attempt. */
const recordAt = (report: AttemptReport, millis: number, options: Options): LlmRequestLog => {
  const { attempt, request, usage } = report
  const record: LlmRequestLog = {
    id: rowId(),
    requestId: request.requestId,
    attempt: report.attemptNumber,
    timestamp: isoString(millis),
    provider: attempt.provider,
    model: attempt.model,
    promptHash: request.promptHash,
    subjectId: request.subjectId ?? null,
    tags: request.tags,
    role: attempt.role,
    outcome: attempt.outcome,
    latencyMs: attempt.latencyMs,
    usageReported: usage !== undefined && usage.estimated !== true,
    usageEstimated: usage?.estimated === true,
    promptTokens: usage?.promptTokens ?? 0,
    completionTokens: usage?.completionTokens ?? 0,
    cachedPromptTokens: usage?.cachedPromptTokens ?? 0,
    reasoningTokens: usage?.reasoningTokens ?? 0,
    totalTokens: usage?.totalTokens ?? 0,
    costNanoUsd: usage?.costNanoUsd ?? 0,
    costUsd: usage?.estimatedCostUsd ?? 0,
    finishReason: report.finishReason ?? null,
    errorTag: attempt.error?._tag ?? null,
    errorMessage: attempt.error === undefined
      ? null
      : truncate(scrub(attempt.error.message, options.secrets ?? []), ERROR_MESSAGE_MAX_CHARS)
  }
  return options.logPrompts === true
    ? { ...record, prompt: truncate(scrubbedPrompt(report, options), options.promptMaxChars ?? 500) }
    : record
}

/**
 * A destination for records. `write` may fail: the log counts and reports the
 * failure, the request never sees it. A sink must not block on I/O: one that
 * talks to a database queues and writes in the background (`BatchWriter`;
 * once its scope has closed, a record it is still given is written by the
 * recording fiber, within `closeTimeout`, if the sink can still reach its
 * database: `@baton/sql/SqlRequestLog` over `SqlDatabase.layerUrl` can, else
 * the record is dropped, counted and logged).
 *
 * @since 0.1.0
 */
export interface Sink {
  readonly name: string
  readonly write: (record: LlmRequestLog) => Effect.Effect<void, unknown>
}

/**
 * The request-log service. `write` never fails and never slows the request:
 * a failing sink is counted, and warned about at most once every 10 seconds.
 *
 * @since 0.1.0
 */
export interface Service {
  readonly write: (report: AttemptReport) => Effect.Effect<void>
}

/**
 * The request-log tag.
 *
 * @since 0.1.0
 */
export class RequestLog extends Context.Service<RequestLog, Service>()("@baton/core/RequestLog") {}

const guard = (sink: Sink) => {
  const name = `request-log:${sink.name}`
  const warn = dampedBy<Cause.Cause<unknown>>((cause, count) =>
    Effect.logWarning(
      `Baton request-log sink "${sink.name}" failed${
        count === 1 ? "" : ` (${count - 1} more since the last warning)`
      }; the request goes on, every failure is counted in baton_sink_failures_total`,
      cause
    )
  ).add
  return (record: LlmRequestLog): Effect.Effect<void> =>
    sink.write(record).pipe(
      Effect.catchCause((cause) => Effect.andThen(LlmMetrics.recordSinkFailure(name), warn(cause)))
    )
}

/**
 * A request log writing every record to each of `sinks` (each guarded on its
 * own: one failing sink does not stop the others).
 *
 * @since 0.1.0
 */
export const make = (sinks: ReadonlyArray<Sink>, options: Options = {}): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const writers = sinks.map(guard)
    // one sink (the usual case) is written directly, without a loop over the sinks per record
    const writeAll = writers.length === 1 && writers[0] !== undefined
      ? writers[0]
      : (record: LlmRequestLog) => Effect.forEach(writers, (write) => write(record), { discard: true })
    return RequestLog.of({
      write: (report) => atEnd(report, (millis) => writeAll(recordAt(report, millis, options)))
    })
  })

const jsonLinesLogger: Logger.Logger<unknown, void> = Logger.withConsoleLog(
  Logger.make(({ message }) => JSON.stringify(Array.isArray(message) ? message[0] : message))
)

/**
 * A sink that logs each record as one JSON object on one line, through the
 * Effect `Logger` API with its own logger (`logger`, by default JSON lines on
 * the `Console`), whatever loggers and minimum level the app has set.
 *
 * @since 0.1.0
 */
export const jsonSink = (logger: Logger.Logger<unknown, unknown> = jsonLinesLogger): Sink => ({
  name: "json",
  write: (record) =>
    Effect.logInfo(record).pipe(
      Effect.provideService(Logger.CurrentLoggers, new Set([logger])),
      Effect.provideService(References.MinimumLogLevel, "Info")
    )
})

/**
 * Records kept by {@link layerMemory}.
 *
 * @since 0.1.0
 */
export class RequestLogMemory extends Context.Service<RequestLogMemory, {
  readonly records: Effect.Effect<ReadonlyArray<LlmRequestLog>>
}>()("@baton/core/RequestLog/RequestLogMemory") {}

/**
 * A sink keeping records in memory, and the service that reads them.
 *
 * @since 0.1.0
 */
export const memorySink: Effect.Effect<{ readonly sink: Sink; readonly memory: RequestLogMemory["Service"] }> = Effect
  .sync(() => {
    // appended in place (a copy per record made n writes cost n² copies); a read gets a snapshot
    const records: Array<LlmRequestLog> = []
    return {
      sink: { name: "memory", write: (record) => Effect.sync(() => void records.push(record)) },
      memory: RequestLogMemory.of({ records: Effect.sync(() => records.slice()) })
    }
  })

/**
 * A request log over the given sinks (a fan-out when there are several).
 * Sinks may be built by effects (a database sink needs a `SqlClient` and a
 * scope for its background writer).
 *
 * @since 0.1.0
 */
export const layer = <E = never, R = never>(
  sinks: ReadonlyArray<Sink | Effect.Effect<Sink, E, R>>,
  options: Options = {}
): Layer.Layer<RequestLog, E, Exclude<R, Scope.Scope>> =>
  Layer.effect(
    RequestLog,
    Effect.flatMap(
      Effect.forEach(sinks, (sink) => Effect.isEffect(sink) ? sink : Effect.succeed(sink)),
      (built) => make(built, options)
    )
  )

/**
 * JSON lines on the console: the default request log.
 *
 * @since 0.1.0
 */
export const layerJson = (options: Options = {}): Layer.Layer<RequestLog> => layer([jsonSink()], options)

/**
 * A request log kept in memory, with {@link RequestLogMemory} to read it.
 *
 * @since 0.1.0
 */
export const layerMemory = (options: Options = {}): Layer.Layer<RequestLog | RequestLogMemory> =>
  Layer.effectContext(Effect.gen(function*() {
    const { memory, sink } = yield* memorySink
    const log = yield* make([sink], options)
    return Context.make(RequestLog, log).pipe(Context.add(RequestLogMemory, memory))
  }))

/**
 * The {@link Options} given by the configuration: `LLM_LOG_PROMPTS` and every
 * configured key as a secret to scrub: the hosted providers' and those of the
 * OpenAI-compatible endpoints the chain names (`LLM_COMPAT_<NAME>_API_KEY`).
 *
 * @since 0.1.0
 */
export const optionsFromConfig: Effect.Effect<Options, never, LlmConfig> = LlmConfig.useSync((settings) => ({
  logPrompts: settings.logPrompts,
  secrets: configuredSecrets(settings)
}))

/**
 * JSON lines with the configured options.
 *
 * @since 0.1.0
 */
export const layerFromConfig: Layer.Layer<RequestLog, never, LlmConfig> = Layer.unwrap(
  Effect.map(optionsFromConfig, layerJson)
)
