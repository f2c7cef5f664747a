/** A tracer for tests that keeps every span it starts, to read their names, parents and attributes. */
import { Tracer } from "effect"

/** The tracer (provide it as `Tracer.Tracer`) and the spans it started, in order. */
export const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}
