/**
 * The shape a structured answer must have, and how to check it.
 *
 * A `StructuredOutput<A>` pairs a JSON Schema (sent to the provider's native
 * structured-output mode) with a decoder that turns the model's text into an
 * `A` or says precisely what is wrong (the issue is fed back to the model on a
 * re-ask). It comes from either:
 *
 * - an Effect `Schema` (`fromSchema`): the JSON Schema is generated from it,
 *   excess properties are rejected, and the decoded value is typed; or
 * - a raw JSON Schema object (`fromJsonSchema`), compiled once by Ajv
 *   (draft 2020-12) and checked against every answer; the value is `unknown`.
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
 * A specification from an Effect `Schema`.
 *
 * @since 0.1.0
 */
export const fromSchema = <A>(
  schema: Schema.Codec<A, unknown>,
  options?: { readonly name?: string | undefined }
): StructuredOutput<A> => {
  const document = Schema.toJsonSchemaDocument(schema, { onExcessProperty: "error" })
  const jsonSchema = Object.keys(document.definitions).length === 0
    ? document.schema
    : { ...document.schema, $defs: document.definitions }
  const decodeValue = Schema.decodeUnknownResult(schema)
  return {
    name: options?.name ?? "output",
    jsonSchema,
    decode: (text) =>
      Result.flatMap(
        parseJson(text),
        (value) => Result.mapError(decodeValue(value, { errors: "all" }), (error) => error.message)
      )
  }
}

/**
 * A specification from a raw JSON Schema object. Fails with `InvalidOptions`
 * when the schema itself is invalid.
 *
 * @since 0.1.0
 */
export const fromJsonSchema = (
  jsonSchema: JsonSchema,
  options?: { readonly name?: string | undefined }
): Effect.Effect<StructuredOutput<unknown>, InvalidOptions> =>
  Effect.try({
    try: () => new Ajv2020({ allErrors: true, strict: false }).compile(jsonSchema),
    catch: (error) =>
      new InvalidOptions({ field: "schema", message: `schema: not a valid JSON Schema (${errorMessage(error)})` })
  }).pipe(Effect.map((validate) => ({
    name: options?.name ?? "output",
    jsonSchema,
    decode: (text: string) =>
      Result.flatMap(parseJson(text), (value) =>
        validate(value)
          ? Result.succeed(value)
          : Result.fail(
            (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`).join("; ")
          ))
  })))

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
