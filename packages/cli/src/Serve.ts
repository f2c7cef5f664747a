/**
 * `baton serve [--config FILE] [--port P] [--host H]`: the OpenAI-compatible
 * gateway of `@baton/gateway` (Baton's manager, quotas, ledger and logs
 * behind `POST /v1/chat/completions`), until interrupted.
 *
 * Without `--config` it serves the environment's chain under the model alias
 * `default`, with client keys from `BATON_GATEWAY_KEYS`
 * (`subject:sha256hex`, comma-separated), an in-memory quota and the SQLite
 * ledger `.baton/usage.sqlite`. With no provider key in the environment the
 * providers are the bundled mock server, announced in one line. A minimal
 * config file:
 *
 * ```yaml
 * providers:
 *   deepseek: { models: [deepseek-flash] }
 *   gemini: { models: [gemini-2.5-flash] }
 * models:
 *   quiz: [deepseek/deepseek-flash, gemini/gemini-2.5-flash]
 * keys:
 *   - { sha256: <sha256 hex of the client's key>, subject: teacher-42 }
 * ```
 *
 * @since 0.1.0
 */
import * as Gateway from "@baton/gateway/Gateway"
import * as GatewayConfig from "@baton/gateway/GatewayConfig"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as Environment from "./internal/environment.ts"
import * as Exit from "./internal/exit.ts"

interface Flags {
  readonly config: Option.Option<string>
  readonly port: number
  readonly host: string
}

const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

const serve = (flags: Flags) =>
  Effect.gen(function*() {
    const config = Option.isSome(flags.config) ? yield* GatewayConfig.load(flags.config.value) : undefined
    const environment = yield* Environment.withMockWhenNoKey()
    return yield* Gateway.serve({ config, port: flags.port, host: flags.host }).pipe(Effect.provide(environment))
  }).pipe(
    Effect.scoped,
    Effect.catch((error) => Exit.fail(Exit.configuration, messageOf(error)))
  )

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
  port: Flag.Int("port").pipe(Flag.withDefault(8080), Flag.withDescription("port to listen on")),
  host: Flag.String("host").pipe(Flag.withDefault("127.0.0.1"), Flag.withDescription("address to listen on"))
}, serve).pipe(Command.withDescription("Run the OpenAI-compatible gateway with Baton's policies"))
