/**
 * The one check of a configured time zone, for the quota's day and the
 * ledger's.
 *
 * @internal
 */
import { DateTime, Effect, Option } from "effect"
import { LlmConfigError } from "../LlmError.ts"
import { excerpt } from "../Redact.ts"

/** A zone Node resolves to an offset (`+05:00`, `-0500`): a fixed offset, not an IANA zone. */
const isOffset = (zone: DateTime.TimeZone.Named): boolean => /^[+-]/.test(zone.id)

/**
 * The IANA zone named `zone`, or an `LlmConfigError` naming `variable` (a
 * variable or an option). An offset (`+05:00`), which Node's `Intl` takes as
 * a zone, is refused: an offset knows no daylight saving time.
 */
export const namedZone = (variable: string, zone: string): Effect.Effect<DateTime.TimeZone.Named, LlmConfigError> =>
  Option.match(Option.filter(DateTime.zoneMakeNamed(zone), (named) => !isOffset(named)), {
    onNone: () =>
      Effect.fail(
        new LlmConfigError({
          variable,
          message: `${variable}: unknown time zone "${excerpt(zone)}"; use an IANA name such as UTC or America/New_York`
        })
      ),
    onSome: Effect.succeed
  })
