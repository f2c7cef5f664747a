/**
 * The stores `generate` and `serve` open, checked without writing to them:
 * what `check` reports, and what both commands refuse before they start the
 * bundled mock provider server.
 *
 * @internal
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as Redact from "@baton/core/Redact"
import * as RedisConnection from "@baton/redis/RedisConnection"
import * as SqlDatabase from "@baton/sql/SqlDatabase"
import { Effect, Layer, Option } from "effect"
import * as Ledger from "./ledger.ts"

/**
 * The ledger at `url` as `generate` and `serve` would find it, read without
 * writing (`ledger.ts`): one line with its URL without password and what is
 * there, or the error `generate` gives on a database it cannot reach. A
 * database the migrations set up from nothing (no part of a ledger but, at
 * most, the migrator's empty record), or an SQLite file not there (where it
 * can be created), is one `generate` sets up; one with part of a ledger, or that is no database, is
 * refused as `usage` refuses it.
 */
const ledgerAt = (url: string): Effect.Effect<string, SqlDatabase.DatabaseError> => {
  const line = (what: string) => Effect.succeed(`${SqlDatabase.describeUrl(url)}: ${what}`)
  if (Ledger.inMemory(url)) return line("a new, empty ledger each run")
  return Effect.flatMap(Ledger.contentsOf(url), (contents) => {
    switch (contents._tag) {
      case "NoFile": {
        const why = Ledger.cannotCreate(contents.file)
        return why === undefined
          ? line("not there yet; generate and serve create it")
          : Effect.fail(
            new SqlDatabase.DatabaseError({
              url: SqlDatabase.describeUrl(url),
              message: `${SqlDatabase.describeUrl(url)}: cannot create it: ${why}`
            })
          )
      }
      case "Unusable":
        return Effect.fail(Ledger.notLedger(url, contents.why))
      case "Tables":
        return contents.missing.length === 0
          ? line("a Baton usage ledger")
          : contents.unmigrated
          ? line("no ledger yet; generate and serve create its tables")
          : Effect.fail(Ledger.notLedger(url, Ledger.missingTables(contents.missing)))
    }
  })
}

/**
 * The usage ledger as `ledgerAt` finds it, its line and its error scrubbed of
 * every configured key (`LlmConfig.configuredKeys`, as the configuration's
 * errors are): a key pasted into `LLM_USAGE_STORE_URL` (a file name, a user,
 * a parameter) is never shown, where `SqlDatabase.describeUrl` hides only a
 * password.
 *
 * @internal
 */
export const ledger = (settings: LlmConfig.Settings): Effect.Effect<string, SqlDatabase.DatabaseError> =>
  Effect.flatMap(LlmConfig.configuredKeys, (keys) => {
    const scrub = (text: string) => Redact.scrubSecrets(text, [...LlmConfig.secrets(settings), ...keys])
    return ledgerAt(Ledger.urlOf(settings)).pipe(
      Effect.map(scrub),
      Effect.mapError((error) =>
        new SqlDatabase.DatabaseError({ url: scrub(error.url), message: scrub(error.message) })
      )
    )
  })

/** `REDIS_URL`, when set, connected to as `serve` connects to it (`RedisConnection`), then closed. */
const redis = (settings: LlmConfig.Settings) =>
  Option.match(settings.redisUrl, {
    onNone: () => Effect.void,
    onSome: (url) => Effect.scoped(Effect.asVoid(Layer.build(RedisConnection.layer({ url }))))
  })

/**
 * What `serve` without `--config` refuses of the environment besides its
 * client keys: an `LLM_PRICES` provider no provider of the chain bills
 * under, a ledger or a Redis it cannot use. Returns the ledger's line.
 *
 * @internal
 */
export const serving = (settings: LlmConfig.Settings) =>
  Effect.gen(function*() {
    // serve (without a config file) bills under the chain's providers alone, and refuses a price for any other
    yield* LlmConfig.checkPricedProviders(settings.prices, LlmConfig.chainProviders(settings))
    const line = yield* ledger(settings)
    yield* redis(settings)
    return line
  })
