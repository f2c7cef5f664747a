/**
 * The transport experiment: what the adapter's HTTP step costs through
 * Effect's `HttpClient` (undici underneath, as the adapter runs it: trace
 * propagation off, an attempt timeout) against undici's dispatcher directly
 * under an Effect service that keeps interruption (an `AbortSignal`) and a
 * first-byte hook (the headers and the body are two steps). Both read the body
 * as text and `JSON.parse` it, as the adapter does. And Baton's adapter given
 * `NodeHttpClient.layerUndici` (called through the `HttpClient` interface)
 * rather than `ProviderHttpClient.layer` (its dispatcher called directly), plain
 * and streamed.
 */
import { LlmProvider } from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Context, Effect, Exit, Layer, Redacted, Scope, Stream, Tracer } from "effect"
import { HttpBody, HttpClient, HttpClientRequest } from "effect/http"
import { Agent } from "undici"
import * as L from "../library.ts"

/** A POST's status and body, from undici's dispatcher; interruption aborts the request. */
interface Transport {
  readonly post: (path: string, headers: Record<string, string>, body: string) => Effect.Effect<unknown, Error>
}

const makeTransport = (origin: string): Transport => {
  const agent = new Agent()
  return {
    post: (path, headers, body) =>
      Effect.tryPromise({
        try: (signal) => agent.request({ origin, path, method: "POST", headers, body, signal }),
        catch: (cause) => new Error("request failed", { cause })
      }).pipe(
        // the first-byte hook: headers are in, the body is still to come
        Effect.flatMap((response) =>
          Effect.tryPromise({
            try: () => response.body.text(),
            catch: (cause) => new Error("body failed", { cause })
          })
        ),
        Effect.map((text): unknown => JSON.parse(text))
      )
  }
}

/** The transports against `url/deepseek/chat/completions`. */
export const setup = async (url: string): Promise<L.Library> => {
  const scope = Scope.makeUnsafe()
  const context = await Effect.runPromise(
    Layer.build(
      Layer.provideMerge(
        DeepSeek.layer({ apiKey: Redacted.make(L.apiKey), baseUrl: `${url}/deepseek`, model: L.model }),
        Layer.merge(NodeHttpClient.layerUndici, Pricing.layerDefault)
      )
    ).pipe(Scope.provide(scope))
  )
  const client = Context.get(context, HttpClient.HttpClient)
  const adapter = Context.get(context, LlmProvider)
  const request = await Effect.runPromise(LlmRequest.make({ prompt: L.prompt }))
  const path = "/deepseek/chat/completions"
  const headers = { authorization: `Bearer ${L.apiKey}`, "content-type": "application/json" }
  const bodyOf = (model: string) =>
    JSON.stringify({
      model,
      messages: [{ role: "user", content: L.prompt }],
      temperature: L.temperature,
      max_tokens: L.maxTokens
    })
  const timeout = <A, E>(effect: Effect.Effect<A, E>) => Effect.timeout(effect, 30_000)
  const transport = makeTransport(url)
  const viaHttpClient: L.Call = (model) =>
    Effect.runPromise(
      client.execute(
        HttpClientRequest.post(url + path, { headers, body: HttpBody.text(bodyOf(model), "application/json") })
      )
        .pipe(
          Effect.flatMap((response) => response.text),
          Effect.map((text): unknown => JSON.parse(text)),
          Effect.provideService(Tracer.DisablePropagation, true),
          timeout
        )
    )
  const viaUndici: L.Call = (model) => Effect.runPromise(timeout(transport.post(path, headers, bodyOf(model))))
  const transportCase = (name: string, call: L.Call): L.Case => ({
    name,
    group: "transport",
    call,
    headline: false,
    inFlight: false
  })
  return {
    cases: [
      transportCase(L.names.httpClient, viaHttpClient),
      transportCase(L.names.undiciService, viaUndici),
      transportCase(L.names.adapterOverHttpClient, () => Effect.runPromise(adapter.generate(request))),
      transportCase(
        L.names.adapterStreamOverHttpClient,
        () => Effect.runPromise(Stream.runDrain(adapter.stream(request)))
      )
    ],
    firstDelta: [],
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
