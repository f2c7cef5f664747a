/**
 * The thinking budgets, in tokens, that stand for `GenerationOptions`'
 * reasoning levels where a provider takes a number rather than a level
 * (Gemini 2.5's `thinkingBudget`, Claude's `budget_tokens` on models
 * without adaptive thinking). One table, so the two agree: 1,024 is the
 * least Claude takes, and 16,384 fits under every Gemini 2.5 model's
 * ceiling (24,576 for Flash and Flash-Lite, 32,768 for Pro).
 */
import type { Reasoning } from "@baton/core/GenerationOptions"

/** The budget of each level that asks for thinking. */
export const budget: Readonly<Record<Exclude<Reasoning, "none">, number>> = {
  low: 1024,
  medium: 4096,
  high: 16_384
}
