/**
 * The one check of a configured time zone, for the quota's day and the
 * ledger's.
 *
 * @internal
 */
import { DateTime, Effect, Option } from "effect"
import { LlmConfigError } from "../LlmError.ts"
import { excerpt } from "../Redact.ts"

/** The IANA zone named `zone`, or an `LlmConfigError` naming `variable` (a variable or an option). */
export const namedZone = (variable: string, zone: string): Effect.Effect<DateTime.TimeZone.Named, LlmConfigError> =>
  Option.match(DateTime.zoneMakeNamed(zone), {
    onNone: () =>
      Effect.fail(
        new LlmConfigError({
          variable,
          message: `${variable}: unknown time zone "${excerpt(zone)}"; use an IANA name such as UTC or America/New_York`
        })
      ),
    onSome: Effect.succeed
  })
