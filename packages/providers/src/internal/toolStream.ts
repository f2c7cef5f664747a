/**
 * Tool calls assembled from a stream, whatever the wire format: each codec
 * feeds the fragments it reads under its own key for a call (a chunk's
 * `index`, a content block's index, a running count), and the calls are
 * numbered in the order they opened. The adapter drains the `ToolCallDelta`s
 * after every event; the `Finish` carries the assembled calls.
 *
 * What the provider asks to have sent back with the calls comes along
 * (`replay.ts`): a call's own `signature` in its fragments (Gemini), and the
 * reasoning of the answer ({@link ToolStream.reason}: DeepSeek's
 * `reasoning_content` deltas), which goes on the first call, kept up to
 * `maxReasoningChars`.
 */
import type { ToolCallDelta } from "@baton/core/GenerationResult"
import * as Replay from "./replay.ts"

interface Pending {
  readonly index: number
  id: string
  name: string
  arguments: string
  signature: string | undefined
}

/** A fragment of a call: its id, name and signature when it carries them, and more arguments. */
export interface Fragment {
  readonly id?: string | undefined
  readonly name?: string | undefined
  readonly arguments?: string | undefined
  /** What the provider signed the call with (Gemini's `thoughtSignature`). */
  readonly signature?: string | undefined
}

const decoded = (call: Pending): Replay.DecodedCall => ({
  id: call.id,
  name: call.name,
  arguments: call.arguments === "" ? "{}" : call.arguments,
  ...(call.signature === undefined ? {} : { echo: { signature: call.signature } })
})

/** The calls of one stream, fed fragment by fragment. */
export const make = () => {
  const calls = new Map<number, Pending>()
  let deltas: Array<ToolCallDelta> = []
  // the key of the call opened last
  let last: number | undefined
  // the answer's reasoning, `undefined` once it passed `maxReasoningChars`
  let reasoning: string | undefined = ""
  /** A key no call has yet. */
  const freshKey = (): number => calls.size === 0 ? 0 : Math.max(...calls.keys()) + 1
  return {
    /** True once a call was opened under `key`. */
    has: (key: number): boolean => calls.has(key),
    /** The key of the call opened last, if any. */
    last: (): number | undefined => last,
    /** True when the call under `key` has (some of) its name. */
    named: (key: number): boolean => (calls.get(key)?.name ?? "") !== "",
    /** A key no call has yet (a new call, on a wire whose fragments do not say whose they are). */
    freshKey,
    /** The key of the call with this `id`, else a key no call has yet (for a wire that names calls by id only). */
    keyOf: (id: string): number => {
      for (const [key, call] of calls) if (call.id === id) return key
      return freshKey()
    },
    /** A fragment of the call under `key` (opened by its first fragment). */
    feed: (key: number, fragment: Fragment): void => {
      let call = calls.get(key)
      if (call === undefined) {
        call = { index: calls.size, id: "", name: "", arguments: "", signature: undefined }
        calls.set(key, call)
        last = key
      }
      if (fragment.id !== undefined) call.id = fragment.id
      if (fragment.name !== undefined) call.name += fragment.name
      if (fragment.signature !== undefined) call.signature = fragment.signature
      const argumentsDelta = fragment.arguments ?? ""
      call.arguments += argumentsDelta
      deltas.push({ _tag: "ToolCallDelta", index: call.index, id: call.id, name: call.name, argumentsDelta })
    },
    /** More of the answer's reasoning, sent back with its calls. */
    reason: (text: string): void => {
      if (reasoning === undefined) return
      reasoning = reasoning.length + text.length > Replay.maxReasoningChars ? undefined : reasoning + text
    },
    /** The deltas made since the last drain. */
    deltas: (): ReadonlyArray<ToolCallDelta> => {
      const out = deltas
      deltas = []
      return out
    },
    /** The calls so far, in the order they opened (arguments `{}` when none came). */
    calls: (): ReadonlyArray<Replay.DecodedCall> | undefined =>
      calls.size === 0 ? undefined : Replay.withReasoning(Array.from(calls.values(), decoded), reasoning)
  }
}

/** The state of one stream's tool calls. */
export type ToolStream = ReturnType<typeof make>
