/**
 * One structured record per provider attempt.
 *
 * TODO(issue 7): module header, the `LlmRequestLog` record schema, layers
 * (JSON lines through the Effect `Logger` as default, memory, fan-out),
 * prompt and key redaction rules.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { Attempt } from "./Attempt.ts"
import type { FinishReason } from "./GenerationResult.ts"
import type { LlmRequest } from "./LlmRequest.ts"
import type { TokenUsage } from "./TokenUsage.ts"

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
  readonly attempt: Attempt
  /** Usage the provider billed for this attempt, when it reported any (failed and cancelled attempts included). */
  readonly usage: TokenUsage | undefined
  readonly finishReason: FinishReason | undefined
}

/**
 * The request-log service. `write` never fails and never slows the request:
 * a failing sink is reported once and counted.
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
