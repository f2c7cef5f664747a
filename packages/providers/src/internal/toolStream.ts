/**
 * Tool calls assembled from a stream, whatever the wire format: each codec
 * feeds the fragments it reads under its own key for a call (a chunk's
 * `index`, a content block's index, a running count), and the calls are
 * numbered in the order they opened. The adapter drains the `ToolCallDelta`s
 * after every event; the `Finish` carries the assembled calls.
 */
import type { ToolCallDelta } from "@baton/core/GenerationResult"
import type { ToolCall } from "@baton/core/Tool"

interface Pending {
  readonly index: number
  id: string
  name: string
  arguments: string
}

/** A fragment of a call: its id and name when it carries them, and more arguments. */
export interface Fragment {
  readonly id?: string | undefined
  readonly name?: string | undefined
  readonly arguments?: string | undefined
}

/** The calls of one stream, fed fragment by fragment. */
export const make = () => {
  const calls = new Map<number, Pending>()
  let deltas: Array<ToolCallDelta> = []
  return {
    /** True once a call was opened under `key`. */
    has: (key: number): boolean => calls.has(key),
    /** A fragment of the call under `key` (opened by its first fragment). */
    feed: (key: number, fragment: Fragment): void => {
      let call = calls.get(key)
      if (call === undefined) {
        call = { index: calls.size, id: "", name: "", arguments: "" }
        calls.set(key, call)
      }
      if (fragment.id !== undefined) call.id = fragment.id
      if (fragment.name !== undefined) call.name += fragment.name
      const argumentsDelta = fragment.arguments ?? ""
      call.arguments += argumentsDelta
      deltas.push({ _tag: "ToolCallDelta", index: call.index, id: call.id, name: call.name, argumentsDelta })
    },
    /** The deltas made since the last drain. */
    deltas: (): ReadonlyArray<ToolCallDelta> => {
      const out = deltas
      deltas = []
      return out
    },
    /** The calls so far, in the order they opened (arguments `{}` when none came). */
    calls: (): ReadonlyArray<ToolCall> | undefined =>
      calls.size === 0 ? undefined : Array.from(calls.values(), (call) => ({
        id: call.id,
        name: call.name,
        arguments: call.arguments === "" ? "{}" : call.arguments
      }))
  }
}

/** The state of one stream's tool calls. */
export type ToolStream = ReturnType<typeof make>
