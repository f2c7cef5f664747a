/**
 * The HTTP client to give provider layers: an Effect `HttpClient` on its own
 * undici `Agent` (closed with the layer), which Baton's adapters recognise
 * and call through the dispatcher directly. Any other `HttpClient` works too
 * (`NodeHttpClient.layerUndici`, `FetchHttpClient.layer`, a fake in tests), through
 * its interface; this one costs less per call (`bench/README.md`,
 * "Transport"). Other code may use it as any `HttpClient`.
 *
 * Interrupting a call aborts its request or closes its body either way, and
 * the manager's first-byte limit sees each request leave and its headers
 * arrive either way. Over TLS undici negotiates HTTP/2 when the provider
 * offers it (`allowH2: false` in `layerOptions` keeps HTTP/1.1); a caller
 * reading a stream slowly holds the provider back instead of buffering it.
 * No redirect is followed, by any client (`fetch`'s own following is turned
 * off: it would send a key to the host a redirect names), and a body a server
 * compressed anyway (each request asks for `identity`) is decoded on this
 * client's dispatcher (gzip, deflate, br, zstd where Node has it).
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import * as Pricing from "@baton/core/Pricing"
 * import * as DeepSeek from "@baton/providers/DeepSeek"
 * import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
 *
 * const DeepSeekLive = DeepSeek.layer({ apiKey: Redacted.make("sk-...") }).pipe(
 *   Layer.provide([ProviderHttpClient.layer, Pricing.layerDefault])
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Undici from "@effect/platform-node/Undici"
import type { Layer } from "effect"
import type { HttpClient } from "effect/http"
import * as Transport from "./internal/transport.ts"

/**
 * An `HttpClient` on a new undici `Agent` with its default options.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<HttpClient.HttpClient> = Transport.layer()

/**
 * An `HttpClient` on a new undici `Agent` with these options (connections per
 * origin, keep-alive, TLS, a proxy through `connect`).
 *
 * @since 0.1.0
 */
export const layerOptions = (options: Undici.Agent.Options): Layer.Layer<HttpClient.HttpClient> =>
  Transport.layer(options)
