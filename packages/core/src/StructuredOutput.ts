/**
 * The shape a structured answer must have, and how to check it.
 *
 * A `StructuredOutput<A>` pairs a JSON Schema (sent to the provider's native
 * structured-output mode) with a decoder that turns the model's text into an
 * `A` or says precisely what is wrong (the issue is fed back to the model on a
 * re-ask). It comes from either:
 *
 * - an Effect `Schema` (`fromSchema`): the JSON Schema is generated from it
 *   (`Schema.toJsonSchemaDocument`), excess properties are rejected, and the
 *   decoded value is typed; or
 * - a raw JSON Schema object (`fromJsonSchema`), compiled by Ajv (draft
 *   2020-12) and checked against every answer; the value is `unknown`.
 *
 * Each schema is compiled once: the JSON Schema and the decoder are cached
 * by the schema object's identity (a `WeakMap`), so a schema declared once
 * and passed to every call costs one compilation for the process, not one
 * per call. Build schemas once (module level), not inside the call.
 *
 * Why Ajv and not Effect's own JSON Schema import: Effect 4.1's
 * `SchemaRepresentation.fromJsonSchemaDocument` imports a raw schema about
 * 500 times faster (0.3 ms against 160 ms for Ajv's compile of a quiz
 * schema, measured on the shared CI machine), but it rejects valid Draft
 * 2020-12 documents a caller may send (`contains`, `if` / `then`, and any
 * `pattern` unless told to apply it) and strips, rather than rejects,
 * properties a closed object does not declare. With compile-once the cost
 * difference is paid once per schema, so Ajv's complete validation wins.
 * Likewise `effect/ai`'s `OpenAiStructuredOutput.toCodecOpenAI` is not used
 * for OpenAI's strict subset: by its contract it throws for a root that is
 * not an object or contains `anyOf` (any `Schema.Union`, any optional
 * nullable field) and re-encodes tuples and records into other shapes,
 * where Baton sends such schemas with `strict: false` and decodes the
 * answer with the caller's own schema.
 *
 * Decoding tolerates a Markdown code fence around the JSON, which models add
 * even when asked not to.
 *
 * Gotcha: in schemas meant for a model use `Schema.Finite` and `Schema.Int`,
 * not `Schema.Number` (whose JSON Schema admits `"NaN"` and loses its bounds).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as StructuredOutput from "@baton/core/StructuredOutput"
 *
 * const Quiz = Schema.Struct({
 *   question: Schema.String,
 *   choices: Schema.Array(Schema.String),
 *   answer: Schema.Int
 * })
 * const output = StructuredOutput.fromSchema(Quiz, { name: "quiz" })
 * ```
 *
 * @since 0.1.0
 */
import { Ajv2020 } from "ajv/dist/2020.js"
import { Effect, Result, Schema } from "effect"
import { InvalidOptions } from "./LlmError.ts"

/**
 * A JSON Schema object.
 *
 * @since 0.1.0
 */
export type JsonSchema = { readonly [key: string]: unknown }

/**
 * A structured-output specification.
 *
 * @since 0.1.0
 */
export interface StructuredOutput<A> {
  /** A short name for the schema (OpenAI requires one): letters, digits, `_`, `-`. */
  readonly name: string
  /** A self-contained JSON Schema (definitions inlined under `$defs`). */
  readonly jsonSchema: JsonSchema
  /** Parses and checks an answer; the failure is a message fit to show the model. */
  readonly decode: (text: string) => Result.Result<A, string>
}

/**
 * What `generateStructured` accepts: an Effect `Schema`, a raw JSON Schema
 * object, or a ready `StructuredOutput`.
 *
 * @since 0.1.0
 */
export type Spec<A> = Schema.Codec<A, unknown> | JsonSchema | StructuredOutput<A>

const errorMessage = (error: unknown): string => error instanceof Error ? error.message : String(error)

const NAME = /^[a-zA-Z0-9_-]{1,64}$/

const parseJson = (text: string): Result.Result<unknown, string> => {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(text)
  const body = fenced?.[1] ?? text
  try {
    return Result.succeed(JSON.parse(body))
  } catch (error) {
    return Result.fail(`the answer is not valid JSON (${errorMessage(error)})`)
  }
}

/**
 * What a provider with no JSON mode gets in its system prompt for
 * `responseFormat: "json"` without a schema (Anthropic, an `effect/ai` step).
 *
 * @since 0.1.0
 */
export const jsonInstruction = "Respond with only one valid JSON value: no prose before or after it, no Markdown fence."

/** A schema compiled once: everything of a `StructuredOutput` but its name. */
type Compiled<A> = Omit<StructuredOutput<A>, "name">

/** Compilations by schema identity (Effect schemas, raw JSON Schemas); entries go when the schema object does. */
const compiledSchemas = new WeakMap<object, Compiled<unknown>>()
const compiledJsonSchemas = new WeakMap<object, Compiled<unknown> | InvalidOptions>()

const cached = <C>(cache: WeakMap<object, C>, key: object, compile: () => C): C => {
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  const compiled = compile()
  cache.set(key, compiled)
  return compiled
}

const compileSchema = <A>(schema: Schema.Codec<A, unknown>): Compiled<A> => {
  const document = Schema.toJsonSchemaDocument(schema, { onExcessProperty: "error" })
  const jsonSchema = Object.keys(document.definitions).length === 0
    ? document.schema
    : { ...document.schema, $defs: document.definitions }
  // the answer is JSON, as the JSON Schema describes it: decoded by the schema's JSON codec (`Schema.optional`'s
  // null is absent, a `Date` a string), not as if it were the schema's own type
  const decodeValue = Schema.decodeUnknownResult(Schema.toCodecJson(schema))
  return {
    jsonSchema,
    decode: (text) =>
      Result.flatMap(
        parseJson(text),
        (value) => Result.mapError(decodeValue(value, { errors: "all" }), (error) => error.message)
      )
  }
}

/**
 * A specification from an Effect `Schema`, compiled once per schema.
 *
 * @since 0.1.0
 */
export const fromSchema = <A>(
  schema: Schema.Codec<A, unknown>,
  options?: { readonly name?: string | undefined }
): StructuredOutput<A> => {
  const compiled = cached(compiledSchemas, schema, () => compileSchema<unknown>(schema))
  // the entry was compiled from this very schema, so its decoder yields an `A`
  return { ...(compiled as Compiled<A>), name: options?.name ?? "output" }
}

const compileJsonSchema = (jsonSchema: JsonSchema): Compiled<unknown> | InvalidOptions => {
  let validate: ReturnType<Ajv2020["compile"]>
  try {
    validate = new Ajv2020({ allErrors: true, strict: false }).compile(jsonSchema)
  } catch (error) {
    return new InvalidOptions({ field: "schema", message: `schema: not a valid JSON Schema (${errorMessage(error)})` })
  }
  return {
    jsonSchema,
    decode: (text: string) =>
      Result.flatMap(parseJson(text), (value) =>
        validate(value)
          ? Result.succeed(value)
          : Result.fail(
            (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`).join("; ")
          ))
  }
}

/**
 * A specification from a raw JSON Schema object, compiled once per schema
 * object. Fails with `InvalidOptions` when the schema itself is invalid.
 *
 * @since 0.1.0
 */
export const fromJsonSchema = (
  jsonSchema: JsonSchema,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<unknown>, InvalidOptions> =>
  Effect.suspend(() => {
    const compiled = cached(compiledJsonSchemas, jsonSchema, () => compileJsonSchema(jsonSchema))
    return compiled instanceof InvalidOptions
      ? Effect.fail(compiled)
      : Effect.succeed({ ...compiled, name: options?.name ?? "output" })
  })

const isStructuredOutput = <A>(spec: Spec<A>): spec is StructuredOutput<A> =>
  "decode" in spec && "jsonSchema" in spec && typeof spec.decode === "function"

/**
 * Normalises any `Spec` to a `StructuredOutput`, checking its name. A raw
 * JSON Schema yields `unknown` values.
 *
 * @since 0.1.0
 */
export function make<A>(
  spec: Schema.Codec<A, unknown> | StructuredOutput<A>,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<A>, InvalidOptions>
export function make(
  spec: JsonSchema,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<unknown>, InvalidOptions>
export function make(
  spec: Spec<unknown>,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<unknown>, InvalidOptions> {
  return fromSpec(spec, options)
}

/**
 * `make` for a spec whose kind is not known statically; values are `unknown`.
 *
 * @since 0.1.0
 */
export const fromSpec = (
  spec: Spec<unknown>,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<unknown>, InvalidOptions> => {
  const name = options?.name
  if (name !== undefined && !NAME.test(name)) {
    return Effect.fail(new InvalidOptions({ field: "name", message: "name: 1-64 letters, digits, '_' or '-'" }))
  }
  if (Schema.isSchema(spec)) return Effect.succeed(fromSchema(spec, options))
  if (isStructuredOutput(spec)) return Effect.succeed(spec)
  return fromJsonSchema(spec, options)
}
