/**
 * Tool calls assembled from a stream, whatever the wire format: each codec
 * feeds the fragments it reads under a key of its own for a call (a content
 * block's index, a running count, or a key from {@link ToolStream.indexed}
 * or {@link ToolStream.keyOf} when the wire's indexes and ids do not say
 * whose a fragment is on their own), and the calls are numbered in the order
 * they opened. The adapter drains the `ToolCallDelta`s after every event;
 * the `Finish` carries the assembled calls.
 *
 * A call's first fragment opens it; a fragment's `id` replaces the call's,
 * its `name` is appended (a name sent in pieces) unless it is the call's
 * whole name again (a server that repeats it on every fragment), its
 * `arguments` are appended. A call that ends without an id gets one
 * ({@link generatedId}, `baton-call-<answer>-<n>`, `<n>` its place among the
 * calls and `<answer>` drawn at random once per stream), so that calls stay
 * apart by `toolCallId` and the ids are never empty (Anthropic refuses an
 * empty `tool_use.id` should the next turn fall back there); its deltas
 * carry `""` until then.
 *
 * What the provider asks to have sent back with the calls comes along
 * (`replay.ts`): a call's own `signature` in its fragments (Gemini), also
 * on the delta of the fragment that brought it (an `echo` the adapter
 * stamps; no other delta has one), and the reasoning of the answer
 * ({@link ToolStream.reason}: DeepSeek's `reasoning_content` deltas), which
 * goes on the first call, kept up to `maxReasoningChars`.
 */
import { createHash, randomUUID } from "node:crypto"
import * as Replay from "./replay.ts"

/**
 * The id Baton gives a call its provider sent without one:
 * `<source>-call-<answer>-<index>` (`gemini-call-<responseId>-0`), `index`
 * the call's place among the calls of the answer, `answer` what tells the
 * answer apart (its response id; else {@link answerTag}), so that no two
 * calls of an answer, nor of a conversation, share one.
 */
export const generatedId = (source: string, answer: string, index: number): string =>
  `${source}-call-${answer}-${index}`

/**
 * The id a call is sent under where its own is refused (too long for
 * OpenAI, a character Anthropic does not take): `prefix` and the SHA-256 of
 * the id in base64url (letters, digits, `-`, `_`), `length` characters in
 * all, the same on the call and on the result that answers it.
 */
export const digestId = (prefix: string, id: string, length: number): string =>
  `${prefix}${createHash("sha256").update(id).digest("base64url").slice(0, length - prefix.length)}`

/** A random tag for an answer whose calls need ids and which names itself nowhere. */
export const answerTag = (): string => randomUUID().replaceAll("-", "").slice(0, 12)

/** The `source` of {@link generatedId} for calls of a wire format that has no id generator of its own. */
const GENERATED = "baton"

/**
 * `calls` with an id each: a call without one gets {@link generatedId} by
 * its place, the answer told apart by `tag`, called once and only when a
 * call lacks an id.
 */
export const withIds = <C extends { readonly id: string | undefined }>(
  calls: ReadonlyArray<C>,
  tag: () => string = answerTag
): Array<C & { readonly id: string }> => {
  let drawn: string | undefined
  return calls.map((call, index) => ({ ...call, id: call.id ?? generatedId(GENERATED, drawn ??= tag(), index) }))
}

/**
 * The text an estimate of what calls billed counts (a reply's calls, or a
 * stream's so far, however far they came): each call's name and arguments,
 * which the model wrote (its id is the provider's).
 */
export const outputOf = (calls: Iterable<{ readonly name: string; readonly arguments: string }>): string => {
  let text = ""
  for (const call of calls) text += call.name + call.arguments
  return text
}

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

const decoded = (call: Pending) => ({
  id: call.id === "" ? undefined : call.id,
  name: call.name,
  arguments: call.arguments === "" ? "{}" : call.arguments,
  ...(call.signature === undefined ? {} : { echo: { signature: call.signature } })
})

/** The calls of one stream, fed fragment by fragment. */
export const make = () => {
  const calls = new Map<number, Pending>()
  // the key of the call each wire index currently stands for
  const wire = new Map<number, number>()
  let deltas: Array<Replay.DecodedDelta> = []
  // the key of the call opened last
  let last: number | undefined
  // the answer's reasoning, `undefined` once it passed `maxReasoningChars`
  let reasoning: string | undefined = ""
  // what the ids of calls without one tell the answer by, drawn when first needed
  let tag: string | undefined
  // a key above every key a call has
  let next = 0
  /** A key no call has yet. */
  const freshKey = (): number => next
  /** The key of the call with this `id`, if any. */
  const withId = (id: string): number | undefined => {
    for (const [key, call] of calls) if (call.id === id) return key
    return undefined
  }
  /** What the ids generated for this answer's calls tell it by, drawn once (the ids stay the same call after call). */
  const answer = (): string => tag ??= answerTag()
  return {
    /** How many calls were opened. */
    size: (): number => calls.size,
    /** True once a call was opened under `key`. */
    has: (key: number): boolean => calls.has(key),
    /** The call opened last, if any: its key, and its name and arguments so far. */
    last: (): { readonly key: number; readonly name: string; readonly arguments: string } | undefined => {
      const call = last === undefined ? undefined : calls.get(last)
      return last === undefined || call === undefined
        ? undefined
        : { key: last, name: call.name, arguments: call.arguments }
    },
    /** A key no call has yet (a new call, on a wire whose fragments do not say whose they are). */
    freshKey,
    /** The key of the call with this `id`, else a key no call has yet (for a wire that names calls by id only). */
    keyOf: (id: string): number => withId(id) ?? freshKey(),
    /**
     * The key of the call a fragment under a wire `index` belongs to, for a
     * wire whose indexes may be reused (Gemini's OpenAI-compatible endpoint
     * sends every call whole under index 0, each with its own id): the call
     * the index stands for, unless the fragment carries an `id` (non-empty)
     * other than that call's, which points the index at the call with that
     * id, or at a new one. A fragment with no id, or the call's own, or one
     * for a call that has none yet, continues the call. An index not seen
     * before stands for the call with the fragment's `id` if there is one,
     * else for a new call: the keys are the stream's own, so an index never
     * lands on a call opened without one.
     */
    indexed: (index: number, id: string | undefined): number => {
      const current = wire.get(index)
      const call = current === undefined ? undefined : calls.get(current)
      if (current !== undefined && (id === undefined || call === undefined || call.id === "" || call.id === id)) {
        return current
      }
      const key = (id === undefined ? undefined : withId(id)) ?? freshKey()
      wire.set(index, key)
      return key
    },
    /** A fragment of the call under `key` (opened by its first fragment). */
    feed: (key: number, fragment: Fragment): void => {
      let call = calls.get(key)
      if (call === undefined) {
        call = { index: calls.size, id: "", name: "", arguments: "", signature: undefined }
        calls.set(key, call)
        last = key
        next = Math.max(next, key + 1)
      }
      if (fragment.id !== undefined) call.id = fragment.id
      if (fragment.name !== undefined && fragment.name !== call.name) call.name += fragment.name
      if (fragment.signature !== undefined) call.signature = fragment.signature
      const argumentsDelta = fragment.arguments ?? ""
      call.arguments += argumentsDelta
      const delta: Replay.DecodedDelta = {
        _tag: "ToolCallDelta",
        index: call.index,
        id: call.id,
        name: call.name,
        argumentsDelta
      }
      deltas.push(fragment.signature === undefined ? delta : { ...delta, echo: { signature: fragment.signature } })
    },
    /** More of the answer's reasoning, sent back with its calls. */
    reason: (text: string): void => {
      if (reasoning === undefined) return
      reasoning = reasoning.length + text.length > Replay.maxReasoningChars ? undefined : reasoning + text
    },
    /** The names and arguments that came, as they came ({@link outputOf}): what a stream stopped early billed for its calls. */
    output: (): string => outputOf(calls.values()),
    /** The deltas made since the last drain, a fragment's signature on its own (not yet stamped). */
    deltas: (): ReadonlyArray<Replay.DecodedDelta> => {
      const out = deltas
      deltas = []
      return out
    },
    /** The calls so far, in the order they opened (arguments `{}` when none came, an id generated when none came). */
    calls: (): ReadonlyArray<Replay.DecodedCall> | undefined =>
      calls.size === 0 ? undefined : Replay.withReasoning(
        withIds(Array.from(calls.values(), decoded), answer),
        reasoning
      )
  }
}

/** The state of one stream's tool calls. */
export type ToolStream = ReturnType<typeof make>
