/**
 * An `HttpClient` that is not `ProviderHttpClient`'s own (as a proxy's or a
 * fake's would be): an adapter given it calls it through its interface and
 * reads the body as a stream, not on the dispatcher directly.
 */
import { Effect, Layer } from "effect"
import { HttpClient } from "effect/http"

/** The `HttpClient` in context, wrapped so that the adapters see another client. */
export const throughClient: Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(HttpClient.HttpClient, (client) => HttpClient.mapRequest(client, (request) => request))
)
