/**
 * `baton serve [--config FILE] [--port P] [--host H]`: the OpenAI-compatible
 * gateway of `@baton/gateway` (Baton's manager, quotas, ledger and logs
 * behind `POST /v1/chat/completions`), until interrupted.
 *
 * Without `--config` it serves the environment's chain under the model alias
 * `default`, with client keys from `BATON_GATEWAY_KEYS`
 * (`subject:sha256hex`, comma-separated), an in-memory quota and the SQLite
 * ledger `.baton/usage.sqlite`. When that chain has no provider to call
 * (no API key, no OpenAI-compatible endpoint in it) the providers are the
 * bundled mock server, announced in one line, started once the client
 * keys, prices, ledger and Redis have passed (a refusal starts no mock). A
 * config file brings its own providers: the environment's chain is then
 * neither required nor served, and no mock server is started. `--help`
 * shows a minimal config file ({@link description}). An empty `--host` is
 * refused (it would listen on every interface).
 *
 * A start that fails ends with one `baton:` line and exit code 2
 * (`internal/exit.ts`): a listener's address and reason (a port in use, a
 * port out of range), the variable of a store that cannot be reached
 * (`LLM_USAGE_STORE_URL`, `REDIS_URL`; never a URL's password) and why, or
 * the configuration error.
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as Gateway from "@baton/gateway/Gateway"
import * as GatewayConfig from "@baton/gateway/GatewayConfig"
import * as MockServerCommand from "@baton/testing/MockServerCommand"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as Environment from "./internal/environment.ts"
import * as Exit from "./internal/exit.ts"
import * as FlagCheck from "./internal/flagCheck.ts"
import * as Stores from "./internal/stores.ts"

interface Flags {
  readonly config: Option.Option<string>
  readonly port: number
  readonly host: string
}

/** One line for why the gateway could not start: a listener's address and reason, a store's variable and why. */
const failureOf = (error: unknown, flags: Flags): string =>
  // effect's ServeError has no message: the reason is Node's listen error, its cause
  Exit.fieldOf(error, "_tag") === "ServeError"
    ? MockServerCommand.listenFailure(Exit.fieldOf(error, "cause"), flags)
    : Exit.startProblem(error)

/** What `serve` without `--config` refuses of the environment: its client keys, then the rest (`Stores.serving`). */
const refusals = LlmConfig.LlmConfig.use((settings) =>
  Effect.andThen(GatewayConfig.fromEnvironment(settings), Stores.serving(settings))
)

/**
 * The environment to serve in: the bundled mock serves the environment's
 * chain only, so never a config file; what the gateway would refuse is
 * refused before it starts.
 */
const environmentOf = (config: GatewayConfig.GatewayConfig | undefined) =>
  config === undefined ? Environment.withMockWhenNoProvider(refusals) : Effect.succeed(Environment.fromProcess())

const serve = (flags: Flags) =>
  Effect.gen(function*() {
    const config = Option.isSome(flags.config) ? yield* GatewayConfig.load(flags.config.value) : undefined
    const environment = yield* environmentOf(config)
    return yield* Gateway.serve({ config, port: flags.port, host: flags.host }).pipe(Effect.provide(environment))
  }).pipe(
    Effect.scoped,
    Effect.catch((error) => Exit.fail(Exit.configuration, failureOf(error, flags)))
  )

/** What `baton --help` lists for `serve`: one line. */
const summary = "Run the OpenAI-compatible gateway with Baton's policies"

/**
 * What `baton serve --help` says: the command ({@link summary}), what runs
 * without a config, and a minimal config file.
 *
 * @since 0.1.0
 */
export const description = `${summary}.

Without --config: the environment's chain (LLM_PRIMARY_PROVIDER, fallbacks) as the model "default",
client keys from BATON_GATEWAY_KEYS (subject:sha256hex,...), an in-memory quota and the SQLite
ledger .baton/usage.sqlite (or LLM_USAGE_STORE_URL). Replicas: REDIS_URL shares quotas and circuits,
LLM_USAGE_STORE_URL=postgres://... one ledger.

A minimal config (baton.yaml; JSON works too):

  providers:
    deepseek: { models: [deepseek-flash] }            # key from DEEPSEEK_API_KEY
    gemini: { models: [gemini-2.5-flash] }            # key from GEMINI_API_KEY
  models:
    quiz:                                             # an alias: a chain of steps
      - { model: deepseek/deepseek-flash, retries: 1 }  # a step with its own policy
      - gemini/gemini-2.5-flash
  keys:
    - { sha256: <sha256 hex of the client's key>, subject: teacher-42, daily: 200 }`

/**
 * The `serve` command.
 *
 * @since 0.1.0
 */
export const command = Command.make("serve", {
  config: Flag.String("config").pipe(
    Flag.optional,
    Flag.withDescription("gateway config (YAML or JSON): providers, model aliases, client keys")
  ),
  port: MockServerCommand.port(8080, "port to listen on"),
  host: Flag.String("host").pipe(
    FlagCheck.nonBlank("an address"),
    Flag.withDefault("127.0.0.1"),
    Flag.withDescription("address to listen on")
  )
}, serve).pipe(Command.withDescription(description), Command.withShortDescription(summary))
