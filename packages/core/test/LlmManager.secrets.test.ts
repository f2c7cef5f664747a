/**
 * The whole stack, built from configuration, never lets a key out: not in
 * the JSON request log, the app's logs, the errors (messages, JSON, pretty
 * causes) or any span attribute, even when a provider echoes the key back.
 */
import * as OpenAi from "@baton/providers/OpenAi"
import * as OpenAiCompatible from "@baton/providers/OpenAiCompatible"
import * as Providers from "@baton/providers/Providers"
import * as LeakCheck from "@baton/testing/LeakCheck"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as RawServer from "@baton/testing/RawServer"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Layer, Logger, Redacted, Schema, Stream, Tracer } from "effect"
import * as FallbackPolicy from "../src/FallbackPolicy.ts"
import * as LlmConfig from "../src/LlmConfig.ts"
import { AllProvidersFailed } from "../src/LlmError.ts"
import * as LlmManager from "../src/LlmManager.ts"
import * as Pricing from "../src/Pricing.ts"
import { InvalidRequest, ProviderUnavailable } from "../src/ProviderError.ts"
import * as RequestLog from "../src/RequestLog.ts"
import * as UsageLedger from "../src/UsageLedger.ts"
import { recordingTracer } from "./utils/tracer.ts"

const deepseekKey = "sk-canary-deepseek-5b1e9c"
const geminiKey = "AIzaCanaryGeminiKey0123456789abcdef"

describe("LlmManager secrets", () => {
  it.live("a canary key never appears in logs, errors or spans", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      const check = LeakCheck.make()
      const records: Array<string> = []
      const requestLog = RequestLog.jsonSink(Logger.make((options) => {
        records.push(JSON.stringify(options.message))
      }))
      const Config = LlmConfig.layerFromRecord({
        DEEPSEEK_API_KEY: deepseekKey,
        GEMINI_API_KEY: geminiKey,
        DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
        GEMINI_BASE_URL: server.baseUrl("gemini"),
        LLM_MAX_RETRIES: "0"
      })
      const Manager = LlmManager.layerConfig({
        deepseek: Providers.layerFromConfig("deepseek"),
        gemini: Providers.layerFromConfig("gemini")
      }).pipe(
        Layer.provide(Layer.unwrap(Effect.map(RequestLog.optionsFromConfig, (o) => RequestLog.layer([requestLog], o)))),
        Layer.provide([UsageLedger.layerMemory(), LlmConfig.layerPricing, NodeHttpClient.layerUndici]),
        Layer.provide(Config)
      )
      const errors = yield* Effect.gen(function*() {
        const manager = yield* LlmManager.LlmManager
        yield* server.inject(
          "deepseek",
          MockFault.status(401, { message: `Incorrect API key provided: ${deepseekKey}` })
        )
        yield* server.inject("gemini", MockFault.status(400, { message: `API key not valid: ${geminiKey}` }))
        const failed = yield* Effect.flip(manager.generate({ prompt: "Hello", metadata: { subjectId: "teacher-1" } }))
        yield* Effect.logError("generation failed", failed)
        const ok = yield* manager.generate({ prompt: "Hello again" })
        yield* Effect.logInfo("generated", ok)
        // cut after text reached the caller: a StreamInterrupted listing both attempts, gemini's with its 403
        yield* server.inject("deepseek", MockFault.cutStreamAfter(2))
        yield* server.inject("gemini", MockFault.status(403, { message: `Permission denied for ${geminiKey}` }))
        const cut = yield* Effect.flip(Stream.runDrain(manager.stream({ prompt: "Tell me a long story" })))
        yield* Effect.logWarning("stream failed", cut)
        return [failed, cut]
      }).pipe(Effect.withSpan("secrets.test"), Effect.provide(Manager), check.capture)
      check.addErrors(errors)
      assert.strictEqual(errors[0]?._tag, "AllProvidersFailed")
      const cut = errors[1]
      assert.strictEqual(cut?._tag, "StreamInterrupted")
      if (cut?._tag === "StreamInterrupted") {
        assert.deepStrictEqual(cut.attempts?.map((a): Array<string | undefined> => [a.provider, a.error?._tag]), [
          ["deepseek", "ProviderConnectionFailed"],
          ["gemini", "ProviderAuthenticationFailed"]
        ])
      }
      assert.isAbove(records.length, 2, "request log records captured")
      assert.isAbove(check.counts().spans, 2)
      const seen = [...check.texts(), ...records].join("\n")
      for (const key of [deepseekKey, geminiKey]) {
        assert.notInclude(seen, key)
        assert.notInclude(seen, key.slice(4, -2))
      }
      assert.notInclude(records.join("\n"), "Hello again", "no prompt text in the request log by default")
    }).pipe(Effect.scoped))
})

/**
 * The manager `LlmManager.layerConfig` builds from `variables`, its request
 * log's JSON records kept in `records`.
 */
const configuredManager = (variables: Record<string, string>) => {
  const records: Array<string> = []
  const requestLog = RequestLog.jsonSink(Logger.make((options) => {
    records.push(JSON.stringify(options.message))
  }))
  const Manager = LlmManager.layerConfig(Providers.layersFromConfig).pipe(
    Layer.provide(Layer.unwrap(Effect.map(RequestLog.optionsFromConfig, (o) => RequestLog.layer([requestLog], o)))),
    Layer.provide([UsageLedger.layerMemory(), LlmConfig.layerPricing, NodeHttpClient.layerUndici]),
    Layer.provide(LlmConfig.layerFromRecord(variables))
  )
  return { Manager, records }
}

/**
 * Every rendering of a request that failed through the manager built from
 * `variables` after `faults` were injected (logs, error, spans, the request
 * log's records), checked to have failed on every provider and been logged.
 */
const renderedFailure = (variables: Record<string, string>, faults: ReadonlyArray<Effect.Effect<void>>) =>
  Effect.gen(function*() {
    const check = LeakCheck.make()
    const { Manager, records } = configuredManager(variables)
    const failed = yield* Effect.gen(function*() {
      yield* Effect.all(faults)
      const error = yield* Effect.flip(LlmManager.LlmManager.use((manager) => manager.generate({ prompt: "Hello" })))
      yield* Effect.logError("generation failed", error)
      return error
    }).pipe(Effect.withSpan("rendered.test"), Effect.provide(Manager), check.capture)
    check.addErrors([failed])
    assert.strictEqual(failed._tag, "AllProvidersFailed")
    assert.isAbove(records.length, 1)
    const seen = [...check.texts(), ...records].join("\n")
    assert.include(seen, "[redacted]")
    return seen
  })

describe("LlmManager: a key a provider echoes masked", () => {
  it.live("its prefix before the mask (sk-CANAR****7890) is [redacted] in logs, errors, spans and the request log", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      const hostedKey = "sk-CANARY-hosted-1234567890"
      // not key-shaped: only the configured value can catch it
      const compatKey = "local-CANARY-7654321"
      const masked = (key: string) => `${key.slice(0, 8)}${"*".repeat(12)}${key.slice(-4)}`
      const seen = yield* renderedFailure({
        LLM_CHAIN: "deepseek,local/llama3.2",
        DEEPSEEK_API_KEY: hostedKey,
        DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
        LLM_COMPAT_LOCAL_BASE_URL: server.baseUrl("openai"),
        LLM_COMPAT_LOCAL_API_KEY: compatKey,
        LLM_MAX_RETRIES: "0"
      }, [
        server.inject(
          "deepseek",
          MockFault.status(401, { message: `Incorrect API key provided: ${masked(hostedKey)}.` })
        ),
        server.inject("openai", MockFault.status(401, { message: `invalid key ${masked(compatKey)}` }))
      ])
      for (const key of [hostedKey, compatKey]) assert.notInclude(seen, key.slice(0, 8), key)
    }).pipe(Effect.scoped))
})

describe("LlmManager: a credential in a base URL's query", () => {
  it.live("its value (Gemini's ?key=, a proxy's ?access_token=) is scrubbed from logs, errors, spans and the request log", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      // not key-shaped: only the configured value can catch it; the token written percent-encoded in the URL
      const urlKey = "url-CANARY-gemini-24680"
      const urlToken = "url-CANARY+token/13579"
      const written = encodeURIComponent(urlToken)
      const seen = yield* renderedFailure({
        LLM_CHAIN: "gemini,local/llama3.2",
        GEMINI_API_KEY: geminiKey,
        GEMINI_BASE_URL: `${server.baseUrl("gemini")}?key=${urlKey}`,
        LLM_COMPAT_LOCAL_BASE_URL: `${
          server.baseUrl("openai")
        }?api-version=2024-10-21&keyspace=production-east&access_token=${written}`,
        LLM_COMPAT_LOCAL_API_KEY: "local-key",
        LLM_MAX_RETRIES: "0"
      }, [
        // a server that quotes the URL it was sent, as a proxy's error page does
        server.inject("gemini", MockFault.status(404, { message: `no route for /v1beta/models?key=${urlKey}` })),
        server.inject(
          "openai",
          MockFault.status(400, {
            message: `bad request: keyspace=production-east&access_token=${written} (${urlToken})`
          })
        )
      ])
      for (const secret of [urlKey, urlToken, written]) assert.notInclude(seen, secret)
      // a parameter whose name only begins with a credential's word (keyspace) is no credential: its value stays
      assert.include(seen, "keyspace=production-east")
      // a query parameter that is no credential is sent as it was given
      const sent = yield* server.received("openai")
      assert.strictEqual(sent.at(-1)?.query["api-version"], "2024-10-21")
    }).pipe(Effect.scoped))
})

describe("LlmManager keys from secret files", () => {
  it.live("a key with a trailing newline (a mounted secret file) is sent without it: the call succeeds", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      const Manager = LlmManager.layerConfig({
        deepseek: Providers.layerFromConfig("deepseek"),
        gemini: Providers.layerFromConfig("gemini")
      }).pipe(
        Layer.provide([UsageLedger.layerMemory(), LlmConfig.layerPricing, NodeHttpClient.layerUndici]),
        Layer.provide(LlmConfig.layerFromRecord({
          DEEPSEEK_API_KEY: `${deepseekKey}\n`,
          GEMINI_API_KEY: `${geminiKey}\r\n`,
          DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
          GEMINI_BASE_URL: server.baseUrl("gemini"),
          LLM_MAX_RETRIES: "0"
        }))
      )
      const result = yield* LlmManager.LlmManager.use((manager) => manager.generate({ prompt: "Hello" })).pipe(
        Effect.provide(Manager)
      )
      assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.outcome]), [["deepseek", "success"]])
    }).pipe(Effect.scoped))
})

describe("LlmManager OpenAI-compatible keys", () => {
  it.live("an OpenAI-compatible endpoint's key is scrubbed from the request log like a hosted provider's", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      // not key-shaped: only the configured value can catch it
      const compatKey = "local-canary-7f3a9c21d4"
      const { Manager, records } = configuredManager({
        LLM_CHAIN: "backup/deepseek-flash,local/llama3.2",
        // a shared proxy in front of both endpoints echoes the other endpoint's key
        LLM_COMPAT_BACKUP_BASE_URL: server.baseUrl("deepseek"),
        LLM_COMPAT_BACKUP_API_KEY: deepseekKey,
        LLM_COMPAT_LOCAL_BASE_URL: server.baseUrl("openai"),
        LLM_COMPAT_LOCAL_API_KEY: compatKey,
        LLM_LOG_PROMPTS: "true",
        LLM_MAX_RETRIES: "0"
      })
      yield* Effect.gen(function*() {
        const manager = yield* LlmManager.LlmManager
        yield* server.inject("deepseek", MockFault.status(503, { message: `upstream refused key ${compatKey}` }))
        const result = yield* manager.generate({ prompt: `Is ${compatKey} a valid key?` })
        assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.outcome]), [
          ["backup", "error"],
          ["local", "success"]
        ])
      }).pipe(Effect.provide(Manager))
      assert.strictEqual(records.length, 2)
      const seen = records.join("\n")
      assert.include(seen, "[redacted]")
      assert.notInclude(seen, compatKey)
      assert.notInclude(seen, compatKey.slice(2, -2))
    }).pipe(Effect.scoped))
})

/** Not key-shaped: only the configured values can catch them. */
const keyA = "canary-key-a-fedcba0987654321"
const keyB = "canary-key-b-1234567890abcdef"

/**
 * Two OpenAI-compatible endpoints with their own keys (alpha on the mock's
 * openai path, beta on its deepseek path), no retries, and a request log
 * in memory given no secrets (with `logOptions`): what it records comes
 * scrubbed from the manager.
 */
const twoEndpoints = (server: MockProviderServer.MockProviderServer["Service"], logOptions?: RequestLog.Options) =>
  LlmManager.layer({
    providers: [
      OpenAiCompatible.layer({
        name: "alpha",
        baseUrl: server.baseUrl("openai"),
        model: "m-a",
        apiKey: Redacted.make(keyA)
      }),
      OpenAiCompatible.layer({
        name: "beta",
        baseUrl: server.baseUrl("deepseek"),
        model: "m-b",
        apiKey: Redacted.make(keyB)
      })
    ],
    policy: FallbackPolicy.make({ maxRetries: 0 })
  }).pipe(
    Layer.provideMerge(RequestLog.layerMemory(logOptions)),
    Layer.provide([Pricing.layerDefault, NodeHttpClient.layerUndici])
  )

/** Every rendering of spans a test tracer recorded: attributes, events, the cause each ended with. */
const spanTexts = (spans: ReadonlyArray<Tracer.NativeSpan>): string =>
  spans.flatMap((span) => [
    JSON.stringify([...span.attributes.entries()]),
    JSON.stringify(span.events),
    span.status._tag === "Ended" && span.status.exit._tag === "Failure" ? Cause.pretty(span.status.exit.cause) : ""
  ]).join("\n")

/** The renderings among `texts` that hold either key. */
/**
 * What a request failed with through a manager over two endpoints of a new
 * mock server, after `faults` were injected there, and what the request log
 * and the spans recorded.
 */
const failedThrough = <E>(
  faults: (server: MockProviderServer.MockProviderServer["Service"]) => Effect.Effect<void>,
  request: (manager: LlmManager.Service) => Effect.Effect<unknown, E>
) =>
  Effect.gen(function*() {
    const server = yield* MockProviderServer.start()
    const { spans, tracer } = recordingTracer()
    yield* faults(server)
    const [error, records] = yield* Effect.gen(function*() {
      const error = yield* Effect.flip(request(yield* LlmManager.LlmManager))
      const records = yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
      return [error, records] as const
    }).pipe(Effect.provideService(Tracer.Tracer, tracer), Effect.provide(twoEndpoints(server)))
    return { error, records, spans }
  })

/** Every place a caller or an operator reads a failed request's error: the error's forms, the log, the spans. */
const textsOf = (
  error: AllProvidersFailed,
  records: ReadonlyArray<unknown>,
  spans: ReadonlyArray<Tracer.NativeSpan>
): Record<string, string> => ({
  message: error.message,
  attempts: error.attempts.map((a) => a.error?.message ?? "").join("\n"),
  json: JSON.stringify(error),
  encoded: JSON.stringify(Schema.encodeSync(AllProvidersFailed)(error)),
  pretty: Cause.pretty(Cause.fail(error)),
  log: JSON.stringify(records),
  spans: spanTexts(spans)
})

const leaksIn = (texts: Readonly<Record<string, string>>): Array<string> =>
  Object.entries(texts).filter(([, text]) => text.includes(keyA) || text.includes(keyB)).map(([where]) => where)

describe("LlmManager: another provider's key echoed by an endpoint", () => {
  it.live("is scrubbed from the caller's error, its JSON, the attempts, the request log and the spans", () =>
    Effect.gen(function*() {
      const { error, records, spans } = yield* failedThrough(
        // one shared proxy in front of both endpoints: each echoes the other endpoint's key
        (server) =>
          Effect.andThen(
            server.inject("openai", MockFault.status(503, { message: `upstream refused key ${keyB}` })),
            server.inject("deepseek", MockFault.status(400, { message: `bad request for ${keyA}`, param: keyA }))
          ),
        (manager) => manager.generate({ prompt: "Hello" })
      )
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag !== "AllProvidersFailed") return
      assert.deepStrictEqual(error.attempts.map((a): Array<string | undefined> => [a.provider, a.error?._tag]), [
        ["alpha", "ProviderUnavailable"],
        ["beta", "InvalidRequest"]
      ])
      assert.strictEqual(records.length, 2)
      assert.isAbove(spans.length, 2)
      const texts = textsOf(error, records, spans)
      assert.deepStrictEqual(leaksIn(texts), [])
      assert.include(texts.attempts, "[redacted]")
      // the same classes, scrubbed field by field
      const [first, second] = error.attempts.map((a) => a.error)
      assert.instanceOf(first, ProviderUnavailable)
      assert.instanceOf(second, InvalidRequest)
      assert.strictEqual(second.param, "[redacted]")
    }).pipe(Effect.scoped))

  it.live("is scrubbed from a stream's StreamInterrupted: its reason, attempts, JSON, and the log", () =>
    Effect.gen(function*() {
      const { error, records, spans } = yield* failedThrough(
        // cut after text reached the caller, then the rescue's endpoint echoes alpha's key
        (server) =>
          Effect.andThen(
            server.inject("openai", MockFault.cutStreamAfter(2)),
            server.inject("deepseek", MockFault.status(503, { message: `upstream refused key ${keyA}` }))
          ),
        (manager) => Stream.runDrain(manager.stream({ prompt: "Tell me a long story" }))
      )
      assert.strictEqual(error._tag, "StreamInterrupted")
      if (error._tag !== "StreamInterrupted") return
      assert.deepStrictEqual(error.attempts?.map((a): Array<string | undefined> => [a.provider, a.error?._tag]), [
        ["alpha", "ProviderConnectionFailed"],
        ["beta", "ProviderUnavailable"]
      ])
      const texts = {
        message: error.message,
        json: JSON.stringify(error),
        pretty: Cause.pretty(Cause.fail(error)),
        log: JSON.stringify(records),
        spans: spanTexts(spans)
      }
      assert.deepStrictEqual(leaksIn(texts), [])
      assert.include(error.reason, "[redacted]")
    }).pipe(Effect.scoped))
})

/** The renderings among `texts` that hold a prefix of either key as long as a secret (8 characters). */
const prefixLeaksIn = (texts: Readonly<Record<string, string>>): Array<string> =>
  Object.entries(texts).filter(([, text]) => [keyA, keyB].some((key) => text.includes(key.slice(0, 8)))).map((
    [where]
  ) => where)

/** Filler of `length` characters that holds no part of either key. */
const filler = (length: number) => "upstream proxy said no; ".repeat(Math.ceil(length / 24)).slice(0, length)

describe("LlmManager: another provider's key cut in half by an adapter's truncation", () => {
  it.live("leaves no prefix of the key in the caller's error, the request log or the spans", () =>
    Effect.gen(function*() {
      // the adapter keeps 400 characters of "alpha answered HTTP 503: <body message>": 12 of keyB's before the cut
      const lead = "alpha answered HTTP 503: "
      const { error, records, spans } = yield* failedThrough(
        (server) =>
          Effect.andThen(
            server.inject(
              "openai",
              MockFault.status(503, { message: `${filler(400 - 12 - lead.length)}${keyB} was refused` })
            ),
            // beta's param is kept to 200 characters: 10 of keyA's before the cut
            server.inject(
              "deepseek",
              MockFault.status(400, { message: "bad request", param: `${filler(190)}${keyA} is not a field` })
            )
          ),
        (manager) => manager.generate({ prompt: "Hello" })
      )
      assert.strictEqual(error._tag, "AllProvidersFailed")
      if (error._tag !== "AllProvidersFailed") return
      const [first, second] = error.attempts.map((a) => a.error)
      assert.instanceOf(first, ProviderUnavailable)
      assert.instanceOf(second, InvalidRequest)
      const texts = { ...textsOf(error, records, spans), param: second.param ?? "" }
      assert.deepStrictEqual(prefixLeaksIn(texts), [])
      // only the fragment goes: the text before it and the truncation marker stay
      const cut = (key: string, kept: number, rest: string) =>
        `[redacted]...[${key.length - kept + rest.length} more characters]`
      assert.strictEqual(first.message, `${lead}${filler(400 - 12 - lead.length)}${cut(keyB, 12, " was refused")}`)
      assert.strictEqual(second.param, `${filler(190)}${cut(keyA, 10, " is not a field")}`)
    }).pipe(Effect.scoped))
})

describe("LlmManager: its providers' keys in a logged prompt", () => {
  it.live("are scrubbed from the prompt text a request log keeps, though the log was given no secret", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      const records = yield* Effect.gen(function*() {
        const manager = yield* LlmManager.LlmManager
        const result = yield* manager.generate({ prompt: `Which of ${keyA} and ${keyB} is alpha's key?` })
        assert.deepStrictEqual(result.attempts.map((a) => [a.provider, a.outcome]), [["alpha", "success"]])
        return yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
      }).pipe(Effect.provide(twoEndpoints(server, { logPrompts: true })))
      assert.deepStrictEqual(records.map((record) => record.prompt), [
        "user: Which of [redacted] and [redacted] is alpha's key?"
      ])
    }).pipe(Effect.scoped))
})

describe("LlmManager: a key echoed URL-encoded", () => {
  it.live("is scrubbed from the caller's error and the request log, as written", () =>
    Effect.gen(function*() {
      const server = yield* MockProviderServer.start()
      // a key of base64 characters: `+`, `/` and `=` are encoded in a URL a server quotes
      const compatKey = "CANARY+proxy/Key0123456789abcdefXYZ=="
      const { Manager, records } = configuredManager({
        LLM_CHAIN: "proxy/llama3.2",
        LLM_COMPAT_PROXY_BASE_URL: server.baseUrl("openai"),
        LLM_COMPAT_PROXY_API_KEY: compatKey,
        LLM_MAX_RETRIES: "0"
      })
      const check = LeakCheck.make()
      const error = yield* Effect.gen(function*() {
        const manager = yield* LlmManager.LlmManager
        yield* server.inject(
          "openai",
          MockFault.status(401, { message: `invalid token: ?token=${encodeURIComponent(compatKey)}` })
        )
        return yield* Effect.flip(manager.generate({ prompt: "Hello" }))
      }).pipe(Effect.provide(Manager), check.capture)
      check.addErrors([error])
      const texts = [...check.texts(), ...records]
      assert.isTrue(texts.some((text) => text.includes("?token=[redacted]")))
      assert.deepStrictEqual(texts.filter((text) => text.includes(encodeURIComponent(compatKey).slice(0, 12))), [])
    }).pipe(Effect.scoped))
})

describe("LlmManager: a key echoed in a successful answer's id or model", () => {
  const key = "sk-canary-echoed-id-7f3a2c"
  const id = `chatcmpl-${key}`
  const model = `gpt-4o-mini ${key}`
  const reply: RawServer.Reply = {
    body: {
      id,
      model,
      choices: [{ index: 0, message: { role: "assistant", content: "{\"a\":1}" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 }
    },
    events: [
      { id, model, choices: [{ index: 0, delta: { content: "{\"a\":1}" }, finish_reason: "stop" }] },
      { id, model, choices: [], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } },
      "[DONE]"
    ]
  }
  // its end marker never comes: the answer ends at the idle limit, as the provider's `Finish` completed it
  for (const way of ["generate", "stream"] as const) {
    it.live(`is scrubbed from an answer completed at the idle limit before its end marker (${way})`, () =>
      Effect.gen(function*() {
        const server = yield* RawServer.start({ ...reply, events: reply.events.slice(0, -1), then: "hold" })
        const check = LeakCheck.make()
        const names = yield* Effect.gen(function*() {
          const manager = yield* LlmManager.make({
            providers: [OpenAi.layer({ apiKey: Redacted.make(key), baseUrl: server.url })],
            policy: FallbackPolicy.make({ maxRetries: 0, limits: { idleMs: 300 } }),
            generationEnabled: true
          })
          if (way === "generate") return yield* manager.generate({ prompt: "Hello" })
          const parts = yield* Stream.runCollect(manager.stream({ prompt: "Hello" }))
          return parts.find((part) => part._tag === "Finish")
        }).pipe(
          Effect.withSpan("completed-id.test"),
          Effect.provide([RequestLog.layerMemory(), Pricing.layerDefault, NodeHttpClient.layerUndici]),
          check.capture
        )
        check.addErrors([names])
        assert.deepStrictEqual([names?.responseId, names?.responseModel], [
          "chatcmpl-[redacted]",
          "gpt-4o-mini [redacted]"
        ])
        assert.deepStrictEqual(check.texts().filter((text) => text.includes(key)), [])
      }).pipe(Effect.scoped))
  }

  for (const generateVia of ["stream", "generate"] as const) {
    it.live(`is scrubbed from the result, the Finish, the spans and the request log (generateVia: ${generateVia})`, () =>
      Effect.gen(function*() {
        const server = yield* RawServer.start(reply)
        const check = LeakCheck.make()
        const seen = yield* Effect.gen(function*() {
          const manager = yield* LlmManager.make({
            providers: [OpenAi.layer({ apiKey: Redacted.make(key), baseUrl: server.url })],
            policy: FallbackPolicy.make({ maxRetries: 0, generateVia }),
            generationEnabled: true
          })
          const generated = yield* manager.generate({ prompt: "Hello" })
          const structured = yield* manager.generateStructured({ prompt: "Hello" }, Schema.Struct({ a: Schema.Number }))
          const parts = yield* Stream.runCollect(manager.stream({ prompt: "Hello" }))
          const finish = parts.find((part) => part._tag === "Finish")
          const records = yield* RequestLog.RequestLogMemory.use((memory) => memory.records)
          return [generated, structured, finish, records] as const
        }).pipe(
          Effect.withSpan("echoed-id.test"),
          Effect.provide([RequestLog.layerMemory(), Pricing.layerDefault, NodeHttpClient.layerUndici]),
          check.capture
        )
        check.addErrors(seen)
        const [generated, structured] = seen
        assert.strictEqual(generated.responseId, "chatcmpl-[redacted]")
        assert.strictEqual(generated.responseModel, "gpt-4o-mini [redacted]")
        assert.strictEqual(structured.responseId, "chatcmpl-[redacted]")
        assert.isAbove(check.counts().spans, 3)
        assert.deepStrictEqual(check.texts().filter((text) => text.includes(key)), [])
      }).pipe(Effect.scoped))
  }
})
