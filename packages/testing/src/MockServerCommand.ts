/**
 * The mock provider server as a command line: `baton-mock-server` and
 * `baton mock-server` are both this command under two names. It serves until
 * Ctrl-C and prints the base URL of each provider.
 *
 * When the server cannot listen (a port in use, a host that does not resolve)
 * the command fails with `MockProviderServer.MockServerStartError`. Each
 * program running it catches that error and prints {@link listenFailure} of
 * its `cause` as one line, `<program>: cannot listen on 127.0.0.1:8787:
 * address in use`, with exit code 2 and no stack trace; `baton serve` prints
 * the same line for its gateway.
 *
 * `--port` takes decimal digits only, 0 to 65535 (see {@link port}).
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as Listen from "./internal/listen.ts"
import * as MockProviderServer from "./MockProviderServer.ts"

const serve = Effect.fnUntraced(function*(options: MockProviderServer.MockServerOptions) {
  const server = yield* MockProviderServer.start(options)
  yield* Console.log(`Baton mock provider server on ${server.url}`)
  for (const provider of MockProviderServer.providers) {
    yield* Console.log(`  ${provider.padEnd(9)} ${server.baseUrl(provider)}`)
  }
  yield* Console.log(`Faults: header "x-mock-fault: status=503" or model "gpt-4o-mini@status=503". Ctrl-C stops.`)
  return yield* Effect.never
}, Effect.scoped)

/**
 * The `--port` flag of a server command (this one and `baton serve`): decimal
 * digits only, 0 (any free port) to 65535 (`LlmConfig.portOf`, the rule of a
 * service's `PORT` too), `fallback` when absent. Any other
 * value (`1e3`, `0x50`, `80.0`, ` 80`, `99999`), which effect/cli's
 * `Flag.Int` would read with `Number` or pass on to `listen`, is refused:
 * effect/cli names the flag, prints the usage and exits 1.
 *
 * @since 0.1.0
 */
export const port = (fallback: number, description: string): Flag.Flag<number> =>
  Flag.String("port").pipe(
    Flag.filterMap(LlmConfig.portOf, () => "a port in decimal digits, 0 to 65535"),
    Flag.withMetavar("integer"),
    Flag.withDefault(fallback),
    Flag.withDescription(description)
  )

/**
 * The command, named `name`.
 *
 * @since 0.1.0
 */
export const command = (name: string) =>
  Command.make(name, {
    port: port(8787, "port to listen on (0: any free port)"),
    host: Flag.String("host").pipe(Flag.withDefault("127.0.0.1"), Flag.withDescription("address to listen on")),
    seed: Flag.Int("seed").pipe(Flag.withDefault(1), Flag.withDescription("seed of probability faults"))
  }, serve).pipe(Command.withDescription("Run the mock provider server (OpenAI, DeepSeek, Gemini, Anthropic formats)"))

/**
 * Why a server could not listen, as one line naming the address and the
 * reason, from `cause`, the error of Node's `listen` (its `code`, `address`
 * and `port`); `requested` names the address when the error does not (a host
 * that does not resolve).
 *
 * @example
 * ```ts
 * import * as MockServerCommand from "@baton/testing/MockServerCommand"
 *
 * // a MockServerStartError's cause for a port in use gives
 * // "cannot listen on 127.0.0.1:8787: address in use"
 * MockServerCommand.listenFailure(
 *   Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE", address: "127.0.0.1", port: 8787 })
 * )
 * ```
 *
 * @since 0.1.0
 */
export const listenFailure: (
  cause: unknown,
  requested?: { readonly host?: string | undefined; readonly port?: number | undefined }
) => string = Listen.failure
