/** A tracer for tests that keeps every span it starts, to read their names, parents and attributes. */
import { Tracer } from "effect"

/** A span that also counts how often each of its attributes was set. */
export class CountingSpan extends Tracer.NativeSpan {
  readonly sets = new Map<string, number>()
  override attribute(key: string, value: unknown): void {
    this.sets.set(key, (this.sets.get(key) ?? 0) + 1)
    super.attribute(key, value)
  }
}

/** The tracer (provide it as `Tracer.Tracer`) and the spans it started, in order. */
export const recordingTracer = () => {
  const spans: Array<CountingSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new CountingSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}
