import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as MockFault from "../src/MockFault.ts"
import * as MockProviderServer from "../src/MockProviderServer.ts"
import type { Ask } from "./helpers.ts"
import { ask, AUTH, parseJson, pick, replyText, requestOf, sseEvents, sseJson } from "./helpers.ts"

type Server = MockProviderServer.MockProviderServer["Service"]
type Provider = MockProviderServer.MockProvider

const fresh = Effect.gen(function*() {
  const server = yield* MockProviderServer.MockProviderServer
  yield* server.reset
  return server
})

/** Injects `fault` for the next call of `provider` and makes that call. */
const askWith = (server: Server, provider: Provider, fault: MockFault.MockFault, options: Ask = {}) =>
  server.inject(provider, fault).pipe(Effect.andThen(ask(server, provider, options)))

/** A call whose outcome is the fetch error (if any), the time to headers and to the end of the body. */
const timedCall = (server: Server, provider: Provider, options: Ask & { readonly abortAfterMs?: number } = {}) =>
  Effect.promise(async () => {
    const { body, path } = requestOf(provider, options)
    const started = performance.now()
    const signal = options.abortAfterMs === undefined ? undefined : AbortSignal.timeout(options.abortAfterMs)
    try {
      const res = await fetch(`${server.baseUrl(provider)}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...AUTH[provider], ...options.headers },
        body: JSON.stringify(body),
        ...(signal === undefined ? {} : { signal })
      })
      const headersMs = performance.now() - started
      const text = await res.text()
      return { status: res.status, text, headersMs, totalMs: performance.now() - started, error: undefined }
    } catch (error) {
      return { status: 0, text: "", headersMs: 0, totalMs: performance.now() - started, error: String(error) }
    }
  })

/** Waits (real time) until `provider`'s stats satisfy `done`. */
const statsWhen = (server: Server, provider: Provider, done: (stats: MockProviderServer.MockStats) => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 100; i++) {
      const stats = await Effect.runPromise(server.stats(provider))
      if (done(stats)) return stats
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return Effect.runPromise(server.stats(provider))
  })

const errorOf = parseJson

layer(MockProviderServer.layer(), { excludeTestServices: true })("MockProviderServer faults", (it) => {
  describe("HTTP errors with the provider's real body", () => {
    it.effect("Anthropic 529 overloaded_error", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* askWith(server, "anthropic", MockFault.status(529))
        assert.strictEqual(res.status, 529)
        assert.deepStrictEqual(pick(errorOf(res.text), "error"), { type: "overloaded_error", message: "Overloaded" })
        assert.strictEqual(pick(errorOf(res.text), "type"), "error")
      }))

    it.effect("Gemini 429 RESOURCE_EXHAUSTED with RetryInfo from retryAfter, and no retry-after header", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* askWith(server, "gemini", MockFault.status(429, { retryAfter: "12" }))
        assert.strictEqual(res.status, 429)
        // as the real API: the wait is only in the body (clients that read the header first never see RetryInfo)
        assert.isNull(res.headers.get("retry-after"))
        const error = pick(errorOf(res.text), "error")
        assert.strictEqual(pick(error, "status"), "RESOURCE_EXHAUSTED")
        assert.strictEqual(pick(error, "code"), 429)
        assert.strictEqual(pick(error, "details", 1, "@type"), "type.googleapis.com/google.rpc.RetryInfo")
        assert.strictEqual(pick(error, "details", 1, "retryDelay"), "12s")
      }))

    it.effect("Gemini rateLimited puts the wait in RetryInfo only; a Gemini 503 with retryAfter keeps the header", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const limited = yield* askWith(server, "gemini", MockFault.rateLimited({ retryAfter: "4" }))
        assert.strictEqual(limited.status, 429)
        assert.isNull(limited.headers.get("retry-after"))
        assert.strictEqual(pick(errorOf(limited.text), "error", "details", 1, "retryDelay"), "4s")
        // a 503 body has no RetryInfo: the test's hint stays in the header, or it would be lost
        const overloaded = yield* askWith(server, "gemini", MockFault.status(503, { retryAfter: "2" }))
        assert.strictEqual(overloaded.status, 503)
        assert.strictEqual(overloaded.headers.get("retry-after"), "2")
        const anthropic = yield* askWith(server, "anthropic", MockFault.status(429, { retryAfter: "5" }))
        assert.strictEqual(anthropic.headers.get("retry-after"), "5")
      }))

    it.effect("shouldRetry is the x-should-retry header, as written; without it there is none", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const refused = yield* askWith(server, "anthropic", MockFault.status(529, { shouldRetry: "false" }))
        assert.strictEqual(refused.status, 529)
        assert.strictEqual(refused.headers.get("x-should-retry"), "false")
        const plain = yield* askWith(server, "openai", MockFault.status(503))
        assert.isNull(plain.headers.get("x-should-retry"))
      }))

    it.effect("OpenAI 429 rate_limit_exceeded versus insufficient_quota", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const limited = yield* askWith(server, "openai", MockFault.rateLimited({ retryAfter: "3" }))
        assert.strictEqual(limited.status, 429)
        assert.strictEqual(limited.headers.get("retry-after"), "3")
        assert.strictEqual(pick(errorOf(limited.text), "error", "code"), "rate_limit_exceeded")
        const quota = yield* askWith(server, "openai", MockFault.quotaExhausted)
        assert.strictEqual(quota.status, 429)
        assert.strictEqual(pick(errorOf(quota.text), "error", "code"), "insufficient_quota")
        assert.strictEqual(pick(errorOf(quota.text), "error", "type"), "insufficient_quota")
      }))

    it.effect("DeepSeek 402 Insufficient Balance, by status or by quotaExhausted", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        for (const fault of [MockFault.status(402), MockFault.quotaExhausted]) {
          const res = yield* askWith(server, "deepseek", fault)
          assert.strictEqual(res.status, 402)
          assert.strictEqual(pick(errorOf(res.text), "error", "message"), "Insufficient Balance")
        }
      }))

    it.effect("a custom message replaces the default one", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* askWith(server, "openai", MockFault.status(503, { message: "try later" }))
        assert.strictEqual(res.status, 503)
        assert.strictEqual(pick(errorOf(res.text), "error", "message"), "try later")
      }))

    for (const provider of MockProviderServer.providers) {
      it.effect(`${provider} rateLimited is a 429`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          assert.strictEqual((yield* askWith(server, provider, MockFault.rateLimited())).status, 429)
        }))
    }

    const contextMessages: Record<Provider, RegExp> = {
      openai: /maximum context length is \d+ tokens/,
      deepseek: /maximum context length is \d+ tokens/,
      gemini: /The input token count \(\d+\) exceeds the maximum number of tokens allowed/,
      anthropic: /prompt is too long: \d+ tokens > \d+ maximum/
    }
    for (const provider of MockProviderServer.providers) {
      it.effect(`${provider} contextLengthExceeded is a 400 with the provider's wording`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const res = yield* askWith(server, provider, MockFault.contextLengthExceeded)
          assert.strictEqual(res.status, 400)
          assert.match(String(pick(errorOf(res.text), "error", "message")), contextMessages[provider])
        }))
    }

    it.effect("OpenAI context error carries code context_length_exceeded", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* askWith(server, "openai", MockFault.contextLengthExceeded)
        assert.strictEqual(pick(errorOf(res.text), "error", "code"), "context_length_exceeded")
      }))
  })

  describe("content faults", () => {
    const filtered: Record<Provider, (body: unknown) => unknown> = {
      openai: (body) => pick(body, "choices", 0, "finish_reason"),
      deepseek: (body) => pick(body, "choices", 0, "finish_reason"),
      gemini: (body) => pick(body, "candidates", 0, "finishReason"),
      anthropic: (body) => pick(body, "stop_reason")
    }
    const expected: Record<Provider, string> = {
      openai: "content_filter",
      deepseek: "content_filter",
      gemini: "SAFETY",
      anthropic: "refusal"
    }
    for (const provider of MockProviderServer.providers) {
      it.effect(`${provider} contentFilter is a 200 with the block finish and no text`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const res = yield* askWith(server, provider, MockFault.contentFilter)
          assert.strictEqual(res.status, 200)
          assert.strictEqual(filtered[provider](JSON.parse(res.text)), expected[provider])
          assert.strictEqual(replyText(provider, false, res.text), "")
          const streamed = yield* askWith(server, provider, MockFault.contentFilter, { stream: true })
          assert.strictEqual(replyText(provider, true, streamed.text), "")
          assert.include(streamed.text, expected[provider])
        }))

      it.effect(`${provider} contentFilterAfter sends the answer's first words, then the block finish`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const res = yield* askWith(server, provider, MockFault.contentFilterAfter(2))
          assert.strictEqual(res.status, 200)
          assert.strictEqual(filtered[provider](JSON.parse(res.text)), expected[provider])
          assert.strictEqual(replyText(provider, false, res.text), "Mock answer")
          const streamed = yield* askWith(server, provider, MockFault.contentFilterAfter(2), { stream: true })
          assert.strictEqual(replyText(provider, true, streamed.text), "Mock answer")
          assert.include(streamed.text, expected[provider])
          // billed the prompt and the three tokens of the text sent, each time (and DeepSeek's reasoning before it)
          const reasoning = pick(JSON.parse(res.text), "choices", 0, "message", "reasoning_content")
          const reasoned = typeof reasoning === "string" ? Math.ceil(reasoning.length / 4) : 0
          assert.strictEqual(reasoned > 0, provider === "deepseek")
          const stats = yield* statsWhen(server, provider, (stats) => stats.completed === 2)
          assert.strictEqual(stats.completionTokens, 2 * (Math.ceil("Mock answer".length / 4) + reasoned))
        }))

      it.effect(`${provider} content replies exactly the given text`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const res = yield* askWith(server, provider, MockFault.content("{\"broken\": "))
          assert.strictEqual(replyText(provider, false, res.text), "{\"broken\": ")
          const streamed = yield* askWith(server, provider, MockFault.content("{\"ok\": true}"), { stream: true })
          assert.strictEqual(replyText(provider, true, streamed.text), "{\"ok\": true}")
        }))
    }

    it.effect("content is still cut at max tokens", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* askWith(server, "openai", MockFault.content("abcdefghijkl"), { maxTokens: 2 })
        assert.strictEqual(replyText("openai", false, res.text), "abcdefgh")
        assert.strictEqual(pick(JSON.parse(res.text), "choices", 0, "finish_reason"), "length")
      }))

    it.effect("rejectPrefill refuses a prefill with 400 and answers other requests", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.inject("openai", MockFault.rejectPrefill, { times: 2 })
        const prefilled = yield* ask(server, "openai", { prefill: "{" })
        assert.strictEqual(prefilled.status, 400)
        assert.include(String(pick(errorOf(prefilled.text), "error", "message")), "prefill")
        assert.strictEqual((yield* ask(server, "openai")).status, 200)
      }))
  })

  describe("timing faults", () => {
    it.effect("latency delays the headers", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.inject("openai", MockFault.latency(150))
        const call = yield* timedCall(server, "openai")
        assert.strictEqual(call.status, 200)
        assert.isAtLeast(call.headersMs, 140)
      }))

    it.effect("slowFirstToken sends headers at once and the first event late", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.inject("anthropic", MockFault.slowFirstToken(200))
        const call = yield* timedCall(server, "anthropic", { stream: true })
        assert.isBelow(call.headersMs, 150)
        assert.isAtLeast(call.totalMs, 190)
        assert.strictEqual(sseEvents(call.text).at(-1)?.event, "message_stop")
      }))

    it.effect("slowTokens over many events leaves no close listener behind (no MaxListenersExceededWarning)", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const warnings: Array<string> = []
        const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`)
        process.on("warning", onWarning)
        const words = Array.from({ length: 30 }, (_, i) => `w${i}`)
        const call = yield* server.inject("openai", MockFault.slowTokens(1, { content: words.join(" ") })).pipe(
          Effect.andThen(timedCall(server, "openai", { stream: true })),
          // a warning is emitted on the next tick: let it arrive before looking
          Effect.tap(() => Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))),
          Effect.ensuring(Effect.sync(() => process.off("warning", onWarning)))
        )
        assert.strictEqual(call.status, 200)
        assert.isAbove(sseEvents(call.text).length, 11, "more delayed events than the default listener limit")
        assert.strictEqual(replyText("openai", true, call.text), words.join(" "))
        assert.deepStrictEqual(warnings.filter((warning) => warning.includes("MaxListenersExceeded")), [])
      }))

    it.effect("stallMidStream pauses after the first event, then finishes", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.inject("openai", MockFault.stallMidStream(200))
        const call = yield* timedCall(server, "openai", { stream: true })
        assert.isAtLeast(call.totalMs, 190)
        assert.strictEqual(sseJson(call.text).at(-1), "[DONE]")
        assert.deepInclude(yield* server.stats("openai"), { completed: 1, stalled: 1 })
        // a reply without a stall reaches none
        yield* timedCall(server, "openai", { stream: true })
        assert.deepInclude(yield* server.stats("openai"), { completed: 2, stalled: 1 })
      }))

    it.effect("stallMidStream forever never finishes; the client's abort counts as a cancel", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.inject("gemini", MockFault.stallMidStream("forever"))
        const call = yield* timedCall(server, "gemini", { stream: true, abortAfterMs: 200 })
        assert.include(call.error, "TimeoutError")
        const stats = yield* statsWhen(server, "gemini", (s) => s.cancelled === 1)
        assert.deepInclude(stats, { requests: 1, completed: 0, cancelled: 1, stalled: 1 })
        // billed what its first chunk reported: the prompt and the one token sent
        assert.isAbove(stats.promptTokens, 0)
        assert.strictEqual(stats.completionTokens, 1)
      }))

    it.effect("noResponse never answers a plain request either", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.inject("deepseek", MockFault.noResponse)
        const call = yield* timedCall(server, "deepseek", { abortAfterMs: 150 })
        assert.include(call.error, "TimeoutError")
        assert.strictEqual((yield* statsWhen(server, "deepseek", (s) => s.cancelled === 1)).cancelled, 1)
      }))
  })

  describe("broken transport and bodies", () => {
    it.effect("resetBeforeHeaders fails the fetch", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.inject("openai", MockFault.resetBeforeHeaders)
        const call = yield* timedCall(server, "openai")
        assert.include(call.error, "fetch failed")
        assert.strictEqual((yield* server.stats("openai")).cancelled, 0)
      }))

    for (const stream of [false, true]) {
      it.effect(`cutStream drops the connection mid-body (stream: ${stream})`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          yield* server.inject("anthropic", MockFault.cutStream)
          const call = yield* timedCall(server, "anthropic", { stream })
          assert.isDefined(call.error)
          const stats = yield* server.stats("anthropic")
          assert.deepInclude(stats, { requests: 1, completed: 0, cancelled: 0 })
        }))
    }

    it.effect("notJson answers an HTML page with status 200", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* askWith(server, "gemini", MockFault.notJson)
        assert.strictEqual(res.status, 200)
        assert.match(res.headers.get("content-type") ?? "", /text\/html/)
        assert.throws(() => parseJson(res.text))
      }))

    it.effect("wrongShape answers valid JSON of the wrong shape, plain and streamed", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* askWith(server, "openai", MockFault.wrongShape)
        assert.deepStrictEqual(JSON.parse(res.text), { unexpected: true })
        const streamed = yield* askWith(server, "anthropic", MockFault.wrongShape, { stream: true })
        const events = sseJson(streamed.text)
        assert.isAbove(events.length, 0)
        assert.isTrue(events.every((e) => pick(e, "unexpected") === true))
      }))

    it.effect("illTyped sends the answer as a number, billed, plain and streamed", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const plain = yield* askWith(server, "openai", MockFault.illTyped)
        const message = pick(JSON.parse(plain.text), "choices", 0, "message", "content")
        assert.strictEqual(message, 42)
        const streamed = yield* askWith(server, "anthropic", MockFault.illTyped, { stream: true })
        const texts = sseJson(streamed.text).map((e) => pick(e, "delta", "text")).filter((t) => t !== undefined)
        assert.deepStrictEqual(texts, [42])
        const stats = yield* server.stats("openai")
        assert.isAbove(stats.completionTokens, 0, "the ill-typed reply is billed")
      }))

    for (const provider of MockProviderServer.providers) {
      it.effect(`${provider} malformedEvent puts one bad event in a good stream`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          yield* server.inject(provider, MockFault.malformedEvent)
          const res = yield* ask(server, provider, { stream: true })
          const events = sseEvents(res.text)
          const bad = events.filter((e) => {
            try {
              if (e.data !== "[DONE]") JSON.parse(e.data)
              return false
            } catch {
              return true
            }
          })
          assert.strictEqual(bad.length, 1)
          const good = res.text.replace(/^(?:event: \S+\n)?data: \{"choices":\[\{"delta":\{"content":\r?\n\r?\n/m, "")
          assert.strictEqual(
            replyText(provider, true, good),
            replyText(provider, true, (yield* ask(server, provider, { stream: true })).text)
          )
        }))
    }

    it.effect("malformedEvent on a plain reply truncates the JSON body", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* askWith(server, "deepseek", MockFault.malformedEvent)
        assert.strictEqual(res.status, 200)
        assert.throws(() => parseJson(res.text))
      }))

    it.effect("noTerminator: no [DONE], no message_stop, no finishReason", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const openai = yield* askWith(server, "openai", MockFault.noTerminator, { stream: true })
        assert.notInclude(openai.text, "[DONE]")
        assert.include(openai.text, "\"finish_reason\":\"stop\"")
        const anthropic = yield* askWith(server, "anthropic", MockFault.noTerminator, { stream: true })
        assert.strictEqual(sseEvents(anthropic.text).at(-1)?.event, "message_delta")
        const gemini = yield* askWith(server, "gemini", MockFault.noTerminator, { stream: true })
        assert.notInclude(gemini.text, "finishReason")
        assert.include(gemini.text, "usageMetadata")
      }))

    for (const provider of MockProviderServer.providers) {
      it.effect(`${provider} noUsage leaves usage out, plain and streamed, but still bills`, () =>
        Effect.gen(function*() {
          const server = yield* fresh
          const plain = yield* askWith(server, provider, MockFault.noUsage)
          const streamed = yield* askWith(server, provider, MockFault.noUsage, { stream: true })
          for (const text of [plain.text, streamed.text]) {
            assert.notMatch(text, /usage|_tokens|TokenCount/i)
          }
          assert.isAbove((yield* server.stats(provider)).promptTokens, 0)
        }))
    }
  })

  describe("per-request faults", () => {
    it.effect("x-mock-fault header", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const res = yield* ask(server, "anthropic", { headers: { "x-mock-fault": "status=529" } })
        assert.strictEqual(res.status, 529)
        const content = yield* ask(server, "gemini", { headers: { "x-mock-fault": "content=%7B%22a%22%3A1%7D" } })
        assert.strictEqual(replyText("gemini", false, content.text), "{\"a\":1}")
      }))

    it.effect("model-name suffix, in the body and in the Gemini path", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const openai = yield* ask(server, "openai", { model: "gpt-4o-mini@status=503" })
        assert.strictEqual(openai.status, 503)
        const gemini = yield* ask(server, "gemini", { model: "gemini-2.5-flash@rateLimited;retryAfter=9" })
        assert.strictEqual(gemini.status, 429)
        assert.strictEqual(pick(errorOf(gemini.text), "error", "details", 1, "retryDelay"), "9s")
        const ok = yield* ask(server, "deepseek", { model: "deepseek-flash@latency=1" })
        assert.strictEqual(pick(JSON.parse(ok.text), "model"), "deepseek-flash")
      }))

    it.effect("a per-request fault wins over the queue and leaves it alone", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        yield* server.inject("openai", MockFault.status(500))
        assert.strictEqual((yield* ask(server, "openai", { headers: { "x-mock-fault": "status=418" } })).status, 418)
        assert.strictEqual((yield* ask(server, "openai")).status, 500)
        assert.strictEqual((yield* ask(server, "openai")).status, 200)
      }))

    it.effect("an unknown or malformed fault is a 400 saying what is accepted", () =>
      Effect.gen(function*() {
        const server = yield* fresh
        const unknown = yield* ask(server, "openai", { headers: { "x-mock-fault": "explode" } })
        assert.strictEqual(unknown.status, 400)
        assert.include(String(pick(errorOf(unknown.text), "error", "message")), "unknown fault \"explode\"")
        const badModel = yield* ask(server, "anthropic", { model: "claude-haiku-4-5@latency=soon" })
        assert.strictEqual(badModel.status, 400)
        assert.include(String(pick(errorOf(badModel.text), "error", "message")), "model name suffix")
      }))
  })
})
