/**
 * The environment that points Baton at a running mock provider server: every
 * provider's base URL on the server and a placeholder key, so that
 * `LlmConfig` builds with no real key. Used by the `baton` command and the
 * quiz service when the configuration has no provider to call
 * ({@link needsMock}).
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import { ConfigProvider, Effect } from "effect"
import type { MockProviderServer } from "./MockProviderServer.ts"
import { providers } from "./MockProviderServer.ts"

/**
 * The variables holding the providers' API keys.
 *
 * @since 0.1.0
 */
export const keyVariables: ReadonlyArray<string> = providers.map((p) => `${p.toUpperCase()}_API_KEY`)

/**
 * True when `env` sets at least one provider API key.
 *
 * @since 0.1.0
 */
export const hasProviderKey = (env: Readonly<Record<string, string | undefined>>): boolean =>
  keyVariables.some((name) => (env[name] ?? "").trim().length > 0)

/**
 * `env`'s defined variables with a placeholder key for every hosted provider:
 * the configuration a mock server would serve, but for its addresses, to
 * check before starting one.
 *
 * @since 0.1.0
 */
export const withPlaceholderKeys = (env: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value
  for (const provider of providers) out[`${provider.toUpperCase()}_API_KEY`] = `mock-${provider}-key`
  return out
}

/**
 * Whether `env` leaves Baton no provider to call, so that the bundled mock
 * server stands in: no hosted provider's key is set and every step of the
 * chain, as `LlmConfig` reads it, is a hosted provider (none an
 * OpenAI-compatible endpoint, which may need no key). A configuration that
 * does not read (an unknown provider, a bad value) is not the mock's to fix:
 * false, and the real run reports it, naming the bad variable (`LlmConfig`
 * names a missing key only once every other variable reads). The one rule
 * of the `baton` command and the quiz service.
 *
 * @since 0.1.0
 */
export const needsMock = (env: Readonly<Record<string, string | undefined>>): Effect.Effect<boolean> =>
  hasProviderKey(env) ? Effect.succeed(false) : LlmConfig.make.pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: withPlaceholderKeys(env) })),
    Effect.match({
      onFailure: () => false,
      onSuccess: (settings) => settings.steps.every((step) => step.kind !== "openai-compatible")
    })
  )

/**
 * `env` (its defined variables) with every provider pointed at `server`
 * under a placeholder key.
 *
 * @since 0.1.0
 */
export const pointedAt = (
  server: MockProviderServer["Service"],
  env: Readonly<Record<string, string | undefined>>
): Record<string, string> => {
  const out = withPlaceholderKeys(env)
  for (const provider of providers) out[`${provider.toUpperCase()}_BASE_URL`] = server.baseUrl(provider)
  return out
}
