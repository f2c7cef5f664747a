/**
 * What a caller asks for: a prompt or a conversation, options and metadata.
 *
 * Callers write an `LlmRequest.Input`: a plain prompt string or a list of chat
 * messages (`system`, `user`, `assistant`), optional `GenerationOptions` and
 * optional metadata (the `subjectId` a quota and the usage ledger are kept
 * for, a caller-chosen `requestId`, the `units` of quota the request spends,
 * free-form string `tags`). `make` checks it
 * once and returns the normalised `LlmRequest` every provider receives:
 *
 * - `messages` always holds the conversation, with `options.system` (if any)
 *   as the first system message, and at least one non-system message;
 * - a last `assistant` message is a prefill: the model continues that text;
 * - `requestId` is always set (a UUID when the caller gave none);
 * - `promptHash` is the SHA-256 of the normalised messages (see
 *   {@link hashMessages}), the only trace of the prompt that logs keep by
 *   default.
 *
 * @example
 * ```ts
 * import * as LlmRequest from "@baton/core/LlmRequest"
 *
 * const request = LlmRequest.make({
 *   prompt: [{ role: "user", content: "Write one quiz question about photosynthesis." }],
 *   options: { temperature: 0.3, maxTokens: 400 },
 *   metadata: { subjectId: "teacher-42", tags: { feature: "quiz" } }
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { hash, randomUUID } from "node:crypto"
import * as GenerationOptions from "./GenerationOptions.ts"
import { RequestId, SubjectId } from "./Ids.ts"
import { idText } from "./internal/idText.ts"
import { firstIssue } from "./internal/schemaIssue.ts"
import { trusted } from "./internal/trusted.ts"
import { InvalidOptions } from "./LlmError.ts"
import * as Tool from "./Tool.ts"

/**
 * Who speaks a message.
 *
 * @since 0.1.0
 */
export const Role = Schema.Literals(["system", "user", "assistant", "tool"])

/** @since 0.1.0 */
export type Role = typeof Role.Type

/**
 * One chat message. An `assistant` message may carry the `toolCalls` the
 * model made (as a result or a stream's `Finish` gave them: their `replay`
 * goes back to the provider that made them, see `Tool.Replay`); a `tool`
 * message answers one of them (`toolCallId`, the tool's `name`, its result
 * as `content`), `isError: true` when the call failed (`content` then says
 * how): Anthropic is sent it as the result's `is_error`, Gemini as the
 * `error` of its `functionResponse.response` (in place of `output`), and
 * the OpenAI format, which has no such field, as `content` `{"error": ...}`
 * (the text parsed as JSON when it is JSON).
 *
 * @since 0.1.0
 */
export const Message = Schema.Struct({
  role: Role,
  content: Schema.String,
  toolCalls: Schema.optionalKey(Schema.Array(Tool.ToolCall)),
  toolCallId: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
  isError: Schema.optionalKey(Schema.Boolean)
})

/** @since 0.1.0 */
export type Message = typeof Message.Type

/**
 * How many units of quota a request spends (questions, in the seed's terms):
 * a positive safe integer. The range is checked before the fraction, so a
 * whole number past it (`1e20`) is refused for its range, not as no integer.
 *
 * @since 0.1.0
 */
export const Units = Schema.Finite.check(
  Schema.isBetween({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  Schema.isInt()
)

/**
 * True when `value` is a valid `Units` (a safe integer of at least 1), without
 * a Schema pass: it runs on every request.
 *
 * @since 0.1.0
 */
export const isUnits = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 1

/**
 * Who and what a request is for; logged, never sent to a provider. `units`
 * (default 1) is what the request spends of its subject's daily quota, and
 * is checked against the per-request maximum (`AI_MAX_QUESTIONS_PER_REQUEST`).
 *
 * @since 0.1.0
 */
export const Metadata = Schema.Struct({
  subjectId: Schema.optionalKey(SubjectId),
  requestId: Schema.optionalKey(RequestId),
  units: Schema.optionalKey(Units),
  tags: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})

/** @since 0.1.0 */
export type Metadata = typeof Metadata.Type

/** Some text that is not white space: a blank prompt asks nothing, and Anthropic refuses it. */
const notBlank = /\S/u

/** A message that asks something: not a system one, and not blank unless it carries tool calls or a tool's result. */
const speaks = (role: Role, content: string, toolCalls: number): boolean =>
  role !== "system" && (role === "tool" || toolCalls > 0 || notBlank.test(content))

const Prompt = Schema.Union([
  Schema.String.check(Schema.isPattern(notBlank, { message: "a prompt must not be empty or blank" })),
  Schema.Array(Message).check(
    Schema.makeFilter((messages: ReadonlyArray<Message>) =>
      messages.some((message) => speaks(message.role, message.content, message.toolCalls?.length ?? 0)) ||
      "Expected at least one user, assistant or tool message that is not blank"
    )
  )
])

const InputSchema = Schema.Struct({
  prompt: Prompt,
  metadata: Schema.optionalKey(Metadata)
})

/**
 * A request as a caller writes it.
 *
 * @since 0.1.0
 */
export interface Input {
  readonly prompt: string | ReadonlyArray<Message>
  readonly options?: GenerationOptions.Input | undefined
  readonly metadata?: {
    readonly subjectId?: string | undefined
    readonly requestId?: string | undefined
    /** Units of quota the request spends (default 1), such as the number of questions it asks for. */
    readonly units?: number | undefined
    readonly tags?: Readonly<Record<string, string>> | undefined
  } | undefined
  /** Tools the model may call (see `Tool`). */
  readonly tools?: ReadonlyArray<Tool.Input> | undefined
  readonly toolChoice?: Tool.Choice | undefined
}

/**
 * A checked, normalised request.
 *
 * @since 0.1.0
 */
export interface LlmRequest {
  readonly messages: ReadonlyArray<Message>
  readonly options: GenerationOptions.GenerationOptions
  readonly requestId: RequestId
  readonly subjectId: SubjectId | undefined
  /** Units of quota the request spends (1 unless the caller said otherwise). */
  readonly units: number
  readonly tags: Readonly<Record<string, string>>
  readonly promptHash: string
  /** Set only when the request carries tools. */
  readonly tools?: ReadonlyArray<Tool.Tool> | undefined
  readonly toolChoice?: Tool.Choice | undefined
}

const decodeInput = Schema.decodeUnknownEffect(InputSchema)

/**
 * Checks a request and normalises it; fails with `InvalidOptions` naming the
 * first bad field, before any network call. The common input (a prompt or a
 * conversation of plain messages, metadata, no tools) is checked by hand
 * ({@link checkedPlain}) and only its options, if any, by their Schema;
 * anything else, and anything the hand check does not accept, goes through
 * the Schema decode, which names the bad field.
 *
 * @since 0.1.0
 */
export const make = (input: Input): Effect.Effect<LlmRequest, InvalidOptions> =>
  // checked when run, as the decode is, and with a request id of its own on every run
  Effect.suspend(() => {
    if (!isObject(input)) return Effect.fail(notAnObject)
    const plain = checkedPlain(input)
    if (plain === undefined) return decodeChecked(input)
    return noOptions(input.options)
      ? Effect.succeed(normalise(plain.prompt, plain.metadata, GenerationOptions.defaults))
      : Effect.map(
        GenerationOptions.decode(input.options),
        (options) => normalise(plain.prompt, plain.metadata, options)
      )
  })

const decodeChecked = Effect.fnUntraced(function*(input: Input) {
  const { metadata, prompt } = yield* decodeInput(withoutUndefined(input)).pipe(
    Effect.mapError((error) => new InvalidOptions(firstIssue(error, "")))
  )
  const options = noOptions(input.options) ? GenerationOptions.defaults : yield* GenerationOptions.decode(input.options)
  const request = normalise(prompt, metadata, options)
  const tools = input.tools === undefined ? [] : yield* Tool.make(input.tools)
  // checked without tools too: a named tool the request does not carry is a mistake, not a choice to drop
  const toolChoice = yield* Tool.checkChoice(input.toolChoice, tools)
  return tools.length === 0 ? request : { ...request, tools, toolChoice }
})

/** The checked request, with `options.system` first and a request id drawn when the caller gave none. */
const normalise = (
  prompt: string | ReadonlyArray<Message>,
  metadata: Metadata | undefined,
  options: GenerationOptions.GenerationOptions
): LlmRequest => {
  const conversation: ReadonlyArray<Message> = typeof prompt === "string"
    ? [{ role: "user", content: prompt }]
    : prompt
  const messages = options.system === undefined
    ? conversation
    : [{ role: "system" as const, content: options.system }, ...conversation]
  return {
    messages,
    options,
    requestId: metadata?.requestId ?? RequestId.make(randomUUID(), trusted),
    subjectId: metadata?.subjectId,
    units: metadata?.units ?? 1,
    tags: metadata?.tags ?? {},
    promptHash: hashMessages(messages)
  }
}

const isObject = (input: unknown): input is object => typeof input === "object" && input !== null

const notAnObject = new InvalidOptions({ field: "request", message: "request: expected an object with a prompt" })

/** The text of `SubjectId` and `RequestId` (`idText`), their lengths checked by the caller. */
const isId = (value: unknown, maxLength: number): boolean =>
  typeof value === "string" && value.length > 0 && value.length <= maxLength && idText.test(value)

const metadataKeys = new Set(["subjectId", "requestId", "units", "tags"])

const roles: ReadonlySet<unknown> = new Set(Role.literals)

/** A plain object (not a class instance, an array or `null`). */
const isPlain = (value: unknown): value is Record<string, unknown> =>
  isObject(value) && Object.getPrototypeOf(value) === Object.prototype

/**
 * The own keys of `value` when every one is an enumerable string, as the
 * hand check reads them; `undefined` (the decode's turn) when a key is a
 * symbol or hidden from enumeration, which the decode reads all the same.
 */
const ownKeys = (value: object): ReadonlyArray<string> | undefined => {
  // the enumerable string keys, and as many string keys in all and no symbol (cheaper than `Reflect.ownKeys`)
  const keys = Object.keys(value)
  return Object.getOwnPropertyNames(value).length === keys.length && Object.getOwnPropertySymbols(value).length === 0
    ? keys
    : undefined
}

/** No options given: `undefined`, `null` or `{}` (the defaults). */
const noOptions = (options: unknown): boolean =>
  options == null || (isPlain(options) && Reflect.ownKeys(options).length === 0)

/** A copy of a conversation of plain `{ role, content }` messages with one that speaks, or `undefined`. */
const plainConversation = (prompt: ReadonlyArray<unknown>): ReadonlyArray<Message> | undefined => {
  const messages: Array<Message> = []
  let spoken = false
  for (const message of prompt) {
    if (!isPlain(message)) return undefined
    const keys = ownKeys(message)
    if (keys === undefined || keys.some((key) => key !== "role" && key !== "content")) return undefined
    const { content, role } = message
    if (!roles.has(role) || typeof content !== "string") return undefined
    spoken ||= speaks(role as Role, content, 0)
    messages.push({ role: role as Role, content })
  }
  return spoken ? messages : undefined
}

/** A copy of string tags, or `undefined` (a `__proto__` tag too: assigning it would not copy it). */
const plainTags = (tags: unknown): Record<string, string> | undefined => {
  if (!isPlain(tags)) return undefined
  const keys = ownKeys(tags)
  if (keys === undefined) return undefined
  const copy: Record<string, string> = {}
  for (const key of keys) {
    const value = tags[key]
    if (typeof value !== "string" || key === "__proto__") return undefined
    copy[key] = value
  }
  return copy
}

/**
 * The input when it is a common case the Schema would accept: a non-empty
 * string prompt or a conversation of plain `{ role, content }` messages, no
 * tools, metadata (if any) holding only a valid `subjectId`, `requestId`,
 * `units` and string `tags`. The prompt and metadata are copied, as the
 * decode would. `undefined` sends the input to the Schema decode.
 */
const checkedPlain = (
  input: Input
): { readonly prompt: string | ReadonlyArray<Message>; readonly metadata: Metadata | undefined } | undefined => {
  const { metadata } = input
  const prompt = typeof input.prompt === "string"
    ? notBlank.test(input.prompt) ? input.prompt : undefined
    : Array.isArray(input.prompt)
    ? plainConversation(input.prompt)
    : undefined
  if (prompt === undefined || input.tools !== undefined || input.toolChoice !== undefined) return undefined
  if (metadata === undefined) return { prompt, metadata: undefined }
  if (!isPlain(metadata)) return undefined
  const keys = ownKeys(metadata)
  if (keys === undefined || keys.some((key) => !metadataKeys.has(key))) return undefined
  const { requestId, subjectId, tags: given, units } = metadata
  if (subjectId !== undefined && !isId(subjectId, 256)) return undefined
  if (requestId !== undefined && !isId(requestId, 128)) return undefined
  if (units !== undefined && !isUnits(units)) return undefined
  const tags = given === undefined ? undefined : plainTags(given)
  if (given !== undefined && tags === undefined) return undefined
  // set one by one: no object per absent field
  const checked: { -readonly [K in keyof Metadata]: Metadata[K] } = {}
  if (subjectId !== undefined) checked.subjectId = SubjectId.make(subjectId, trusted)
  if (requestId !== undefined) checked.requestId = RequestId.make(requestId, trusted)
  if (units !== undefined) checked.units = units
  if (tags !== undefined) checked.tags = tags
  return { prompt, metadata: checked }
}

/**
 * A request from what a caller passed: an `Input` (decoded by `make`) or an
 * already built `LlmRequest`; anything else (`null`, a number) is an
 * `InvalidOptions` naming `request`.
 *
 * @since 0.1.0
 */
export const fromInput = (input: Input | LlmRequest): Effect.Effect<LlmRequest, InvalidOptions> =>
  isObject(input) && "promptHash" in input ? Effect.succeed(input) : make(input)

const withoutUndefined = (input: Input): Record<string, unknown> =>
  input.metadata === undefined ? { prompt: input.prompt } : {
    prompt: input.prompt,
    metadata: isObject(input.metadata)
      ? Object.fromEntries(Object.entries(input.metadata).filter(([, value]) => value !== undefined))
      : input.metadata
  }

/**
 * The SHA-256 (hex) of normalised messages: the same conversation always has
 * the same hash, whatever object it came from, and two different ones never
 * share an input to the hash. Each message is written `role:length:content`
 * (the length in UTF-16 code units), followed, when it carries tool calls or
 * answers one (by id or by the tool's `name`), by `#length:json` of its tool fields (a call's `replay`
 * included: it is sent to the provider too; `isError` only when true, so
 * other messages hash as they did before it): no text a message holds can
 * pass for a message boundary.
 *
 * The hash is kept in the request log. A tool message answered by `name`
 * alone hashes its tool fields since builds of 2026-12-04 (before, two such
 * results of different tools with one text shared a hash), so its logged
 * hash differs from an earlier one for the same prompt. Builds before this encoding joined
 * role and content with separator characters (`\u0000`, `\u0001`), so a
 * message holding them hashed as the messages they stood for; their logged
 * hashes differ from these for the same prompt.
 *
 * @since 0.1.0
 */
export const hashMessages = (messages: ReadonlyArray<Message>): string => {
  let text = ""
  for (const message of messages) {
    text += `${message.role}:${message.content.length}:${message.content}`
    if (
      message.toolCalls !== undefined || message.toolCallId !== undefined || message.name !== undefined ||
      message.isError === true
    ) {
      const tools = JSON.stringify([
        message.toolCalls,
        message.toolCallId,
        message.name,
        ...(message.isError === true ? [true] : [])
      ])
      text += `#${tools.length}:${tools}`
    }
  }
  return hash("sha256", text)
}

/**
 * The system messages of a request joined by blank lines, for providers that
 * take the system prompt apart from the conversation (Gemini, Anthropic).
 *
 * @since 0.1.0
 */
export const systemPrompt = (request: LlmRequest): string | undefined => {
  const parts = request.messages.filter((message) => message.role === "system").map((message) => message.content)
  return parts.length === 0 ? undefined : parts.join("\n\n")
}

/**
 * The non-system messages of a request.
 *
 * @since 0.1.0
 */
export const conversation = (request: LlmRequest): ReadonlyArray<Message> =>
  request.messages.filter((message) => message.role !== "system")

/**
 * The same request with other messages (used for re-asks and continuations);
 * the request id and prompt hash stay those of the original request.
 *
 * @since 0.1.0
 */
export const withMessages = (request: LlmRequest, messages: ReadonlyArray<Message>): LlmRequest => ({
  ...request,
  messages
})
