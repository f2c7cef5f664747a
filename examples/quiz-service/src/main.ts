/**
 * The main job: a teacher generates a quiz through Baton.
 *
 * It builds the whole stack from the environment (`LlmConfig`): the provider
 * chain (DeepSeek then Gemini by default) behind the `LlmManager` with
 * retries, circuit breaking and fallback, the per-teacher quota in memory,
 * request logs as JSON lines on stdout, and the usage ledger in an SQLite
 * file (`.baton/usage.sqlite`, or `LLM_USAGE_STORE_URL`). Then it asks for a
 * five-question quiz as structured output, streams a short explanation, and
 * prints what each call cost, which attempts it took, the quota headers an
 * HTTP layer would send, and the teacher's usage today from the ledger.
 *
 * Run: `npx -y pnpm@12 start` (no API key needed: see `QuizEnvironment.ts`).
 *
 * @since 0.1.0
 */
import * as Attempt from "@baton/core/Attempt"
import { SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import * as LlmManager from "@baton/core/LlmManager"
import * as QuotaLimiter from "@baton/core/QuotaLimiter"
import * as RequestLog from "@baton/core/RequestLog"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as Providers from "@baton/providers/Providers"
import * as SqlUsageLedger from "@baton/sql/SqlUsageLedger"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Console, DateTime, Effect, Layer, Schema, Stream } from "effect"
import * as QuizEnvironment from "./QuizEnvironment.ts"

const Question = Schema.Struct({
  question: Schema.String,
  choices: Schema.Array(Schema.String),
  answerIndex: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
})

const Quiz = Schema.Struct({
  topic: Schema.String,
  questions: Schema.Array(Question).check(Schema.isMinLength(5))
})

const teacher = SubjectId.make("teacher-42")
const questionCount = 5

const describeAttempts = (attempts: ReadonlyArray<Attempt.Attempt>) =>
  Effect.forEach(attempts, (attempt) => Console.log(`  attempt: ${Attempt.describe(attempt)}`), { discard: true })

const generateQuiz = Effect.gen(function*() {
  const manager = yield* LlmManager.LlmManager
  const quota = yield* QuotaLimiter.QuotaLimiter
  yield* quota.checkRequestSize(questionCount)
  const quiz = yield* manager.generateStructured({
    prompt: `Write ${questionCount} multiple-choice questions about photosynthesis for 12-year-olds. ` +
      "Answer as JSON with a topic and the questions, each with choices and the index of the right one.",
    options: { temperature: 0.4, maxTokens: 1500, system: "You are a careful science teacher." },
    metadata: { subjectId: teacher, tags: { feature: "quiz" } }
  }, Quiz)
  yield* Console.log(`\nQuiz on "${quiz.value.topic}" from ${quiz.provider}/${quiz.model}:`)
  yield* Effect.forEach(
    quiz.value.questions,
    (q, i) => Console.log(`  ${i + 1}. ${q.question} [${q.choices.join(" | ")}] answer #${q.answerIndex}`),
    { discard: true }
  )
  yield* Console.log(
    `  usage: ${quiz.usage.promptTokens} in / ${quiz.usage.completionTokens} out tokens, ` +
      `$${quiz.usage.estimatedCostUsd.toFixed(9)} (${quiz.usage.costNanoUsd} nano-USD, priced by ${quiz.usage.pricing})`
  )
  yield* describeAttempts(quiz.attempts)
})

const streamExplanation = Effect.gen(function*() {
  const manager = yield* LlmManager.LlmManager
  yield* Console.log("\nStreaming an explanation:")
  const parts = manager.stream({
    prompt: "Explain photosynthesis in two sentences.",
    metadata: { subjectId: teacher, tags: { feature: "explain" } }
  })
  yield* Stream.runForEach(parts, (part) =>
    part._tag === "TextDelta"
      ? Effect.sync(() => process.stdout.write(part.text))
      : part._tag === "Restart"
      ? Console.log("\n  (the answer restarted)")
      : Console.log(`\n  finished (${part.finishReason}) on ${part.provider}, ${part.usage.totalTokens} tokens`))
})

const report = Effect.gen(function*() {
  const quota = yield* QuotaLimiter.QuotaLimiter
  const ledger = yield* UsageLedger.UsageLedger
  const status = yield* quota.remaining(teacher)
  const now = yield* DateTime.now
  yield* Console.log(`\nQuota headers for ${teacher}:`, QuotaLimiter.rateLimitHeaders(status, now))
  const today = UsageLedger.dayOf(now, "UTC")
  const usage = yield* ledger.usageBySubject(today)
  yield* Effect.forEach(usage, (row) =>
    Console.log(
      `Ledger ${row.day} ${
        row.subjectId ?? "(no subject)"
      }: ${row.requests} requests, ${row.attempts} billed attempts, ` +
        `${row.totalTokens} tokens, $${row.costUsd.toFixed(9)}`
    ), { discard: true })
})

const Stores = Layer.mergeAll(
  RequestLog.layerFromConfig,
  SqlUsageLedger.layerFromConfig({ fallbackUrl: "sqlite:.baton/usage.sqlite" }),
  QuotaLimiter.layerMemory()
)

const Manager = LlmManager.layerConfig({
  deepseek: Providers.layerFromConfig("deepseek"),
  gemini: Providers.layerFromConfig("gemini"),
  openai: Providers.layerFromConfig("openai"),
  anthropic: Providers.layerFromConfig("anthropic")
}).pipe(Layer.provideMerge(Stores), Layer.provide([LlmConfig.layerPricing, NodeHttpClient.layerUndici]))

const App = Manager.pipe(Layer.provideMerge(LlmConfig.layer), Layer.provide(QuizEnvironment.layer))

Effect.all([generateQuiz, streamExplanation, report], { discard: true }).pipe(
  Effect.provide(App),
  NodeRuntime.runMain
)
