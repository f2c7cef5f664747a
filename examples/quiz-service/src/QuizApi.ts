/**
 * The quiz service's routes:
 *
 * - `POST /v1/quizzes` (header `x-teacher-id`; body `{ topic, grade,
 *   questionCount }`): a quiz decoded by `Quiz.quizOf`, with the teacher's
 *   `RateLimit-*` headers. Each question is one unit of the teacher's daily
 *   limit (`metadata.units`): 429 with `Retry-After` once it is spent, 400
 *   naming the field over the per-request maximum, before any provider call.
 * - `POST /v1/quizzes/stream` (header `x-teacher-id`; body `{ topic, grade }`):
 *   an explanation as Server-Sent Events (`delta`, `finish`, or `error`).
 * - `GET /v1/usage?day=YYYY-MM-DD` (header `x-admin-key`): the ledger per
 *   teacher for a day (today by default; a `day` not of that form is a 400
 *   naming it, as a bad body field is). Without the key, or with another,
 *   a 401 whose `WWW-Authenticate` names the header: `x-admin-key
 *   realm="quiz-service admin"`; with `QUIZ_ADMIN_KEY` unset, empty or
 *   only spaces, a 403 "Admin API disabled" (spaces around a key are not
 *   part of it). A ledger that fails the query, or does not answer
 *   it within `UsageLedger.defaultQueryTimeout` (10 seconds), is a 503
 *   "Ledger unavailable".
 * - `GET /healthz`: each chain step's circuit (provider and model); 503 when all are open.
 *
 * A body is read up to `HttpBody`'s 1 MiB (413 past it). Every error is a
 * Problem Details, an unknown path (404) and a known path asked with another
 * method (405 with `Allow`) among them.
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import { InvalidOptions } from "@baton/core/LlmError"
import * as LlmManager from "@baton/core/LlmManager"
import * as UsageLedger from "@baton/core/UsageLedger"
import * as HttpBody from "@baton/http/HttpBody"
import * as HttpProblem from "@baton/http/HttpProblem"
import * as HttpQuota from "@baton/http/HttpQuota"
import * as HttpRoutes from "@baton/http/HttpRoutes"
import * as HttpSse from "@baton/http/HttpSse"
import { Config, Context, DateTime, Effect, Layer, Option, Redacted, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse, ProblemDetails } from "effect/http"
import { timingSafeEqual } from "node:crypto"
import * as Quiz from "./Quiz.ts"

const countField = "questionCount"

const teacher = HttpQuota.handler({ subject: { header: "x-teacher-id" }, countField })

const createQuiz = HttpRouter.route(
  "POST",
  "/v1/quizzes",
  teacher((subjectId) =>
    Effect.gen(function*() {
      const request = yield* HttpBody.json(Quiz.QuizRequest)
      const manager = yield* LlmManager.LlmManager
      const result = yield* manager.generateStructured({
        prompt: Quiz.quizPrompt(request),
        options: {
          system: Quiz.system,
          temperature: 0.4,
          maxTokens: Quiz.maxTokensFor(request.questionCount),
          reasoning: Quiz.reasoning
        },
        metadata: { subjectId, units: request.questionCount, tags: { feature: "quiz" } }
      }, Quiz.quizOf(request.questionCount))
      return HttpServerResponse.jsonUnsafe({
        quiz: result.value,
        provider: result.provider,
        model: result.model,
        attempts: result.attempts.length,
        usage: {
          promptTokens: result.usage.promptTokens,
          completionTokens: result.usage.completionTokens,
          costUsd: result.usage.estimatedCostUsd
        }
      })
    })
  )
)

const streamExplanation = HttpRouter.route(
  "POST",
  "/v1/quizzes/stream",
  teacher((subjectId) =>
    Effect.gen(function*() {
      const request = yield* HttpBody.json(Quiz.ExplainRequest)
      const manager = yield* LlmManager.LlmManager
      return yield* HttpSse.response(manager.stream({
        prompt: Quiz.explainPrompt(request),
        options: { system: Quiz.system, maxTokens: 400, reasoning: Quiz.reasoning },
        metadata: { subjectId, tags: { feature: "explain" } }
      }))
    })
  )
)

const problem = (status: number, title: string, detail: string) =>
  ProblemDetails.toResponse({ type: ProblemDetails.blankType, status, title, detail })

const sameSecret = (given: string, expected: Redacted.Redacted): boolean => {
  const a = Buffer.from(given)
  const b = Buffer.from(Redacted.value(expected))
  return a.length === b.length && timingSafeEqual(a, b)
}

/** A key without the spaces around it (a client's header is trimmed), none when nothing is left. */
const trimmedKey = (key: Redacted.Redacted): Option.Option<Redacted.Redacted> => {
  const value = Redacted.value(key).trim()
  return value === "" ? Option.none() : Option.some(Redacted.make(value))
}

/**
 * The key of `GET /v1/usage` (`QUIZ_ADMIN_KEY`, without the spaces around
 * it); the route answers 403 while it is unset, empty or only spaces.
 *
 * @since 0.1.0
 */
export class AdminKey extends Context.Service<AdminKey, Option.Option<Redacted.Redacted>>()("quiz/AdminKey") {
  /** @since 0.1.0 */
  static readonly layerConfig = Layer.effect(
    AdminKey,
    Config.option(Config.Redacted("QUIZ_ADMIN_KEY")).pipe(Config.map(Option.flatMap(trimmedKey)))
  )
}

const readUsage = (day: UsageLedger.Day) =>
  Effect.gen(function*() {
    const ledger = yield* UsageLedger.UsageLedger
    const rows = yield* ledger.usageBySubject(day)
    return HttpServerResponse.jsonUnsafe({
      day,
      teachers: rows.map((row) => ({
        teacher: row.subjectId,
        requests: row.requests,
        attempts: row.attempts,
        promptTokens: row.promptTokens,
        completionTokens: row.completionTokens,
        totalTokens: row.totalTokens,
        costUsd: row.costUsd
      }))
    })
  }).pipe(
    Effect.catchTag("UsageLedgerError", () => Effect.succeed(problem(503, "Ledger unavailable", "Try again later.")))
  )

const usage = HttpRouter.route(
  "GET",
  "/v1/usage",
  Effect.gen(function*() {
    const key = yield* AdminKey
    const request = yield* HttpServerRequest.HttpServerRequest
    if (Option.isNone(key)) return problem(403, "Admin API disabled", "Set QUIZ_ADMIN_KEY to enable it.")
    if (!sameSecret(request.headers["x-admin-key"] ?? "", key.value)) {
      return problem(401, "Unauthorized", "Send the admin key in the x-admin-key header.").pipe(
        // RFC 9110 §15.5.2: a 401 names the scheme, here the header the key is sent in
        HttpServerResponse.setHeader("WWW-Authenticate", "x-admin-key realm=\"quiz-service admin\"")
      )
    }
    const given = new URL(request.url, "http://localhost").searchParams.get("day")
    const settings = yield* LlmConfig.LlmConfig
    const now = yield* DateTime.now
    const day = Schema.decodeUnknownOption(UsageLedger.Day)(given ?? UsageLedger.dayOf(now, settings.quotaTimeZone))
    return Option.isNone(day)
      ? HttpProblem.toResponse(new InvalidOptions({ field: "day", message: "day: expected YYYY-MM-DD" }), now)
      : yield* readUsage(day.value)
  })
)

const circuitNames = { Closed: "closed", Open: "open", HalfOpen: "half-open" } as const

const health = HttpRouter.route(
  "GET",
  "/healthz",
  Effect.gen(function*() {
    const manager = yield* LlmManager.LlmManager
    // per step: one provider chained with two models has two circuits
    const providers = yield* Effect.forEach(
      manager.steps,
      ({ model, provider }) =>
        Effect.map(
          manager.circuitState(provider, model),
          (state) => ({ provider, model, circuit: circuitNames[state._tag] })
        )
    )
    const up = providers.some((p) => p.circuit !== "open")
    return HttpServerResponse.jsonUnsafe({ status: up ? "ok" : "down", providers }, { status: up ? 200 : 503 })
  })
)

/**
 * Every route of the service, and Problem Details for the requests none of
 * them serves (`HttpRoutes`).
 *
 * @since 0.1.0
 */
export const Routes = HttpRoutes.layer([createQuiz, streamExplanation, usage, health])
