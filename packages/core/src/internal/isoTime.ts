/**
 * ISO 8601 timestamps (`2026-11-30T07:59:01.042Z`) for the rows written on
 * every attempt (request log, usage ledger). `Date.prototype.toISOString`
 * costs about a microsecond a call; here the date and the minute are
 * formatted once per minute and only the seconds and milliseconds per call.
 */

/** The minute whose prefix is cached, in epoch milliseconds. */
let cachedMinute = Number.NaN
/** `YYYY-MM-DDTHH:MM:` of `cachedMinute`. */
let cachedPrefix = ""

/** The last millisecond of year 9999: later (and negative) times take `toISOString`'s extended form. */
const lastFourDigitYear = 253_402_300_799_999

const pad = (value: number, width: number): string => value.toString().padStart(width, "0")

/** `millis` (epoch milliseconds, truncated to a whole millisecond) as `Date.prototype.toISOString` writes it. */
export const isoString = (millis: number): string => {
  const whole = Math.floor(millis)
  if (!(whole >= 0 && whole <= lastFourDigitYear)) return new Date(whole).toISOString()
  const rest = whole % 60_000
  const minute = whole - rest
  if (minute !== cachedMinute) {
    cachedMinute = minute
    cachedPrefix = new Date(minute).toISOString().slice(0, 17)
  }
  return `${cachedPrefix}${pad(Math.floor(rest / 1000), 2)}.${pad(rest % 1000, 3)}Z`
}
