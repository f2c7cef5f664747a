/**
 * A provider's stream read by its push (`LlmProvider.pushOf`: how the
 * manager's `generate` and `stream` read it, under its supervisor) hands the
 * same parts, fails with the same error and tells the supervisor the same
 * usage as the stream pulled, on every adapter, whole or broken, over the
 * adapter's own undici dispatcher or any other `HttpClient`, to a consumer
 * that takes each batch at once or holds the push after each; a throw of the consumer
 * ends the read as a defect, the connection closed, the process unharmed;
 * without a supervisor the push is the pull; a stream made from another (a
 * wrapper's `Stream.map`) has no push. Over real HTTP from the mock server.
 */
import type { StreamPart } from "@baton/core/GenerationResult"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import type { TokenUsage } from "@baton/core/TokenUsage"
import * as LiveWait from "@baton/testing/LiveWait"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Redacted, Stream } from "effect"
import { Bench } from "../../core/test/utils/chain.ts"
import * as Anthropic from "../src/Anthropic.ts"
import * as DeepSeek from "../src/DeepSeek.ts"
import * as Gemini from "../src/Gemini.ts"
import * as OpenAi from "../src/OpenAi.ts"
import { throughClient } from "./utils/throughClient.ts"

const apiKey = Redacted.make("sk-test-key")

/** Events of at most 4 KiB: a longer one fails the stream. */
const maxEventBytes = 4096

const adapters = {
  openai: (baseUrl: string) => OpenAi.layer({ apiKey, baseUrl, maxEventBytes }),
  deepseek: (baseUrl: string) => DeepSeek.layer({ apiKey, baseUrl, maxEventBytes }),
  gemini: (baseUrl: string) => Gemini.layer({ apiKey, baseUrl, maxEventBytes }),
  anthropic: (baseUrl: string) => Anthropic.layer({ apiKey, baseUrl, maxEventBytes })
} as const

const models = {
  openai: "gpt-4o-mini",
  deepseek: "deepseek-chat",
  gemini: "gemini-2.5-flash",
  anthropic: "claude-sonnet-4-5"
} as const

/**
 * Whole, cut after text, a malformed event after text (a hole under a supervisor), an event over the size limit
 * (200 kB), no usage, cut at a stop sequence.
 */
const cases = [
  ["whole", "", undefined],
  ["cut", "@cutStream;after=2", undefined],
  ["malformed event", "@malformedEvent;after=2", undefined],
  ["event over the limit", "@oversized=200000", undefined],
  ["no usage", "@noUsage", undefined],
  ["stopped at a stop sequence", "@content=one%20two%20STOP%20three", ["STOP"]]
] as const

/** What a read saw: its parts (ids the server numbers per response left out), its end, what the supervisor heard. */
interface Seen {
  readonly parts: ReadonlyArray<StreamPart>
  readonly exit: Exit.Exit<void, unknown>
  readonly usage: ReadonlyArray<TokenUsage>
}

const comparable = (part: StreamPart): StreamPart => part._tag === "Finish" ? { ...part, responseId: undefined } : part

/** The error of a failed read, its message as said (a cut's text may differ in ids only), or the success. */
const outcome = (exit: Exit.Exit<void, unknown>) => Exit.isSuccess(exit) ? "success" : Cause.squash(exit.cause)

/**
 * Reads `stream` under a recording supervisor: pulled, pushed, or pushed to a consumer that holds every batch and
 * resumes the push on a later turn of the event loop (a caller slower than the provider).
 */
const read = (stream: Stream.Stream<StreamPart, unknown>, how: "pull" | "push" | "push, held") =>
  Effect.gen(function*() {
    const parts: Array<StreamPart> = []
    const usage: Array<TokenUsage> = []
    const supervisor: LlmProvider.Supervisor = { usage: (reported) => usage.push(reported) }
    const push = LlmProvider.pushOf(stream)
    const run = how === "pull"
      ? Stream.runForEachArray(stream, (chunk) => Effect.sync(() => parts.push(...chunk)))
      : push === undefined
      ? Effect.die("the adapter's stream has no push")
      : push((chunk) => {
        parts.push(...chunk)
        return how === "push" ? undefined : (resume) => {
          setTimeout(resume, 1)
        }
      })
    const exit = yield* Effect.exit(Effect.provideService(run, LlmProvider.Supervisor, supervisor))
    return { parts: parts.map(comparable), exit, usage } satisfies Seen
  })

const providerOf = <E, R>(layer: Layer.Layer<LlmProvider.LlmProvider, E, R>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, LlmProvider.LlmProvider))

describe("a provider's stream pushed as the manager reads it", () => {
  for (const [name, adapter] of Object.entries(adapters)) {
    const provider = name as keyof typeof adapters
    for (const [what, fault, stop] of cases) {
      for (const via of ["undici", "another HttpClient"] as const) {
        it.live(`${name}, ${what}, over ${via}: the same parts, end and usage as pulled`, () =>
          Effect.gen(function*() {
            const mock = yield* MockProviderServer.MockProviderServer
            const layer = adapter(mock.baseUrl(provider))
            const llm = yield* providerOf(via === "undici" ? layer : Layer.provide(layer, throughClient))
            const request = yield* LlmRequest.make({
              prompt: "hi",
              options: { model: `${models[provider]}${fault}`, ...(stop === undefined ? {} : { stop }) }
            })
            const pulled = yield* read(llm.stream(request), "pull")
            for (const how of ["push", "push, held"] as const) {
              const pushed = yield* read(llm.stream(request), how)
              assert.deepStrictEqual(pushed.parts, pulled.parts, how)
              assert.deepStrictEqual(outcome(pushed.exit), outcome(pulled.exit), how)
              assert.deepStrictEqual(pushed.usage, pulled.usage, how)
            }
          }).pipe(Effect.provide(Bench), Effect.scoped))
      }
    }
  }

  it.live("a throw of the consumer is the read's defect, and the server sees the connection closed", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const llm = yield* providerOf(adapters.openai(mock.baseUrl("openai")))
      const request = yield* LlmRequest.make({ prompt: "hi", options: { model: "gpt-4o-mini@slowTokens=20" } })
      const push = LlmProvider.pushOf(llm.stream(request))
      assert.isDefined(push)
      const bug = new TypeError("the consumer's bug")
      const exit = yield* Effect.exit(
        Effect.provideService(
          push((parts) => {
            if (parts.some((part) => part._tag === "TextDelta" && part.text.length > 0)) throw bug
          }),
          LlmProvider.Supervisor,
          { usage: () => undefined }
        )
      )
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), String(exit))
      assert.strictEqual(Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined, bug)
      // the server sees the answer left before its end
      yield* LiveWait.eventually(Effect.map(mock.stats("openai"), (stats) => stats.cancelled === 1))
    }).pipe(Effect.provide(Bench), Effect.scoped))

  it.live("without a supervisor the push is the pull, and a stream made from one has none", () =>
    Effect.gen(function*() {
      const mock = yield* MockProviderServer.MockProviderServer
      const llm = yield* providerOf(adapters.deepseek(mock.baseUrl("deepseek")))
      const request = yield* LlmRequest.make({ prompt: "hi" })
      const pulled = yield* Stream.runCollect(llm.stream(request))
      const pushed: Array<StreamPart> = []
      const push = LlmProvider.pushOf(llm.stream(request))
      assert.isDefined(push)
      yield* push((parts) => {
        pushed.push(...parts)
        return undefined
      })
      assert.deepStrictEqual(pushed.map(comparable), pulled.map(comparable))
      assert.isUndefined(LlmProvider.pushOf(Stream.map(llm.stream(request), (part) => part)))
    }).pipe(Effect.provide(Bench), Effect.scoped))
})
