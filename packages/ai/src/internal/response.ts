/**
 * Baton results as `effect/ai` response parts, and back.
 *
 * A `GenerationResult` becomes `response-metadata` (the request id, the model
 * that answered), the text, and a `finish` part with the finish reason and
 * the usage; Baton's own account (provider, cost in nano-USD, price source,
 * every attempt; the `sources` too, every provider and model whose text
 * the answer holds, and whether it was `rescued`) rides in the finish
 * part's `metadata.baton`, and a tool
 * call's `replay` in its `tool-call` part's `metadata.baton.replay`. A stream
 * becomes `text-start` / `text-delta`s / `text-end`, the tool calls'
 * `tool-params-start` / `-delta`s / `-end` as their arguments arrive, then
 * the same tool-call, metadata and finish parts.
 */
import type { FinishReason, GenerationResult, Source, StreamPart } from "@baton/core/GenerationResult"
import type { ModelId, ProviderName, RequestId } from "@baton/core/Ids"
import type * as TokenUsage from "@baton/core/TokenUsage"
import type { ToolCall } from "@baton/core/Tool"
import type { Response } from "effect/ai"

const finishReasons: Record<FinishReason, Response.FinishReason> = {
  stop: "stop",
  length: "length",
  content_filter: "content-filter",
  tool_calls: "tool-calls",
  other: "other"
}

const batonReasons: Partial<Record<Response.FinishReason, FinishReason>> = {
  stop: "stop",
  length: "length",
  "content-filter": "content_filter",
  "tool-calls": "tool_calls"
}

/**
 * Baton's finish reason of an `effect/ai` one.
 */
export const toFinishReason = (reason: Response.FinishReason): FinishReason => batonReasons[reason] ?? "other"

/**
 * Baton's usage as `effect/ai` usage: prompt tokens with the cached ones
 * apart, completion tokens with the reasoning ones apart (plain JSON, so
 * error metadata can carry it too). No `cacheWrite`: Baton counts prompt
 * tokens written to a cache within `promptTokens`, not apart, so they are
 * in `uncached`.
 */
export const toUsage = (usage: TokenUsage.TokenUsage) =>
  ({
    inputTokens: {
      total: usage.promptTokens,
      uncached: usage.promptTokens - usage.cachedPromptTokens,
      cacheRead: usage.cachedPromptTokens
    },
    outputTokens: {
      total: usage.completionTokens,
      text: usage.completionTokens - usage.reasoningTokens,
      reasoning: usage.reasoningTokens
    }
  }) satisfies typeof Response.Usage.Encoded

/** A reported total, else the sum of its reported parts; none when neither is reported. */
const totalOf = (total: number | undefined, parts: ReadonlyArray<number | undefined>): number | undefined =>
  total ?? parts.reduce<number | undefined>((sum, part) => part === undefined ? sum : (sum ?? 0) + part, undefined)

/**
 * Baton's token counts of `effect/ai` usage: a total not reported is the sum
 * of its reported parts (prompt: uncached, cache reads and cache writes;
 * completion: text and reasoning). A side of which neither is reported
 * (both, from a server that reports no usage) is `guess`'s, Baton's estimate
 * of the call, and the counts are then `estimated`: the provider billed it.
 */
export const toCounts = (
  usage: Response.Usage,
  guess: () => TokenUsage.TokenCounts
): { readonly counts: TokenUsage.TokenCounts; readonly estimated: boolean } => {
  const prompt = totalOf(usage.inputTokens.total, [
    usage.inputTokens.uncached,
    usage.inputTokens.cacheRead,
    usage.inputTokens.cacheWrite
  ])
  const completion = totalOf(usage.outputTokens.total, [usage.outputTokens.text, usage.outputTokens.reasoning])
  const cachedPromptTokens = usage.inputTokens.cacheRead
  if (prompt !== undefined && completion !== undefined) {
    return {
      counts: {
        promptTokens: prompt,
        completionTokens: completion,
        cachedPromptTokens,
        reasoningTokens: usage.outputTokens.reasoning
      },
      estimated: false
    }
  }
  const estimate = guess()
  return {
    counts: {
      promptTokens: prompt ?? estimate.promptTokens,
      completionTokens: completion ?? estimate.completionTokens,
      cachedPromptTokens,
      // a completion not reported has no reported reasoning either (a part of it)
      reasoningTokens: completion === undefined ? estimate.reasoningTokens : usage.outputTokens.reasoning
    },
    estimated: true
  }
}

/** The value of a JSON text, or the text itself when it is not JSON. */
export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * The tool calls as `tool-call` parts, a call's `replay` (what its provider
 * needs sent back with it) in `metadata.baton.replay`: `Prompt.fromResponseParts`
 * makes it the next prompt's part `options`, which `prompt.ts` reads back.
 */
const toolCallParts = (calls: ReadonlyArray<ToolCall> | undefined): Array<Response.ToolCallPartEncoded> =>
  (calls ?? []).map((call) => ({
    type: "tool-call",
    id: call.id,
    name: call.name,
    params: parseJson(call.arguments),
    ...(call.replay === undefined ? {} : { metadata: { baton: { replay: call.replay } } })
  }))

interface Account {
  readonly requestId: RequestId
  readonly provider: ProviderName
  readonly model: ModelId
  readonly finishReason: FinishReason
  readonly usage: TokenUsage.TokenUsage
  readonly attempts?: GenerationResult["attempts"] | undefined
  readonly toolCalls?: ReadonlyArray<ToolCall> | undefined
  /** Every provider and model whose text the answer holds, and whether a broken answer was rescued (`LlmManager`'s). */
  readonly sources?: ReadonlyArray<Source> | undefined
  readonly rescued?: boolean | undefined
}

/** The answer's sources and rescue, as plain JSON; nothing when it has none (a provider's own result). */
const splice = (account: Account) =>
  account.sources === undefined ? {} : {
    sources: account.sources.map((source) => ({ provider: source.provider, model: source.model })),
    rescued: account.rescued === true
  }

const closing = (
  account: Account
): Array<Response.ToolCallPartEncoded | Response.ResponseMetadataPartEncoded | Response.FinishPartEncoded> => [
  ...toolCallParts(account.toolCalls),
  { type: "response-metadata", id: account.requestId, modelId: account.model },
  {
    type: "finish",
    reason: finishReasons[account.finishReason],
    usage: toUsage(account.usage),
    metadata: {
      baton: {
        provider: account.provider,
        model: account.model,
        costNanoUsd: account.usage.costNanoUsd,
        estimatedCostUsd: account.usage.estimatedCostUsd,
        pricing: account.usage.pricing,
        ...splice(account),
        attempts: (account.attempts ?? []).map((attempt) => ({
          provider: attempt.provider,
          model: attempt.model,
          role: attempt.role,
          outcome: attempt.outcome,
          latencyMs: attempt.latencyMs,
          error: attempt.error?._tag ?? null
        }))
      }
    }
  }
]

/**
 * The parts of a completed generation whose answer is `text`.
 */
export const resultParts = (result: GenerationResult, text: string): Array<Response.PartEncoded> => [
  ...(text.length === 0 && result.toolCalls !== undefined ? [] : [{ type: "text" as const, text }]),
  ...closing(result)
]

/** What a stream has opened so far: the text block, and the tool calls whose params are streaming. */
export interface StreamState {
  readonly text: boolean
  readonly tools: ReadonlyArray<string>
}

/** The state of a stream before its first part. */
export const initialState = (): StreamState => ({ text: false, tools: [] })

const textEnd = (state: StreamState, requestId: RequestId): ReadonlyArray<Response.StreamPartEncoded> =>
  state.text ? [{ type: "text-end", id: requestId }] : []

/**
 * The stream parts of one Baton stream part, with the state of
 * `Stream.mapAccum`: text becomes `text-start` / `text-delta`s; a tool call's
 * deltas become `tool-params-start` (its first) and `tool-params-delta`s;
 * the `Finish` closes what is open (`text-end`, `tool-params-end`s) before the
 * assembled `tool-call`s and the finish parts.
 */
export const streamParts = (requestId: RequestId) =>
(
  state: StreamState,
  part: StreamPart
): readonly [StreamState, ReadonlyArray<Response.StreamPartEncoded>] => {
  switch (part._tag) {
    case "TextDelta": {
      const delta: Response.StreamPartEncoded = { type: "text-delta", id: requestId, delta: part.text }
      return [
        state.text ? state : { ...state, text: true },
        state.text ? [delta] : [{ type: "text-start", id: requestId }, delta]
      ]
    }
    case "ToolCallDelta": {
      const delta: ReadonlyArray<Response.StreamPartEncoded> = part.argumentsDelta === ""
        ? []
        : [{ type: "tool-params-delta", id: part.id, delta: part.argumentsDelta }]
      if (state.tools.includes(part.id)) return [state, delta]
      return [{ ...state, tools: [...state.tools, part.id] }, [
        { type: "tool-params-start", id: part.id, name: part.name },
        ...delta
      ]]
    }
    // a `Restart` comes only with `rescue: "restart"`, which this layer refuses for streams: it closes the text block
    case "Restart":
      return [{ ...state, text: false }, textEnd(state, requestId)]
    case "Finish":
      return [initialState(), [
        ...textEnd(state, requestId),
        ...state.tools.map((id): Response.StreamPartEncoded => ({ type: "tool-params-end", id })),
        ...closing({ ...part, requestId })
      ]]
  }
}
