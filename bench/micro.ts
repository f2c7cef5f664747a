/**
 * Micro-measurements of single steps the profile of `manager.generate`
 * points at, each beside the cheaper alternative a cut would use, in µs per
 * call (CPU, no network). They size the cut proposals in `bench/README.md`.
 *
 * Run: `node --expose-gc bench/micro.ts`.
 */
import * as GenerationOptions from "@baton/core/GenerationOptions"
import * as LlmRequest from "@baton/core/LlmRequest"
import { DateTime, Effect } from "effect"
import { createHash, hash } from "node:crypto"

const prompt = "Write one multiple-choice question about photosynthesis for 12-year-olds."
const messages: ReadonlyArray<LlmRequest.Message> = [{ role: "user", content: prompt }]

/** CPU µs per run of `f`, the median of 5 batches of `n` after a warm-up batch. */
const cost = async (f: () => unknown, n = 20_000): Promise<number> => {
  const batch = async () => {
    const cpu = process.cpuUsage()
    for (let i = 0; i < n; i++) {
      const out = f()
      if (out instanceof Promise) await out
    }
    const used = process.cpuUsage(cpu)
    return (used.user + used.system) / n
  }
  await batch()
  const runs: Array<number> = []
  for (let i = 0; i < 5; i++) runs.push(await batch())
  return runs.sort((a, b) => a - b)[2] ?? Number.NaN
}

const steps: ReadonlyArray<readonly [string, () => unknown]> = [
  [
    "LlmRequest.make({ prompt, metadata })",
    () => Effect.runPromise(LlmRequest.make({ prompt, metadata: { subjectId: "teacher-bench" } }))
  ],
  ["GenerationOptions.decode(undefined)", () => Effect.runPromise(GenerationOptions.decode(undefined))],
  [
    "  vs Effect.succeed(GenerationOptions.defaults)",
    () => Effect.runPromise(Effect.succeed(GenerationOptions.defaults))
  ],
  ["LlmRequest.hashMessages (createHash)", () => LlmRequest.hashMessages(messages)],
  [
    "  vs crypto.hash one-shot",
    () => hash("sha256", messages.map((m) => `${m.role}\u0000${m.content}\u0001`).join(""))
  ],
  ["createHash sha256 alone", () => createHash("sha256").update(prompt).digest("hex")],
  ["new AbortController().abort() (a DOMException)", () => {
    new AbortController().abort()
  }],
  ["  vs abort(reason)", () => {
    new AbortController().abort(reasonError)
  }],
  ["DateTime.formatIso(DateTime.nowUnsafe())", () => DateTime.formatIso(DateTime.nowUnsafe())],
  ["  vs new Date().toISOString()", () => new Date().toISOString()],
  ["Effect.runPromise(Effect.void)", () => Effect.runPromise(Effect.void)],
  ["Effect.gen with 3 yields", () =>
    Effect.runPromise(Effect.gen(function*() {
      const a = yield* Effect.succeed(1)
      const b = yield* Effect.succeed(2)
      return (yield* Effect.succeed(3)) + a + b
    }))],
  ["  vs the same as an Effect.fnUntraced made once", () => Effect.runPromise(threeYields())],
  ["  vs the same with flatMap", () =>
    Effect.runPromise(Effect.flatMap(
      Effect.succeed(1),
      (a) => Effect.flatMap(Effect.succeed(2), (b) => Effect.map(Effect.succeed(3), (c) => a + b + c))
    ))]
]
const reasonError = new Error("done")
const threeYields = Effect.fnUntraced(function*() {
  const a = yield* Effect.succeed(1)
  const b = yield* Effect.succeed(2)
  return (yield* Effect.succeed(3)) + a + b
})

for (const [name, f] of steps) console.log(`${(await cost(f)).toFixed(2).padStart(8)} µs  ${name}`)
