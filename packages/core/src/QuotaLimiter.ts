/**
 * Per-subject quotas: at most `AI_MAX_QUESTIONS_PER_REQUEST` per request and
 * `AI_DAILY_LIMIT_PER_TEACHER` per subject per local day.
 *
 * TODO(issue 6): module header (the day rule, reservations, stores, failure
 * modes), `make`, `layerMemory`, `layer` from `LlmConfig`.
 *
 * @since 0.1.0
 */
import { Context, type DateTime, type Effect } from "effect"
import type { SubjectId } from "./Ids.ts"
import type { QuotaStoreUnavailable, RateLimitExceeded, TooManyQuestions } from "./LlmError.ts"
import type { TokenUsage } from "./TokenUsage.ts"

/**
 * The quota numbers an HTTP layer puts in `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` headers.
 *
 * @since 0.1.0
 */
export interface QuotaStatus {
  readonly subjectId: SubjectId
  readonly limit: number
  readonly used: number
  readonly remaining: number
  readonly resetsAt: DateTime.Utc
}

/**
 * Units held for one request: committed when the request succeeds, refunded
 * when it fails or is interrupted. Committing or refunding twice is a no-op.
 *
 * @since 0.1.0
 */
export interface Reservation extends QuotaStatus {
  readonly units: number
  /** Keeps the units; `usage` is charged against token and cost budgets when they are on. */
  readonly commit: (usage?: TokenUsage) => Effect.Effect<void>
  /** Gives the units back. */
  readonly refund: Effect.Effect<void>
}

/**
 * The quota service.
 *
 * @since 0.1.0
 */
export interface Service {
  /** Fails with `TooManyQuestions` when one request asks for more than the per-request limit. */
  readonly checkRequestSize: (questions: number) => Effect.Effect<void, TooManyQuestions>
  /** Holds `units` (default 1) of the subject's daily quota. */
  readonly reserve: (
    subjectId: SubjectId,
    units?: number
  ) => Effect.Effect<Reservation, RateLimitExceeded | QuotaStoreUnavailable>
  /** The subject's quota now, without reserving anything. */
  readonly remaining: (subjectId: SubjectId) => Effect.Effect<QuotaStatus, QuotaStoreUnavailable>
  /**
   * Reserves, runs `effect`, commits on success and refunds on failure or
   * interruption: the one safe way to spend quota.
   */
  readonly withQuota: <A, E, R>(
    subjectId: SubjectId,
    units: number,
    effect: (reservation: Reservation) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RateLimitExceeded | QuotaStoreUnavailable, R>
}

/**
 * The quota tag.
 *
 * @since 0.1.0
 */
export class QuotaLimiter extends Context.Service<QuotaLimiter, Service>()("@baton/core/QuotaLimiter") {}
