/**
 * The Gemini `generateContent` wire format (v1beta).
 *
 * - Messages become `contents` with roles `user` and `model`; system messages
 *   become `systemInstruction`. A final `model` turn is a prefill the model
 *   continues.
 * - Options go in `generationConfig` (`maxOutputTokens`, `temperature`,
 *   `stopSequences`, `seed`; a limit or temperature left to the provider,
 *   `"provider"`, is not sent); structured output is `responseMimeType:
 *   "application/json"` plus `responseJsonSchema` (plain JSON Schema), but
 *   for a schema with a `$ref` loop of required fields, which Gemini refuses
 *   (`geminiSchema.ts`): that one goes in the system prompt. Before Gemini 3
 *   JSON mode beside function declarations is a 400
 *   ({@link jsonModeBesideTools}): a call with tools, whatever its tool
 *   choice, keeps them and is sent no JSON mode, the schema (or, for
 *   `responseFormat: "json"`, `jsonInstruction`) in the system prompt.
 * - `reasoning` is `generationConfig.thinkingConfig`, by the model's
 *   {@link thinkingFamily}: a `thinkingBudget` for Gemini 2.5 (the budgets of
 *   `reasoning.ts`), a `thinkingLevel` for Gemini 3 and later (never both:
 *   that is a 400); left out, or for a model that does not think, nothing:
 *
 *   | `reasoning` | 2.5 Flash, Flash-Lite | 2.5 Pro | 3+ Flash, Flash-Lite | 3+ Pro |
 *   | --- | --- | --- | --- | --- |
 *   | `"none"` | `thinkingBudget: 0` (off) | `thinkingBudget: 128` (its least) | `thinkingLevel: "MINIMAL"` | `thinkingLevel: "LOW"` |
 *   | `"low"` | `thinkingBudget: 1024` | `thinkingBudget: 1024` | `thinkingLevel: "LOW"` | `thinkingLevel: "LOW"` |
 *   | `"medium"` | `thinkingBudget: 4096` | `thinkingBudget: 4096` | `thinkingLevel: "MEDIUM"` | `thinkingLevel: "HIGH"` |
 *   | `"high"` | `thinkingBudget: 16384` | `thinkingBudget: 16384` | `thinkingLevel: "HIGH"` | `thinkingLevel: "HIGH"` |
 * - Text is the join of `candidates[0].content.parts[].text`, minus thought
 *   parts (streamed, an event's thoughts, alone or beside text, tell the
 *   decoder's `reasoning` callback that the stream is alive, and how many
 *   characters of thoughts came); tools and tool calls are `geminiTools.ts`. A prompt the safety system blocked has no candidates, only
 *   `promptFeedback.blockReason`.
 * - Usage: input = `promptTokenCount` (cached included) +
 *   `toolUsePromptTokenCount` (the tool-use results in the prompt, billed as
 *   input), `cachedContentTokenCount`, and output = `candidatesTokenCount` +
 *   `thoughtsTokenCount` (candidates exclude thoughts, but both are billed as
 *   output): input + output = `totalTokenCount`. Without
 *   `candidatesTokenCount` (Gemini's JSON leaves out a 0) the candidates are
 *   what `totalTokenCount` leaves of the rest, as reported; with no total, or
 *   one that leaves nothing, beside an answer, the output is a lower bound
 *   the adapter raises to the estimate of the answer, flagged `estimated`.
 * - Streams (`:streamGenerateContent?alt=sse`) have no terminator: each event
 *   is a whole response with a running usage total, and the last carries the
 *   `finishReason`. A stream whose events never carried one was cut. The
 *   total is whole once reported with the `finishReason` or after it; a
 *   finishing chunk without `usageMetadata` leaves the earlier total
 *   provisional (raised to the estimate of what came). An
 *   event without `candidates` (usage alone, or only `modelVersion` and
 *   `responseId`) carries no text and is skipped; `candidates` that hold no
 *   candidate object are malformed.
 */
import type { Reasoning } from "@baton/core/GenerationOptions"
import { type FinishReason, responseIdOf, responseModelOf } from "@baton/core/GenerationResult"
import type { ModelId } from "@baton/core/Ids"
import * as LlmRequest from "@baton/core/LlmRequest"
import { jsonInstruction } from "@baton/core/StructuredOutput"
import type { TokenCounts } from "@baton/core/TokenUsage"
import type { Call, Codec, Reply, StreamDecoder, StreamFault } from "./adapter.ts"
import * as GeminiSchema from "./geminiSchema.ts"
import * as GeminiTools from "./geminiTools.ts"
import * as HttpError from "./httpError.ts"
import * as Json from "./json.ts"
import * as JsonSchemaShape from "./jsonSchemaShape.ts"
import * as Thinking from "./reasoning.ts"
import * as ToolStream from "./toolStream.ts"

const filtered = new Set([
  "SAFETY",
  "RECITATION",
  "BLOCKLIST",
  "PROHIBITED_CONTENT",
  "SPII",
  "IMAGE_SAFETY",
  "ESCALATION"
])

/** The normalised finish reason of a Gemini `finishReason`. */
export const finishReason = (reason: string, toolCall: boolean): FinishReason => {
  if (reason === "STOP") return toolCall ? "tool_calls" : "stop"
  if (reason === "MAX_TOKENS" || reason === "CONTINUATION") return "length"
  return filtered.has(reason) ? "content_filter" : "other"
}

/** The token counts of a `usageMetadata`, and whether they lack the candidates' count (see {@link usage}). */
export interface Usage {
  readonly counts: TokenCounts
  readonly provisional: boolean
}

/**
 * The candidates' tokens: `candidatesTokenCount`, else what `totalTokenCount`
 * leaves once `rest` (the prompt, the tool-use results and the thoughts) is
 * taken from it, when it leaves any; else `undefined`, not said.
 */
const candidatesOf = (metadata: Json.JsonObject, rest: number): number | undefined => {
  const reported = Json.count(metadata.candidatesTokenCount)
  if (reported !== undefined) return reported
  const total = Json.count(metadata.totalTokenCount)
  return total === undefined || total <= rest ? undefined : total - rest
}

/**
 * Token counts from `usageMetadata`: input is the prompt plus the tool-use
 * results in it (`toolUsePromptTokenCount`, outside `promptTokenCount`),
 * output the candidates plus the thoughts, so their sum is Gemini's
 * `totalTokenCount`. Without `candidatesTokenCount` (Gemini's JSON leaves a
 * 0 out) the candidates are what the total leaves of the rest; when it
 * leaves nothing, or there is no total, they count 0, `provisional`: a lower
 * bound the adapter raises to the estimate of the answer's text where there
 * is one.
 */
export const usage = (metadata: Json.JsonObject): Usage | undefined => {
  const prompt = Json.count(metadata.promptTokenCount)
  if (prompt === undefined) return undefined
  const toolUse = Json.count(metadata.toolUsePromptTokenCount) ?? 0
  const thoughts = Json.count(metadata.thoughtsTokenCount) ?? 0
  const candidates = candidatesOf(metadata, prompt + toolUse + thoughts)
  return {
    counts: {
      promptTokens: prompt + toolUse,
      completionTokens: (candidates ?? 0) + thoughts,
      cachedPromptTokens: Json.count(metadata.cachedContentTokenCount),
      reasoningTokens: thoughts
    },
    provisional: candidates === undefined
  }
}

/** The usage a response reports, if any. */
const usageIn = (json: Json.JsonObject): Usage | undefined =>
  Json.isObject(json.usageMetadata) ? usage(json.usageMetadata) : undefined

/** How a Gemini model takes its thinking: a budget (2.5) or a level (3 and later), and its tier. */
interface ThinkingFamily {
  readonly scale: "budget" | "level"
  /** Pro models cannot turn thinking off (2.5: a budget of 128 at least; 3: `LOW` and `HIGH` only). */
  readonly pro: boolean
}

/**
 * A model name: `gemini-<version>-<tier>`, after a `models/` prefix and
 * before a `-preview...`, `-exp...`, `-latest` or numbered (`-001`) suffix.
 */
const geminiModel =
  /^(?:models\/)?gemini-(\d+)(?:\.(\d+))?-(flash-lite|flash|pro)(?:-(?:preview|exp|latest|\d)[\w.-]*)?$/

/** A model's version and tier. */
interface Version {
  readonly major: number
  readonly minor: number
  readonly pro: boolean
}

/** A model's {@link Version}, read from its name ({@link geminiModel}); `undefined` for a name Baton cannot place. */
const versionOf = (model: string): Version | undefined => {
  const match = geminiModel.exec(model)
  return match === null
    ? undefined
    : { major: Number(match[1]), minor: Number(match[2] ?? 0), pro: match[3] === "pro" }
}

/**
 * The thinking family of a model, by its name:
 *
 * | model | family |
 * | --- | --- |
 * | `gemini-2.5-flash`, `gemini-2.5-flash-lite` | budget |
 * | `gemini-2.5-pro` | budget, Pro |
 * | `gemini-3-flash-preview`, `gemini-3.5-flash`, `gemini-3.1-flash-lite-preview`, ... | level |
 * | `gemini-3-pro-preview`, `gemini-3.1-pro`, ... | level, Pro |
 * | `gemini-2.0-*`, `gemini-1.5-*` (no thinking), any other name (tuned models, `gemini-flash-latest`, image and audio models) | `undefined` |
 */
const thinkingFamily = (model: string): ThinkingFamily | undefined => {
  const version = versionOf(model)
  if (version === undefined) return undefined
  const { major, minor, pro } = version
  if (major >= 3) return { scale: "level", pro }
  return major === 2 && minor >= 5 ? { scale: "budget", pro } : undefined
}

/** The `thinkingLevel` of each reasoning level: Flash and Flash-Lite take all four, Pro only `LOW` and `HIGH`. */
const levels = {
  flash: { none: "MINIMAL", low: "LOW", medium: "MEDIUM", high: "HIGH" },
  pro: { none: "LOW", low: "LOW", medium: "HIGH", high: "HIGH" }
} as const

/** The least budget of 2.5 Pro, which cannot turn thinking off. */
const proLeastBudget = 128

/** The `thinkingConfig` of a reasoning level on a model (`undefined`: none to send). */
const thinkingConfig = (model: string, reasoning: Reasoning): Json.JsonObject | undefined => {
  const family = thinkingFamily(model)
  if (family === undefined) return undefined
  if (family.scale === "level") return { thinkingLevel: levels[family.pro ? "pro" : "flash"][reasoning] }
  if (reasoning !== "none") return { thinkingBudget: Thinking.budget[reasoning] }
  return { thinkingBudget: family.pro ? proLeastBudget : 0 }
}

/**
 * Whether `"none"` turns a model's thinking off: its budget becomes 0
 * (Gemini 2.5 Flash and Flash-Lite; 2.5 Pro and Gemini 3 still think at
 * their least).
 */
export const stopsThinking = (model: string): boolean => thinkingConfig(model, "none")?.thinkingBudget === 0

/**
 * Whether a model takes function declarations beside JSON mode
 * (`responseMimeType: "application/json"`): Gemini 3 and later. Earlier
 * models answer 400 INVALID_ARGUMENT "Function calling with a response mime
 * type: 'application/json' is unsupported" (reported on 1.5, 2.5 Flash and
 * 2.5 Pro: google-gemini/deprecated-generative-ai-swift#195, symfony/ai#1777,
 * google/adk-python#5735); Google's Gemini 3 guide
 * (https://ai.google.dev/gemini-api/docs/gemini-3, "Structured Outputs with
 * tools") lifts it. A name Baton cannot place (a tuned model,
 * `gemini-flash-latest`) is taken for an earlier one: the system prompt asks
 * for JSON on any model.
 */
const jsonModeBesideTools = (model: string): boolean => (versionOf(model)?.major ?? 0) >= 3

/** How a call asks for JSON: `generationConfig` fields, and an instruction for the system prompt. */
interface JsonAsk {
  readonly config: Json.JsonObject
  readonly instruction: string | undefined
}

/**
 * How a call asks for JSON (structured output, `responseFormat: "json"`):
 * JSON mode, with the schema as `responseJsonSchema`. Where Gemini refuses
 * part of that, the system prompt asks instead: the schema when it holds a
 * `$ref` loop of required fields (`geminiSchema.ts`), under JSON mode; the
 * schema, or `jsonInstruction` without one, and no JSON mode when the call
 * declares functions (`sendsTools`) to a model that refuses both
 * ({@link jsonModeBesideTools}), whatever its tool choice.
 */
const jsonOf = (call: Call, sendsTools: boolean): JsonAsk => {
  const form = call.output === undefined ? undefined : GeminiSchema.formOf(call.output.jsonSchema)
  if (form === undefined && call.request.options.responseFormat !== "json") {
    return { config: {}, instruction: undefined }
  }
  if (sendsTools && !jsonModeBesideTools(call.model)) {
    return { config: {}, instruction: form === undefined ? jsonInstruction : GeminiSchema.instructionOf(form) }
  }
  return form?._tag === "ResponseJsonSchema"
    ? { config: { responseMimeType: "application/json", responseJsonSchema: form.schema }, instruction: undefined }
    : { config: { responseMimeType: "application/json" }, instruction: form?.instruction }
}

const bodyOf = (call: Call): Json.JsonObject => {
  const options = call.request.options
  const contents = GeminiTools.contents(LlmRequest.conversation(call.request))
  const generationConfig: Record<string, unknown> = {}
  if (options.maxTokens !== "provider") generationConfig.maxOutputTokens = options.maxTokens
  if (options.temperature !== "provider") generationConfig.temperature = options.temperature
  if (options.stop !== undefined) generationConfig.stopSequences = options.stop
  if (options.seed !== undefined) generationConfig.seed = options.seed
  const tools = GeminiTools.bodyFields(call.request)
  const json = jsonOf(call, tools.tools !== undefined)
  Object.assign(generationConfig, json.config)
  const thinking = options.reasoning === undefined ? undefined : thinkingConfig(call.model, options.reasoning)
  if (thinking !== undefined) generationConfig.thinkingConfig = thinking
  const prompt = LlmRequest.systemPrompt(call.request)
  const system = json.instruction === undefined ? prompt : JsonSchemaShape.withInstruction(prompt, json.instruction)
  return system === undefined
    ? { contents, generationConfig, ...tools }
    : { contents, systemInstruction: { parts: [{ text: system }] }, generationConfig, ...tools }
}

interface Candidate {
  readonly text: string
  /** The characters of text the thought parts carried (reasoning, not the answer). */
  readonly thought: number
  readonly finishReason: string | undefined
  readonly calls: ReadonlyArray<GeminiTools.FunctionCall>
}

/** The first candidate; a string says what is ill-typed in it. */
const candidateOf = (json: Json.JsonObject): Candidate | string | undefined => {
  const candidates = json.candidates
  if (!Array.isArray(candidates) || !Json.isObject(candidates[0])) return undefined
  const candidate = candidates[0]
  const content = candidate.content ?? {}
  if (!Json.isObject(content)) return "candidates[0].content is not an object"
  const parts = content.parts ?? []
  if (!Array.isArray(parts)) return "candidates[0].content.parts is not an array"
  let text = ""
  let thought = 0
  const calls: Array<GeminiTools.FunctionCall> = []
  for (const part of parts) {
    if (!Json.isObject(part)) return "a part is not an object"
    if (part.text !== undefined && typeof part.text !== "string") return "a part's text is not a string"
    if (typeof part.text === "string") {
      if (part.thought !== true) text += part.text
      else thought += part.text.length
    }
    const call = GeminiTools.callOf(part)
    if (typeof call === "string") return call
    if (call !== undefined) calls.push(call)
  }
  return { text, thought, finishReason: Json.string(candidate.finishReason), calls }
}

const blockReason = (json: Json.JsonObject): string | undefined =>
  Json.isObject(json.promptFeedback) ? Json.string(json.promptFeedback.blockReason) : undefined

const decode = (json: unknown): Reply | string => {
  if (!Json.isObject(json)) return "the body is not an object"
  const reported = usageIn(json)
  const counts = reported?.counts
  const blocked = blockReason(json)
  if (blocked !== undefined) return { content: "", finishReason: "content_filter", counts, blockedPrompt: blocked }
  const candidate = candidateOf(json)
  if (candidate === undefined) return "no candidates[0]"
  if (typeof candidate === "string") return candidate
  return {
    content: candidate.text,
    finishReason: candidate.finishReason === undefined
      ? "other"
      : finishReason(candidate.finishReason, candidate.calls.length > 0),
    counts,
    provisional: reported?.provisional,
    responseId: responseIdOf(json.responseId),
    responseModel: responseModelOf(json.modelVersion),
    ...(candidate.calls.length === 0
      ? {}
      : { toolCalls: GeminiTools.withIds(candidate.calls, Json.string(json.responseId)) })
  }
}

const streamDecoder = (reasoning?: (characters: number) => void): StreamDecoder => {
  let finish: FinishReason | undefined
  let reported: Usage | undefined
  // whether the usage reported came with the finish reason or after it: the whole answer's, not a running total
  let final = false
  let id: string | undefined
  // the model the response names
  let answering: string | undefined
  const tools = ToolStream.make()
  /** The text of an event's response, or what is wrong with it; its finish reason, when it carries one, is kept. */
  const read = (json: Json.JsonObject): string | StreamFault => {
    const blocked = blockReason(json)
    if (blocked !== undefined) return { _tag: "Blocked", message: `gemini blocked the prompt (${blocked})` }
    const candidate = candidateOf(json)
    if (candidate === undefined) {
      // no `candidates` at all (only `modelVersion` and `responseId`), or usage alone: nothing to read
      return json.candidates === undefined || Json.isObject(json.usageMetadata)
        ? ""
        : { _tag: "Malformed", message: "an event whose candidates hold no candidate object" }
    }
    if (typeof candidate === "string") return { _tag: "Malformed", message: candidate }
    if (candidate.calls.length > 0) GeminiTools.feed(tools, candidate.calls, Json.string(json.responseId))
    if (candidate.finishReason !== undefined) {
      finish = finishReason(candidate.finishReason, tools.size() > 0)
    }
    // thoughts, alone or beside text: none of them for the caller, but the model at work (and billed)
    if (candidate.thought > 0) reasoning?.(candidate.thought)
    return candidate.text
  }
  return {
    event: (event) => {
      const json = Json.parse(event.data)
      if (!Json.isObject(json)) return { _tag: "Malformed", message: "an event whose data is not a JSON object" }
      if (HttpError.carriesError(json)) return { _tag: "ErrorEvent", body: json }
      // every chunk repeats the id and the model: read from the first one
      id ??= responseIdOf(json.responseId)
      answering ??= responseModelOf(json.modelVersion)
      const counted = usageIn(json)
      if (counted !== undefined) reported = counted
      const text = read(json)
      if (counted !== undefined) final = finish !== undefined
      return text
    },
    finishReason: () => finish,
    // running totals, whole once a chunk with the finish reason (or after it) reports them, with the candidates' count
    provisional: () => !final || reported?.provisional === true,
    counts: () => reported?.counts,
    tools,
    responseId: () => id,
    responseModel: () => answering
  }
}

/**
 * A model's id without the `models/` prefix of its resource name, which
 * Google's model list returns and its SDKs accept: the path adds it back, and
 * prices and logs name the model as Baton's price table does.
 */
const modelId = (model: ModelId): ModelId =>
  // the rest of a valid id that starts with neither space nor control character is a valid id
  /^models\/[^\s\p{Cc}]/u.test(model) ? model.slice(7) as ModelId : model

/**
 * A model's resource path: `models/<id>`, or a tuned model's own
 * `tunedModels/<id>`; the id is encoded, the collection kept.
 */
const resourceOf = (model: string): string => {
  const tuned = /^tunedModels\/(.+)$/.exec(model)
  return tuned?.[1] === undefined
    ? `models/${encodeURIComponent(model)}`
    : `tunedModels/${encodeURIComponent(tuned[1])}`
}

/** The Gemini codec. */
export const codec: Codec = {
  path: (call) =>
    call.stream
      ? `/${resourceOf(call.model)}:streamGenerateContent?alt=sse`
      : `/${resourceOf(call.model)}:generateContent`,
  modelId,
  headers: (apiKey) => apiKey === undefined ? {} : { "x-goog-api-key": apiKey },
  body: bodyOf,
  decode,
  billed: (json) => Json.isObject(json) ? usageIn(json)?.counts : undefined,
  streamDecoder
}
