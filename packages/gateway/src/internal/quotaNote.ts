/**
 * The quota a call's headers report, taken from the reservation the manager
 * makes for the call instead of a second read of the quota store.
 *
 * The gateway gives its managers a limiter whose `withQuota` writes the
 * reservation into the `Note` the handler put in context for the call (the
 * manager's stream fibers inherit it). The reservation counts the call
 * itself; a call that failed was refunded, so its headers add its units
 * back.
 */
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import { Context } from "effect"

/** One call's slot: the reservation made for it, once made. */
export interface Note {
  reservation: QuotaLimiter.Reservation | undefined
}

/** The note of the call the current fiber serves (none outside the gateway's handlers). */
export const CurrentNote = Context.Reference<Note | undefined>("@baton/gateway/internal/quotaNote/CurrentNote", {
  defaultValue: () => undefined
})

/** `quota`, noting every reservation in the current call's note. */
export const noting = (quota: QuotaLimiter.Service): QuotaLimiter.Service =>
  QuotaLimiter.QuotaLimiter.of({
    ...quota,
    withQuota: (subjectId, units, effect) =>
      quota.withQuota(subjectId, units, (reservation) =>
        CurrentNote.use((note) => {
          if (note !== undefined) note.reservation = reservation
          return effect(reservation)
        }))
  })

/** The quota after the call: the reservation's, with its units given back when the call failed. */
export const statusAfter = (note: Note, failed: boolean): QuotaLimiter.QuotaStatus | undefined => {
  const reserved = note.reservation
  if (reserved === undefined || !failed) return reserved
  const used = Math.max(0, reserved.used - reserved.units)
  return { ...reserved, used, remaining: Math.max(0, reserved.limit - used) }
}
