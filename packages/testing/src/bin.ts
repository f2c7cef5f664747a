#!/usr/bin/env node
/**
 * `baton-mock-server`: runs the mock provider server until Ctrl-C, for
 * clients in any language.
 *
 * ```sh
 * baton-mock-server --port 8787 --host 127.0.0.1 --seed 1
 * ```
 *
 * It prints the base URL of each provider. Faults are chosen per request with
 * an `x-mock-fault` header or a model-name suffix (see the README).
 *
 * @since 0.1.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { Command, Flag } from "effect/cli"
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
 * The command line of the mock server.
 *
 * @since 0.1.0
 */
export const command = Command.make("baton-mock-server", {
  port: Flag.Int("port").pipe(Flag.withDefault(8787), Flag.withDescription("port to listen on (0: any free port)")),
  host: Flag.String("host").pipe(Flag.withDefault("127.0.0.1"), Flag.withDescription("address to listen on")),
  seed: Flag.Int("seed").pipe(Flag.withDefault(1), Flag.withDescription("seed of probability faults"))
}, serve)

if (import.meta.main) {
  command.pipe(
    Command.run({ version: "0.1.0" }),
    Effect.provide(Layer.mergeAll(NodeServices.layer)),
    NodeRuntime.runMain
  )
}
