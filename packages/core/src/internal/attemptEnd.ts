/**
 * The time a finished attempt's rows are stamped with (request log, usage
 * ledger): the end time its report carries, else the clock's now.
 */
import { Effect } from "effect"
import type { AttemptReport } from "../RequestLog.ts"

/** `f` of the attempt's end (epoch milliseconds): `report.endedAt`, else the fiber clock's now (one step). */
export const atEnd = <A, E>(report: AttemptReport, f: (millis: number) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  report.endedAt === undefined ? Effect.clockWith((clock) => f(clock.currentTimeMillisUnsafe())) : f(report.endedAt)
