/**
 * The DreamAI demo (`node src/demo.ts`, the repository's `npx -y pnpm@12
 * start`): a day at DreamAI, end to end over HTTP, in well under 30 seconds.
 *
 * It starts the bundled mock provider server and this quiz service on
 * loopback, then drives the service with
 * plain HTTP requests: teachers generating quizzes, a DeepSeek outage that
 * trips its circuit (Gemini takes over) and then recovers, one teacher
 * reaching the daily limit (429 with `Retry-After`), a request over the
 * per-request maximum (400), and a streamed explanation. One line per event
 * on stdout; the service's request logs go to `.baton/demo-requests.log`.
 * It ends with the per-teacher table read back from the ledger through
 * `GET /v1/usage`, and a per-provider table.
 *
 * The demo's settings (daily limit 20 questions, circuit opening after 3 failures for
 * 3 seconds) are its own; the run's ledger is `.baton/demo-usage.sqlite`,
 * started afresh each time.
 *
 * @since 0.1.0
 */
import * as UsageLedger from "@baton/core/UsageLedger"
import * as CommandRuntime from "@baton/testing/CommandRuntime"
import * as MockEnvironment from "@baton/testing/MockEnvironment"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { ConfigProvider, Context, DateTime, Effect, Layer, Logger } from "effect"
import { HttpServer } from "effect/http"
import { mkdirSync, rmSync } from "node:fs"
import * as QuizService from "./QuizService.ts"

const directory = ".baton"
const files = {
  ledger: `${directory}/demo-usage.sqlite`,
  requests: `${directory}/demo-requests.log`,
  service: `${directory}/demo-service.log`
}
const adminKey = "demo-admin-key"
const dailyLimit = 20

const settings: Record<string, string> = {
  LLM_PRIMARY_PROVIDER: "deepseek",
  LLM_FALLBACK_PROVIDER: "gemini",
  AI_DAILY_LIMIT_PER_TEACHER: String(dailyLimit),
  AI_MAX_QUESTIONS_PER_REQUEST: "10",
  LLM_MAX_RETRIES: "1",
  LLM_RETRY_BASE_DELAY_MS: "50",
  LLM_CIRCUIT_FAILURE_THRESHOLD: "3",
  LLM_CIRCUIT_COOLDOWN_MS: "3000",
  LLM_USAGE_STORE_URL: `sqlite:${files.ledger}`,
  QUIZ_REQUEST_LOG: files.requests,
  QUIZ_ADMIN_KEY: adminKey
}

interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: string
}

const call = (url: string, init: RequestInit = {}) =>
  Effect.promise(async (signal): Promise<Reply> => {
    const response = await fetch(url, { ...init, signal })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })

const json = (reply: Reply): Record<string, unknown> => JSON.parse(reply.body) as Record<string, unknown>

const say = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

/** The routes the demo drives, on the service at `base`. */
const client = (base: string) => {
  const quiz = (teacher: string, topic: string, questionCount: number) =>
    Effect.gen(function*() {
      const reply = yield* call(`${base}/v1/quizzes`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-teacher-id": teacher },
        body: JSON.stringify({ topic, grade: 6, questionCount })
      })
      const left = `${reply.headers.get("ratelimit-remaining")}/${reply.headers.get("ratelimit-limit")} left today`
      const who = `  ${teacher.padEnd(10)}`
      if (reply.status === 200) {
        const body = json(reply) as { provider: string; attempts: number; quiz: { questions: Array<unknown> } }
        const route = body.attempts > 1 ? `${body.provider} after ${body.attempts} attempts` : body.provider
        yield* say(`${who} 200  ${body.quiz.questions.length} questions on ${topic} from ${route}; ${left}`)
      } else {
        const problem = json(reply) as { title: string; detail: string }
        const retry = reply.headers.get("retry-after")
        yield* say(
          `${who} ${reply.status}  ${problem.title}: ${problem.detail}${retry ? ` Retry-After: ${retry}s` : ""}`
        )
      }
      return reply.status
    })

  const health = Effect.gen(function*() {
    const body = json(yield* call(`${base}/healthz`)) as { providers: Array<{ provider: string; circuit: string }> }
    yield* say(`  circuits: ${body.providers.map((p) => `${p.provider} ${p.circuit}`).join(", ")}`)
  })

  const explain = (teacher: string, topic: string) =>
    Effect.gen(function*() {
      const reply = yield* call(`${base}/v1/quizzes/stream`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-teacher-id": teacher },
        body: JSON.stringify({ topic, grade: 6 })
      })
      const events = reply.body.split("\n").filter((line) => line.startsWith("event: ")).map((l) => l.slice(7))
      const deltas = events.filter((e) => e === "delta").length
      yield* say(
        `  ${teacher.padEnd(10)} ${reply.status}  streamed ${deltas} deltas on ${topic}, then ${events.at(-1)}`
      )
    })

  const usage = Effect.gen(function*() {
    const reply = yield* call(`${base}/v1/usage`, { headers: { "x-admin-key": adminKey } })
    return (json(reply) as { teachers: Array<Record<string, number | string | null>> }).teachers
  })

  return { quiz, health, explain, usage }
}

type Client = ReturnType<typeof client>

const morning = (service: Client) =>
  Effect.gen(function*() {
    yield* say("08:00  Teachers generate quizzes")
    yield* service.quiz("ms-rivera", "photosynthesis", 5)
    yield* service.quiz("mr-chen", "fractions", 4)
    yield* service.quiz("ms-okafor", "volcanoes", 3)
    yield* service.quiz("mr-haddad", "the water cycle", 5)
  })

const outage = (service: Client, server: MockProviderServer.MockProviderServer["Service"]) =>
  Effect.gen(function*() {
    yield* say("10:00  DeepSeek goes down (503 for 2.5 s): retries, then Gemini takes over")
    yield* server.inject("deepseek", MockFault.status(503), { forMs: 2_500 })
    yield* service.quiz("ms-rivera", "plate tectonics", 3)
    yield* service.quiz("ms-okafor", "the solar system", 4)
    yield* service.health
    yield* service.quiz("mr-haddad", "ecosystems", 3)
    yield* say("       ...DeepSeek is back; the circuit lets a probe through after its 3 s cooldown")
    yield* Effect.sleep("3200 millis")
    yield* service.quiz("ms-rivera", "the human heart", 3)
    yield* service.health
  })

const limit = (service: Client) =>
  Effect.gen(function*() {
    yield* say(`13:00  mr-chen keeps going until his daily limit of ${dailyLimit} questions`)
    for (let i = 0; i < dailyLimit; i++) {
      const status = yield* service.quiz("mr-chen", `decimals, part ${i + 1}`, 5)
      if (status === 429) break
    }
  })

const tooMany = (service: Client) =>
  Effect.gen(function*() {
    yield* say("14:00  ms-okafor asks for 25 questions (at most 10 per request)")
    yield* service.quiz("ms-okafor", "rocks and minerals", 25)
  })

/** Left-aligned text, right-aligned numbers, two spaces between columns. */
const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>) => {
  const all = [headers, ...rows]
  const width = (i: number) => Math.max(...all.map((row) => String(row[i]).length))
  const cell = (value: string | number, i: number) =>
    typeof value === "number" ? String(value).padStart(width(i)) : value.padEnd(width(i))
  const rule = headers.map((_, i) => "-".repeat(width(i)))
  return [headers, rule, ...rows].map((row) => row.map(cell).join("  ").trimEnd()).join("\n")
}

const usd = (value: number) => `$${value.toFixed(6)}`

const teacherTable = (rows: ReadonlyArray<Record<string, number | string | null>>) =>
  table(
    ["teacher", "requests", "tokens", "cost"],
    rows.map((
      row
    ) => [
      String(row["teacher"]),
      Number(row["requests"]),
      Number(row["totalTokens"]),
      usd(Number(row["costUsd"]))
    ])
  )

const providerTable = (
  rows: ReadonlyArray<UsageLedger.ProviderUsage>,
  calls: ReadonlyArray<readonly [string, MockProviderServer.MockStats]>
) =>
  table(
    ["provider", "HTTP calls", "billed attempts", "tokens", "cost"],
    calls.map(([provider, stats]) => {
      const row = rows.find((r) => r.provider === provider)
      return [provider, stats.requests, row?.attempts ?? 0, row?.totalTokens ?? 0, usd(row?.costUsd ?? 0)]
    })
  )

const freshFiles = Effect.sync(() => {
  mkdirSync(directory, { recursive: true })
  for (const file of Object.values(files)) rmSync(file, { force: true })
})

const fileLogs = Effect.map(
  Logger.toFile(Logger.formatLogFmt, files.service, { batchWindow: "100 millis" }),
  (logger) => Logger.layer([logger])
)

const run = Effect.gen(function*() {
  const started = Date.now()
  yield* freshFiles
  const server = yield* MockProviderServer.start({ host: "127.0.0.1" })
  const config = ConfigProvider.layer(
    ConfigProvider.fromEnv({ env: { ...MockEnvironment.pointedAt(server, {}), ...settings } })
  )
  const stack = yield* Layer.build(QuizService.Stack.pipe(Layer.provide(config), Layer.provide(yield* fileLogs)))
  const http = yield* Layer.build(
    QuizService.serve({ port: 0, host: "127.0.0.1" }).pipe(Layer.provide(Layer.succeedContext(stack)))
  )
  const base = HttpServer.formatAddress(Context.get(http, HttpServer.HttpServer).address)
  yield* say(`DreamAI demo: quiz service on ${base}, mock DeepSeek and Gemini on ${server.url}`)
  yield* say(`(request logs: ${files.requests}; ledger: ${files.ledger})\n`)
  const service = client(base)
  yield* morning(service)
  yield* outage(service, server)
  yield* limit(service)
  yield* tooMany(service)
  yield* say("15:00  A streamed explanation")
  yield* service.explain("ms-rivera", "photosynthesis")

  const teachers = yield* service.usage
  const ledger = Context.get(stack, UsageLedger.UsageLedger)
  const today = UsageLedger.dayOf(yield* DateTime.now, "UTC")
  const providers = yield* ledger.usageByProvider(today, today)
  const calls = yield* Effect.forEach(
    ["deepseek", "gemini"] as const,
    (p) => Effect.map(server.stats(p), (s) => [p, s] as const)
  )
  yield* say(`\nPer teacher (from the ledger, GET /v1/usage)\n${teacherTable(teachers)}`)
  yield* say(`\nPer provider\n${providerTable(providers, calls)}`)
  yield* say(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s.`)
}).pipe(Effect.scoped)

run.pipe(Effect.provide(NodeServices.layer), CommandRuntime.runMain)
