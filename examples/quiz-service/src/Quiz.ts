/**
 * The quiz domain: what a teacher asks for, what comes back, and the prompts
 * that ask a model for it.
 *
 * A quiz is decoded by `quizOf(questionCount)` (a `Schema`), so a model's
 * answer that does not have the questions asked for, each with distinct
 * choices and an answer index in range, never reaches a teacher: the manager
 * re-asks once, then falls back.
 *
 * @since 0.1.0
 */
import * as GenerationOptions from "@baton/core/GenerationOptions"
import { Schema } from "effect"

/**
 * The body of `POST /v1/quizzes`.
 *
 * @since 0.1.0
 */
export const QuizRequest = Schema.Struct({
  topic: Schema.NonEmptyString.check(Schema.isMaxLength(200)),
  grade: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 12 })),
  questionCount: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
})

/** @since 0.1.0 */
export type QuizRequest = typeof QuizRequest.Type

/**
 * The token limit of a quiz of `questionCount` questions: 300 a question and
 * 200 more, within what any request may ask (a count over the per-request
 * maximum is then refused as such, naming `questionCount`).
 *
 * @since 0.1.0
 */
export const maxTokensFor = (questionCount: number): number =>
  Math.min(300 * questionCount + 200, GenerationOptions.maxTokensLimit)

/**
 * How much the model thinks before a quiz or an explanation: not at all.
 * Both are plain writing tasks, and the default primary (DeepSeek's
 * `deepseek-flash`) thinks unless told not to, at output prices and inside
 * the same token limit, so a 400-token explanation could be spent on
 * thinking and come back empty.
 *
 * @since 0.1.0
 */
export const reasoning: GenerationOptions.Reasoning = "none"

/**
 * The body of `POST /v1/quizzes/stream`: an explanation of a topic.
 *
 * @since 0.1.0
 */
export const ExplainRequest = Schema.Struct({
  topic: Schema.NonEmptyString.check(Schema.isMaxLength(200)),
  grade: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 12 }))
})

/** @since 0.1.0 */
export type ExplainRequest = typeof ExplainRequest.Type

/**
 * One multiple-choice question: distinct choices, the index of the right one.
 *
 * @since 0.1.0
 */
export const Question = Schema.Struct({
  question: Schema.NonEmptyString,
  choices: Schema.Array(Schema.NonEmptyString).check(Schema.isMinLength(2), Schema.isMaxLength(6)),
  answerIndex: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  explanation: Schema.String
}).check(
  Schema.makeFilter((q) =>
    q.answerIndex >= q.choices.length
      ? { path: ["answerIndex"], issue: "answerIndex must point at one of the choices" }
      : new Set(q.choices).size !== q.choices.length
      ? { path: ["choices"], issue: "choices must be distinct" }
      : undefined
  )
)

/** @since 0.1.0 */
export type Question = typeof Question.Type

/**
 * A quiz as the model returns it.
 *
 * @since 0.1.0
 */
export const Quiz = Schema.Struct({
  topic: Schema.String,
  questions: Schema.Array(Question).check(Schema.isMinLength(1))
})

/** @since 0.1.0 */
export type Quiz = typeof Quiz.Type

const quizzes = new Map<number, Schema.Codec<Quiz, typeof Quiz.Encoded>>()

/**
 * A `Quiz` with exactly the `questionCount` questions asked for: an answer
 * with fewer (or more) is invalid, so the model is re-asked with the error
 * ("expected 10 questions, got 3"), then the next provider is tried, and a
 * teacher is never charged for questions not received. One schema per count,
 * kept (up to 100 counts): Baton compiles a schema once per schema object.
 *
 * @since 0.1.0
 */
export const quizOf = (questionCount: number): Schema.Codec<Quiz, typeof Quiz.Encoded> => {
  const known = quizzes.get(questionCount)
  if (known !== undefined) return known
  const schema = Quiz.check(
    Schema.makeFilter((quiz) =>
      quiz.questions.length === questionCount
        ? undefined
        : { path: ["questions"], issue: `expected ${questionCount} questions, got ${quiz.questions.length}` }
    )
  )
  // bounded: a count over the per-request maximum gets its schema before the manager refuses it
  if (quizzes.size < 100) quizzes.set(questionCount, schema)
  return schema
}

/**
 * The prompt for a quiz.
 *
 * @since 0.1.0
 */
export const quizPrompt = (request: QuizRequest): string =>
  `Write ${request.questionCount} multiple-choice questions about ${request.topic} for grade ${request.grade}. ` +
  "Answer as JSON with the topic and the questions, each with distinct choices, the index of the right one " +
  "and a one-sentence explanation."

/**
 * The prompt for a streamed explanation.
 *
 * @since 0.1.0
 */
export const explainPrompt = (request: ExplainRequest): string =>
  `Explain ${request.topic} to a grade ${request.grade} class in three short sentences.`

/**
 * The system message of every quiz call.
 *
 * @since 0.1.0
 */
export const system = "You are a careful teacher who writes clear, correct quiz questions."
