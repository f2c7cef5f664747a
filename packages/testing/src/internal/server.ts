/**
 * The request handler of the mock provider server, on plain `node:http`
 * (faults such as a reset before the headers or a stall for ever need the
 * raw socket). One handler serves all four wire formats under their path
 * prefixes; per-provider state holds the fault queue, the usage settings and
 * the counters.
 *
 * The happy path is cheap: read the body, parse it once, build the reply,
 * write it in one call.
 *
 * @internal
 */
import * as Result from "effect/Result"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { MockFault } from "../MockFault.ts"
import * as Fault from "../MockFault.ts"
import { anthropic } from "./anthropic.ts"
import { chatCompletions } from "./chatCompletions.ts"
import type { Conversation, Provider, Reply, Usage, UsageSettings } from "./conversation.ts"
import { hasPrefill, makeReply, promptTokensOf } from "./conversation.ts"
import type { FaultQueue } from "./faultQueue.ts"
import { gemini } from "./gemini.ts"
import type { Route, WireError, WireFormat } from "./wire.ts"
import { header } from "./wire.ts"

/** The counters of one provider. @internal */
export interface Counters {
  requests: number
  completed: number
  cancelled: number
  stalled: number
  promptTokens: number
  completionTokens: number
  cachedPromptTokens: number
  reasoningTokens: number
}

/** Counters at zero. @internal */
export const emptyCounters = (): Counters => ({
  requests: 0,
  completed: 0,
  cancelled: 0,
  stalled: 0,
  promptTokens: 0,
  completionTokens: 0,
  cachedPromptTokens: 0,
  reasoningTokens: 0
})

/** The mutable state of one provider. @internal */
export interface ProviderState {
  readonly queue: FaultQueue
  counters: Counters
  usage: UsageSettings
  /** The holds on: each request waits for all of them before it is answered (`MockProviderServer.hold`). */
  readonly holds: Set<Hold>
}

/** A hold on a provider's requests: they wait until `released` resolves. @internal */
export interface Hold {
  readonly released: Promise<void>
  readonly release: () => void
}

/** A hold, not yet released. @internal */
export const makeHold = (): Hold => {
  let release = () => {}
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  return { released, release }
}

/** One request as the server received it, credentials left out. @internal */
export interface Received {
  readonly provider: Provider
  /** The path, without the query. */
  readonly path: string
  /** The query parameters, without Gemini's `key`. */
  readonly query: Readonly<Record<string, string>>
  /** Lower-case header names, without `authorization`, `x-api-key` and `x-goog-api-key`. */
  readonly headers: Readonly<Record<string, string>>
  /** The parsed JSON body, or the raw text when it is not JSON. */
  readonly body: unknown
}

/** Where the handler hands each request it received. @internal */
export type Recorder = (request: Received) => void

const CREDENTIAL_HEADERS = new Set(["authorization", "x-api-key", "x-goog-api-key"])

const withoutCredentials = (req: IncomingMessage): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !CREDENTIAL_HEADERS.has(name)) headers[name] = String(value)
  }
  return headers
}

const queryOf = (url: URL): Record<string, string> => {
  const query: Record<string, string> = {}
  for (const [name, value] of url.searchParams) if (name !== "key") query[name] = value
  return query
}

const NOT_JSON_BODY = Symbol("not JSON")

const parseBody = (raw: string): unknown => {
  try {
    return JSON.parse(raw)
  } catch {
    return NOT_JSON_BODY
  }
}

/** The header naming a fault for one request. @internal */
export const FAULT_HEADER = "x-mock-fault"

const WIRES: Record<Provider, WireFormat> = {
  openai: chatCompletions("openai"),
  deepseek: chatCompletions("deepseek"),
  gemini,
  anthropic
}

interface Match {
  readonly provider: Provider
  readonly route: Route
}

/** A base model's route (`models/{model}`) or a tuned model's (`tunedModels/{model}`). */
const GEMINI_PATH = /^\/gemini\/v1(?:beta)?\/(?:models|tunedModels)\/([^/]+):(generateContent|streamGenerateContent)$/

const matchRoute = (path: string): Match | undefined => {
  switch (path) {
    case "/openai/v1/chat/completions":
    case "/openai/chat/completions":
      return { provider: "openai", route: { stream: false, model: undefined } }
    case "/deepseek/chat/completions":
    case "/deepseek/v1/chat/completions":
      return { provider: "deepseek", route: { stream: false, model: undefined } }
    case "/anthropic/v1/messages":
      return { provider: "anthropic", route: { stream: false, model: undefined } }
  }
  const gemini = GEMINI_PATH.exec(path)
  if (gemini === null) return undefined
  const model = decodeURIComponent(gemini[1] ?? "").replace(/^models\//, "")
  return { provider: "gemini", route: { stream: gemini[2] === "streamGenerateContent", model } }
}

const ROUTES_HELP =
  "POST /openai/v1/chat/completions, /deepseek/chat/completions, /gemini/v1beta/models/{model}:generateContent, " +
  "/gemini/v1beta/models/{model}:streamGenerateContent?alt=sse, /anthropic/v1/messages"

const sendJson = (res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...extra
  })
  res.end(text)
}

/**
 * Whether a response carries the wait as a `retry-after` header. Gemini's 429
 * carries it only in the body (`RetryInfo.retryDelay`, as the real API: no
 * header), so that clients are tested on reading it there; on its other
 * statuses, whose bodies have no `RetryInfo`, a test's `retryAfter` stays a
 * header rather than being lost.
 */
const retryAfterHeader = (wire: WireFormat, status: number, retryAfter: string | undefined) =>
  retryAfter === undefined || (wire === WIRES.gemini && status === 429) ? {} : { "retry-after": retryAfter }

/** The `x-should-retry` header of a test's `shouldRetry`, sent as written on every wire. */
const shouldRetryHeader = (shouldRetry: string | undefined) =>
  shouldRetry === undefined ? {} : { "x-should-retry": shouldRetry }

const sendError = (
  res: ServerResponse,
  wire: WireFormat,
  error: WireError,
  retryAfter?: string,
  shouldRetry?: string
) => {
  const response = wire.error(error, retryAfter)
  sendJson(res, response.status, response.body, {
    ...retryAfterHeader(wire, response.status, retryAfter),
    ...shouldRetryHeader(shouldRetry)
  })
}

/**
 * Resolves after `ms`, or at once when the response closes. Whichever comes
 * first removes the other, so a stream of many delayed events leaves no
 * `close` listener behind (one per wait would pass Node's limit of 10).
 */
const wait = (res: ServerResponse, ms: number | "forever"): Promise<void> =>
  new Promise((resolve) => {
    if (res.destroyed) {
      resolve()
      return
    }
    const onClose = () => {
      clearTimeout(timer)
      resolve()
    }
    const timer = ms === "forever" ? undefined : setTimeout(() => {
      res.off("close", onClose)
      resolve()
    }, ms)
    res.once("close", onClose)
  })

/** Resolves when `released` does, or at once when the response closes. */
const waitFor = (res: ServerResponse, released: Promise<unknown>): Promise<void> =>
  new Promise((resolve) => {
    if (res.destroyed) {
      resolve()
      return
    }
    res.once("close", resolve)
    void released.then(() => {
      res.off("close", resolve)
      resolve()
    })
  })

/**
 * How a good reply is played out; every field is optional misbehaviour.
 * `after` counts text events (a stream's frames after the format's leading
 * ones and a thinking model's reasoning); `"end"` means before the last frame.
 */
interface Playback {
  readonly firstDelay?: number
  readonly stall?: number | "forever"
  readonly stallAfter?: number | "end" | undefined
  readonly cut?: boolean
  readonly cutAfter?: number | "end" | undefined
  readonly malformed?: boolean
  readonly malformedAfter?: number | undefined
  /** Milliseconds between two frames. */
  readonly tokenDelay?: number
}

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive"
}

const MALFORMED_EVENT = "{\"choices\":[{\"delta\":{\"content\":"

/**
 * A stream's frames, each with the usage the client has been told once it is
 * sent, and how many of them come before the first that can carry text (the
 * format's leading frames, then the reasoning of a thinking model).
 */
interface Frames {
  readonly frames: ReadonlyArray<string>
  readonly usage: ReadonlyArray<Usage | undefined>
  readonly leading: number
}

const withMalformed = (wire: WireFormat, played: Frames, after: number | undefined): Frames => {
  const at = after === undefined ? 1 : played.leading + after
  return {
    ...played,
    frames: [
      ...played.frames.slice(0, at),
      wire.frame("content_block_delta", MALFORMED_EVENT),
      ...played.frames.slice(at)
    ],
    usage: [...played.usage.slice(0, at), played.usage[at - 1], ...played.usage.slice(at)]
  }
}

/** The index of the frame after which a stall or a cut happens. */
const frameAfter = (played: Frames, after: number | "end" | undefined, fallback: number): number =>
  after === undefined
    ? fallback
    : after === "end"
    ? played.frames.length - 2
    : played.leading + after - 1

/**
 * Where a cut without `after` happens: half way through the frames after a
 * thinking model's reasoning (the reasoning sent whole), so that some of the
 * answer came.
 */
const halfWay = (wire: WireFormat, played: Frames): number => {
  const reasoning = played.leading - wire.leadingFrames
  return reasoning + Math.max(1, Math.floor((played.frames.length - reasoning) / 2)) - 1
}

/** Real milliseconds between a stream's last frame and the cut. */
const CUT_GRACE_MS = 30

const playFrames = async (
  res: ServerResponse,
  session: Session,
  wire: WireFormat,
  played: Frames,
  playback: Playback
) => {
  const { frames } = played
  res.writeHead(200, SSE_HEADERS)
  if (
    playback.firstDelay === undefined && playback.stall === undefined && playback.cut !== true &&
    playback.tokenDelay === undefined
  ) {
    res.end(frames.join(""))
    return
  }
  res.flushHeaders()
  if (playback.firstDelay !== undefined) await wait(res, playback.firstDelay)
  const cutAt = playback.cut === true ? frameAfter(played, playback.cutAfter, halfWay(wire, played)) + 1 : Infinity
  const stallAt = playback.stall === undefined ? -1 : frameAfter(played, playback.stallAfter, 0)
  for (const [i, frame] of frames.entries()) {
    if (res.destroyed) return
    if (i === cutAt) {
      // let the frames sent reach the client first, as when a connection drops mid-answer
      await wait(res, CUT_GRACE_MS)
      session.destroy()
      return
    }
    res.write(frame)
    session.reported(played.usage[i])
    if (i === stallAt && playback.stall !== undefined) {
      session.stalled()
      await wait(res, playback.stall)
    } else if (playback.tokenDelay !== undefined && i < frames.length - 1) await wait(res, playback.tokenDelay)
  }
  if (!res.destroyed) res.end()
}

const playBody = async (res: ServerResponse, session: Session, text: string, playback: Playback) => {
  const body = playback.malformed === true ? text.slice(0, Math.ceil(text.length / 2)) : text
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
  if (playback.firstDelay === undefined && playback.stall === undefined && playback.cut !== true) {
    res.end(body)
    return
  }
  res.flushHeaders()
  if (playback.firstDelay !== undefined) await wait(res, playback.firstDelay)
  const half = Math.floor(body.length / 2)
  if (!res.destroyed) res.write(body.slice(0, half))
  if (playback.cut === true) {
    session.destroy()
    return
  }
  if (playback.stall !== undefined) {
    session.stalled()
    await wait(res, playback.stall)
  }
  if (!res.destroyed) res.end(body.slice(half))
}

/** What the server does for a request, once the fault is known. */
interface Exchange {
  readonly res: ServerResponse
  readonly wire: WireFormat
  readonly conversation: Conversation
  readonly model: string
  readonly id: string
  readonly state: ProviderState
  readonly session: Session
}

/**
 * One response in flight: what to bill once it is fully sent, the usage a
 * stream has reported so far (billed if it is cut or abandoned), and how to
 * cut it (not a client cancel).
 */
interface Session {
  readonly bill: (usage: Usage) => void
  readonly reported: (usage: Usage | undefined) => void
  /** The response reached its injected stall: what came before it was written. */
  readonly stalled: () => void
  readonly destroy: () => void
}

const replyWith = (
  exchange: Exchange,
  options: {
    readonly content?: string
    /** Text events sent before the content filter stops the answer (`0`: none). */
    readonly contentFilter?: number
    /** The model's words declining, after those text events (the chat-completions wire's refusal). */
    readonly refusal?: string | undefined
    readonly resourceStop?: boolean
    readonly usage?: boolean
    readonly terminator?: boolean
    /** The whole answer in one stream event. */
    readonly oneEvent?: boolean
    /** The answer text sent as the number 42 (the whole answer in one stream event). */
    readonly illTyped?: boolean
    readonly playback?: Playback
  } = {}
): Promise<void> | void => {
  const { conversation, res, wire } = exchange
  const made: Reply = makeReply(conversation, exchange.state.usage, options)
  const reply: Reply = options.oneEvent === true || options.illTyped === true ? { ...made, deltas: [made.text] } : made
  const spoil = options.illTyped === true ? illTypedText(reply.text) : (json: string) => json
  const write = {
    id: exchange.id,
    model: exchange.model,
    usage: options.usage ?? true,
    terminator: options.terminator ?? true
  }
  exchange.session.bill(reply.usage)
  const playback = options.playback ?? {}
  if (!conversation.stream) {
    return playBody(res, exchange.session, spoil(JSON.stringify(wire.body(reply, write))), playback)
  }
  const streamed = { ...write, usage: write.usage && conversation.streamUsage }
  const frames: Frames = {
    frames: wire.events(reply, streamed).map(spoil),
    usage: wire.usageByFrame(reply, streamed),
    leading: wire.leadingFrames + wire.reasoningFrames(reply)
  }
  return playFrames(
    res,
    exchange.session,
    wire,
    playback.malformed === true ? withMalformed(wire, frames, playback.malformedAfter) : frames,
    playback
  )
}

/** Replaces the answer text, a JSON string, by a number in serialised JSON (the text occurs once). */
const illTypedText = (text: string) => {
  const quoted = JSON.stringify(text)
  return (json: string): string => json.replace(quoted, "42")
}

const WRONG_SHAPE = "{\"unexpected\":true}"

const playWrongShape = (exchange: Exchange) => {
  const { conversation, res, wire } = exchange
  if (!conversation.stream) {
    sendJson(res, 200, { unexpected: true })
    return
  }
  res.writeHead(200, SSE_HEADERS)
  res.end(wire.frame("message_start", WRONG_SHAPE) + wire.frame("message_stop", WRONG_SHAPE))
}

const PREFILL_REJECTED =
  "This model does not support assistant message prefill. The conversation must end with a user message."

const NOT_JSON = "<html><head><title>502 Bad Gateway</title></head><body>mock proxy error</body></html>"

const ENDLESS_CHUNK = "x".repeat(64 * 1024)

/** A reply that never ends: a body (or one stream event) opened, then text as fast as the client reads it. */
const writeEndless = (exchange: Exchange): Promise<void> =>
  new Promise((resolve) => {
    const { conversation, res } = exchange
    res.writeHead(200, conversation.stream ? SSE_HEADERS : { "content-type": "application/json" })
    res.write(conversation.stream ? "data: {\"text\":\"" : "{\"text\":\"")
    const fill = () => {
      while (!res.destroyed && res.write(ENDLESS_CHUNK)) {
        // the socket buffer has room: keep writing
      }
    }
    res.on("drain", fill)
    res.once("close", () => {
      resolve()
    })
    fill()
  })

const play = async (exchange: Exchange, fault: MockFault | undefined): Promise<void> => {
  const { conversation, res, wire } = exchange
  if (fault === undefined) return replyWith(exchange)
  switch (fault._tag) {
    case "Status": {
      sendError(res, wire, { ...fault, _tag: "Status" }, fault.retryAfter, fault.shouldRetry)
      return
    }
    case "RateLimited": {
      sendError(res, wire, { _tag: "RateLimited" }, fault.retryAfter)
      return
    }
    case "QuotaExhausted": {
      sendError(res, wire, { _tag: "QuotaExhausted" })
      return
    }
    case "ContextLengthExceeded": {
      sendError(res, wire, { _tag: "ContextLength", promptTokens: promptTokensOf(conversation) })
      return
    }
    case "ContentFilter":
      return replyWith(exchange, { contentFilter: fault.after ?? 0, refusal: fault.refusal })
    case "ResourceStop":
      return replyWith(exchange, { resourceStop: true })
    case "Latency":
      await wait(res, fault.ms)
      return res.destroyed ? undefined : play(exchange, fault.then)
    case "NoResponse":
      return wait(res, "forever")
    case "SlowFirstToken":
      return replyWith(exchange, { playback: { firstDelay: fault.ms } })
    case "SlowTokens":
      return replyWith(exchange, {
        ...(fault.content === undefined ? {} : { content: fault.content }),
        playback: { tokenDelay: fault.ms }
      })
    case "StallMidStream":
      return replyWith(exchange, { playback: { stall: fault.ms, stallAfter: fault.after } })
    case "ResetBeforeHeaders": {
      // a TCP reset: not the plain close of an idle keep-alive connection, which clients send again
      res.socket?.resetAndDestroy()
      exchange.session.destroy()
      return
    }
    case "NotJson":
      res.writeHead(200, { "content-type": "text/html" })
      res.end(NOT_JSON)
      return
    case "WrongShape": {
      playWrongShape(exchange)
      return
    }
    case "IllTyped":
      return replyWith(exchange, { illTyped: true })
    case "CutStream":
      return replyWith(exchange, { playback: { cut: true, cutAfter: fault.after } })
    case "MalformedEvent":
      return replyWith(exchange, { playback: { malformed: true, malformedAfter: fault.after } })
    case "NoTerminator":
      return replyWith(exchange, { terminator: false })
    case "Oversized":
      return fault.bytes === "forever"
        ? writeEndless(exchange)
        : replyWith(exchange, { content: "x".repeat(fault.bytes), oneEvent: true })
    case "NoUsage":
      return replyWith(exchange, { usage: false })
    case "RejectPrefill":
      if (!hasPrefill(conversation)) return replyWith(exchange)
      {
        sendError(res, wire, { _tag: "InvalidRequest", message: PREFILL_REJECTED })
        return
      }
    case "Content":
      return replyWith(exchange, { content: fault.text })
  }
}

const parseFault = (text: string, source: string): MockFault | string => {
  const result = Fault.parse(text)
  return Result.isSuccess(result)
    ? result.success
    : `${result.failure.message} (from ${source}; see the @baton/testing README for the fault syntax)`
}

const splitModel = (model: string): readonly [string, string | undefined] => {
  const at = model.indexOf("@")
  return at === -1 ? [model, undefined] : [model.slice(0, at), model.slice(at + 1)]
}

const chooseFault = (
  req: IncomingMessage,
  suffix: string | undefined,
  state: ProviderState
): MockFault | string | undefined => {
  const fromHeader = header(req.headers, FAULT_HEADER)
  if (fromHeader !== undefined) return parseFault(fromHeader, `the ${FAULT_HEADER} header`)
  if (suffix !== undefined) return parseFault(suffix, "the model name suffix")
  return state.queue.next()
}

/** Counts the response's end in the provider's counters; see {@link Session}. */
const track = (res: ServerResponse, state: ProviderState): Session => {
  let billed: Usage | undefined
  let reported: Usage | undefined
  let destroyedByServer = false
  const charge = (usage: Usage | undefined) => {
    if (usage === undefined) return
    const c = state.counters
    c.promptTokens += usage.promptTokens
    c.completionTokens += usage.completionTokens
    c.cachedPromptTokens += usage.cachedPromptTokens
    c.reasoningTokens += usage.reasoningTokens
  }
  res.once("finish", () => {
    state.counters.completed++
    charge(billed)
  })
  res.once("close", () => {
    if (res.writableFinished) return
    if (!destroyedByServer) state.counters.cancelled++
    // a stream cut or abandoned mid-way is billed what it had reported
    charge(reported)
  })
  return {
    bill: (usage) => {
      billed = usage
    },
    reported: (usage) => {
      if (usage !== undefined) reported = usage
    },
    stalled: () => {
      state.counters.stalled++
    },
    destroy: () => {
      destroyedByServer = true
      res.destroy()
    }
  }
}

const respond = (
  req: IncomingMessage,
  res: ServerResponse,
  match: Match,
  raw: string,
  state: ProviderState,
  id: string,
  session: Session,
  record: Recorder
): Promise<void> | void => {
  const wire = WIRES[match.provider]
  const url = new URL(req.url ?? "/", "http://mock")
  const body = parseBody(raw)
  record({
    provider: match.provider,
    path: url.pathname,
    query: queryOf(url),
    headers: withoutCredentials(req),
    body: body === NOT_JSON_BODY ? raw : body
  })
  const unauthorized = wire.checkAuth(req.headers, url.searchParams)
  if (unauthorized !== undefined) {
    sendError(res, wire, { _tag: "Unauthorized", message: unauthorized })
    return
  }
  if (match.route.stream && url.searchParams.get("alt") !== "sse") {
    sendError(res, wire, { _tag: "InvalidRequest", message: "the mock server streams only with ?alt=sse" })
    return
  }
  if (body === NOT_JSON_BODY) {
    sendError(res, wire, { _tag: "InvalidRequest", message: "the request body is not valid JSON" })
    return
  }
  const conversation = wire.parse(body, match.route, req.headers)
  if (typeof conversation === "string") {
    sendError(res, wire, { _tag: "InvalidRequest", message: conversation })
    return
  }
  const [model, suffix] = splitModel(conversation.model)
  const fault = chooseFault(req, suffix, state)
  if (typeof fault === "string") {
    sendError(res, wire, { _tag: "InvalidRequest", message: fault })
    return
  }
  const exchange = { res, wire, conversation, model, id, state, session }
  if (state.holds.size === 0) return play(exchange, fault)
  const released = Promise.all([...state.holds].map((hold) => hold.released))
  return waitFor(res, released).then(() => res.destroyed ? undefined : play(exchange, fault))
}

/**
 * The `node:http` request listener over the given per-provider state; every
 * request on a provider route goes to `record` before it is answered.
 *
 * @internal
 */
export const makeHandler = (states: Record<Provider, ProviderState>, record: Recorder) => {
  let sequence = 0
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/"
    const match = req.method === "POST" ? matchRoute(path) : undefined
    if (match === undefined) {
      req.resume()
      sendJson(res, 404, {
        error: { message: `mock provider server: no route for ${req.method} ${path}; expected ${ROUTES_HELP}` }
      })
      return
    }
    const state = states[match.provider]
    state.counters.requests++
    const id = `mock-${match.provider}-${++sequence}`
    const session = track(res, state)
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.once("end", () => {
      void respond(req, res, match, Buffer.concat(chunks).toString("utf8"), state, id, session, record)
    })
  }
}
