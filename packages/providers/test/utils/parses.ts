/**
 * Counting `JSON.parse` in the repeated-event tests: what a decoder parsed
 * whole, and what it read from a template instead.
 */
import { vi } from "@effect/vitest"

/** What {@link whole} reads of the spy on `JSON.parse` that {@link counting} hands its body. */
export interface ParseSpy {
  readonly mock: { readonly calls: ReadonlyArray<ReadonlyArray<unknown>> }
}

/** Runs `body` with `JSON.parse` spied on, restored whatever happens. */
export const counting = <A>(body: (parse: ParseSpy) => A): A => {
  const parse = vi.spyOn(JSON, "parse")
  try {
    return body(parse)
  } finally {
    parse.mockRestore()
  }
}

/** `JSON.parse` calls on whole events (a `literal` with escapes is parsed alone, and is not counted). */
export const whole = (parse: ParseSpy): number =>
  parse.mock.calls.filter(([json]) => typeof json === "string" && json.startsWith("{")).length
