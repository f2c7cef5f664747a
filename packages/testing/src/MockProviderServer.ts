/**
 * A real HTTP server on 127.0.0.1 that imitates the OpenAI, DeepSeek, Gemini
 * and Anthropic APIs closely enough for their official clients, and that
 * misbehaves on demand.
 *
 * Point a client at `server.baseUrl(provider)`:
 *
 * | Provider | Base URL | Endpoint |
 * |---|---|---|
 * | `openai` | `{url}/openai/v1` | `POST {base}/chat/completions` |
 * | `deepseek` | `{url}/deepseek` | `POST {base}/chat/completions` |
 * | `gemini` | `{url}/gemini/v1beta` | `POST {base}/models/{model}:generateContent`, `:streamGenerateContent?alt=sse` (`tunedModels/{model}` alike) |
 * | `anthropic` | `{url}/anthropic` | `POST {base}/v1/messages` |
 *
 * (`@google/genai` appends the API version itself: give it
 * `httpOptions: { baseUrl: server.url + "/gemini", apiVersion: "v1beta" }`.)
 *
 * Replies are deterministic: the text is `Mock answer from <provider>: <the
 * first 12 words of the last user message>`, a request asking for JSON gets a
 * JSON value satisfying its schema (`{"answer": ...}` without one), an
 * assistant prefill is continued, and `max_tokens` cuts the text (finish
 * reason `length`). Tokens are counted as `ceil(chars / 4)` per message in and
 * of the reply text out; `setUsage` adds cached input and reasoning tokens to
 * what is reported. Credentials must be present (any value) and Anthropic
 * requests need `anthropic-version` and `max_tokens`, as the real APIs do.
 *
 * Reasoning models, as their tool loops need: a Gemini 3 or later model
 * (`gemini-3.5-flash`) signs its function calls (`thoughtSignature`) and
 * answers 400 when a call of the current turn comes back unsigned (Google's
 * `skip_thought_signature_validator` passes); DeepSeek thinks by default, as
 * its API does (`deepseek-flash`, `deepseek-v4-pro`, every name but the
 * legacy non-thinking `deepseek-chat`, unless the request says `thinking: {
 * type: "disabled" }`; `deepseek-reasoner` always): it writes its reasoning
 * in `reasoning_content` (streamed whole before the answer; `max_tokens`
 * counts it, so a small limit leaves the answer empty with finish `length`),
 * bills it as reasoning tokens, and answers 400 when an assistant message
 * comes back without one between two user messages where the model called a
 * tool (the answer after the results too). Fault positions (`after`) count
 * the answer's text events, never the reasoning's. Other models answer as
 * before.
 *
 * Faults (see `MockFault`) come from, in order of precedence: an
 * `x-mock-fault` request header, a model-name suffix (`gpt-4o-mini@status=503`),
 * or the queue filled by `inject`. `stats` counts requests, fully sent
 * responses (errors included), client cancellations and the tokens billed for
 * replies fully sent (billed even when a `noUsage` fault hid them).
 * `received` lists the requests themselves (path, query, headers without
 * credentials, parsed body), so a test can assert on what reached the wire.
 * `hold` keeps a provider's requests unanswered until its scope closes, so a
 * test can watch what a client does meanwhile without timing it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as MockFault from "@baton/testing/MockFault"
 * import * as MockProviderServer from "@baton/testing/MockProviderServer"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* MockProviderServer.MockProviderServer
 *   yield* server.inject("openai", MockFault.status(503), { times: 2 })
 *   // ... call server.baseUrl("openai") three times: 503, 503, 200
 *   return yield* server.stats("openai")
 * }).pipe(Effect.provide(MockProviderServer.layer()))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { createServer } from "node:http"
import type { Provider } from "./internal/conversation.ts"
import type { FaultSchedule } from "./internal/faultQueue.ts"
import { makeFaultQueue, seededRandom } from "./internal/faultQueue.ts"
import type { Counters, ProviderState, Received } from "./internal/server.ts"
import { emptyCounters, makeHandler, makeHold } from "./internal/server.ts"
import type { MockFault } from "./MockFault.ts"

/**
 * The wire formats the server speaks.
 *
 * @since 0.1.0
 */
export type MockProvider = Provider

/**
 * All providers, in a stable order.
 *
 * @since 0.1.0
 */
export const providers: ReadonlyArray<MockProvider> = ["openai", "deepseek", "gemini", "anthropic"]

/**
 * When an injected fault fires: the next `times` calls (default 1), every
 * call during the next `forMs` milliseconds of real time, or each call with
 * `probability` (drawn from the server's seed, so runs repeat).
 *
 * @since 0.1.0
 */
export type MockSchedule = FaultSchedule

/**
 * What the server saw and billed for one provider.
 *
 * @since 0.1.0
 */
export interface MockStats {
  /** Requests received on the provider's routes. */
  readonly requests: number
  /** Responses fully sent, errors included. */
  readonly completed: number
  /** Responses the client closed the connection on before they finished. */
  readonly cancelled: number
  /**
   * Responses that reached the stall `MockFault.stallMidStream` injected, what
   * came before it written: a test waits for it before stopping its client
   * mid-answer, instead of sleeping.
   */
  readonly stalled: number
  /** Input tokens billed, cached ones included. */
  readonly promptTokens: number
  /** Output tokens billed, reasoning included. */
  readonly completionTokens: number
  readonly cachedPromptTokens: number
  readonly reasoningTokens: number
}

/**
 * One request as the server received it: where it went and what it carried,
 * credentials left out (no `authorization`, `x-api-key` or `x-goog-api-key`
 * header, no `key` query parameter).
 *
 * @since 0.1.0
 */
export type MockRequest = Received

/**
 * Extra usage the server reports on every reply of a provider: that many
 * input tokens as cached (at most the prompt), and that many reasoning tokens
 * on top of the text's own output tokens.
 *
 * @since 0.1.0
 */
export interface MockUsage {
  readonly cachedPromptTokens?: number | undefined
  readonly reasoningTokens?: number | undefined
}

/**
 * Where and how to start the server. Defaults: `127.0.0.1`, a free port,
 * seed 1.
 *
 * @since 0.1.0
 */
export interface MockServerOptions {
  readonly port?: number | undefined
  readonly host?: string | undefined
  readonly seed?: number | undefined
}

/**
 * The server could not listen (port taken, bad host, ...).
 *
 * @since 0.1.0
 */
export class MockServerStartError extends Data.TaggedError("MockServerStartError")<{
  readonly message: string
  readonly cause: unknown
}> {}

/**
 * A running mock provider server.
 *
 * @since 0.1.0
 */
export class MockProviderServer extends Context.Service<MockProviderServer, {
  /** `http://host:port`, no trailing slash. */
  readonly url: string
  /** The base URL an official client of `provider` is pointed at. */
  readonly baseUrl: (provider: MockProvider) => string
  /** Queues a fault for `provider` (default schedule: the next call). */
  readonly inject: (provider: MockProvider, fault: MockFault, schedule?: MockSchedule) => Effect.Effect<void>
  /** Clears every provider's faults, usage settings and counters. */
  readonly reset: Effect.Effect<void>
  readonly stats: (provider: MockProvider) => Effect.Effect<MockStats>
  /**
   * The requests received for `provider` (every provider when omitted), in
   * the order they arrived, parsed bodies included; the last
   * {@link RECEIVED_KEPT} are kept, until `reset`.
   */
  readonly received: (provider?: MockProvider) => Effect.Effect<ReadonlyArray<MockRequest>>
  /** Sets the cached and reasoning tokens reported for `provider`, until `reset`. */
  readonly setUsage: (provider: MockProvider, usage: MockUsage) => Effect.Effect<void>
  /**
   * Holds `provider`'s requests until the scope closes: each valid one is
   * received (counted, listed by `received`, its fault taken) and left
   * unanswered until every hold on its provider when it came is released
   * (holds stack: one released leaves another's requests held); `reset`
   * releases them all and ends every hold: a request coming after it is
   * answered, though the hold's scope is still open. A test so keeps a call on the wire until it has seen
   * what it waits for, however slow the machine, not for a span of real
   * time. A request never released stays open (until the test's timeout).
   */
  readonly hold: (provider: MockProvider) => Effect.Effect<void, never, Scope.Scope>
}>()("@baton/testing/MockProviderServer") {}

const BASE_PATHS: Record<MockProvider, string> = {
  openai: "/openai/v1",
  deepseek: "/deepseek",
  gemini: "/gemini/v1beta",
  anthropic: "/anthropic"
}

const noUsage = { cachedPromptTokens: 0, reasoningTokens: 0 }

const freshState = (random: () => number): ProviderState => ({
  queue: makeFaultQueue(Date.now, random),
  counters: emptyCounters(),
  usage: noUsage,
  holds: new Set()
})

const makeStates = (seed: number): Record<MockProvider, ProviderState> => {
  const random = seededRandom(seed)
  return {
    openai: freshState(random),
    deepseek: freshState(random),
    gemini: freshState(random),
    anthropic: freshState(random)
  }
}

/** Puts every provider back to its start state, the seeded draws included, its held requests released. */
const resetStates = (states: Record<MockProvider, ProviderState>, seed: number): void => {
  for (const state of Object.values(states)) {
    for (const hold of state.holds) hold.release()
  }
  Object.assign(states, makeStates(seed))
}

/** Holds `provider`'s requests (see `hold`) until the scope closes. */
const holdRequests = (
  states: Record<MockProvider, ProviderState>,
  provider: MockProvider
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.acquireRelease(
    Effect.sync(() => {
      const hold = makeHold()
      const holds = states[provider].holds
      holds.add(hold)
      return { hold, holds }
    }),
    ({ hold, holds }) =>
      Effect.sync(() => {
        holds.delete(hold)
        hold.release()
      })
  ))

type NodeServer = ReturnType<typeof createServer>

/**
 * How many received requests the server keeps (older ones are dropped, so a
 * long benchmark does not grow without bound).
 *
 * @since 0.1.0
 */
export const RECEIVED_KEPT = 1_000

/** The received requests, the last `RECEIVED_KEPT` of them (dropped in halves, not one by one). */
const makeLog = () => {
  let requests: Array<Received> = []
  return {
    record: (request: Received) => {
      requests.push(request)
      if (requests.length >= 2 * RECEIVED_KEPT) requests = requests.slice(-RECEIVED_KEPT)
    },
    read: (provider: MockProvider | undefined): ReadonlyArray<Received> =>
      requests.slice(-RECEIVED_KEPT).filter((request) => provider === undefined || request.provider === provider),
    clear: () => {
      requests = []
    }
  }
}

const listen = (
  options: MockServerOptions,
  states: Record<MockProvider, ProviderState>,
  record: (request: Received) => void
) =>
  Effect.callback<NodeServer, MockServerStartError>((resume) => {
    const server = createServer(makeHandler(states, record))
    server.once(
      "error",
      (cause) => {
        resume(Effect.fail(new MockServerStartError({ message: `mock provider server: ${cause.message}`, cause })))
      }
    )
    try {
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
        resume(Effect.succeed(server))
      })
    } catch (cause) {
      // a port out of range throws at once (RangeError): a start error like the others, not a defect
      const message = cause instanceof Error ? cause.message : String(cause)
      resume(Effect.fail(new MockServerStartError({ message: `mock provider server: ${message}`, cause })))
    }
  })

const close = (server: NodeServer) =>
  Effect.callback<undefined>((resume) => {
    server.close(() => {
      resume(Effect.undefined)
    })
    server.closeAllConnections()
  })

const urlOf = (server: NodeServer): string => {
  const address = server.address()
  if (address === null || typeof address === "string") return `http://${String(address)}`
  return address.family === "IPv6"
    ? `http://[${address.address}]:${address.port}`
    : `http://${address.address}:${address.port}`
}

const snapshot = (counters: Counters): MockStats => ({ ...counters })

/**
 * Starts a server in the current scope; it stops when the scope closes
 * (open connections, stalled streams included, are dropped).
 *
 * @since 0.1.0
 */
export const start = Effect.fnUntraced(function*(options: MockServerOptions = {}) {
  const seed = options.seed ?? 1
  const states = makeStates(seed)
  const log = makeLog()
  const server = yield* Effect.acquireRelease(listen(options, states, log.record), close)
  const url = urlOf(server)
  return MockProviderServer.of({
    url,
    baseUrl: (provider) => `${url}${BASE_PATHS[provider]}`,
    inject: (provider, fault, schedule = { times: 1 }) =>
      Effect.sync(() => {
        states[provider].queue.add(fault, schedule)
      }),
    reset: Effect.sync(() => {
      resetStates(states, seed)
      log.clear()
    }),
    stats: (provider) => Effect.sync(() => snapshot(states[provider].counters)),
    received: (provider) => Effect.sync(() => log.read(provider)),
    setUsage: (provider, usage) =>
      Effect.sync(() => {
        const state = states[provider]
        state.usage = {
          cachedPromptTokens: usage.cachedPromptTokens ?? state.usage.cachedPromptTokens,
          reasoningTokens: usage.reasoningTokens ?? state.usage.reasoningTokens
        }
      }),
    hold: (provider) => holdRequests(states, provider)
  })
}) satisfies (options?: MockServerOptions) => Effect.Effect<
  MockProviderServer["Service"],
  MockServerStartError,
  Scope.Scope
>

/**
 * The server as a scoped layer: started when the layer is built, stopped
 * when it is released.
 *
 * @since 0.1.0
 */
export const layer = (options: MockServerOptions = {}): Layer.Layer<MockProviderServer, MockServerStartError> =>
  Layer.effect(MockProviderServer, start(options))
