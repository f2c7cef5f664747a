/**
 * Token usage and cost per attempt, aggregated per subject, provider and day.
 *
 * TODO(issue 7): module header, entry and aggregate schemas, `layerMemory`.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { AttemptReport } from "./RequestLog.ts"

/**
 * The usage-ledger service. `record` appends one row for an attempt that
 * consumed tokens; it never fails the request (rows are written in batches
 * off the request's path).
 *
 * @since 0.1.0
 */
export interface Service {
  readonly record: (report: AttemptReport) => Effect.Effect<void>
}

/**
 * The usage-ledger tag.
 *
 * @since 0.1.0
 */
export class UsageLedger extends Context.Service<UsageLedger, Service>()("@baton/core/UsageLedger") {}
