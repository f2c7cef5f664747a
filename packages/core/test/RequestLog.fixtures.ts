/**
 * Attempt reports as the manager builds them, for the request-log, ledger and
 * metrics tests (here and in `@baton/sql`).
 */
import { Effect } from "effect"
import type * as Attempt from "../src/Attempt.ts"
import type { FinishReason } from "../src/GenerationResult.ts"
import { ModelId, ProviderName, SubjectId } from "../src/Ids.ts"
import * as LlmRequest from "../src/LlmRequest.ts"
import * as Pricing from "../src/Pricing.ts"
import { CircuitOpen, ProviderUnavailable } from "../src/ProviderError.ts"
import type { AttemptReport } from "../src/RequestLog.ts"
import type { TokenUsage } from "../src/TokenUsage.ts"

/** A key that must never appear in any output. */
export const CANARY_KEY = "sk-canary-0123456789abcdefghij"

/** Prompt text that must never appear in any output by default. */
export const SECRET_PROMPT = "Write a quiz about the secret-prompt-canary topic"

export const deepseek = ProviderName.make("deepseek")
export const gemini = ProviderName.make("gemini")
export const flash = ModelId.make("deepseek-flash")
export const geminiFlash = ModelId.make("gemini-2.5-flash")

export const teacher1 = SubjectId.make("teacher-1")
export const teacher2 = SubjectId.make("teacher-2")

/** The value, or a thrown error naming what was missing (tests only). */
export const defined = <A>(value: A | undefined, what = "value"): A => {
  if (value === undefined) throw new Error(`expected a ${what}`)
  return value
}

/** The element at `index`, or a thrown error (tests only). */
export const at = <A>(items: ReadonlyArray<A>, index: number): A => defined(items[index], `element ${index}`)

const pricing = Pricing.make(Pricing.defaultTable)

/** Priced usage for some token counts. */
export const usage = (
  provider: ProviderName,
  model: ModelId,
  promptTokens: number,
  completionTokens: number,
  cachedPromptTokens = 0
): TokenUsage => pricing.usage(provider, model, { promptTokens, completionTokens, cachedPromptTokens })

/** A request for a subject (or none), with a fixed request id. */
export const request = (requestId: string, subjectId?: string) =>
  LlmRequest.make({
    prompt: SECRET_PROMPT,
    options: { system: "You are a teacher's assistant." },
    metadata: { requestId, ...(subjectId === undefined ? {} : { subjectId }) }
  }).pipe(Effect.orDie)

/** A report of one attempt. */
export const report = (
  req: LlmRequest.LlmRequest,
  attemptNumber: number,
  attempt: Attempt.Attempt,
  billed?: TokenUsage,
  finishReason?: FinishReason
): AttemptReport => ({ request: req, attemptNumber, attempt, usage: billed, finishReason })

/** An upstream 503 whose message echoes the key, as some providers do. */
export const unavailable = (provider: ProviderName) =>
  new ProviderUnavailable({ provider, status: 503, message: `upstream overloaded (key ${CANARY_KEY})` })

/**
 * The four attempt stories the log must tell: a success, a failure followed
 * by a fallback that succeeds, a cancelled attempt the provider billed, and a
 * skipped attempt (open circuit).
 */
export const stories = Effect.gen(function*() {
  const success = yield* request("req-success", "teacher-1")
  const fallback = yield* request("req-fallback", "teacher-2")
  const cancelled = yield* request("req-cancelled", "teacher-1")
  const skipped = yield* request("req-skipped")
  return {
    success: [
      report(
        success,
        1,
        { provider: deepseek, model: flash, role: "primary", outcome: "success", latencyMs: 120 },
        usage(deepseek, flash, 1200, 300, 200),
        "stop"
      )
    ] as const,
    fallback: [
      report(
        fallback,
        1,
        {
          provider: deepseek,
          model: flash,
          role: "primary",
          outcome: "error",
          latencyMs: 80,
          error: unavailable(deepseek)
        },
        usage(deepseek, flash, 1200, 0)
      ),
      report(
        fallback,
        2,
        { provider: gemini, model: geminiFlash, role: "fallback", outcome: "success", latencyMs: 240 },
        usage(gemini, geminiFlash, 1100, 250),
        "length"
      )
    ] as const,
    cancelled: [
      report(
        cancelled,
        1,
        { provider: deepseek, model: flash, role: "primary", outcome: "cancelled", latencyMs: 30 },
        usage(deepseek, flash, 900, 40)
      )
    ] as const,
    skipped: [
      report(skipped, 1, {
        provider: deepseek,
        model: flash,
        role: "primary",
        outcome: "skipped",
        latencyMs: 0,
        error: new CircuitOpen({ provider: deepseek })
      })
    ] as const
  }
})
