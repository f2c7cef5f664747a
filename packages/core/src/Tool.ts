/**
 * Tools a model may call, and the calls it makes.
 *
 * A request may carry tool definitions (`LlmRequest.Input.tools`): a name,
 * a description, and the parameters as an Effect `Schema` or a raw JSON
 * Schema. `make` checks them once (names of 1-64 letters, digits, `_` or `-`
 * starting with a letter or `_`, which every provider takes: OpenAI and
 * Anthropic refuse other characters, Gemini a digit or `-` first; no
 * duplicates; a raw JSON Schema a plain JSON object nested at most
 * {@link maxParametersDepth} levels, see {@link parametersIssue}; either
 * kind an object schema at the root, `type: "object"`, the only root
 * providers take: a `Schema.Struct` or a `Schema.Class`, not a union; a
 * root that is only a `$ref` to one of its `$defs` (`effect/ai`'s tool
 * parameters of a `Schema.Class`) is sent as that definition, and
 * `Schema.Struct({})` or a raw root naming no type nor another kind (`{}`
 * for a tool without parameters) as `{ type: "object", properties: {} }`
 * and what it holds) and turns
 * the parameters into JSON Schema, which each codec sends in its provider's
 * native fields (OpenAI `tools[].function`, Anthropic `tools[].input_schema`,
 * Gemini `tools[].functionDeclarations`).
 *
 * A model that calls tools answers with `ToolCall`s (`GenerationResult.toolCalls`,
 * and on a stream's `Finish`, after `ToolCallDelta` parts as the arguments
 * arrive) and the finish reason `tool_calls`. Gemini gives its calls no id
 * unless the model sets one: Baton then names them `gemini-call-<response
 * id>-<index>` and sends the tool's name back with the result; a call an
 * OpenAI-compatible server sends without an id is named
 * `baton-call-<random tag>-<index>`, unique across the conversation. The caller
 * runs them and continues the conversation with an `assistant` message
 * carrying those `toolCalls`, then one `tool` message per call
 * (`toolCallId`, `name`, the result as `content`; `isError: true` when the
 * call failed, see `LlmRequest.Message`).
 *
 * A reasoning model may ask to have something sent back with its calls, and
 * answers 400 without it: Gemini 3 a `thoughtSignature` on the call,
 * DeepSeek in thinking mode the reasoning (`reasoning_content`) of the
 * message that made it, Claude with thinking on the thinking blocks before
 * its calls. A call carries it in its {@link Replay} (`replay`), which Baton
 * fills and sends back to the provider and model that made the call, and to
 * no other: the caller's loop (the calls of `result.toolCalls` or of a
 * stream's `Finish`, as they are, on the next `assistant` message) needs
 * nothing more. A call without its maker's replay (another provider's, after
 * a fallback; one the caller wrote) is sent a stand-in: on Gemini the
 * signature `skip_thought_signature_validator` on the first call of a model
 * turn, which Google documents for calls it did not sign; on DeepSeek an
 * empty `reasoning_content`, which DeepSeek does not document (it is what
 * third-party clients send); on Anthropic, where thinking cannot resume
 * without the original blocks, the request is sent `thinking: { type:
 * "disabled" }` while a turn of calls in its current tool loop (since the
 * last `user` message) has none. An `effect/ai` model used as a chain step
 * (`LanguageModelProvider`) fills no replays. `reasoning` is the model's raw
 * chain of thought: strip `replay` from what end users must not read.
 *
 * Gotcha: the manager never continues a request with tools on another
 * provider after a cut stream: a tool-call answer is not spliced. A stream
 * fails with `StreamInterrupted` once a delta reached the caller; `generate`
 * restarts the answer whole.
 *
 * @since 0.1.0
 */
import { Effect, Predicate, Schema } from "effect"
import { isDeepStrictEqual } from "node:util"
import { ModelId, ProviderName } from "./Ids.ts"
import * as JsonDepth from "./internal/jsonDepth.ts"
import { inlineRoot } from "./internal/rootRef.ts"
import { InvalidOptions } from "./LlmError.ts"
import * as StructuredOutput from "./StructuredOutput.ts"

/**
 * A tool as a caller writes it.
 *
 * @since 0.1.0
 */
export interface Input {
  readonly name: string
  readonly description?: string | undefined
  readonly parameters: Schema.Codec<unknown, unknown> | StructuredOutput.JsonSchema
}

/**
 * A checked tool: its parameters as JSON Schema.
 *
 * @since 0.1.0
 */
export interface Tool {
  readonly name: string
  readonly description: string | undefined
  readonly parameters: StructuredOutput.JsonSchema
}

/**
 * How the model may use the tools: as it likes (`auto`, the default), not at
 * all, at least one, or one named tool.
 *
 * @since 0.1.0
 */
export type Choice = "auto" | "none" | "required" | { readonly tool: string }

/**
 * What the provider that made a tool call needs sent back with it: opaque,
 * kept as the provider gave it, and sent only to that `provider` and
 * `model` (a `ProviderName` and a `ModelId`, as a result's `provider` and
 * `model` name them). `signature` is Gemini's `thoughtSignature` of the
 * call's part (Gemini signs the first call of an answer); `reasoning` is the
 * reasoning the model wrote before the calls (DeepSeek's `reasoning_content`),
 * on the first call of the answer, sent back as its message's. Claude's
 * thinking block rides on the first call too, as `reasoning` (its text) and
 * `signature` (its signature); several blocks, or a redacted one, as JSON
 * of the blocks themselves in `signature`.
 *
 * @example
 * ```ts
 * import { ModelId, ProviderName } from "@baton/core/Ids"
 * import type { ToolCall } from "@baton/core/Tool"
 *
 * const call: ToolCall = {
 *   id: "gemini-call-r1-0",
 *   name: "get_weather",
 *   arguments: "{\"city\":\"Oslo\"}",
 *   replay: { provider: ProviderName.make("gemini"), model: ModelId.make("gemini-3.5-flash"), signature: "CtYB..." }
 * }
 * ```
 *
 * @since 0.1.0
 */
export const Replay = Schema.Struct({
  provider: ProviderName,
  model: ModelId,
  signature: Schema.optionalKey(Schema.String),
  reasoning: Schema.optionalKey(Schema.String)
})

/** @since 0.1.0 */
export type Replay = typeof Replay.Type

/**
 * One call the model asks for; `arguments` is the JSON text of the
 * parameters, as the model wrote it; `replay`, when the provider asked for
 * one, what goes back to it with the call (see {@link Replay}).
 *
 * @since 0.1.0
 */
export const ToolCall = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  arguments: Schema.String,
  replay: Schema.optionalKey(Replay)
})

/** @since 0.1.0 */
export type ToolCall = typeof ToolCall.Type

/**
 * The most levels of objects and arrays a tool's raw JSON-Schema parameters
 * may nest, the root object being the first: 100. Generous for real
 * schemas: OpenAI documents at most 10 levels of nesting for strict schemas
 * (each two to four levels of JSON: `properties`, a name, an `anyOf` list),
 * the other providers document no deeper ones, and SDKs generate far less.
 * Far below where the recursive code that encodes and compiles a schema
 * overflows the stack (Ajv's compile past about 1,000 levels,
 * `JSON.stringify` past about 4,000), and where Ajv's compile time grows
 * from milliseconds (100 levels) to seconds (1,200).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxParametersDepth: number = JsonDepth.maxDepth

/** Keywords that make a root naming no `type` something else than an object schema, or more than one. */
const otherKinds = ["anyOf", "oneOf", "allOf", "not", "$ref", "enum", "const", "items", "prefixItems", "if"]

/**
 * A tool's parameters as the object schema providers take at the root
 * (OpenAI's `function.parameters`, Anthropic's `input_schema`, Gemini's
 * declarations answer 400 to another, OpenAI also to an object without
 * `properties`): `type: "object"` with `properties` (`{}` added when
 * absent); a root naming no type nor another kind (`{}`, `properties`
 * alone, `$schema` alone, as MCP servers and SDKs send for a tool without
 * parameters) is taken as one; `undefined` for any other root.
 */
const asObject = (parameters: StructuredOutput.JsonSchema): StructuredOutput.JsonSchema | undefined => {
  const type = parameters["type"]
  if (type !== "object" && (type !== undefined || otherKinds.some((key) => Object.hasOwn(parameters, key)))) {
    return undefined
  }
  return type === "object" && Object.hasOwn(parameters, "properties")
    ? parameters
    : { type: "object", properties: {}, ...parameters }
}

/**
 * An Effect Schema's parameters as JSON Schema: `Schema.Struct({})`, the
 * usual way to say "no parameters", is generated as `{ not: { type: "null" }
 * }` (any value but `null`), sent as the empty object schema it means.
 */
const effectParameters = (parameters: Schema.Codec<unknown, unknown>): StructuredOutput.JsonSchema => {
  const schema = StructuredOutput.fromSchema(parameters).jsonSchema
  return isDeepStrictEqual(schema, notNull) ? { type: "object", properties: {} } : schema
}

const notNull = { not: { type: "null" } }

const notAnObject = "expected an object schema at the root (type \"object\"), the only one providers take"

/**
 * What is wrong with a tool's raw JSON-Schema parameters, said where inside
 * them (a JSON Pointer), or `undefined` when they are a plain JSON object:
 * not an array, of plain objects, arrays, strings, booleans, finite numbers
 * and `null` (a field set to `undefined` is left out), with no cycle, nested
 * at most {@link maxParametersDepth} levels, with no key, `$id`, anchor or
 * reference longer than 4,096 characters, whose root is an object schema
 * (`type: "object"`, which every provider requires; one naming no type nor
 * another kind, such as `{}`, is sent as one). Checked without
 * recursion: no depth of input overflows the stack. `make` fails with it; a
 * gateway checks a client's `tools[i].function.parameters` with it as it
 * decodes them.
 *
 * @since 0.1.0
 */
export const parametersIssue = (parameters: unknown): string | undefined => {
  const sent = rawParameters(parameters)
  return typeof sent === "string" ? sent : undefined
}

/** Raw JSON-Schema parameters as sent ({@link asObject}), or what is wrong with them ({@link parametersIssue}). */
const rawParameters = (parameters: unknown): StructuredOutput.JsonSchema | string =>
  JsonDepth.issue(parameters) ?? asObject(inlineRoot(parameters as StructuredOutput.JsonSchema)) ?? notAnObject

/** A tool name every provider takes (see the module header). */
const NAME = /^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/

const invalid = (field: string, message: string) => new InvalidOptions({ field, message: `${field}: ${message}` })

/**
 * The parameters as the JSON Schema sent ({@link asObject}): an Effect
 * `Schema`'s once its root is an object schema (a `Schema.Struct` or
 * `Schema.Class`, not a union), or a raw one once {@link parametersIssue}
 * finds nothing.
 */
const parametersOf = (
  parameters: Input["parameters"],
  index: number
): Effect.Effect<StructuredOutput.JsonSchema, InvalidOptions> => {
  // an Effect Schema's JSON Schema is generated plain JSON: only its root can be wrong
  const sent = Schema.isSchema(parameters)
    ? asObject(effectParameters(parameters)) ?? notAnObject
    : rawParameters(parameters)
  return typeof sent === "string" ? Effect.fail(invalid(`tools[${index}].parameters`, sent)) : Effect.succeed(sent)
}

/**
 * Checks tool definitions; fails with `InvalidOptions` naming the first bad
 * one (`tools[1]` for its name, `tools[1].description`, `tools[1].parameters`
 * for its parameters; `tools` for no array), before any network call. Input
 * built without the types (JSON by hand) is checked as well: an entry that is
 * no object, a name or description of another type.
 *
 * @since 0.1.0
 */
export const make = (inputs: ReadonlyArray<Input>): Effect.Effect<ReadonlyArray<Tool>, InvalidOptions> =>
  Array.isArray(inputs)
    ? Effect.forEach(inputs, (input: unknown, index) => checked(input, index, inputs))
    : Effect.fail(invalid("tools", "expected an array of tools"))

/** One tool definition of `inputs`, at `index`, checked (see {@link make}). */
const checked = (input: unknown, index: number, inputs: ReadonlyArray<Input>): Effect.Effect<Tool, InvalidOptions> => {
  if (!Predicate.isObject(input)) {
    return Effect.fail(invalid(`tools[${index}]`, "expected a tool: an object with a name and parameters"))
  }
  const { description, name } = input
  if (typeof name !== "string" || !NAME.test(name)) {
    return Effect.fail(
      invalid(`tools[${index}]`, "name: 1-64 letters, digits, '_' or '-', starting with a letter or '_'")
    )
  }
  if (description !== undefined && typeof description !== "string") {
    return Effect.fail(invalid(`tools[${index}].description`, "expected a string"))
  }
  if (inputs.findIndex((other: unknown) => Predicate.isObject(other) && other.name === name) !== index) {
    return Effect.fail(invalid(`tools[${index}]`, `the name ${name} is used twice`))
  }
  return Effect.map(
    // any value: `parametersIssue` refuses what is no JSON Schema
    parametersOf(input.parameters as Input["parameters"], index),
    (parameters): Tool => ({ name, description, parameters })
  )
}

/**
 * Checks a tool choice against the tools; fails with `InvalidOptions` when it
 * is none of `"auto"`, `"none"`, `"required"` and `{ tool }` (input built
 * without the types), or names a tool the request does not carry.
 *
 * @since 0.1.0
 */
export const checkChoice = (
  choice: Choice | undefined,
  tools: ReadonlyArray<Tool>
): Effect.Effect<Choice | undefined, InvalidOptions> => {
  if (choice === undefined || choice === "auto" || choice === "none" || choice === "required") {
    return Effect.succeed(choice)
  }
  // input built without the types: any value
  const given: unknown = choice
  if (!Predicate.isObject(given) || typeof given.tool !== "string") {
    return Effect.fail(invalid("toolChoice", `expected "auto", "none", "required" or { tool: <a tool's name> }`))
  }
  return tools.some((tool) => tool.name === choice.tool)
    ? Effect.succeed(choice)
    : Effect.fail(invalid("toolChoice", `no tool named ${choice.tool} in tools`))
}
