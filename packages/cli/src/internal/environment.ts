/**
 * The configuration a `baton` command runs with: the process environment
 * plus the flags' overrides, and, when that configuration has no provider to
 * call (`MockEnvironment.needsMock`), the bundled mock provider server
 * started in-process (announced in one line on stderr).
 *
 * @internal
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import type { LlmConfigError } from "@baton/core/LlmError"
import * as MockEnvironment from "@baton/testing/MockEnvironment"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { ConfigProvider, Effect, type Layer, type Scope } from "effect"

const defined = (env: NodeJS.ProcessEnv): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value
  return out
}

/** The environment with `overrides` applied (an empty override removes the variable). @internal */
export const withOverrides = (
  env: Record<string, string>,
  overrides: Readonly<Record<string, string>>
): Record<string, string> =>
  Object.fromEntries(Object.entries({ ...env, ...overrides }).filter(([name]) => overrides[name] !== ""))

const layerOf = (env: Record<string, string>): Layer.Layer<never> =>
  ConfigProvider.layer(ConfigProvider.fromEnv({ env }))

/** A `ConfigProvider` layer over the process environment and `overrides`. @internal */
export const fromProcess = (overrides: Readonly<Record<string, string>> = {}): Layer.Layer<never> =>
  layerOf(withOverrides(defined(process.env), overrides))

/**
 * As `fromProcess`, but with every provider on a mock server started in the
 * current scope when that configuration has no provider to call. `before`
 * runs first, over that configuration (its `LlmConfig`, with the mock's
 * placeholder keys), so that what the command refuses (a variable, a store
 * it cannot reach) is refused before a mock starts; with a provider to call
 * it does not run: the command itself refuses what it refuses.
 *
 * @internal
 */
export const withMockWhenNoProvider = <E>(
  before: Effect.Effect<unknown, E, LlmConfig.LlmConfig>,
  overrides: Readonly<Record<string, string>> = {}
): Effect.Effect<Layer.Layer<never>, E | LlmConfigError | MockProviderServer.MockServerStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const env = withOverrides(defined(process.env), overrides)
    if (!(yield* MockEnvironment.needsMock(env))) return layerOf(env)
    yield* before.pipe(
      Effect.provide(LlmConfig.layer),
      Effect.provide(layerOf(MockEnvironment.withPlaceholderKeys(env)))
    )
    const server = yield* MockProviderServer.start()
    process.stderr.write(`baton: no provider API key set; using the bundled mock provider server at ${server.url}\n`)
    return layerOf(MockEnvironment.pointedAt(server, env))
  })
