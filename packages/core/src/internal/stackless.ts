/**
 * Error classes that capture no JavaScript stack trace.
 *
 * Baton's errors are built inside the fiber's run loop, so a trace would list
 * Effect's internals only (a failure is located by its spans and its fields),
 * and capturing one is most of the cost of building an error: 10-20 µs, paid
 * on every call that a circuit, a throttle or a quota refuses.
 */

/** False where `Error.stackTraceLimit` is frozen (hardened intrinsics): errors then keep their trace. */
const writable = (() => {
  const descriptor = Object.getOwnPropertyDescriptor(Error, "stackTraceLimit")
  return descriptor === undefined
    ? Object.isExtensible(Error)
    : descriptor.writable === true || descriptor.set !== undefined
})()

/** Sets `Error.stackTraceLimit` to 0 where it may be set; the limit it had, for {@link restoreTraces}. */
const stopTraces = (): number => {
  const limit = Error.stackTraceLimit
  if (writable) Error.stackTraceLimit = 0
  return limit
}

/** Puts back the limit {@link stopTraces} returned. */
const restoreTraces = (limit: number): void => {
  if (writable) Error.stackTraceLimit = limit
}

/** What `build` returns, built with `Error.stackTraceLimit` at 0 (restored right after). */
export const withoutStack = <A>(build: () => A): A => {
  const limit = stopTraces()
  try {
    return build()
  } finally {
    restoreTraces(limit)
  }
}

/** `Base` whose instances are built with `Error.stackTraceLimit` at 0 (restored right after). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's constructor takes `any[]`
export const stackless = <C extends new(...args: Array<any>) => Error>(Base: C): C =>
  class extends Base {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
    constructor(...args: Array<any>) {
      const limit = stopTraces()
      try {
        // eslint-disable-next-line @typescript-eslint/no-unsafe-argument -- the arguments of `Base`, as given
        super(...args)
      } finally {
        restoreTraces(limit)
      }
    }
  }
