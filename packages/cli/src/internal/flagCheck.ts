/**
 * Flag checks shared by the `baton` commands: a value the command would
 * otherwise pass on, to be refused later under the name of a request field
 * (`metadata.subjectId`) or a variable (`DEEPSEEK_MODEL`) the user never
 * typed, is refused here under the flag's name.
 *
 * @internal
 */
import { Result, Schema } from "effect"
import { Flag } from "effect/cli"

/**
 * Refuses an empty or blank value, which would otherwise stand for no value
 * at all (the default model, every network interface, no subject): effect/cli
 * names the flag, prints the usage and exits 1.
 *
 * @internal
 */
export const nonBlank = (expected: string): (self: Flag.Flag<string>) => Flag.Flag<string> =>
  Flag.filter((value) => value.trim().length > 0, () => `${expected}, not empty`)

/**
 * Refuses a value `schema` refuses (the schema of the field or variable the
 * value goes to: `SubjectId`, `ModelId`), with the schema's reason, as
 * {@link nonBlank} does: effect/cli names the flag, prints the usage and
 * exits 1. Put {@link nonBlank} first, so that an empty value reads as such.
 *
 * @internal
 */
export const decodes = (
  schema: Schema.ConstraintDecoder<string>,
  expected: string
): (self: Flag.Flag<string>) => Flag.Flag<string> => {
  const decode = Schema.decodeUnknownResult(schema)
  const reason = (value: string) => {
    const result = decode(value)
    return Result.isFailure(result) ? result.failure.message : undefined
  }
  return Flag.filter((value) => reason(value) === undefined, (value) => `${expected}: ${reason(value)}`)
}
