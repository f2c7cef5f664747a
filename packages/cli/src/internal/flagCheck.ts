/**
 * Flag checks shared by the `baton` commands.
 *
 * @internal
 */
import { Flag } from "effect/cli"

/**
 * Refuses an empty or blank value, which would otherwise stand for no value
 * at all (the default model, every network interface): effect/cli names the
 * flag, prints the usage and exits 1.
 *
 * @internal
 */
export const nonBlank = (expected: string): (self: Flag.Flag<string>) => Flag.Flag<string> =>
  Flag.filter((value) => value.trim().length > 0, () => `${expected}, not empty`)
