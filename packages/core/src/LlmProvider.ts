/**
 * The one interface every LLM provider implements.
 *
 * An `LlmProvider` generates text, generates structured output decoded by a
 * schema, and streams. Each adapter (`@baton/providers`: DeepSeek, Gemini,
 * OpenAI, Anthropic, any OpenAI-compatible endpoint) is a `Layer` providing
 * this one tag, so a program written against `LlmProvider` runs on any of
 * them, and the manager composes several into a fallback chain.
 *
 * A provider makes exactly one attempt per call: no retries, no fallback, no
 * quota. Those belong to `LlmManager`. It maps every failure to a
 * `ProviderError` and reports usage from the provider's own fields.
 *
 * Adapters implement the lower-level `Implementation` (structured output
 * arrives as a ready `StructuredOutput`) and wrap it with `make`, which adds
 * the public `generateStructured` that takes an Effect `Schema` or a raw JSON
 * Schema.
 *
 * An adapter that calls its provider over HTTP wraps its `HttpClient` with
 * {@link observeHttpClient}, so the manager's first-byte limit sees each
 * request leave and its headers arrive, whichever client the provider layer
 * was given (the manager's or its own).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import * as LlmProvider from "@baton/core/LlmProvider"
 *
 * const Question = Schema.Struct({ question: Schema.String, answer: Schema.String })
 *
 * const program = Effect.gen(function*() {
 *   const text = yield* LlmProvider.generate({ prompt: "Say hi" })
 *   const quiz = yield* LlmProvider.generateStructured({ prompt: "One question on Mars" }, Question)
 *   return [text.content, quiz.value.question]
 * })
 * // provide a provider layer, e.g. DeepSeek.layerConfig from @baton/providers
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Redacted, type Schema, Stream } from "effect"
import { HttpClient } from "effect/http"
import type { Mutable } from "effect/Types"
import type { Finish, FinishReason, GenerationResult, StreamPart, StructuredResult } from "./GenerationResult.ts"
import type { ModelId, ProviderName } from "./Ids.ts"
import type { InvalidOptions } from "./LlmError.ts"
import * as LlmRequest from "./LlmRequest.ts"
import type { ProviderError } from "./ProviderError.ts"
import * as StructuredOutput from "./StructuredOutput.ts"
import type { TokenUsage } from "./TokenUsage.ts"
import type { ToolCall } from "./Tool.ts"

/**
 * What a provider can do beyond the basics; the manager reads these (e.g. to
 * continue a cut stream only on a provider that accepts an assistant prefill).
 *
 * @since 0.1.0
 */
export interface Capabilities {
  /** The model continues a final `assistant` message instead of answering anew. */
  readonly assistantPrefill: boolean
  /** Streams report token usage at their end. */
  readonly streamUsage: boolean
  /** How structured output is enforced: a JSON Schema the provider honours, or JSON mode plus the schema in the prompt. */
  readonly structuredOutput: "json-schema" | "json-mode"
  /**
   * Whether what this provider sends for `reasoning: "none"` turns the
   * model's thinking fully off (DeepSeek's V4 models, OpenAI's gpt-5.1 and
   * later, Gemini 2.5 Flash and Flash-Lite, Claude): the manager then gives
   * a request at `"none"` the plain first-token limit
   * (`FallbackPolicy.firstTokenLimit`). Left out (a provider built in code,
   * an OpenAI-compatible endpoint or an `effect/ai` model, which are sent
   * nothing for `"none"`): never assumed, the model's name decides.
   */
  readonly stopsThinking?: ((model: string) => boolean) | undefined
  /**
   * A plain (not streamed) call's response headers come before its answer
   * (DeepSeek sends them at once, then blank lines while it works): the
   * manager's first-byte limit then applies to plain calls too. Left out:
   * they come with the whole answer (OpenAI, Anthropic, Gemini), and only
   * the attempt limit bounds a plain call.
   */
  readonly headersBeforeAnswer?: boolean | undefined
}

/**
 * What a caller that owns the time of a call puts in context for it
 * (`LlmManager` does, for every attempt): its presence tells the adapter that
 * this caller's watchdog enforces the first-byte, first-token, idle and
 * attempt limits, so the adapter runs no timer of its own and fails a broken
 * stream with the underlying error (the caller knows what it delivered).
 * `usage` receives the usage a stream reports before its end marker and, for
 * a stream cut or cancelled before all of it, what the adapter bills it (the
 * usage reported, raised to an estimate of the text, tool calls (names
 * and arguments) and reasoning that came where that is more), so a call the provider
 * billed is still accounted for; the latest call is what counts.
 * `reasoning` is called when a stream event carries reasoning the caller is
 * not handed, alone or beside text (DeepSeek's `reasoning_content`,
 * Anthropic's `thinking_delta`, Gemini's thought parts): the model is
 * working, so the stream counts as alive (the manager's first-token and idle
 * limits), though no text may have reached the caller. Keep-alive comments
 * and pings are not reasoning. `complete` is called when a stream is stopped
 * after its whole answer came (its finish reason, and its usage where the
 * provider reports one) but before its end marker (`[DONE]`,
 * `message_stop`), with the `Finish` it would have ended with: a stream
 * stalled there is a complete answer, not a broken one (one whose connection
 * closed or was cut there ends with that `Finish`, as a whole stream does).
 * Without a supervisor (a provider used on its own) the adapter bounds each
 * call with its own `timeoutMs`, and ends such a stall with that `Finish`
 * itself.
 *
 * @since 0.1.0
 */
export interface Supervisor {
  readonly usage: (usage: TokenUsage) => void
  /** A stream event carried reasoning (alone or beside answer text): the stream is alive. */
  readonly reasoning?: (() => void) | undefined
  /** A stream stopped after its whole answer, before its end marker: the `Finish` it ends with. */
  readonly complete?: ((finish: Finish) => void) | undefined
}

/**
 * The supervisor of the current call, if any.
 *
 * @since 0.1.0
 */
export const Supervisor = Context.Reference<Supervisor | undefined>("@baton/core/LlmProvider/Supervisor", {
  defaultValue: () => undefined
})

/**
 * Where a provider's calls go: the host and port of its base URL, never its
 * userinfo, path or query (a base URL may carry a key: `?key=`). The
 * manager sets them on each attempt's span as `server.address` and
 * `server.port` (see `LlmMetrics`).
 *
 * @since 0.1.0
 */
export interface Server {
  /** The host name or IP address (an IPv6 address without its brackets). */
  readonly address: string
  /** The port; the scheme's default (443, 80) when the URL names none. */
  readonly port: number
}

/**
 * The {@link Server} of a base URL: computed once, when an adapter is built,
 * never per call.
 *
 * @example
 * ```ts
 * import * as LlmProvider from "@baton/core/LlmProvider"
 *
 * LlmProvider.serverOf(new URL("https://generativelanguage.googleapis.com/v1beta?key=k"))
 * // { address: "generativelanguage.googleapis.com", port: 443 }
 * ```
 *
 * @since 0.1.0
 */
export const serverOf = (url: URL): Server => ({
  address: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
  port: url.port === "" ? url.protocol === "http:" ? 80 : 443 : Number(url.port)
})

/**
 * What an adapter implements.
 *
 * @since 0.1.0
 */
export interface Implementation {
  readonly name: ProviderName
  /** The model used when the request names none. */
  readonly model: ModelId
  /**
   * The id the provider knows a model by, for a name its users may also
   * write otherwise (Gemini's `models/gemini-2.5-flash`, as Google's model
   * list returns it, is `gemini-2.5-flash`). `LlmManager` keys each model's
   * circuit, per-model policy entries and metrics by it, so both names are
   * one model. Absent: the name as given.
   */
  readonly modelId?: ((model: ModelId) => ModelId) | undefined
  readonly capabilities: Capabilities
  /** Where the adapter's calls go, when it calls a server over the network (see {@link serverOf}). */
  readonly server?: Server | undefined
  readonly generate: (request: LlmRequest.LlmRequest) => Effect.Effect<GenerationResult, ProviderError>
  readonly generateStructured: <A>(
    request: LlmRequest.LlmRequest,
    output: StructuredOutput.StructuredOutput<A>
  ) => Effect.Effect<StructuredResult<A>, ProviderError>
  /**
   * The answer as it comes. An adapter may mark the stream with
   * {@link withPush}, so that a consumer (the manager's `generate` and
   * `stream`, but for the cases {@link pushOf} names) reads it without a
   * pull per chunk.
   */
  readonly stream: (request: LlmRequest.LlmRequest) => Stream.Stream<StreamPart, ProviderError>
  /**
   * The values that must never appear in an error or a log: the provider's
   * API key and any other credential it sends (`OpenAiCompatible`'s
   * `headers` that are secrets). The adapter scrubs them from its own errors; `LlmManager`
   * scrubs every provider's from every attempt's error and request-log
   * record, since an endpoint may echo another provider's key (two
   * providers behind one proxy) and a prompt may hold one.
   */
  readonly secrets?: ReadonlyArray<Redacted.Redacted> | undefined
}

/**
 * Structured generation from any schema specification. A request offering
 * tools the model may call fails at once with `InvalidOptions` (field
 * `tools`: see `StructuredOutput.toolsRefused`).
 *
 * @since 0.1.0
 */
export interface GenerateStructured {
  <A>(
    request: LlmRequest.LlmRequest,
    schema: Schema.Codec<A, unknown> | StructuredOutput.StructuredOutput<A>
  ): Effect.Effect<StructuredResult<A>, ProviderError | InvalidOptions>
  (
    request: LlmRequest.LlmRequest,
    schema: StructuredOutput.JsonSchema
  ): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions>
}

/**
 * The service every provider layer provides.
 *
 * @since 0.1.0
 */
export interface Service extends Omit<Implementation, "generateStructured"> {
  readonly generateStructured: GenerateStructured
  /**
   * The adapter's own structured generation, for callers that hold a
   * `StructuredOutput` already checked by `StructuredOutput.fromSpec` (the
   * manager). It checks nothing itself: a name OpenAI refuses goes out as
   * given. `generateStructured` takes a ready-made `StructuredOutput` too,
   * and checks it (its name) first.
   */
  readonly generateStructuredOutput: Implementation["generateStructured"]
}

/**
 * The provider tag.
 *
 * @since 0.1.0
 */
export class LlmProvider extends Context.Service<LlmProvider, Service>()("@baton/core/LlmProvider") {}

/**
 * Wraps an adapter's implementation into the service.
 *
 * @since 0.1.0
 */
export const make = (implementation: Implementation): Service => {
  function generateStructured<A>(
    request: LlmRequest.LlmRequest,
    schema: Schema.Codec<A, unknown> | StructuredOutput.StructuredOutput<A>
  ): Effect.Effect<StructuredResult<A>, ProviderError | InvalidOptions>
  function generateStructured(
    request: LlmRequest.LlmRequest,
    schema: StructuredOutput.JsonSchema
  ): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions>
  function generateStructured(
    request: LlmRequest.LlmRequest,
    spec: StructuredOutput.Spec<unknown>
  ): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions> {
    const refused = StructuredOutput.toolsRefused(request)
    if (refused !== undefined) return Effect.fail(refused)
    return Effect.flatMap(
      StructuredOutput.fromSpec(spec),
      (output) => implementation.generateStructured(request, output)
    )
  }
  return LlmProvider.of({
    ...implementation,
    generateStructured,
    generateStructuredOutput: implementation.generateStructured
  })
}

/**
 * A layer providing an implementation.
 *
 * @since 0.1.0
 */
export const layer = (implementation: Implementation): Layer.Layer<LlmProvider> =>
  Layer.succeed(LlmProvider, make(implementation))

const toRequest = LlmRequest.fromInput

/**
 * Generates text with the current provider.
 *
 * @since 0.1.0
 */
export const generate = (
  input: LlmRequest.Input | LlmRequest.LlmRequest
): Effect.Effect<GenerationResult, ProviderError | InvalidOptions, LlmProvider> =>
  Effect.flatMap(toRequest(input), (request) => LlmProvider.use((provider) => provider.generate(request)))

/**
 * Generates a value decoded by a schema with the current provider.
 *
 * @since 0.1.0
 */
export function generateStructured<A>(
  input: LlmRequest.Input | LlmRequest.LlmRequest,
  schema: Schema.Codec<A, unknown> | StructuredOutput.StructuredOutput<A>
): Effect.Effect<StructuredResult<A>, ProviderError | InvalidOptions, LlmProvider>
export function generateStructured(
  input: LlmRequest.Input | LlmRequest.LlmRequest,
  schema: StructuredOutput.JsonSchema
): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions, LlmProvider>
export function generateStructured(
  input: LlmRequest.Input | LlmRequest.LlmRequest,
  spec: StructuredOutput.Spec<unknown>
): Effect.Effect<StructuredResult<unknown>, ProviderError | InvalidOptions, LlmProvider> {
  return Effect.flatMap(
    Effect.zip(toRequest(input), StructuredOutput.fromSpec(spec)),
    ([request, output]) => LlmProvider.use((provider) => provider.generateStructuredOutput(request, output))
  )
}

/**
 * Streams text deltas, then a `Finish` with the usage, from the current provider.
 *
 * @since 0.1.0
 */
export const stream = (
  input: LlmRequest.Input | LlmRequest.LlmRequest
): Stream.Stream<StreamPart, ProviderError | InvalidOptions, LlmProvider> =>
  Stream.unwrap(
    Effect.flatMap(toRequest(input), (request) => LlmProvider.useSync((provider) => provider.stream(request)))
  )

/**
 * What a push's consumer returns when it cannot take more parts yet: the
 * push calls it once with `resume`, and reads no more until the consumer
 * calls `resume` back (at once, if it already can). A push whose stream
 * ended with those parts drops the hold (the consumer has them).
 *
 * @since 0.1.0
 */
export type Hold = (resume: () => void) => void

/**
 * How a stream hands its parts straight to a consumer: each chunk's parts to
 * `onParts`, synchronously, as they arrive, with the same parts, failures
 * and {@link Supervisor} reports as the stream's own pull. A consumer that
 * cannot take more yet returns a {@link Hold}: the body is read no further
 * until it resumes the push (past the transport's buffer the connection
 * stops being read, as when a pull waits). The effect ends when the stream
 * does, without waiting for a hold on its last parts. A throw of `onParts`
 * ends it as a defect, the body left (the connection closed), as a throw in
 * a pull's consumer would: a push calls `onParts` where such a throw is
 * caught, never from a bare callback it would escape from.
 *
 * @since 0.1.0
 */
export type Push<E> = (onParts: (parts: ReadonlyArray<StreamPart>) => Hold | undefined) => Effect.Effect<void, E>

const pushKey = Symbol.for("@baton/core/LlmProvider/Push")

/**
 * `stream`, able also to hand its parts to a consumer by `push`, without a
 * pull per chunk (see {@link pushOf}): a new stream of the same parts, the
 * one given left as it was (a stream value shared elsewhere gains no push).
 * An adapter marks the streams it returns; any stream made from one
 * (`Stream.map`, a wrapper's own) is a new stream, not marked, so its
 * consumer always sees what the wrapper made.
 *
 * @since 0.1.0
 */
export const withPush = <E>(stream: Stream.Stream<StreamPart, E>, push: Push<E>): Stream.Stream<StreamPart, E> =>
  Object.assign(Stream.fromChannel(Stream.toChannel(stream)), { [pushKey]: push })

/**
 * The push of a stream marked by {@link withPush}, if it is one. The
 * manager reads a provider's stream so, unless a hedge may race it (its
 * first delta must claim the caller's answer, an effect) or a restarted
 * answer replays the text delivered before.
 *
 * @since 0.1.0
 */
export const pushOf = <E>(stream: Stream.Stream<StreamPart, E>): Push<E> | undefined =>
  (stream as { readonly [pushKey]?: Push<E> })[pushKey]

/**
 * `stream` with `f` run on each of its parts as it passes, whether the
 * consumer pulls the stream or takes its push (see {@link withPush}): a
 * provider that wraps another's stream to watch it keeps the push, which
 * `Stream.tap` or `Stream.map` would drop. A throw in `f` is a defect of the
 * stream, pulled or pushed (see {@link Push}).
 *
 * @example
 * ```ts
 * import * as LlmProvider from "@baton/core/LlmProvider"
 * import { Layer } from "effect"
 *
 * // counts the text deltas every stream of the provider below yields
 * let deltas = 0
 * const counting = Layer.effect(
 *   LlmProvider.LlmProvider,
 *   LlmProvider.LlmProvider.useSync((provider) =>
 *     LlmProvider.LlmProvider.of({
 *       ...provider,
 *       stream: (request) =>
 *         LlmProvider.tapParts(provider.stream(request), (part) => {
 *           if (part._tag === "TextDelta") deltas++
 *         })
 *     })
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 */
export const tapParts = <E>(
  stream: Stream.Stream<StreamPart, E>,
  f: (part: StreamPart) => void
): Stream.Stream<StreamPart, E> => {
  const each = (parts: ReadonlyArray<StreamPart>): void => {
    for (const part of parts) f(part)
  }
  const tapped = Stream.mapArray(stream, (parts) => {
    each(parts)
    return parts
  })
  const push = pushOf(stream)
  return push === undefined ? tapped : withPush(tapped, (onParts) =>
    push((parts) => {
      each(parts)
      return onParts(parts)
    }))
}

/**
 * The `Finish` that ends an adapter's stream: why the model stopped, the
 * usage, the provider and model that answered, the id the provider gave its
 * response (left out when it gave none), and the tool calls assembled from
 * the stream, left out when the model called none (`undefined` or an empty
 * list).
 *
 * @since 0.1.0
 */
export const finishPart = ({ finishReason, model, provider, responseId, responseModel, toolCalls, usage }: {
  readonly finishReason: FinishReason
  readonly usage: TokenUsage
  readonly provider: ProviderName
  readonly model: ModelId
  readonly responseId?: string | undefined
  readonly responseModel?: string | undefined
  readonly toolCalls?: ReadonlyArray<ToolCall> | undefined
}): Finish => {
  // fields left out are never set: no object is built to spread them
  const finish: Mutable<Finish> = { _tag: "Finish", finishReason, usage, provider, model }
  if (responseId !== undefined) finish.responseId = responseId
  if (responseModel !== undefined) finish.responseModel = responseModel
  if (toolCalls !== undefined && toolCalls.length > 0) finish.toolCalls = toolCalls
  return finish
}

/**
 * Who watches the HTTP exchange of the call running on this fiber: `sent`
 * runs when the request leaves, `headers` when the response headers arrive.
 * `LlmManager` sets it per attempt to drive its first-byte limit; outside a
 * manager it is absent and nothing is watched.
 *
 * @since 0.1.0
 */
export interface HttpObserver {
  readonly sent: Effect.Effect<void>
  readonly headers: Effect.Effect<void>
}

/**
 * The observer of the current call, if any.
 *
 * @since 0.1.0
 */
export const CurrentHttpObserver = Context.Reference<HttpObserver | undefined>(
  "@baton/core/LlmProvider/CurrentHttpObserver",
  { defaultValue: () => undefined }
)

/**
 * Runs one HTTP exchange (from sending the request to its response headers)
 * under the current {@link HttpObserver}: `sent` before it, `headers` once it
 * succeeded. Adapters that call their provider without an `HttpClient` wrap
 * their own exchange with it.
 *
 * @since 0.1.0
 */
export const observeHttp = <A, E, R>(exchange: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  CurrentHttpObserver.use((observer) =>
    observer === undefined
      ? exchange
      : Effect.flatMap(observer.sent, () => Effect.tap(exchange, observer.headers))
  )

/**
 * A provider's `HttpClient` reporting each exchange to the current
 * {@link HttpObserver}. Adapters wrap the client they were given with it
 * once, when they are built.
 *
 * @since 0.1.0
 */
export const observeHttpClient = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.transform(client, observeHttp)
