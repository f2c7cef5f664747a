/**
 * The environment that points Baton at a running mock provider server: every
 * provider's base URL on the server and a placeholder key, so that
 * `LlmConfig` builds with no real key. Used by the `baton` command and the
 * quiz service when no `*_API_KEY` is set.
 *
 * @since 0.1.0
 */
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
 * `env` (its defined variables) with every provider pointed at `server`
 * under a placeholder key.
 *
 * @since 0.1.0
 */
export const pointedAt = (
  server: MockProviderServer["Service"],
  env: Readonly<Record<string, string | undefined>>
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value
  for (const provider of providers) {
    const prefix = provider.toUpperCase()
    out[`${prefix}_API_KEY`] = `mock-${provider}-key`
    out[`${prefix}_BASE_URL`] = server.baseUrl(provider)
  }
  return out
}
