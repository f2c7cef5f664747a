/**
 * End to end: the quiz service as two real processes (`node src/main.ts`)
 * sharing one Redis for quotas, the mock provider server in this process, and
 * every check made over HTTP like a client would.
 */
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { Effect, Exit, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "vitest"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const run = `${process.pid}-${Date.now()}`
const limit = 3
const adminKey = "e2e-admin-key"

interface Service {
  readonly url: string
  readonly child: ChildProcess
}

const children: Array<ChildProcess> = []

const startService = (
  server: MockProviderServer.MockProviderServer["Service"],
  name: string,
  variables: Record<string, string> = {}
) =>
  new Promise<Service>((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), "quiz-e2e-"))
    const child = spawn(process.execPath, [main], {
      cwd: dir,
      env: {
        PATH: process.env["PATH"] ?? "",
        PORT: "0",
        DEEPSEEK_API_KEY: "mock-deepseek-key",
        GEMINI_API_KEY: "mock-gemini-key",
        DEEPSEEK_BASE_URL: server.baseUrl("deepseek"),
        GEMINI_BASE_URL: server.baseUrl("gemini"),
        AI_DAILY_LIMIT_PER_TEACHER: String(limit),
        AI_MAX_QUESTIONS_PER_REQUEST: "10",
        LLM_MAX_RETRIES: "0",
        LLM_CIRCUIT_FAILURE_THRESHOLD: "50",
        LLM_STREAM_IDLE_TIMEOUT_MS: "1000",
        REDIS_URL: "redis://127.0.0.1:6379",
        LLM_USAGE_STORE_URL: `sqlite:${join(dir, "usage.sqlite")}`,
        QUIZ_REQUEST_LOG: join(dir, "requests.log"),
        QUIZ_ADMIN_KEY: adminKey,
        ...variables
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(child)
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const url = /quiz-service listening on (http:\/\/\S+)/.exec(output)?.[1]
      if (url !== undefined) resolve({ url, child })
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("exit", (code) => {
      reject(new Error(`${name} exited with ${code}:\n${output}`))
    })
  })

interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

const request = async (url: string, init: RequestInit = {}): Promise<Reply> => {
  const response = await fetch(url, init)
  return { status: response.status, headers: response.headers, text: await response.text() }
}

const postBody = (url: string, teacher: string, body: string | ReadableStream<Uint8Array>) =>
  request(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-teacher-id": teacher },
    body,
    duplex: "half"
  })

const postJson = (url: string, teacher: string, body: unknown) => postBody(url, teacher, JSON.stringify(body))

/** `body` as a stream: sent chunked, without a `Content-Length`. */
const chunked = (body: string): ReadableStream<Uint8Array> => new Blob([body]).stream()

/** The most bytes the service reads of a body (`HttpBody`'s default). */
const maxBodyBytes = 1_048_576

/** A one-question quiz request of exactly `bytes` bytes: the request, then spaces. */
const quizOfSize = (bytes: number) =>
  JSON.stringify({ topic: "photosynthesis", grade: 6, questionCount: 1 }).padEnd(bytes, " ")

const quiz = (service: Service, teacher: string, questionCount = 1) =>
  postJson(`${service.url}/v1/quizzes`, teacher, { topic: "photosynthesis", grade: 6, questionCount })

const secondsToUtcMidnight = () => {
  const now = new Date()
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
  return (midnight - now.getTime()) / 1000
}

interface QuizBody {
  readonly provider: string
  readonly attempts: number
  readonly quiz: {
    readonly questions: ReadonlyArray<{ question: string; choices: ReadonlyArray<string>; answerIndex: number }>
  }
}

/** A well-formed quiz, as a model would answer it, with `count` questions. */
const quizJson = (count: number) =>
  JSON.stringify({
    topic: "photosynthesis",
    questions: Array.from({ length: count }, (_, i) => ({
      question: `Question ${i + 1} about photosynthesis: what do plants make from light?`,
      choices: ["Sugar", "Salt", "Sand"],
      answerIndex: 0,
      explanation: "Plants turn light, water and carbon dioxide into sugar."
    }))
  })

describe("quiz service over HTTP", () => {
  const scope = Effect.runSync(Scope.make())
  let server: MockProviderServer.MockProviderServer["Service"]
  let a: Service
  let b: Service
  const inject = (
    provider: MockProviderServer.MockProvider,
    fault: MockFault.MockFault,
    schedule?: MockProviderServer.MockSchedule
  ) => Effect.runPromise(server.inject(provider, fault, schedule))

  beforeAll(async () => {
    server = await Effect.runPromise(Scope.provide(MockProviderServer.start(), scope))
    ;[a, b] = await Promise.all([startService(server, "service A"), startService(server, "service B")])
  }, 90_000)

  // a fault a failed test left unconsumed must not leak into the next test
  afterEach(() => Effect.runPromise(server.reset))

  afterAll(async () => {
    for (const child of children) child.kill("SIGTERM")
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("answers a quiz with plausible questions and the quota headers, one unit per question", async () => {
    const reply = await quiz(a, `t-ok-${run}`, 2)
    assert.strictEqual(reply.status, 200, reply.text)
    assert.strictEqual(reply.headers.get("ratelimit-limit"), String(limit))
    assert.strictEqual(reply.headers.get("ratelimit-remaining"), String(limit - 2))
    assert.isAbove(Number(reply.headers.get("ratelimit-reset")), 0)
    const body = JSON.parse(reply.text) as QuizBody
    assert.strictEqual(body.provider, "deepseek")
    assert.strictEqual(body.quiz.questions.length, 2)
    for (const q of body.quiz.questions) {
      assert.include(q.question, "photosynthesis")
      assert.strictEqual(new Set(q.choices).size, q.choices.length)
      assert.isTrue(q.answerIndex >= 0 && q.answerIndex < q.choices.length)
    }
  })

  it("refuses the limit+1-th request of the day with 429 and a correct Retry-After", async () => {
    const teacher = `t-limit-${run}`
    for (let i = 0; i < limit; i++) assert.strictEqual((await quiz(a, teacher)).status, 200)
    const refused = await quiz(a, teacher)
    assert.strictEqual(refused.status, 429)
    assert.strictEqual(refused.headers.get("content-type"), "application/problem+json")
    assert.strictEqual(refused.headers.get("ratelimit-remaining"), "0")
    const retryAfter = Number(refused.headers.get("retry-after"))
    assert.closeTo(retryAfter, secondsToUtcMidnight(), 5)
    assert.strictEqual(refused.headers.get("ratelimit-reset"), refused.headers.get("retry-after"))
    assert.notInclude(refused.text, "photosynthesis")
  })

  it("answers 400 naming the field over the per-request maximum, without spending quota", async () => {
    const teacher = `t-max-${run}`
    // far over too: the count is what is refused, not the token limit it would ask for
    for (const count of [11, 40_000]) {
      const reply = await quiz(a, teacher, count)
      assert.strictEqual(reply.status, 400)
      const problem = JSON.parse(reply.text) as { field: string; max: number }
      assert.strictEqual(problem.field, "questionCount", reply.text)
      // the smaller of the per-request maximum (10) and the teacher's daily limit: no day holds more
      assert.strictEqual(problem.max, limit)
      assert.strictEqual(reply.headers.get("ratelimit-remaining"), String(limit))
    }
  })

  it("answers 413 Problem Details for a body over 1 MiB, by Content-Length or chunked, before quota or provider", async () => {
    const teacher = `t-big-${run}`
    const over = quizOfSize(maxBodyBytes + 1)
    for (const body of [over, chunked(over)]) {
      const reply = await postBody(`${a.url}/v1/quizzes`, teacher, body)
      assert.strictEqual(reply.status, 413, reply.text)
      assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
      const problem = JSON.parse(reply.text) as { type: string; maxBytes: number }
      assert.deepStrictEqual([problem.type, problem.maxBytes], ["urn:baton:problem:BodyTooLarge", maxBodyBytes])
      assert.strictEqual(reply.headers.get("ratelimit-remaining"), String(limit))
    }
    assert.deepStrictEqual(await Effect.runPromise(server.received()), [])
  })

  it("serves a body of exactly 1 MiB, by Content-Length or chunked, and refuses one byte more", async () => {
    const teacher = `t-full-${run}`
    const full = quizOfSize(maxBodyBytes)
    for (const body of [full, chunked(full)]) {
      const reply = await postBody(`${a.url}/v1/quizzes`, teacher, body)
      assert.strictEqual(reply.status, 200, reply.text)
    }
    const over = await postBody(`${a.url}/v1/quizzes`, teacher, chunked(quizOfSize(maxBodyBytes + 1)))
    assert.strictEqual(over.status, 413)
    assert.strictEqual(over.headers.get("ratelimit-remaining"), String(limit - 2))
  })

  it("answers an unknown path with 404 and a wrong method with 405 and Allow, as Problem Details", async () => {
    const cases = [
      ["GET", "/nope", 404, null],
      ["POST", "/v1/quiz", 404, null],
      ["DELETE", "/", 404, null],
      ["GET", "/v1/quizzes", 405, "POST"],
      ["DELETE", "/v1/quizzes", 405, "POST"],
      ["GET", "/v1/quizzes/stream", 405, "POST"],
      ["POST", "/healthz", 405, "GET, HEAD"],
      ["DELETE", "/v1/usage", 405, "GET, HEAD"]
    ] as const
    for (const [method, path, status, allow] of cases) {
      const reply = await request(`${a.url}${path}`, { method })
      const label = `${method} ${path}`
      assert.deepStrictEqual([reply.status, reply.headers.get("allow")], [status, allow], label)
      assert.strictEqual(reply.headers.get("content-type"), "application/problem+json", label)
      assert.strictEqual((JSON.parse(reply.text) as { status: number }).status, status, label)
    }
  })

  it("answers 400 naming the missing teacher header", async () => {
    const reply = await request(`${a.url}/v1/quizzes`, { method: "POST", body: "{}" })
    assert.strictEqual(reply.status, 400)
    assert.strictEqual((JSON.parse(reply.text) as { field: string }).field, "header x-teacher-id")
  })

  it("asks for quizzes and explanations without thinking, on the primary and on the fallback", async () => {
    await inject("deepseek", MockFault.status(503))
    const fellBack = await quiz(a, `t-think-${run}`)
    assert.strictEqual(fellBack.status, 200, fellBack.text)
    const explained = await postJson(`${a.url}/v1/quizzes/stream`, `t-think-${run}`, { topic: "tides", grade: 5 })
    assert.strictEqual(explained.status, 200, explained.text)
    const deepseek = await Effect.runPromise(server.received("deepseek"))
    const gemini = await Effect.runPromise(server.received("gemini"))
    // DeepSeek thinks by default, at output prices and inside the explanation's 400 tokens
    assert.deepStrictEqual(deepseek.map((r) => (r.body as { thinking?: unknown }).thinking), [
      { type: "disabled" },
      { type: "disabled" }
    ])
    const config = (gemini[0]?.body as { generationConfig?: { thinkingConfig?: unknown } }).generationConfig
    assert.deepStrictEqual(config?.thinkingConfig, { thinkingBudget: 0 })
  })

  it("falls back to Gemini when the mock DeepSeek fails", async () => {
    await inject("deepseek", MockFault.status(503))
    const reply = await quiz(a, `t-fallback-${run}`)
    assert.strictEqual(reply.status, 200, reply.text)
    const body = JSON.parse(reply.text) as QuizBody
    assert.strictEqual(body.provider, "gemini")
    assert.strictEqual(body.attempts, 2)
  })

  it("re-asks a model that returned fewer questions than asked, with the count in the prompt", async () => {
    await inject("deepseek", MockFault.content(quizJson(1)))
    const reply = await quiz(a, `t-short-${run}`, 3)
    assert.strictEqual(reply.status, 200, reply.text)
    const body = JSON.parse(reply.text) as QuizBody
    assert.strictEqual(body.quiz.questions.length, 3)
    assert.strictEqual(body.provider, "deepseek")
    assert.strictEqual(body.attempts, 2)
    assert.strictEqual(reply.headers.get("ratelimit-remaining"), String(limit - 3))
    // the decode error went back to the model with the re-ask
    const [first, reask] = await Effect.runPromise(server.received("deepseek"))
    assert.notInclude(JSON.stringify(first?.body), "expected 3 questions")
    assert.include(JSON.stringify(reask?.body), "expected 3 questions, got 1")
  })

  it("falls back to Gemini when DeepSeek keeps returning fewer questions than asked", async () => {
    await inject("deepseek", MockFault.content(quizJson(2)), { times: 2 })
    const reply = await quiz(a, `t-short-twice-${run}`, 3)
    assert.strictEqual(reply.status, 200, reply.text)
    const body = JSON.parse(reply.text) as QuizBody
    assert.strictEqual(body.quiz.questions.length, 3)
    assert.strictEqual(body.provider, "gemini")
    assert.strictEqual(body.attempts, 3)
  })

  it("answers 503 without internal detail when both providers fail, and refunds the quota", async () => {
    await inject("deepseek", MockFault.status(503))
    await inject("gemini", MockFault.status(500))
    const reply = await quiz(a, `t-down-${run}`)
    assert.strictEqual(reply.status, 503)
    assert.strictEqual(reply.headers.get("content-type"), "application/problem+json")
    assert.strictEqual(reply.headers.get("ratelimit-remaining"), String(limit))
    for (const secret of ["deepseek", "gemini", "mock-", "photosynthesis", "HTTP"]) {
      assert.notInclude(reply.text, secret)
    }
  })

  it("ends a stream cut mid-answer with an error event, never a clean finish", async () => {
    await inject("deepseek", MockFault.status(503))
    // Gemini's first event carries text: a stall after it cuts the answer mid-way
    await inject("gemini", MockFault.stallMidStream("forever"))
    const reply = await postJson(`${a.url}/v1/quizzes/stream`, `t-cut-${run}`, { topic: "tides", grade: 5 })
    assert.strictEqual(reply.status, 200)
    const events = reply.text.split("\n").filter((l) => l.startsWith("event: ")).map((l) => l.slice(7))
    assert.include(events, "delta")
    assert.strictEqual(events.at(-1), "error")
    assert.notInclude(events, "finish")
  })

  it("streams an explanation that ends with finish", async () => {
    const reply = await postJson(`${a.url}/v1/quizzes/stream`, `t-stream-${run}`, { topic: "tides", grade: 5 })
    assert.strictEqual(reply.headers.get("content-type"), "text/event-stream")
    const events = reply.text.split("\n").filter((l) => l.startsWith("event: ")).map((l) => l.slice(7))
    assert.strictEqual(events.at(-1), "finish")
    assert.strictEqual(reply.headers.get("ratelimit-remaining"), String(limit - 1))
  })

  it("two processes sharing one Redis give exactly the daily limit between them", async () => {
    const teacher = `t-shared-${run}`
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => quiz(i % 2 === 0 ? a : b, teacher)))
    const statuses = replies.map((r) => r.status)
    assert.strictEqual(statuses.filter((s) => s === 200).length, limit, statuses.join(","))
    assert.strictEqual(statuses.filter((s) => s === 429).length, 10 - limit, statuses.join(","))
  })

  it("reports usage per teacher to the admin only, refuses a bad day naming it, and reads each circuit", async () => {
    const teacher = `t-usage-${run}`
    await quiz(b, teacher)
    // RFC 9110 §15.5.2: a 401 names the scheme its credentials are sent by
    for (const headers of [{}, { "x-admin-key": "wrong" }]) {
      const refused = await request(`${b.url}/v1/usage`, { headers })
      assert.deepStrictEqual([refused.status, refused.headers.get("www-authenticate")], [
        401,
        "x-admin-key realm=\"quiz-service admin\""
      ])
    }
    const usage = await request(`${b.url}/v1/usage`, { headers: { "x-admin-key": adminKey } })
    const rows = (JSON.parse(usage.text) as { teachers: ReadonlyArray<{ teacher: string; requests: number }> }).teachers
    assert.strictEqual(rows.find((row) => row.teacher === teacher)?.requests, 1)
    // a bad day is refused as a bad body field is: Baton's InvalidOptions, naming it
    const badDay = await request(`${b.url}/v1/usage?day=2026-02-30`, { headers: { "x-admin-key": adminKey } })
    assert.strictEqual(badDay.status, 400)
    assert.deepStrictEqual(JSON.parse(badDay.text), {
      type: "urn:baton:problem:InvalidOptions",
      status: 400,
      title: "Invalid request",
      detail: "day: expected YYYY-MM-DD",
      field: "day"
    })
    const health = JSON.parse((await request(`${b.url}/healthz`)).text) as { providers: ReadonlyArray<unknown> }
    assert.deepStrictEqual(health.providers, [
      { provider: "deepseek", model: "deepseek-flash", circuit: "closed" },
      { provider: "gemini", model: "gemini-2.5-flash", circuit: "closed" }
    ])
  })

  it("/healthz reads each step's circuit: one provider chained with two models is up while its second serves", async () => {
    const twice = await startService(server, "service C", {
      LLM_CHAIN: "deepseek/deepseek-flash,deepseek/deepseek-v4-pro",
      LLM_CIRCUIT_FAILURE_THRESHOLD: "1",
      REDIS_URL: ""
    })
    await inject("deepseek", MockFault.status(503), { times: 1 })
    const served = await quiz(twice, `t-steps-${run}`)
    assert.strictEqual(served.status, 200, served.text)
    const health = await request(`${twice.url}/healthz`)
    assert.strictEqual(health.status, 200, health.text)
    assert.deepStrictEqual((JSON.parse(health.text) as { providers: unknown }).providers, [
      { provider: "deepseek", model: "deepseek-flash", circuit: "open" },
      { provider: "deepseek", model: "deepseek-v4-pro", circuit: "closed" }
    ])
  })
})
