/**
 * The HTTP engine every provider adapter runs on.
 *
 * A provider is a `Codec` (how a request becomes a body, how a reply or a
 * stream event becomes text, a finish reason and token counts) plus
 * `Settings` (name, model, base URL, key, timeout). `make` turns them into an
 * `LlmProvider.Implementation` that does the rest, identically for all:
 *
 * - one POST per call (`transport.ts`: straight to the undici dispatcher of a
 *   `ProviderHttpClient`, else through the `HttpClient` given) to the base
 *   URL's path, then the codec's path, then the base URL's query if it has
 *   one (`?api-version=...`); the key is revealed only inside
 *   `codec.headers`, which puts it in a header, and the caller's extra
 *   headers (`Settings.headers`) only as they are sent; the key, the
 *   extra headers' secrets (`ExtraHeaders`) and the values of the base
 *   URL's query parameters named as credentials (Gemini's `?key=`) are
 *   scrubbed from every error, and handed on as the provider's `secrets`
 *   for the manager to scrub; no
 *   client span, no trace headers (the manager owns tracing, and a span per request is measurable
 *   overhead); the exchange is reported to the current
 *   `LlmProvider.HttpObserver`;
 * - time: under a `LlmProvider.Supervisor` (every `LlmManager` attempt) the
 *   adapter runs no timer at all; the manager's watchdog owns the first-byte,
 *   first-token, idle and attempt limits, so raising `idleMs` is enough. A
 *   provider used on its own bounds a whole non-streaming call with its
 *   attempt timeout (`request.options.timeout`, else the layer's
 *   `timeoutMs`; `ProviderTimeout`, phase `attempt`), and a stream's headers
 *   (`first-byte`) and each chunk (`first-token` before any text,
 *   `StreamInterrupted` after) with the same value. An event that carries
 *   reasoning (DeepSeek's `reasoning_content`, Anthropic's `thinking_delta`,
 *   Gemini's thought parts: text the caller never gets), alone or beside
 *   text, is reported to `supervisor.reasoning`, so the watchdog sees a model
 *   that reasons visibly as streaming, not silent;
 * - a body `JSON.stringify` cannot encode (a `BigInt`, a cycle, nesting past
 *   its stack, in a request built by hand past `Tool.make`'s check) is the
 *   caller's: an `InvalidRequest` with code `unencodableRequest`, nothing
 *   sent, never a `Defect` (which would count against the circuit);
 * - errors map through `httpError.ts`, an error body sent with a 2xx status
 *   too (a plain reply that is one, or a JSON body where a stream was asked
 *   for: OpenRouter); replies that are not JSON or not of the provider's
 *   shape are `MalformedResponse`; a safety block is `ContentFiltered`, with
 *   the model's refusal, when it declined, scrubbed and cut in `refusal`
 *   (never in `message`, which the request log records);
 * - usage is priced with `Pricing`; a complete answer from a provider that
 *   reports none is estimated (`estimated: true`) from its text and its
 *   tool calls' names and arguments (`ToolStream.outputOf`), and so is a
 *   stream cut, or stopped by its consumer, after text, a tool call (its
 *   name alone too) or reasoning but before its whole usage (the provider
 *   billed it; what came after a malformed event's or a cut's hole counts too, though
 *   never forwarded): the counts reported when they are whole, provisional
 *   ones (Anthropic's `message_start` counts 1 output token) raised to the
 *   estimate of what came where that is more, else the estimate. One rule
 *   (`usageOf`) for every answer: a stream that reaches its end with its
 *   counts still provisional (its final usage never came: Anthropic's
 *   `message_delta` without `usage`, Gemini's finishing chunk without
 *   `usageMetadata`), and a reply whose counts lack its output's
 *   (`Reply.provisional`), are billed so too, never as exact;
 * - a blank answer to a request for JSON is no answer (DeepSeek's JSON mode
 *   answers spaces with `finish_reason: "stop"` when it failed): a
 *   retryable `MalformedResponse` carrying the usage billed, plain or
 *   streamed. That is structured output, or `responseFormat: "json"` with
 *   no tool call and no prefill holding text (whose continuation may be
 *   blank). A JSON stream holds back the whitespace it starts with until
 *   text or a tool call follows, then sends it with that text, so a blank
 *   answer fails before any delta: nothing reached the caller, and the
 *   manager retries or falls back as before a first token (held whitespace
 *   is no first token for its watchdog either). An answer cut at max tokens
 *   (`finish_reason: "length"`: a thinking model's reasoning spent them) is
 *   no such failure: it is that cut, blank, finish reason `length`, as any
 *   answer cut there (retrying with the same budget would not help);
 * - the implementation names its `server` (the base URL's host and port,
 *   `LlmProvider.serverOf`, read once here), and each answer carries the id
 *   the provider gave its response (`responseId` of a result or a `Finish`:
 *   OpenAI's `id`, Anthropic's `id` / `message_start.message.id`, Gemini's
 *   `responseId`; a string of at most 256 characters, else none), which the
 *   manager sets on the attempt's span;
 * - structured answers are decoded with the request's `StructuredOutput`; an
 *   answer that does not decode is `StructuredOutputInvalid` with the issue
 *   and the content;
 * - tool calls stream as `ToolCallDelta` parts after the text of the same
 *   event (the codec feeds a `ToolStream`); what the provider asks to have
 *   sent back with its calls (a codec's echo: Gemini's signature, DeepSeek's
 *   reasoning) is stamped with the provider's name and the call's model, a
 *   call's `replay` (and a delta's, on the delta whose fragment brought a
 *   signature), and a body is built with only the replays that provider and
 *   model made (`replay.ts`);
 * - a stream is also pushed (`LlmProvider.withPush`): under a supervisor
 *   its body's chunks are decoded as they arrive, outside any fiber
 *   (`Transport.Response.each`), and their parts handed on at once, as the
 *   manager reads it, with the same parts, failures and reports as the
 *   pull; a consumer's `Hold` stops the reading until it resumes it;
 * - a stream ends with exactly one `Finish`, once the provider's own end
 *   marker arrived (`StreamDecoder.ended`: nothing after it is decoded,
 *   the body is left there, drained a while for its end so its connection
 *   is kept, else closed: `Transport.Response.complete`) or,
 *   before it, its whole answer (its finish, and its
 *   usage where the provider reports one: `StreamDecoder.answered`), after
 *   which a body that stalls, closes or breaks ends as that answer (a stall
 *   under a supervisor, whose watchdog stops it, through
 *   `supervisor.complete`); a body that breaks, stalls or ends before that
 *   is `StreamInterrupted` (with the text so far) once text was emitted,
 *   and `MalformedResponse` / `ProviderConnectionFailed` / `ProviderTimeout`
 *   before; under a supervisor it is always the underlying error, and what
 *   the stopped stream billed (the usage reported, raised to the estimate of
 *   the text, tool calls and reasoning that came while provisional) goes to
 *   `supervisor.usage`; without one, a stream stopped before any text (while
 *   it only reasoned or called a tool) fails with no usage on its error;
 * - a stream the provider cut, saying why (`StreamFault` `Cut`: DeepSeek's
 *   `insufficient_system_resource`, OpenRouter's `finish_reason: "error"`),
 *   fails with a retryable `MalformedResponse` carrying what it billed, as
 *   the plain reply does.
 *   Under a supervisor the cut leaves a hole, as a malformed event does: the
 *   rest is read, bounded by its watchdog, for the usage that follows (the
 *   chunk `stream_options.include_usage` adds), and the stream fails at its
 *   end, or where the connection breaks, with that usage; a stall there ends
 *   as the watchdog ends it, the usage known billed. Without one it fails at
 *   that event, nothing after it read (a server may hold the connection
 *   open, and only each chunk is timed): before any text with that error
 *   (the usage the cut's chunk or an earlier one reported, else the
 *   estimate), after text with `StreamInterrupted` giving the cut's reason;
 * - the stop sequences a codec leaves out of the body (`Codec.unsentStop`:
 *   a model that rejects `stop`, Anthropic's whitespace ones) are applied here (`stopSequences.ts`); for
 *   any other call nothing is done per event. A plain answer is cut before
 *   the first one to end, finish reason `stop`, without the tool calls that
 *   would have followed, billed as the whole answer. A stream holds back
 *   only the end of its text that could begin one; once one ends it hands
 *   on nothing more (no tool call of that event either), reads the rest of
 *   the chunks at hand only for what they bill, and finishes `stop`, the
 *   connection closed (the provider would have stopped there): billed as a
 *   stream stopped early (the usage reported if whole, else the estimate,
 *   the text cut off counted), which the supervisor is told before the
 *   `Finish` goes out.
 */
import type { FinishReason, GenerationResult, StreamPart, StructuredResult } from "@baton/core/GenerationResult"
import type { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmProvider from "@baton/core/LlmProvider"
import type { LlmRequest } from "@baton/core/LlmRequest"
import * as Pricing from "@baton/core/Pricing"
import {
  ContentFiltered,
  InvalidRequest,
  MalformedResponse,
  type ProviderError,
  ProviderTimeout,
  StreamInterrupted,
  unencodableRequest
} from "@baton/core/ProviderError"
import * as Redact from "@baton/core/Redact"
import * as StructuredOutput from "@baton/core/StructuredOutput"
import { estimate, type TokenCounts, type TokenUsage } from "@baton/core/TokenUsage"
import { Cause, Channel, Clock, Duration, Effect, Option, type Pull, Redacted, Scope, Stream } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { HttpClient } from "effect/http"
import type { Mutable } from "effect/Types"
import * as ExtraHeaders from "./extraHeaders.ts"
import * as HttpError from "./httpError.ts"
import * as Json from "./json.ts"
import * as Replay from "./replay.ts"
import * as Sse from "./sse.ts"
import * as StopSequences from "./stopSequences.ts"
import * as ToolStream from "./toolStream.ts"
import * as Transport from "./transport.ts"

/** One call as a codec sees it. */
export interface Call {
  readonly request: LlmRequest
  readonly model: ModelId
  readonly stream: boolean
  /** Set for structured generation. */
  readonly output: StructuredOutput.StructuredOutput<unknown> | undefined
}

/** A decoded non-streaming reply. */
export interface Reply {
  readonly content: string
  readonly finishReason: FinishReason
  readonly counts: TokenCounts | undefined
  /** Why the provider blocked the prompt itself (Gemini `promptFeedback.blockReason`). */
  readonly blockedPrompt?: string | undefined
  /** The tools the model called, when it called any (stamped into results' `replay`s by the adapter). */
  readonly toolCalls?: ReadonlyArray<Replay.DecodedCall> | undefined
  /** The model's own words when it declined (OpenAI `message.refusal`); the finish is then `content_filter`. */
  readonly refusal?: string | undefined
  /** The id the provider gave the response (`gen_ai.response.id`), when it gave one. */
  readonly responseId?: string | undefined
  /** The model the response names (`gen_ai.response.model`), when it names one. */
  readonly responseModel?: string | undefined
  /**
   * Whether `counts` lack the output's count (Gemini's `usageMetadata` without `candidatesTokenCount` nor a
   * `totalTokenCount` that gives it): a lower bound, raised to the estimate of the answer as a stream's
   * provisional counts are (`StreamDecoder.provisional`).
   */
  readonly provisional?: boolean | undefined
}

/**
 * What a stream event may mean besides text. `Cut`: the provider ended the
 * answer unfinished and said why (DeepSeek's `insufficient_system_resource`,
 * OpenRouter's `finish_reason: "error"`);
 * the stream fails, carrying what the call billed, with a retryable
 * `MalformedResponse`, as the same plain reply does (without a supervisor, at
 * the cut, and after text with `StreamInterrupted`; under one, at the end of
 * the hole it leaves).
 */
export type StreamFault =
  | { readonly _tag: "Malformed"; readonly message: string }
  | { readonly _tag: "Cut"; readonly message: string }
  | { readonly _tag: "ErrorEvent"; readonly body: unknown }
  | { readonly _tag: "Blocked"; readonly message: string }

/** The state of one stream: fed event by event. */
export interface StreamDecoder {
  /** The text an event carries ("" for none), or what is wrong with it. */
  readonly event: (event: Sse.SseEvent) => string | StreamFault
  /** Why the model stopped, once the provider's end marker arrived; `undefined` before. */
  readonly finishReason: () => FinishReason | undefined
  /** Token counts reported so far. */
  readonly counts: () => TokenCounts | undefined
  /**
   * Whether the counts so far are a running start the provider completes at
   * the end (Anthropic's `message_start`: 1 output token; Gemini's totals
   * before its last chunk), not what it billed for what came: a stream
   * stopped early, or ended while they are (its final usage never came:
   * Anthropic's `message_delta` without `usage`, Gemini's finishing chunk
   * without `usageMetadata`), is billed at least the estimate of what came,
   * flagged `estimated` where that is more. Absent: counts arrive whole
   * (OpenAI's usage chunk).
   */
  readonly provisional?: (() => boolean) | undefined
  /**
   * The finish reason once the whole answer and its whole usage came, before
   * the end marker that completes the stream (`finishReason`): a stream that
   * stalls, closes or is cut there is that answer, not a cut one. Absent:
   * the end marker alone says the answer is whole.
   */
  readonly answered?: (() => FinishReason | undefined) | undefined
  /**
   * Whether the provider's end marker was read (`data: [DONE]`, Anthropic's
   * `message_stop`): the stream is over, nothing after it is decoded or
   * billed, and its `Finish` goes out without waiting for the body to end.
   * Absent: the wire has no terminator (Gemini), the body's end ends it.
   */
  readonly ended?: (() => boolean) | undefined
  /** The model's refusal so far, its pieces joined, for codecs whose wire has one (OpenAI `delta.refusal`). */
  readonly refusal?: (() => string | undefined) | undefined
  /** The stream's tool calls, for codecs that speak tools: drained for deltas after every event. */
  readonly tools?: ToolStream.ToolStream | undefined
  /** The id the provider gave the response, once an event carried it. */
  readonly responseId?: (() => string | undefined) | undefined
  /** The model the response names, once an event carried it. */
  readonly responseModel?: (() => string | undefined) | undefined
}

/** What differs between providers. */
export interface Codec {
  /** The path after the base URL (`/chat/completions`). */
  readonly path: (call: Call) => string
  /** Headers for a call; the only place the API key is revealed. */
  readonly headers: (apiKey: string | undefined) => Record<string, string>
  /** The JSON body, as plain objects. */
  readonly body: (call: Call) => unknown
  /** The reply of a parsed 2xx body (to `call`, when the reply depends on what was sent), or what is wrong with its shape. */
  readonly decode: (json: unknown, call?: Call) => Reply | string
  /** The usage a parsed 2xx body reports, read even when its reply does not decode (the provider billed it). */
  readonly billed: (json: unknown) => TokenCounts | undefined
  /**
   * A fresh decoder for one stream. It calls `reasoning` with the length of
   * the reasoning text of an event that carries reasoning (thinking the
   * caller is not handed), alone or beside answer text, so the supervisor
   * sees the stream alive and a stream stopped early is billed its
   * reasoning; an event without reasoning never calls it. `call` is the
   * request the stream answers.
   */
  readonly streamDecoder: (reasoning?: (characters: number) => void, call?: Call) => StreamDecoder
  /**
   * The stop sequences a call asks for that its body leaves out (a model
   * that rejects `stop`): the adapter cuts the answer at them itself
   * (`stopSequences.ts`). Absent, or `undefined` for a call: the provider
   * applies them, or none were asked for.
   */
  readonly unsentStop?: ((call: Call) => ReadonlyArray<string> | undefined) | undefined
  /** Rewrites a structured answer before it is decoded (OpenAI strict mode: optional `null`s). */
  readonly structuredAnswer?:
    | ((content: string, output: StructuredOutput.StructuredOutput<unknown>) => string)
    | undefined
  /**
   * The id the provider's paths and prices know a model by, for a name its
   * users may also write otherwise (Gemini's `models/` resource prefix).
   * Absent: the name as given.
   */
  readonly modelId?: ((model: ModelId) => ModelId) | undefined
}

/** Everything an adapter instance is built from. */
export interface Settings {
  readonly name: ProviderName
  readonly model: ModelId
  readonly baseUrl: string
  readonly apiKey: Redacted.Redacted | undefined
  /**
   * Headers besides the codec's (`OpenAiCompatible`'s `headers`), a
   * credential's value kept redacted until it is sent, its secrets scrubbed
   * as the key is; which values are secrets, and which of the codec's
   * headers a given one yields to: `ExtraHeaders`.
   */
  readonly headers: ExtraHeaders.ExtraHeaders
  readonly timeoutMs: number
  /** The largest plain reply body read, in bytes. */
  readonly maxBodyBytes: number
  /** The largest single stream event read, in UTF-16 code units (bytes for ASCII). */
  readonly maxEventBytes: number
  readonly capabilities: LlmProvider.Capabilities
  readonly codec: Codec
}

const utf8 = new TextDecoder()

/** The most of a model's refusal a `ContentFiltered` carries. */
const REFUSAL_MAX_CHARS = 2000

/** The most of `JSON.stringify`'s error an unencodable request's message carries. */
const ENCODE_ERROR_MAX_CHARS = 200

const isOk = (status: number): boolean => status >= 200 && status < 300

/** Whether a response is a JSON body, which a stream request gets only when the server sent an error instead. */
const isJson = (response: Transport.Response): boolean => /^application\/json\b/i.test(response.contentType ?? "")

/**
 * A path with the base URL's query (`?api-version=...`, Azure-style) after
 * it, joined to the path's own query (Gemini's `?alt=sse`) when it has one.
 */
const withQuery = (path: string, search: string): string =>
  search.length === 0 ? path : `${path}${path.includes("?") ? "&" : "?"}${search.slice(1)}`

/**
 * The implementation of a provider from its codec and settings.
 */
export const make = Effect.fnUntraced(function*(settings: Settings) {
  const post = Transport.post(yield* HttpClient.HttpClient)
  const pricing = yield* Pricing.Pricing
  const { capabilities, codec, name } = settings
  const base = new URL(settings.baseUrl)
  const prefix = base.pathname.replace(/\/+$/, "")
  // once per adapter: the manager reads it for every attempt's span
  const server = LlmProvider.serverOf(base)

  // the key and the extra headers' values: scrubbed from every error
  const secrets = secretsOf(settings)
  const requestHeaders = headersOf(settings)
  const contextOf = (model: ModelId): HttpError.ErrorContext => ({ provider: name, model, secrets })
  const malformed = (model: ModelId, message: string, status?: number) =>
    new MalformedResponse(
      status === undefined ? { provider: name, model, message } : { provider: name, model, message, status }
    )
  const price = (model: ModelId, counts: TokenCounts | undefined): TokenUsage =>
    pricing.usage(name, model, counts ?? { promptTokens: 0, completionTokens: 0 })
  /** A stopped answer: the content filter's, or the model's refusal, scrubbed and cut (never in the message). */
  const filteredAnswer = (model: ModelId, counts: TokenCounts | undefined, refusal: string | undefined) =>
    new ContentFiltered({
      provider: name,
      model,
      stage: "response",
      message: refusal === undefined ? `${name}'s content filter stopped the answer` : `${name} refused to answer`,
      ...(counts === undefined ? {} : { usage: price(model, counts) }),
      ...(refusal === undefined
        ? {}
        : { refusal: Redact.truncate(HttpError.scrub(secrets, refusal), REFUSAL_MAX_CHARS) })
    })
  /** A prompt the provider blocked (scrubbed `message`), billed the usage it reported beside the block, if any. */
  const blockedPrompt = (model: ModelId, message: string, counts: TokenCounts | undefined) =>
    new ContentFiltered({
      provider: name,
      model,
      stage: "prompt",
      message: HttpError.scrub(secrets, message),
      ...(counts === undefined ? {} : { usage: price(model, counts) })
    })
  /** The usage estimated from the prompt, the answer `content` and `reasoned` characters of reasoning. */
  const estimated = (call: Call, content: string, reasoned = 0): TokenUsage => ({
    ...price(call.model, estimate(call.request.messages.map((message) => message.content), content, reasoned)),
    estimated: true
  })
  /**
   * What an answer billed: the counts reported, when they are whole; `provisional` ones (each a lower bound: a
   * stream's before its whole usage came, `StreamDecoder.provisional`, ended or stopped early; a reply's without its
   * output count, `Reply.provisional`) raised to the estimate of what came where that is more: the reasoning to the
   * reasoning's, the output to that reasoning plus the text's (`content`: the text and the tool calls' names and
   * arguments that came), flagged `estimated` when raised, or when output came that they may not count though the
   * estimate did not raise them (a stream stopped early: the log's `usageReported` says they are no whole report);
   * with nothing come, they are what the provider billed (Gemini's JSON leaves a 0 candidates count out). The
   * estimate when none came.
   */
  const usageOf = (
    call: Call,
    counts: TokenCounts | undefined,
    content: string,
    reasoned = 0,
    provisional = false
  ): TokenUsage => {
    if (counts !== undefined && !provisional) return price(call.model, counts)
    const guess = estimated(call, content, reasoned)
    if (counts === undefined) return guess
    const reasoningTokens = Math.max(counts.reasoningTokens ?? 0, guess.reasoningTokens)
    const completionTokens = Math.max(
      counts.completionTokens,
      reasoningTokens + guess.completionTokens - guess.reasoningTokens
    )
    const raised = completionTokens !== counts.completionTokens
    const usage = price(call.model, raised ? { ...counts, completionTokens, reasoningTokens } : counts)
    return raised || content.length + reasoned > 0 ? { ...usage, estimated: true } : usage
  }
  /** A blank answer to a request for JSON ({@link isBlankJson}): retryable, with what it billed. */
  const blankAnswer = (call: Call, counts: TokenCounts | undefined, content: string, reasoned = 0) =>
    new MalformedResponse({
      provider: name,
      model: call.model,
      message: `${name} answered a request for JSON with blank content`,
      usage: usageOf(call, counts, content, reasoned)
    })
  const timeoutOf = (request: LlmRequest): number =>
    request.options.timeout === undefined
      ? settings.timeoutMs
      : Math.max(1, Math.round(Duration.toMillis(request.options.timeout)))

  /**
   * The body as JSON text, or the caller's `InvalidRequest` when `JSON.stringify` throws on it; built with
   * only the replays of the calls this provider and model made.
   */
  const encode = (call: Call): string | InvalidRequest => {
    const body = codec.body({ ...call, request: Replay.madeBy(call.request, name, call.model) })
    try {
      return JSON.stringify(body)
    } catch (error) {
      const detail = Redact.truncate(error instanceof Error ? error.message : String(error), ENCODE_ERROR_MAX_CHARS)
      return new InvalidRequest({
        provider: name,
        model: call.model,
        status: 400,
        code: unencodableRequest,
        message: `the request cannot be sent to ${name}: its body cannot be encoded as JSON (${detail})`
      })
    }
  }

  const send = (call: Call): Effect.Effect<Transport.Response, ProviderError> => {
    const body = encode(call)
    return typeof body === "string"
      ? Effect.mapError(
        LlmProvider.observeHttp(post(
          base.origin,
          withQuery(prefix + codec.path(call), base.search),
          requestHeaders(),
          body
        )),
        (failure) => HttpError.fromTransport(contextOf(call.model), failure)
      )
      : Effect.fail(body)
  }

  /**
   * The body as text: past `maxBodyBytes` it is a `MalformedResponse`; one that does not decode (its content
   * coding) is `undecodable` when given (an error status says what failed without its body), else one too.
   */
  const readText = (
    model: ModelId,
    response: Transport.Response,
    undecodable?: string
  ): Effect.Effect<string, ProviderError> =>
    Effect.matchEffect(response.readAll(settings.maxBodyBytes), {
      onFailure: (failure) =>
        failure.stage === "encoding" && undecodable !== undefined
          ? Effect.succeed(undecodable)
          : Effect.fail(HttpError.fromTransport(contextOf(model), failure)),
      onSuccess: (body) =>
        body === undefined
          ? Effect.fail(
            malformed(model, `${name} sent a body over the limit of ${settings.maxBodyBytes} bytes`, response.status)
          )
          : Effect.succeed(utf8.decode(body))
    })

  const failStatus = (model: ModelId, response: Transport.Response) =>
    Effect.flatMap(
      Effect.zip(readText(model, response, ""), Clock.currentTimeMillis),
      ([text, now]) =>
        Effect.fail(HttpError.fromStatus(contextOf(model), response.status, response.headers(), text, now))
    )

  /** A JSON body where a stream was asked for: the error it carries, else a `MalformedResponse`. */
  const failJsonStream = (model: ModelId, response: Transport.Response) =>
    Effect.flatMap(
      Effect.zip(readText(model, response), Clock.currentTimeMillis),
      ([text, now]) =>
        Effect.fail(
          HttpError.fromOkBody(contextOf(model), Json.parse(text), now) ??
            malformed(model, `${name} answered a stream request with a JSON body, not an event stream`, response.status)
        )
    )

  /** The failure of a response to a stream request that is no stream: an error status, or a JSON body. */
  const refusedStream = (
    model: ModelId,
    response: Transport.Response
  ): Effect.Effect<never, ProviderError> | undefined => {
    if (!isOk(response.status)) return failStatus(model, response)
    return isJson(response) ? failJsonStream(model, response) : undefined
  }

  /** A 2xx body read into a result, or the error it amounts to. */
  const toResult = (
    call: Call,
    status: number,
    text: string,
    latencyMs: number,
    nowMs: number
  ): GenerationResult | ProviderError => {
    const model = call.model
    const json = Json.parse(text)
    if (json === undefined) return malformed(model, `${name} answered with a body that is not JSON`, status)
    const reply = codec.decode(json, call)
    if (typeof reply === "string") {
      const sent = HttpError.fromOkBody(contextOf(model), json, nowMs)
      if (sent !== undefined) return sent
      const counts = codec.billed(json)
      const message = `${name} answered with an unexpected shape: ${reply}`
      return counts === undefined
        ? malformed(model, message)
        : new MalformedResponse({ provider: name, model, message, usage: price(model, counts) })
    }
    if (reply.blockedPrompt !== undefined) {
      return blockedPrompt(
        model,
        `${name} blocked the prompt (${Redact.truncate(reply.blockedPrompt, 200)})`,
        reply.counts
      )
    }
    const stops = codec.unsentStop?.(call)
    // an answer cut at a stop sequence ends there: what came after it, a content filter's stop too, is not the answer
    const cut = stops === undefined ? undefined : StopSequences.cut(reply.content, stops)
    if (cut === undefined) {
      if (reply.finishReason === "content_filter") return filteredAnswer(model, reply.counts, reply.refusal)
      if (isBlankJson(call, reply.content, reply.toolCalls?.length ?? 0, reply.finishReason)) {
        return blankAnswer(call, reply.counts, reply.content)
      }
    }
    // fields left out are never set: no object is built to spread them
    const result: Mutable<GenerationResult> = {
      content: cut ?? reply.content,
      // billed for the whole answer, cut or not
      usage: usageOf(
        call,
        reply.counts,
        reply.content + ToolStream.outputOf(reply.toolCalls ?? []),
        0,
        reply.provisional
      ),
      model,
      provider: name,
      latencyMs,
      finishReason: cut === undefined ? reply.finishReason : "stop",
      requestId: call.request.requestId,
      attempts: [{ provider: name, model, role: "primary", outcome: "success", latencyMs }]
    }
    if (reply.responseId !== undefined) result.responseId = reply.responseId
    if (reply.responseModel !== undefined) result.responseModel = reply.responseModel
    // an answer cut at a stop sequence ends there: the calls that followed its text were never made
    const toolCalls = cut === undefined ? Replay.stamp(reply.toolCalls, name, model) : undefined
    if (toolCalls !== undefined) result.toolCalls = toolCalls
    return result
  }

  const complete = (call: Call): Effect.Effect<GenerationResult, ProviderError> => {
    const model = call.model
    const timeoutMs = timeoutOf(call.request)
    const exchange = Effect.flatMap(
      Clock.currentTimeMillis,
      (started) =>
        Effect.flatMap(send(call), (response) =>
          isOk(response.status)
            ? Effect.flatMap(readText(model, response), (text) =>
              Effect.flatMap(Clock.currentTimeMillis, (now) => {
                const result = toResult(call, response.status, text, now - started, now)
                return isProviderError(result) ? Effect.fail(result) : Effect.succeed(result)
              }))
            : failStatus(model, response))
    )
    // a supervisor's watchdog owns the time of the call: no second clock
    return LlmProvider.Supervisor.use((supervisor) =>
      supervisor === undefined
        ? Effect.timeoutOrElse(exchange, {
          duration: timeoutMs,
          orElse: () => Effect.fail(new ProviderTimeout({ provider: name, model, phase: "attempt", timeoutMs }))
        })
        : exchange
    )
  }

  const modelId = codec.modelId
  // the configured model in the provider's own terms, once (the manager keys its circuits by the same, `modelId`)
  const defaultModel = modelId === undefined ? settings.model : modelId(settings.model)
  const modelOf = (request: LlmRequest): ModelId => {
    const named = request.options.model
    return named === undefined ? defaultModel : modelId === undefined ? named : modelId(named)
  }

  const generate = (request: LlmRequest) =>
    complete({ request, model: modelOf(request), stream: false, output: undefined })

  const generateStructured = <A>(
    request: LlmRequest,
    output: StructuredOutput.StructuredOutput<A>
  ): Effect.Effect<StructuredResult<A>, ProviderError> =>
    Effect.flatMap(
      complete({ request, model: modelOf(request), stream: false, output }),
      // a blank answer failed in `toResult` already
      (result) =>
        Effect.fromResult(StructuredOutput.decodeResult(
          output,
          result,
          codec.structuredAnswer === undefined ? result.content : codec.structuredAnswer(result.content, output)
        ))
    )

  const stream = (request: LlmRequest): Stream.Stream<StreamPart, ProviderError> => {
    const call: Call = { request, model: modelOf(request), stream: true, output: undefined }
    const model = call.model
    const timeoutMs = timeoutOf(request)
    const firstByte = () => Effect.fail(new ProviderTimeout({ provider: name, model, phase: "first-byte", timeoutMs }))
    // one channel from the request to the parts, pulling the body directly: no stream layered on another
    const pulled = Stream.fromChannel(Channel.fromTransform((_, scope) => {
      // sent at the first pull (as a stream runs its effects when pulled), then the parts' pull is kept
      let parts: Pull.Pull<NonEmptyReadonlyArray<StreamPart>, ProviderError> | undefined
      const start = LlmProvider.Supervisor.use((supervisor) => {
        // a supervisor's watchdog owns the time of the call: no second clock
        const bounded = <A>(effect: Effect.Effect<A, ProviderError>) =>
          supervisor === undefined ? Effect.timeoutOrElse(effect, { duration: timeoutMs, orElse: firstByte }) : effect
        return Effect.flatMap(
          bounded(send(call)),
          (response) => {
            const refused = refusedStream(model, response)
            if (refused !== undefined) return bounded(refused)
            return Effect.flatMap(response.pull(scope), (upstream) => {
              const decoded = decodeStream(call, timeoutMs, supervisor, upstream, response.complete)
              parts = decoded.next
              // a supervisor is told the usage of a stream its consumer stops before the end (see `abandoned`)
              return supervisor === undefined
                ? parts
                : Effect.andThen(Scope.addFinalizer(scope, Effect.sync(decoded.run.abandoned)), parts)
            })
          }
        )
      })
      return Effect.succeed(Effect.suspend(() => parts ?? start))
    }))
    return LlmProvider.withPush(pulled, (onParts) => push(call, pulled, onParts))
  }

  /**
   * The parts of a stream handed to `onParts` in the body's own callbacks
   * (`Transport.Response.each`), decoded as the pull decodes them: under a
   * supervisor only, whose watchdog owns the time (without one, the pull
   * and its timeouts).
   */
  const push = (
    call: Call,
    pulled: Stream.Stream<StreamPart, ProviderError>,
    onParts: (parts: ReadonlyArray<StreamPart>) => LlmProvider.Hold | undefined
  ): Effect.Effect<void, ProviderError> =>
    LlmProvider.Supervisor.use((supervisor) => {
      if (supervisor === undefined) {
        return Stream.runForEachArray(pulled, (parts) =>
          Effect.suspend(() => {
            const hold = onParts(parts)
            return hold === undefined ? Effect.void : Transport.held(hold)
          }))
      }
      return Effect.flatMap(send(call), (response) => {
        const refused = refusedStream(call.model, response)
        if (refused !== undefined) return refused
        const run = makeRun(call, timeoutOf(call.request), supervisor, response.complete)
        // the last parts: a hold on them is the consumer's to wait out
        const hand = (outcome: ReadonlyArray<StreamPart> | ProviderError): Effect.Effect<void, ProviderError> => {
          if (!isParts(outcome)) return Effect.fail(outcome)
          if (outcome.length > 0) onParts(outcome)
          return Effect.void
        }
        const read = response.each((chunks) => {
          const parts = run.feed(chunks)
          const hold = parts.length > 0 ? onParts(parts) : undefined
          // the end of the answer is read: a hold on its last parts is the consumer's to wait out
          if (run.pending !== undefined || run.finished) return false
          return hold ?? true
        })
        return Effect.matchEffect(read, {
          onFailure: (error) => hand(run.settle(error)),
          onSuccess: () => hand(run.settle())
        }).pipe(Effect.onExit(() => Effect.sync(run.abandoned)))
      })
    })

  /** The pull of a stream's parts (`next`), decoded from the pull of its body, and its bookkeeping. */
  const decodeStream = (
    call: Call,
    timeoutMs: number,
    supervisor: LlmProvider.Supervisor | undefined,
    upstream: Pull.Pull<NonEmptyReadonlyArray<Uint8Array>, Transport.TransportFailure>,
    complete: () => void
  ): { readonly run: StreamRun; readonly next: Pull.Pull<NonEmptyReadonlyArray<StreamPart>, ProviderError> } => {
    const run = makeRun(call, timeoutMs, supervisor, complete)
    const pull = supervisor === undefined
      ? Effect.timeoutOrElse(upstream, { duration: timeoutMs, orElse: () => Effect.succeed(undefined) })
      : upstream
    const next: Pull.Pull<NonEmptyReadonlyArray<StreamPart>, ProviderError> = Effect.suspend(() => {
      if (run.pending !== undefined) return Effect.fail(run.pending)
      return run.finished
        ? Cause.done()
        : pull.pipe(
          Effect.matchCauseEffect({
            onSuccess: (chunks) => emit(chunks === undefined ? run.stalled() : run.feed(chunks)),
            onFailure: (cause) => {
              const error = Cause.findErrorOption(cause)
              if (Option.isNone(error)) {
                return Cause.hasInterrupts(cause)
                  ? Effect.interrupt
                  : Effect.die(Cause.squash(cause))
              }
              return emit(run.settle(Cause.isDone(error.value) ? undefined : error.value))
            }
          })
        )
    })
    const emit = (
      outcome: ReadonlyArray<StreamPart> | ProviderError
    ): Pull.Pull<NonEmptyReadonlyArray<StreamPart>, ProviderError> => {
      if (!isParts(outcome)) return Effect.fail(outcome)
      return isNonEmpty(outcome) ? Effect.succeed(outcome) : next
    }
    return { run, next }
  }

  /**
   * The bookkeeping of one stream: text so far, the SSE framing, the codec's state. `complete` tells the
   * transport the body was read to its end marker (`Transport.Response.complete`).
   */
  const makeRun = (
    call: Call,
    timeoutMs: number,
    supervisor: LlmProvider.Supervisor | undefined,
    complete: () => void
  ) => {
    const model = call.model
    const sse = Sse.make(settings.maxEventBytes)
    // characters of reasoning the model streamed (never handed on): billed, estimated, if the stream stops early
    let reasoned = 0
    const decoder = codec.streamDecoder((characters) => {
      reasoned += characters
      supervisor?.reasoning?.()
    }, call)
    let partialText = ""
    // text a stream stopped early is billed for though never handed on: after a hole, after a stop sequence
    let otherOutput = ""
    const leading = makeHold(wantsJson(call))
    const stops = codec.unsentStop?.(call)
    // the cut at the stop sequences the provider was not sent; none (nothing to do per event) when it applies them
    const stop = stops === undefined ? undefined : StopSequences.make(stops)
    // cut at a stop sequence: the rest of the chunks at hand is read only for what it bills, then the stream finishes
    const cut = (): boolean => stop?.found() === true
    let reported: TokenCounts | undefined
    // under a supervisor (whose watchdog bounds the read), a malformed event and the provider's cut leave a hole
    // in the answer: nothing after it is forwarded, the rest is read for its usage (and billed, if that never
    // comes), and the stream then fails with this error, made then (a cut's carries that usage; the manager
    // rescues either)
    let hole: (() => ProviderError) | undefined
    const report = (parts: ReadonlyArray<StreamPart>): ReadonlyArray<StreamPart> => {
      const counts = decoder.counts()
      if (supervisor !== undefined && counts !== reported && counts !== undefined) {
        reported = counts
        supervisor.usage(price(model, counts))
      }
      return parts
    }
    // the output that came, billed as text: the text, handed on or not, and the tool calls' names and arguments
    const output = (): string => partialText + otherOutput + (decoder.tools?.output() ?? "")
    // whether output or reasoning came: a stream stopped early is then billed `billed()`
    const came = (): boolean => output().length + reasoned > 0
    // the finish reason once the whole answer came (its end marker or, before it, its finish and usage)
    const whole = (): FinishReason | undefined => decoder.finishReason() ?? decoder.answered?.()
    // what the stream billed so far, ended or stopped: its counts, raised to the estimate of what came while provisional
    const billed = (): TokenUsage =>
      usageOf(call, decoder.counts(), output(), reasoned, decoder.provisional?.() === true)
    /** The stream's `Finish`; nothing comes after it. */
    const finish = (finishReason: FinishReason, usage: TokenUsage): ReadonlyArray<StreamPart> => {
      run.finished = true
      return [
        LlmProvider.finishPart({
          finishReason,
          usage,
          provider: name,
          model,
          responseId: decoder.responseId?.(),
          responseModel: decoder.responseModel?.(),
          // an answer cut at a stop sequence ends with its text: the calls after it were never made
          toolCalls: cut() ? undefined : Replay.stamp(decoder.tools?.calls(), name, model)
        })
      ]
    }
    /**
     * The parts of the last chunk read, then the `Finish` of an answer cut at a stop sequence: billed as a stream
     * stopped there (the usage reported if the chunks held it whole, else the estimate; a reasoning model's hidden
     * reasoning is not in it), which the supervisor is told first, in case the caller stops before the `Finish`.
     */
    const cutAt = (parts: Array<StreamPart>): ReadonlyArray<StreamPart> => {
      report(parts)
      const usage = billed()
      supervisor?.usage(usage)
      parts.push(...finish("stop", usage))
      return parts
    }
    // the end marker was read: the rest of the body is never read, the stream ends there (see `close`)
    const over = (): boolean => decoder.ended?.() === true
    /**
     * The parts of the last chunk read, then the stream's end at its end marker, as the body's end would give it
     * (`ended`: its `Finish`, or the failure left pending): the rest of the body is never decoded (the transport
     * drains it, keeping the connection if it ends soon: `complete`), so a server sending more, or holding the
     * response open, changes nothing.
     */
    const close = (parts: ReadonlyArray<StreamPart>): ReadonlyArray<StreamPart> => {
      complete()
      const ending = run.ended()
      if (isParts(ending)) return [...parts, ...ending]
      run.pending = ending
      return parts
    }
    /** The provider's cut (`Cut`): retryable, like the plain reply's, with what the stream billed by now. */
    const cutError = (reason: string): ProviderError =>
      new MalformedResponse({ provider: name, model, message: `${name} ended the stream: ${reason}`, usage: billed() })
    /** The hole a fault leaves under a supervisor (see `hole`), or none: the stream then fails at the fault. */
    const holeOf = (fault: StreamFault): (() => ProviderError) | undefined => {
      if (supervisor === undefined) return undefined
      switch (fault._tag) {
        case "Cut":
          return () => cutError(fault.message)
        case "Malformed": {
          const error = malformed(model, `${name} sent a malformed stream event: ${fault.message}`)
          return () => error
        }
      }
      return undefined
    }
    const run: StreamRun = {
      finished: false,
      pending: undefined,
      abandoned: () => {
        if (run.finished) return
        // stopped after its whole answer, before its end marker (a stall there): the supervisor may end it so
        const reason = supervisor?.complete === undefined ? undefined : whole()
        const ending = reason === undefined ? [] : run.ended(reason)
        const finished = isParts(ending) && ending.length === 1 ? ending[0] : undefined
        if (finished?._tag === "Finish") {
          supervisor?.usage(finished.usage)
          supervisor?.complete?.(finished)
          return
        }
        // stopped before the end (a caller gone, a hedge lost) after output or reasoning: billed
        if (came()) supervisor?.usage(billed())
      },
      fail: (early: ProviderError, reason: string): ProviderError => {
        run.finished = true
        // a supervisor knows what it delivered and decides what a break means: it is told what the call billed
        if (supervisor !== undefined) {
          if (came()) supervisor.usage(billed())
          return early
        }
        if (partialText.length === 0) return early
        // text came, so the call was billed
        return new StreamInterrupted({ provider: name, model, partialText, reason, usage: billed() })
      },
      feed: (chunks: ReadonlyArray<Uint8Array>): ReadonlyArray<StreamPart> => {
        const parts: Array<StreamPart> = []
        for (const chunk of chunks) {
          if (over()) break
          const events = sse.feed(chunk)
          if (typeof events === "string" && cut()) break
          if (typeof events === "string") {
            // reported first: the failure then tells the supervisor what the stopped stream billed
            const reported = report(parts)
            run.pending = run.fail(malformed(model, `${name} stream: ${events}`), events)
            return reported
          }
          for (const event of events) {
            if (over()) break
            const step = decoder.event(event)
            if (cut()) {
              if (typeof step === "string") otherOutput += step
              continue
            }
            if (typeof step !== "string") {
              const left = holeOf(step)
              if (left !== undefined) {
                hole ??= left
                continue
              }
              const reported = report(parts)
              run.pending = run.fault(step)
              return reported
            }
            const calls = decoder.tools?.deltas() ?? noDeltas
            // after a hole nothing is forwarded, but what came is billed
            if (hole !== undefined) {
              otherOutput += step
              continue
            }
            // a tool call ends the holds: what they keep goes out before it
            const text = leading.text(stop === undefined ? step : stop.text(step)) +
              (calls.length > 0 ? leading.text(stop?.flush() ?? "") + leading.flush() : "")
            if (text.length > 0) {
              partialText += text
              parts.push({ _tag: "TextDelta", text })
            }
            // the answer ends at a stop sequence: what the model wrote after it is billed, never handed on
            if (stop !== undefined && stop.found()) {
              otherOutput += stop.dropped()
              continue
            }
            for (const delta of calls) parts.push(Replay.stampDelta(delta, name, model))
          }
        }
        if (cut()) return cutAt(parts)
        return over() ? close(report(parts)) : report(parts)
      },
      fault: (fault: StreamFault): ProviderError => {
        switch (fault._tag) {
          case "Malformed":
            return run.fail(malformed(model, `${name} sent a malformed stream event: ${fault.message}`), fault.message)
          case "Cut":
            return run.fail(cutError(fault.message), fault.message)
          case "Blocked":
            return run.fail(
              blockedPrompt(model, fault.message, decoder.counts()),
              HttpError.scrub(secrets, fault.message)
            )
          case "ErrorEvent": {
            const error = HttpError.fromStreamError(contextOf(model), fault.body, Date.now())
            return run.fail(error, `error event: ${error.message}`)
          }
        }
      },
      settle: (error?: Transport.TransportFailure): ReadonlyArray<StreamPart> | ProviderError => {
        if (run.pending !== undefined) return run.pending
        if (run.finished) return []
        return error === undefined ? run.ended() : run.broken(error)
      },
      stalled: (): ReadonlyArray<StreamPart> | ProviderError =>
        // the whole answer came (its finish, and its usage where reported): a stall before the end marker ends it
        whole() === undefined
          ? run.fail(
            new ProviderTimeout({ provider: name, model, phase: "first-token", timeoutMs }),
            `no event for ${timeoutMs} ms`
          )
          : run.ended(),
      broken: (error: Transport.TransportFailure): ReadonlyArray<StreamPart> | ProviderError => {
        // the whole answer came, or a hole ended it: a connection cut before the end marker cut nothing
        if (whole() !== undefined || hole !== undefined) return run.ended()
        const mapped = HttpError.fromTransport(contextOf(model), error)
        return run.fail(mapped, mapped.message)
      },
      ended: (finishReason = whole()): ReadonlyArray<StreamPart> | ProviderError => {
        if (hole !== undefined) {
          const error = hole()
          return run.fail(error, error.message)
        }
        if (finishReason === undefined) {
          return run.fail(
            malformed(model, `${name} stream ended without its end marker`),
            "the stream ended without its end marker"
          )
        }
        if (finishReason === "content_filter") {
          return run.fail(
            filteredAnswer(model, decoder.counts(), decoder.refusal?.()),
            "the provider's content filter stopped the answer"
          )
        }
        // the end held back in case it began a stop sequence: it began none
        const rest = stop === undefined ? "" : leading.text(stop.flush())
        // nothing was sent: the answer held back is all whitespace
        if (leading.blank() && isBlankJson(call, leading.held(), decoder.tools?.size() ?? 0, finishReason)) {
          return run.fail(
            blankAnswer(call, decoder.counts(), leading.held(), reasoned),
            "a blank answer to a request for JSON"
          )
        }
        partialText += rest
        // a provider that reports no usage, or not all of it (its end came without its final counts): the estimate
        // of what came, tool calls counted as text
        const ending = finish(finishReason, billed())
        return rest.length === 0 ? ending : [{ _tag: "TextDelta", text: rest }, ...ending]
      }
    }
    return run
  }

  return {
    name,
    model: settings.model,
    modelId,
    capabilities,
    server,
    // the manager scrubs them from every provider's errors, not only this one's
    secrets: secrets.length === 0 ? undefined : secrets,
    generate,
    generateStructured,
    stream
  } satisfies LlmProvider.Implementation
})

/**
 * The values that must never appear in an error: the key, the extra
 * headers' secrets, then the credentials the base URL's query carries
 * (`Redact.urlSecrets`: Gemini's `?key=`).
 */
const secretsOf = (settings: Settings): ReadonlyArray<Redacted.Redacted> => [
  ...(settings.apiKey === undefined ? [] : [settings.apiKey]),
  ...settings.headers.secrets,
  ...Redact.urlSecrets(settings.baseUrl)
]

/** The headers of each request, revealed as it is sent: the codec's (the key's), and the extra ones it does not name. */
const headersOf = (settings: Settings): () => Record<string, string> => {
  const { apiKey, codec, headers } = settings
  return () => ExtraHeaders.withOwn(headers, codec.headers(apiKey === undefined ? undefined : Redacted.value(apiKey)))
}

const isBlank = (text: string): boolean => text.trim().length === 0

/** Whether the call ends with a prefill holding text, which its answer continues. */
const continuesPrefill = (call: Call): boolean => {
  const last = call.request.messages.at(-1)
  return last?.role === "assistant" && !isBlank(last.content)
}

/**
 * Whether a call wants a JSON answer of its own: structured output, or
 * `responseFormat: "json"` but for the continuation of a prefill holding
 * text (the manager's rescue of a cut stream: the JSON so far is the
 * prefill, and the rest may well be blank).
 */
const wantsJson = (call: Call): boolean =>
  call.output !== undefined || (call.request.options.responseFormat === "json" && !continuesPrefill(call))

/**
 * Whether an answer is no answer: blank, to a call that {@link wantsJson},
 * and, but for structured output, with no tool call (a call's answer may
 * have no text); not cut at max tokens (`length`), which is that cut.
 */
const isBlankJson = (call: Call, content: string, toolCalls: number, finishReason: FinishReason): boolean =>
  finishReason !== "length" && isBlank(content) && wantsJson(call) && (toolCalls === 0 || call.output !== undefined)

/** The tool-call deltas of an event of a codec that speaks no tools: one array for every event. */
const noDeltas: ReadonlyArray<Replay.DecodedDelta> = []

/**
 * The whitespace a JSON answer's stream starts with, held back until text or
 * a tool call follows it (see the module header); when `holds` is false
 * (text mode) nothing is held.
 */
const makeHold = (holds: boolean) => {
  // `undefined` once the hold ended
  let held: string | undefined = holds ? "" : undefined
  return {
    /** The text to send for a step: none while the answer is still blank, then the whitespace held with it. */
    text: (text: string): string => {
      if (held === undefined) return text
      // what is held is blank: only the new text needs a look
      if (isBlank(text)) {
        held += text
        return ""
      }
      const joined = held + text
      held = undefined
      return joined
    },
    /** Ends the hold (a tool call came): the whitespace held, to send now. */
    flush: (): string => {
      const text = held ?? ""
      held = undefined
      return text
    },
    /** Whether the hold goes on: nothing sent yet, the answer blank so far. */
    blank: (): boolean => held !== undefined,
    /** The whitespace held. */
    held: (): string => held ?? ""
  }
}

/** The bookkeeping of one stream. */
interface StreamRun {
  finished: boolean
  /**
   * The consumer stopped the stream (finished or not): a supervisor gets the usage of text that had no usage yet,
   * or, when the whole answer had come but its end marker had not, the stream's `Finish` (`Supervisor.complete`).
   */
  readonly abandoned: () => void
  /** A failure found after some text of the same chunk: raised once that text is emitted. */
  pending: ProviderError | undefined
  /** Before any text: `early`; after: `StreamInterrupted` with the text so far. */
  readonly fail: (early: ProviderError, reason: string) => ProviderError
  readonly feed: (chunks: ReadonlyArray<Uint8Array>) => ReadonlyArray<StreamPart>
  readonly fault: (fault: StreamFault) => ProviderError
  /**
   * How a read of the body that stopped ends: the failure found after some text of the last chunk, else nothing
   * more once finished, else the body's end (`ended`) or its break (`broken`, given the failure).
   */
  readonly settle: (error?: Transport.TransportFailure) => ReadonlyArray<StreamPart> | ProviderError
  readonly stalled: () => ReadonlyArray<StreamPart> | ProviderError
  /** The connection failed: the stream's end if its whole answer came or a hole ended it (see `ended`), else the failure. */
  readonly broken: (error: Transport.TransportFailure) => ReadonlyArray<StreamPart> | ProviderError
  /**
   * The stream's end, as its end marker or, before it, its whole answer (the decoder's `finishReason`, else
   * `answered`; by default) says it ended.
   */
  readonly ended: (finishReason?: FinishReason) => ReadonlyArray<StreamPart> | ProviderError
}

const isProviderError = (u: GenerationResult | ProviderError): u is ProviderError => "_tag" in u

const isParts = (outcome: ReadonlyArray<StreamPart> | ProviderError): outcome is ReadonlyArray<StreamPart> =>
  Array.isArray(outcome)

const isNonEmpty = <A>(array: ReadonlyArray<A>): array is NonEmptyReadonlyArray<A> => array.length > 0
