/**
 * Baton's metrics and trace spans: what an operator graphs and alerts on.
 *
 * Every metric is an Effect `Metric` in the global registry, so it needs no
 * layer: it shows up in `Metric.snapshot`, in the Prometheus exposition
 * (`PrometheusMetrics.format()` or {@link layerPrometheusHttp}) and in OTLP
 * exports ({@link layerOtlp}) as soon as it is updated.
 *
 * | metric | type | attributes |
 * | --- | --- | --- |
 * | `baton_llm_requests_total` | counter | `outcome` |
 * | `baton_llm_attempts_total` | counter | `provider`, `model` (a configured model or `other`, below), `role`, `outcome` |
 * | `baton_llm_retries_total`, `baton_llm_fallbacks_total`, `baton_llm_hedges_total` | counter | `provider`, `model` |
 * | `baton_llm_tokens_total` | counter | `provider`, `model`, `kind` (`prompt`, `completion`, `cached`, `reasoning`) |
 * | `baton_llm_cost_nano_usd_total` | counter | `provider`, `model` |
 * | `baton_llm_attempt_latency_ms` | histogram | `provider`, `outcome` |
 * | `baton_llm_circuit_transitions_total` | counter | `provider`, `state` |
 * | `baton_llm_quota_rejections_total` | counter | `reason` (`daily-limit`, `token-budget`, `cost-budget`, `request-size`, `store-unavailable`) |
 * | `baton_sink_failures_total` | counter | `sink` (a request-log or ledger sink that failed) |
 * | `baton_sink_rows_dropped_total` | counter | `sink` |
 *
 * The `model` attribute is bounded by the manager's configuration: it is the
 * attempt's model when the configuration names it (a chain step's model, or
 * the model of a `maxRetriesByModel` or `firstTokenMsByModel` key), and
 * {@link otherModel} (`"other"`) for any other model a request names
 * (`options.model`), which a caller may choose freely (the first 32 of them
 * on a provider have a circuit of their own, the rest share `provider/other`:
 * see `CircuitPolicy`). The attempt itself
 * (`GenerationResult.attempts`), the spans, the request log and the usage
 * ledger keep the real model.
 *
 * The manager calls the helpers, never `Metric.update` itself:
 *
 * - {@link withRequestSpan} around a whole request, {@link recordRequest} when
 *   it ends;
 * - {@link withAttemptSpan} around each provider attempt, and
 *   {@link recordAttempt} with the attempt's `AttemptReport` inside that span
 *   (it updates the metrics and sets the span's response attributes), or
 *   {@link recordSkippedAttempt} alone for an attempt refused before it
 *   started (a circuit known open: the same metrics and span, built at once);
 * - {@link recordCircuitTransition} and {@link recordQuotaRejection} where
 *   those happen.
 *
 * Spans follow the OpenTelemetry GenAI semantic conventions (the inference
 * client span of `gen-ai-spans.md`):
 *
 * | span | kind | what it is |
 * | --- | --- | --- |
 * | `baton.request` | internal | the whole request: `baton.request.id`, `baton.prompt.hash`, the tags, `error.type` when it failed; no `gen_ai.*` attribute |
 * | `chat <model>` | client | one provider call (an attempt), the GenAI operation: a child of the request span |
 *
 * - Only the attempt spans are GenAI spans (`gen_ai.operation.name`,
 *   `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`,
 *   `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
 *   `gen_ai.response.finish_reasons`, ...): a back end that counts GenAI
 *   operations counts each provider call once, and the request, which may
 *   span several providers, not again.
 * - `gen_ai.provider.name` is the convention's well-known value: `openai`,
 *   `anthropic`, `deepseek`, and `gcp.gemini` for the Gemini API, whose
 *   Baton name (`gemini`, the `provider` of the metrics and the log) stays
 *   in `baton.provider.name`. An OpenAI-compatible endpoint's value is the
 *   name it was given: name it after a well-known value (`groq`,
 *   `mistral_ai`, `x_ai`, ...) where one applies.
 * - A failed attempt's span fails with `error.type` set to its error's tag
 *   (a `ProviderError`: `ProviderRateLimited`, `ProviderTimeout`,
 *   `ContentFiltered`, `CircuitOpen`, ...). A cancelled attempt (a hedge that
 *   lost, a caller gone, the request's deadline reached) is no error: its
 *   span ends interrupted, which Effect's OTLP exporter exports with status
 *   unset, without `error.type`, and `baton.attempt.outcome` says
 *   `cancelled`, as the `outcome` of the attempt metrics does.
 * - `server.address` and `server.port` are the host and port of the
 *   provider's base URL (`LlmProvider.Service.server`, computed once when the
 *   adapter is built; never the URL's userinfo, path or query, where a key
 *   may be), set when the attempt's span starts, on a failed or skipped
 *   attempt too; absent for a provider that names no server.
 * - `gen_ai.response.id` is the id the provider gave its response (a
 *   result's or a stream's `Finish`'s `responseId`), set when it gave one.
 *   `gen_ai.response.model` is set only on an attempt that answered: the
 *   model its response names (`responseModel`, often a dated snapshot of
 *   the model asked for), else the model asked for; a failed, cancelled or
 *   skipped attempt has no response naming its model.
 * - A failed request's `baton.request` span fails with `error.type` set to
 *   the failure's tag (`AllProvidersFailed`, `DeadlineExceeded`,
 *   `RateLimitExceeded`, ...), as an attempt's does.
 *
 * Spans carry the request's `tags` as `baton.tag.<name>` (spans only: tags
 * are unbounded, so never metric attributes) and never prompt or completion
 * text. The `gen_ai.request.*` options are what the request asked for, also
 * where an adapter sends none (a temperature to OpenAI's gpt-5 and o-series
 * models).
 *
 * Gotchas:
 * - Attribute values are bounded sets (provider names, configured models,
 *   literals), never subject or request ids or caller-chosen models:
 *   per-teacher numbers come from the `UsageLedger`, per-model numbers of
 *   models outside the configuration from the request log or the ledger,
 *   not from metrics, which would explode in cardinality.
 * - Baton's spans capture no stack trace: it would only point into Baton's
 *   engine, and capturing one per span is measurable on the hot path.
 * - With no tracer installed (Effect's `Tracer.nativeTracer`, which exports
 *   nothing) Baton starts no spans and sets no span attributes: each span
 *   cost about 7 µs per call, for spans nobody could read. Install a tracer
 *   (`layerOtlp`, `Effect.withTracer`) and every span is there.
 * - Skipped attempts (open circuit, throttled) are counted in
 *   `baton_llm_attempts_total` with `outcome="skipped"` but observe no latency.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PrometheusMetrics } from "effect/observability"
 * import * as LlmMetrics from "@baton/core/LlmMetrics"
 *
 * const exposition = Effect.gen(function*() {
 *   yield* LlmMetrics.recordRequest("success")
 *   return yield* PrometheusMetrics.format()
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Exit, type Layer, Metric, References, Tracer } from "effect"
import type { HttpClient, HttpRouter } from "effect/http"
import { Otlp, type OtlpExporter, PrometheusMetrics } from "effect/observability"
import type * as Attempt from "./Attempt.ts"
import type { ModelId, ProviderName } from "./Ids.ts"
import type { Server } from "./LlmProvider.ts"
import type { LlmRequest } from "./LlmRequest.ts"
import type { AttemptReport } from "./RequestLog.ts"

/**
 * Logical requests, by how they ended.
 *
 * @since 0.1.0
 */
export const requests = Metric.counter("baton_llm_requests_total", {
  description: "LLM requests handled by Baton, by outcome",
  incremental: true
})

/**
 * Provider attempts, by provider, model, role and outcome.
 *
 * @since 0.1.0
 */
export const attempts = Metric.counter("baton_llm_attempts_total", {
  description: "LLM provider attempts, by provider, model, role and outcome",
  incremental: true
})

/**
 * Attempts that were retries on the same provider.
 *
 * @since 0.1.0
 */
export const retries = Metric.counter("baton_llm_retries_total", {
  description: "Retries on the same provider",
  incremental: true
})

/**
 * Attempts that fell back to another provider.
 *
 * @since 0.1.0
 */
export const fallbacks = Metric.counter("baton_llm_fallbacks_total", {
  description: "Fallbacks to another provider",
  incremental: true
})

/**
 * Attempts started as hedges.
 *
 * @since 0.1.0
 */
export const hedges = Metric.counter("baton_llm_hedges_total", {
  description: "Hedged attempts started in parallel",
  incremental: true
})

/**
 * Tokens billed, by provider, model and kind (`prompt`, `completion`,
 * `cached`, `reasoning`; cached and reasoning are parts of prompt and
 * completion).
 *
 * @since 0.1.0
 */
export const tokens = Metric.counter("baton_llm_tokens_total", {
  description: "Tokens billed by providers, by kind",
  incremental: true
})

/**
 * Cost billed, in integer nano-USD, by provider and model.
 *
 * @since 0.1.0
 */
export const costNanoUsd = Metric.counter("baton_llm_cost_nano_usd_total", {
  description: "Cost billed by providers in nano-USD (1e-9 USD)",
  incremental: true
})

/** 25 ms to 102.4 s, doubling: an attempt at the default 30 s limit, or a thinking model's 80 s (a deadline of 110 s or more), has a bucket of its own. */
const latencyBoundaries = Metric.exponentialBoundaries({ start: 25, factor: 2, count: 14 })

/**
 * Latency of provider attempts in milliseconds, by provider and outcome,
 * in buckets from 25 ms to 102.4 s (doubling).
 *
 * @since 0.1.0
 */
export const attemptLatency = Metric.histogram("baton_llm_attempt_latency_ms", {
  description: "Latency of provider attempts in milliseconds",
  boundaries: latencyBoundaries
})

/**
 * Circuit-breaker state changes, by provider and the state entered.
 *
 * @since 0.1.0
 */
export const circuitTransitions = Metric.counter("baton_llm_circuit_transitions_total", {
  description: "Circuit-breaker state changes, by provider and new state",
  incremental: true
})

/**
 * Requests refused by a quota, by reason.
 *
 * @since 0.1.0
 */
export const quotaRejections = Metric.counter("baton_llm_quota_rejections_total", {
  description: "Requests refused by a quota, by reason",
  incremental: true
})

/**
 * Failed writes of a request-log or usage-ledger sink. The request never
 * sees these failures; this counter and one warning per sink are the only
 * trace.
 *
 * @since 0.1.0
 */
export const sinkFailures = Metric.counter("baton_sink_failures_total", {
  description: "Failed writes of a request-log or usage-ledger sink",
  incremental: true
})

/**
 * Rows given up after their batch kept failing to be written (usage entries, request-log records in a database).
 *
 * @since 0.1.0
 */
export const sinkRowsDropped = Metric.counter("baton_sink_rows_dropped_total", {
  description: "Rows (usage entries, request-log records) dropped after repeated write failures",
  incremental: true
})

/**
 * The `model` attribute of the attempts of every model the manager's
 * configuration does not name (see the module notes).
 *
 * @since 0.1.0
 */
export const otherModel = "other"

/**
 * How a whole request ended.
 *
 * @since 0.1.0
 */
export type RequestOutcome = "success" | "error" | "cancelled" | "rejected"

/**
 * A circuit-breaker state.
 *
 * @since 0.1.0
 */
export type CircuitState = "closed" | "open" | "half-open"

interface SeriesNode<S> {
  readonly next: Map<string, SeriesNode<S>>
  metric: Metric.Metric<number, S> | undefined
}

/**
 * One metric per attribute set, built the first time the set is used: the
 * same series as `Metric.withAttributes(metric, attributes)` (same id,
 * description and attributes, hence the same registry key), but its key is
 * serialised once instead of on every update, and updating it adds nothing
 * to the context. Attribute values are bounded sets (see the module notes:
 * the manager folds models its configuration does not name into
 * {@link otherModel}), so the cache is too.
 */
const series = <S>(
  names: ReadonlyArray<string>,
  make: (attributes: Record<string, string>) => Metric.Metric<number, S>
) => {
  const root: SeriesNode<S> = { next: new Map(), metric: undefined }
  // looked up value by value (no key string to build and hash per update)
  return (...values: ReadonlyArray<string>): Metric.Metric<number, S> => {
    let node = root
    for (const value of values) {
      let child = node.next.get(value)
      if (child === undefined) {
        child = { next: new Map(), metric: undefined }
        node.next.set(value, child)
      }
      node = child
    }
    if (node.metric === undefined) {
      node.metric = make(Object.fromEntries(names.map((name, i) => [name, values[i] ?? ""])))
    }
    return node.metric
  }
}

const counterSeries = (counter: Metric.Counter<number>, names: ReadonlyArray<string>) =>
  series(
    names,
    (attributes) => Metric.counter(counter.id, { description: counter.description, incremental: true, attributes })
  )

const requestsBy = counterSeries(requests, ["outcome"])
const attemptsBy = counterSeries(attempts, ["provider", "model", "role", "outcome"])
const tokensBy = counterSeries(tokens, ["provider", "model", "kind"])
const costBy = counterSeries(costNanoUsd, ["provider", "model"])
const latencyBy = series(["provider", "outcome"], (attributes) =>
  Metric.histogram(attemptLatency.id, {
    description: attemptLatency.description,
    boundaries: latencyBoundaries,
    attributes
  }))

const circuitTransitionsBy = counterSeries(circuitTransitions, ["provider", "state"])
const quotaRejectionsBy = counterSeries(quotaRejections, ["reason"])
const sinkFailuresBy = counterSeries(sinkFailures, ["sink"])

/** Adds one to `counter`: one effect (`Metric.update` takes two); a request runs at least one. */
const countOne = (counter: Metric.Metric<number, unknown>): Effect.Effect<void> =>
  Effect.contextWith((context) => {
    counter.updateUnsafe(1, context)
    return Effect.void
  })

/**
 * Counts one finished request. For a request that failed (`error`,
 * `rejected`), `error` is its failure: its `_tag` becomes the `error.type` of
 * the current span (the request span, when the manager calls it inside
 * {@link withRequestSpan} and a tracer is installed; `_OTHER` for a failure
 * with no tag, a defect).
 *
 * @since 0.1.0
 */
export const recordRequest = (outcome: RequestOutcome, error?: unknown): Effect.Effect<void> =>
  outcome === "error" || outcome === "rejected"
    ? Effect.contextWith((context) => {
      requestsBy(outcome).updateUnsafe(1, context)
      if (tracing(Context.get(context, Tracer.Tracer))) {
        openSpanOf(context)?.attribute("error.type", errorType(error))
      }
      return Effect.void
    })
    : countOne(requestsBy(outcome))

/** The current span, unless it is an external one or has ended: the span a record may still annotate. */
const openSpanOf = (context: Context.Context<never>): Tracer.Span | undefined => {
  const span = Context.getOrUndefined(context, Tracer.ParentSpan)
  return span?._tag === "Span" && span.status._tag !== "Ended" ? span : undefined
}

/** The `error.type` of a failure: its `_tag`, else the conventions' `_OTHER`. */
const errorType = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : "_OTHER"

/**
 * Counts a circuit entering `state`.
 *
 * @since 0.1.0
 */
export const recordCircuitTransition = (provider: ProviderName, state: CircuitState): Effect.Effect<void> =>
  countOne(circuitTransitionsBy(provider, state))

/**
 * Why a quota refused a request: the daily limit, the daily token or cost
 * budget, the per-request size, or a quota store that could not be reached
 * (failing closed).
 *
 * @since 0.1.0
 */
export type QuotaRejectionReason = "daily-limit" | "token-budget" | "cost-budget" | "request-size" | "store-unavailable"

/**
 * The reason of a quota refusal, or `undefined` when `error` is not one.
 *
 * @since 0.1.0
 */
export const quotaRejectionReason = (error: unknown): QuotaRejectionReason | undefined => {
  if (typeof error !== "object" || error === null || !("_tag" in error)) return undefined
  switch (error._tag) {
    case "RateLimitExceeded":
      return !("budget" in error) || error.budget === undefined
        ? "daily-limit"
        : error.budget === "tokens"
        ? "token-budget"
        : "cost-budget"
    case "TooManyQuestions":
      return "request-size"
    case "QuotaStoreUnavailable":
      return "store-unavailable"
    default:
      return undefined
  }
}

/**
 * Counts a request refused by a quota. The manager calls it for every
 * request it refuses on quota grounds.
 *
 * @since 0.1.0
 */
export const recordQuotaRejection = (reason: QuotaRejectionReason): Effect.Effect<void> =>
  countOne(quotaRejectionsBy(reason))

/**
 * Counts a failed sink write.
 *
 * @since 0.1.0
 */
export const recordSinkFailure = (sink: string): Effect.Effect<void> => countOne(sinkFailuresBy(sink))

/** True when a tracer is installed: Effect's `nativeTracer` (the default) exports nothing, so Baton builds no spans for it. */
const tracing = (tracer: Tracer.Tracer): boolean => tracer !== Tracer.nativeTracer

/** What a metric update reads from its context, and a context holding just that. */
interface MetricContext {
  readonly registry: Context.Service.Shape<typeof Metric.MetricRegistry>
  readonly attributes: Context.Service.Shape<typeof Metric.CurrentMetricAttributes>
  readonly context: Context.Context<never>
}

let lastMetricContext: MetricContext | undefined

/**
 * A context holding only the metric registry and the extra metric
 * attributes of `context` (all a counter or histogram update reads; the
 * attempt's metrics are those: a summary would read the clock too), kept
 * while they stay the same. In a request's context both are usually
 * defaults, which each of an attempt's updates would otherwise look up the
 * slow way; here they are looked up once per attempt and found at once by
 * every update.
 */
const metricContext = (context: Context.Context<never>): Context.Context<never> => {
  const registry = Context.get(context, Metric.MetricRegistry)
  const attributes = Context.get(context, Metric.CurrentMetricAttributes)
  const last = lastMetricContext
  if (last !== undefined && last.registry === registry && last.attributes === attributes) return last.context
  const made = Context.add(Context.make(Metric.MetricRegistry, registry), Metric.CurrentMetricAttributes, attributes)
  lastMetricContext = { registry, attributes, context: made }
  return made
}

const roleCounters: Partial<
  Record<Attempt.Role, (...values: ReadonlyArray<string>) => Metric.Metric<number, unknown>>
> = {
  retry: counterSeries(retries, ["provider", "model"]),
  fallback: counterSeries(fallbacks, ["provider", "model"]),
  hedge: counterSeries(hedges, ["provider", "model"])
}

/** Updates every per-attempt metric from an attempt's report, under the metric `model` label (one effect's work). */
const updateAttemptMetrics = (context: Context.Context<never>, report: AttemptReport, model: string): void => {
  const { outcome, provider, role } = report.attempt
  const metrics = metricContext(context)
  attemptsBy(provider, model, role, outcome).updateUnsafe(1, metrics)
  roleCounters[role]?.(provider, model).updateUnsafe(1, metrics)
  if (outcome !== "skipped") latencyBy(provider, outcome).updateUnsafe(report.attempt.latencyMs, metrics)
  const usage = report.usage
  if (usage !== undefined) {
    tokensBy(provider, model, "prompt").updateUnsafe(usage.promptTokens, metrics)
    tokensBy(provider, model, "completion").updateUnsafe(usage.completionTokens, metrics)
    tokensBy(provider, model, "cached").updateUnsafe(usage.cachedPromptTokens, metrics)
    tokensBy(provider, model, "reasoning").updateUnsafe(usage.reasoningTokens, metrics)
    costBy(provider, model).updateUnsafe(usage.costNanoUsd, metrics)
  }
}

/**
 * An attempt's report as its span reads it: the request log's
 * `AttemptReport`, and the id and model the provider gave the attempt's
 * response (`gen_ai.response.id`, `gen_ai.response.model`), which only the
 * span records.
 *
 * @since 0.1.0
 */
export interface AttemptSpanReport extends AttemptReport {
  /** The id the provider gave the response (a result's or a `Finish`'s `responseId`), when it gave one. */
  readonly responseId?: string | undefined
  /** The model the provider says answered (a result's or a `Finish`'s `responseModel`), when it named one. */
  readonly responseModel?: string | undefined
}

/**
 * Updates every per-attempt metric from an attempt's report (attempt,
 * retry/fallback/hedge, token, cost and latency metrics) and sets the GenAI
 * response attributes on the current span (when a tracer is installed; a
 * cancelled attempt's span it also ends, interrupted). Call it inside
 * {@link withAttemptSpan}, once per attempt. `model` is the `model` attribute
 * of the metrics (default: the attempt's model): the manager passes the
 * attempt's model when its configuration names it, else {@link otherModel}
 * (see the module notes). The span gets the real model.
 *
 * @since 0.1.0
 */
export const recordAttempt = (report: AttemptSpanReport, model: string = report.attempt.model): Effect.Effect<void> =>
  Effect.contextWith((context) => {
    // one effect for all updates: this runs once per attempt on the hot path
    updateAttemptMetrics(context, report, model)
    if (tracing(Context.get(context, Tracer.Tracer))) annotateSpanOf(context, report)
    return Effect.void
  })

/**
 * The `gen_ai.provider.name` of the Baton providers whose name is not the
 * convention's well-known value (the Gemini API's is `gcp.gemini`). Every
 * other name is its own value: `openai`, `anthropic` and `deepseek` are
 * well-known values, and an OpenAI-compatible endpoint's name is the
 * operator's best knowledge of who serves it (name one `groq` or
 * `mistral_ai` to get the well-known value).
 */
const genAiProviderNames: ReadonlyMap<string, string> = new Map([["gemini", "gcp.gemini"]])

/**
 * The GenAI semantic-convention attributes of a provider call known before
 * it starts: operation, provider (`gen_ai.provider.name`, the convention's
 * well-known value, with Baton's own name in `baton.provider.name` where the
 * two differ: `gcp.gemini` and `gemini`), requested model and the request's
 * options (but a limit or temperature left to the provider, which Baton does
 * not know), plus each of the request's `tags` as `baton.tag.<name>`. No
 * prompt text.
 *
 * @since 0.1.0
 */
export const requestAttributes = (
  request: LlmRequest,
  target?: { readonly provider: ProviderName; readonly model: ModelId }
): Record<string, unknown> =>
  recordOf((attributes) => {
    setRequestAttributes(request, target, attributes)
  })

/**
 * Where attributes are set: a span (each straight into it, no record built
 * and copied), or a record ({@link recordOf}).
 */
interface AttributeSink {
  readonly attribute: (key: string, value: unknown) => void
}

/** The record of the attributes `set` sets, in its order. */
const recordOf = (set: (sink: AttributeSink) => void): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {}
  set({
    attribute: (key, value) => {
      attributes[key] = value
    }
  })
  return attributes
}

/** Sets {@link requestAttributes} on `sink`. */
const setRequestAttributes = (
  request: LlmRequest,
  target: { readonly provider: ProviderName; readonly model: ModelId } | undefined,
  sink: AttributeSink
): void => {
  const { maxTokens, temperature } = request.options
  setRequestSpanAttributes(request, sink)
  sink.attribute("gen_ai.operation.name", "chat")
  if (maxTokens !== "provider") sink.attribute("gen_ai.request.max_tokens", maxTokens)
  if (temperature !== "provider") sink.attribute("gen_ai.request.temperature", temperature)
  if (target !== undefined) {
    const genAiName = genAiProviderNames.get(target.provider)
    sink.attribute("gen_ai.provider.name", genAiName ?? target.provider)
    if (genAiName !== undefined) sink.attribute("baton.provider.name", target.provider)
    sink.attribute("gen_ai.request.model", target.model)
  }
}

/**
 * Sets the attributes of the `baton.request` span: Baton's own, none in the
 * `gen_ai.*` namespace (the request is no GenAI operation of its own: its
 * attempts are, each in its client span), so back ends that count GenAI
 * operations count each provider call once, and the request not again.
 */
const setRequestSpanAttributes = (request: LlmRequest, sink: AttributeSink): void => {
  sink.attribute("baton.request.id", request.requestId)
  sink.attribute("baton.prompt.hash", request.promptHash)
  for (const name in request.tags) sink.attribute(`baton.tag.${name}`, request.tags[name])
}

/**
 * Sets each attribute known once an attempt has ended (one list: {@link responseAttributes} and the span).
 * `gen_ai.response.model` only for an answer: a failed, cancelled or skipped attempt has no response naming its model.
 * Not the attempt's number and role: its span starts with them ({@link setAttemptAttributes}), set once.
 */
const setResponseAttributes = (report: AttemptSpanReport, sink: AttributeSink): void => {
  if (report.attempt.outcome === "success") {
    sink.attribute("gen_ai.response.model", report.responseModel ?? report.attempt.model)
  }
  if (report.responseId !== undefined) sink.attribute("gen_ai.response.id", report.responseId)
  sink.attribute("baton.attempt.outcome", report.attempt.outcome)
  if (report.usage !== undefined) {
    sink.attribute("gen_ai.usage.input_tokens", report.usage.promptTokens)
    sink.attribute("gen_ai.usage.output_tokens", report.usage.completionTokens)
    sink.attribute("baton.usage.cost_nano_usd", report.usage.costNanoUsd)
  }
  if (report.finishReason !== undefined) sink.attribute("gen_ai.response.finish_reasons", [report.finishReason])
  if (report.attempt.error !== undefined) sink.attribute("error.type", report.attempt.error._tag)
}

/**
 * The GenAI attributes known once an attempt has ended: the answering model
 * (for an answer only), the response's id (when the provider gave one),
 * token usage, finish reason, `baton.attempt.outcome` and, for a failure,
 * `error.type`. The attempt's number and role are not among them: its span
 * starts with them ({@link withAttemptSpan}).
 *
 * @since 0.1.0
 */
export const responseAttributes = (report: AttemptSpanReport): Record<string, unknown> =>
  recordOf((attributes) => {
    setResponseAttributes(report, attributes)
  })

/**
 * How a cancelled attempt's span ends: interrupted, whatever stopped it (a
 * hedge that won, a caller gone, the request's deadline, which fails the
 * attempt with an internal error). Effect's OTLP exporter leaves an
 * interrupted span's status unset: a cancelled call is no error.
 */
const cancelledExit = Exit.interrupt()

/**
 * Sets the response attributes straight on the span of `context`, if one is
 * open (no record built, no effect run), and ends a cancelled attempt's span
 * as {@link cancelledExit} says (the span's own end then finds it ended).
 */
const annotateSpanOf = (context: Context.Context<never>, report: AttemptSpanReport): void => {
  const span = openSpanOf(context)
  if (span === undefined) return
  setResponseAttributes(report, span)
  if (report.attempt.outcome === "cancelled") {
    const timed = Context.get(context, References.TracerTimingEnabled)
    span.end(timed ? Context.get(context, Clock.Clock).currentTimeNanosUnsafe() : 0n, cancelledExit)
  }
}

/**
 * Sets {@link responseAttributes} on the current span (and ends it, as a
 * cancelled attempt's, when the report is one).
 *
 * @since 0.1.0
 */
export const annotateAttempt = (report: AttemptSpanReport): Effect.Effect<void> =>
  Effect.contextWith((context) => {
    annotateSpanOf(context, report)
    return Effect.void
  })

/** `effect` in the span `span` gives it, unless no tracer is installed (nothing could read the span). */
const traced = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  span: (effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.withFiber((fiber) => tracing(fiber.getRef(Tracer.Tracer)) ? span(effect) : effect)

/**
 * Runs a whole request in a `baton.request` span (when a tracer is
 * installed): an internal span carrying the request's id, prompt hash and
 * tags, and no GenAI attribute (its attempts' client spans are the GenAI
 * operations).
 *
 * @since 0.1.0
 */
export const withRequestSpan =
  (request: LlmRequest) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    traced(effect, (effect) =>
      inSpan(effect, "baton.request", internalSpan, (span) => {
        setRequestSpanAttributes(request, span)
      }))

const internalSpan: Tracer.SpanOptionsNoTrace = { kind: "internal" }
const clientSpan: Tracer.SpanOptionsNoTrace = { kind: "client" }

/**
 * `effect` in a span that is its children's parent: `Effect.withSpan` without
 * the stack frame it pushes (Baton's spans capture no stack trace), one
 * continuation fewer that every in-flight request holds (bench/README.md,
 * "Memory"). `setAttributes` sets the span's attributes straight on it, as
 * `options.attributes` would be set, one by one, after the environment's
 * (no record built to be copied).
 */
const inSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  options: Tracer.SpanOptionsNoTrace,
  setAttributes: (span: Tracer.Span) => void
): Effect.Effect<A, E, R> =>
  Effect.useSpan(name, options, (span) => {
    setAttributes(span)
    return Effect.provideService(effect, Tracer.ParentSpan, span)
  })

/**
 * What the manager knows when it starts an attempt.
 *
 * @since 0.1.0
 */
export interface AttemptStart {
  readonly request: LlmRequest
  readonly provider: ProviderName
  readonly model: ModelId
  readonly role: Attempt.Role
  readonly attemptNumber: number
  /** Where the provider's calls go (`LlmProvider.Service.server`): the span's `server.address` and `server.port`. */
  readonly server?: Server | undefined
}

/**
 * Runs one provider attempt in a client span named `chat <model>` (the GenAI
 * convention) with the request attributes; {@link recordAttempt} inside it
 * adds the response attributes, and ends the span of a cancelled attempt as
 * interrupted (when a tracer is installed).
 *
 * @since 0.1.0
 */
export const withAttemptSpan =
  (start: AttemptStart) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    traced(effect, (effect) =>
      inSpan(effect, `chat ${start.model}`, clientSpan, (span) => {
        setAttemptAttributes(start, span)
      }))

/** Sets the attributes an attempt's span starts with: the request's, the target's and its server, its number and role. */
const setAttemptAttributes = (start: AttemptStart, sink: AttributeSink): void => {
  setRequestAttributes(start.request, start, sink)
  if (start.server !== undefined) {
    sink.attribute("server.address", start.server.address)
    sink.attribute("server.port", start.server.port)
  }
  sink.attribute("baton.attempt.number", start.attemptNumber)
  sink.attribute("baton.attempt.role", start.role)
}

/**
 * Records an attempt refused before it started (a circuit known open): the
 * metrics {@link recordAttempt} updates and, when a tracer is installed,
 * the span {@link withAttemptSpan} would have opened, started and ended at
 * once with its response attributes, failed with the attempt's error. One
 * step instead of a span around an effect that fails at once (the manager's
 * open-circuit skip); `model` as {@link recordAttempt}'s, `server` the
 * provider's (`LlmProvider.Service.server`), as {@link AttemptStart}'s.
 *
 * @since 0.1.0
 */
export const recordSkippedAttempt = (
  report: AttemptReport,
  model: string = report.attempt.model,
  server?: Server
): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    updateAttemptMetrics(fiber.context, report, model)
    if (!tracing(fiber.getRef(Tracer.Tracer))) return Effect.void
    const { provider, role } = report.attempt
    const start = {
      request: report.request,
      provider,
      model: report.attempt.model,
      role,
      attemptNumber: report.attemptNumber,
      server
    }
    return Effect.map(Effect.makeSpan(`chat ${start.model}`, clientSpan), (span) => {
      setAttemptAttributes(start, span)
      setResponseAttributes(report, span)
      const end = fiber.getRef(References.TracerTimingEnabled) ? fiber.getRef(Clock.Clock).currentTimeNanosUnsafe() : 0n
      span.end(end, report.attempt.error === undefined ? Exit.void : Exit.fail(report.attempt.error))
    })
  })

/**
 * Serves the Prometheus exposition of every metric at `path` (default
 * `/metrics`) on an `HttpRouter`.
 *
 * @since 0.1.0
 */
export const layerPrometheusHttp = (
  options?: { readonly path?: HttpRouter.PathInput | undefined }
): Layer.Layer<never, never, HttpRouter.HttpRouter> =>
  PrometheusMetrics.layerHttp({ path: options?.path ?? "/metrics" })

/**
 * Exports traces, metrics and logs over OTLP/HTTP JSON to a collector at
 * `baseUrl` (`/v1/traces`, `/v1/metrics`, `/v1/logs`). Needs an `HttpClient`
 * (`FetchHttpClient.layer` or `NodeHttpClient.layerUndici`); flushes on
 * shutdown.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import * as LlmMetrics from "@baton/core/LlmMetrics"
 *
 * const Telemetry = LlmMetrics.layerOtlp({ baseUrl: "http://127.0.0.1:4318" }).pipe(
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layerOtlp = (options: {
  readonly baseUrl: string
  readonly serviceName?: string | undefined
}): Layer.Layer<OtlpExporter.Flusher, never, HttpClient.HttpClient> =>
  Otlp.layerJson({ baseUrl: options.baseUrl, resource: { serviceName: options.serviceName ?? "baton" } })
