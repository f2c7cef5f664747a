/**
 * What a provider asks to have sent back with its tool calls (`Tool.Replay`),
 * between the codecs and the adapter.
 *
 * A codec reads it from a reply as an {@link Echo} on the call it decodes
 * (Gemini's `thoughtSignature`, DeepSeek's `reasoning_content`): it knows
 * the wire, not which provider or model it is speaking to. The adapter
 * stamps it with its provider's name and the call's model ({@link stamp}),
 * and before it builds a body it keeps only the replays that provider and
 * model made ({@link madeBy}): a codec sends back every replay it is given,
 * and a replay reaches no other provider, nor another model (a Gemini
 * signature from one model is no valid signature for another).
 */
import type { ToolCallDelta } from "@baton/core/GenerationResult"
import type { ModelId, ProviderName } from "@baton/core/Ids"
import * as LlmRequest from "@baton/core/LlmRequest"
import type { Replay, ToolCall } from "@baton/core/Tool"

/** What a reply asked to have sent back with a call, before the adapter says who asked. */
export type Echo = Omit<Replay, "provider" | "model">

/** A tool call as a codec decodes it: a `ToolCall` whose replay is not yet stamped. */
export interface DecodedCall {
  readonly id: string
  readonly name: string
  readonly arguments: string
  readonly echo?: Echo | undefined
}

/**
 * A tool-call delta as a codec makes it: a `ToolCallDelta` with what its
 * fragment asked to have sent back ({@link Echo}: Gemini's signature), not
 * yet stamped; only a delta whose fragment brought one has an `echo`.
 */
export interface DecodedDelta extends Omit<ToolCallDelta, "replay"> {
  readonly echo?: Echo | undefined
}

/** `item` with its echo a `replay` of `provider` and `model`; one without an echo as it is (not copied). */
const stamped = <A extends { readonly echo?: Echo | undefined }>(item: A, provider: ProviderName, model: ModelId) => {
  if (item.echo === undefined) return item
  const { echo, ...rest } = item
  return { ...rest, replay: { provider, model, ...echo } }
}

/** The delta as a stream hands it on: its echo a `replay` of `provider` and `model`. */
export const stampDelta = (delta: DecodedDelta, provider: ProviderName, model: ModelId): ToolCallDelta =>
  stamped(delta, provider, model)

/**
 * The most characters of reasoning kept for a call's replay: 4 Mi, far above
 * the most a model writes in one answer (DeepSeek: 64K tokens of output by
 * default, at most a few hundred thousand). An answer that reasons past it
 * (a broken server), plain or streamed, keeps none, rather than carrying (or
 * growing) without bound; its calls then go back as a call whose reasoning
 * is unknown.
 */
export const maxReasoningChars = 4 * 1024 * 1024

/**
 * The calls with `reasoning` on the first one (DeepSeek sends it once for
 * the message that holds them); none past {@link maxReasoningChars}.
 */
export const withReasoning = (
  calls: ReadonlyArray<DecodedCall>,
  reasoning: string | undefined
): ReadonlyArray<DecodedCall> => {
  const [first, ...rest] = calls
  if (first === undefined || reasoning === undefined || reasoning.length === 0) return calls
  if (reasoning.length > maxReasoningChars) return calls
  return [{ ...first, echo: { ...first.echo, reasoning } }, ...rest]
}

/** The calls as results carry them: each echo a `replay` of `provider` and `model`. */
export const stamp = (
  calls: ReadonlyArray<DecodedCall> | undefined,
  provider: ProviderName,
  model: ModelId
): ReadonlyArray<ToolCall> | undefined => calls?.map((call) => stamped(call, provider, model))

const foreign = (provider: string, model: string) => (call: ToolCall): boolean =>
  call.replay !== undefined && (call.replay.provider !== provider || call.replay.model !== model)

const withoutReplay = (call: ToolCall): ToolCall => ({ id: call.id, name: call.name, arguments: call.arguments })

/**
 * The request with only the replays `provider` and `model` made: another's
 * are left out (the request unchanged, not copied, when there is none).
 */
export const madeBy = (request: LlmRequest.LlmRequest, provider: string, model: string): LlmRequest.LlmRequest => {
  const isForeign = foreign(provider, model)
  if (!request.messages.some((message) => message.toolCalls?.some(isForeign) === true)) return request
  return LlmRequest.withMessages(
    request,
    request.messages.map((message): LlmRequest.Message =>
      message.toolCalls?.some(isForeign) === true
        ? { ...message, toolCalls: message.toolCalls.map((call) => isForeign(call) ? withoutReplay(call) : call) }
        : message
    )
  )
}
