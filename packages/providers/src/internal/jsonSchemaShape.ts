/**
 * What a closed-objects-only structured-output mode cannot express, and how
 * to ask for JSON without such a mode.
 *
 * OpenAI's strict mode (`strictSchema.ts`) and Anthropic's
 * `output_config.format` (`anthropicSchema.ts`) take only objects with
 * `additionalProperties: false`. A schema with an open object cannot be
 * sent to them as is, and closing the object would leave the model only
 * `{}` to answer there, a decode that succeeds with the data lost.
 * `hasOpenObject` is the one rule for it: true when the schema, or any
 * schema inside it (`properties`, `$defs`, `definitions`, `anyOf`, `oneOf`,
 * `allOf`, `prefixItems`, `items`), is
 *
 * - an object whose `additionalProperties` or `unevaluatedProperties` is a
 *   schema (the values of a record), or with `patternProperties`;
 * - an object (`type` `"object"` or a list holding it) with neither
 *   `properties` nor `additionalProperties: false`, such as an Effect
 *   `Schema.Record` or a bare `{ type: "object" }`;
 * - an `allOf` merging an object: each closed part would refuse the keys of
 *   the others.
 *
 * An object with `properties` and `additionalProperties: true` (what
 * `effect/ai` writes for every `Schema.Struct`) is not open: its decoder
 * reads only its properties, so closing it loses nothing.
 *
 * The root may be anything; a mode that also needs an object root (OpenAI
 * strict) checks that apart.
 *
 * Named subschemas live under `$defs` or, in draft-07 schemas, under
 * `definitions`; a `$ref` points into either (`#/$defs/Name`,
 * `#/definitions/Name`). `isDefinitions` and `definitionOf` are that rule
 * for every rewrite (OpenAI strict, Anthropic): both keywords are kept and
 * rewritten alike, so no `$ref` is left dangling.
 *
 * `instruction(schema)` is the system-prompt text that asks for JSON matching
 * a schema, for a call sent without a native schema mode (DeepSeek's JSON
 * mode, Anthropic with an open object). It holds the word "json", which
 * DeepSeek's JSON mode demands, and ends with the schema on its own line.
 */
import * as JsonGuards from "./json.ts"

type Json = { [key: string]: unknown }

const isRecord = JsonGuards.isObject

/** Whether a schema is an object's: its `type` is `"object"` or a list holding it, or it has `properties` and no `type`. */
export const isObjectSchema = (schema: Json): boolean =>
  schema.type === "object" ||
  (Array.isArray(schema.type) && schema.type.includes("object")) ||
  (schema.type === undefined && isRecord(schema.properties))

/**
 * The keywords that say, of their own, whether a node takes `null`, each
 * with what it says: a `type` of `"null"` or a list holding it (or OpenAPI's
 * `nullable: true`, which Ajv and Gemini read as `"null"` added to the
 * `type`), an `enum` holding `null`, a `const` of `null`.
 */
const nullKeywords: ReadonlyArray<readonly [string, (schema: Json) => boolean]> = [
  ["type", (schema) =>
    schema.type === "null" || (Array.isArray(schema.type) && schema.type.includes("null")) ||
    schema.nullable === true],
  ["enum", (schema) => Array.isArray(schema.enum) && schema.enum.includes(null)],
  ["const", (schema) => schema.const === null]
]

/** Whether a node names `null` through its {@link nullKeywords}: one of them at least, and none refusing it. */
const namesNull = (schema: Json): boolean => {
  const present = nullKeywords.filter(([keyword]) => keyword in schema)
  return present.length > 0 && present.every(([, takes]) => takes(schema))
}

/**
 * Whether a schema takes `null`: it names it ({@link nullKeywords}: `type`,
 * OpenAPI's `nullable: true`, `enum`, `const`, none of them refusing it), or
 * a branch of its `anyOf` or `oneOf` takes it.
 */
export const allowsNull = (schema: unknown): boolean =>
  isRecord(schema) && (
    namesNull(schema) ||
    (Array.isArray(schema.anyOf) && schema.anyOf.some(allowsNull)) ||
    (Array.isArray(schema.oneOf) && schema.oneOf.some(allowsNull))
  )

/** Whether an object holds keys beyond its `properties` that its decoder reads, which a closed-objects-only mode cannot say. */
const isOpen = (schema: Json): boolean =>
  isRecord(schema.additionalProperties) ||
  isRecord(schema.unevaluatedProperties) ||
  schema.patternProperties !== undefined ||
  (isObjectSchema(schema) && schema.properties === undefined && schema.additionalProperties !== false)

/** A keyword's list (`anyOf`, `allOf`, `items` as a list), or none. */
export const listOf = (keyword: unknown): ReadonlyArray<unknown> => Array.isArray(keyword) ? keyword : []

/** Whether `allOf` merges an object, whose properties each closed part would refuse to the others. */
const mergesObject = (schema: Json): boolean =>
  listOf(schema.allOf).some((entry) => isRecord(entry) && isObjectSchema(entry))

const valuesOf = (keyword: unknown): ReadonlyArray<unknown> => isRecord(keyword) ? Object.values(keyword) : []

/** The keywords holding named subschemas for a `$ref`: `$defs`, and draft-07's `definitions`. */
const definitionKeywords: ReadonlyArray<string> = ["$defs", "definitions"]

/** Whether a keyword holds named subschemas (`$defs`, `definitions`). */
export const isDefinitions = (keyword: string): boolean => definitionKeywords.includes(keyword)

/** A segment of a JSON pointer in a URI fragment: `%`-decoded, then `~1` is `/` and `~0` is `~` (RFC 6901). */
const pointerSegment = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment).replaceAll("~1", "/").replaceAll("~0", "~")
  } catch {
    return undefined
  }
}

/**
 * The subschema a local `$ref` names under `root`'s `$defs` or `definitions`
 * (`#/$defs/Name`, `#/definitions/Name`; a name escaped as a pointer is, as
 * Effect writes `quiz/Question` or `Übung`: `quiz~1Question`, `%C3%9Cbung`),
 * or `undefined` when it names none.
 */
export const definitionOf = (root: Json, ref: string): unknown => {
  const named = definitionName(ref)
  const definitions = named === undefined ? undefined : root[named.keyword]
  return isRecord(definitions) && named !== undefined ? definitions[named.name] : undefined
}

/**
 * The keyword (`$defs`, `definitions`) and the name, unescaped, a local
 * `$ref` into named subschemas gives (`#/definitions/quiz~1Question`:
 * `definitions`, `quiz/Question`), or `undefined` for any other `$ref`.
 */
export const definitionName = (ref: string): { readonly keyword: string; readonly name: string } | undefined => {
  if (!ref.startsWith("#/")) return undefined
  const [keyword = "", ...segments] = ref.slice(2).split("/")
  const name = segments.map(pointerSegment)
  return isDefinitions(keyword) && !name.includes(undefined) ? { keyword, name: name.join("/") } : undefined
}

/**
 * The subschema any local `$ref` names under `root`: a definition
 * ({@link definitionOf}), the root (`#`), or any other place its JSON
 * pointer reaches (`#/properties/home`, as zod-to-json-schema refers to a
 * schema it met before); `undefined` when it names none.
 */
export const targetOf = (root: Json, ref: string): unknown => {
  if (ref === "#") return root
  const definition = definitionOf(root, ref)
  if (definition !== undefined || !ref.startsWith("#/")) return definition
  return ref.slice(2).split("/").map(pointerSegment).reduce<unknown>(
    (node, segment) =>
      segment !== undefined && typeof node === "object" && node !== null && Object.hasOwn(node, segment)
        ? Reflect.get(node, segment)
        : undefined,
    root
  )
}

/** Keywords whose values are data, not schemas: a `$ref` inside them is no reference. */
const data = new Set(["enum", "const", "default", "examples"])

/** Keywords whose values map names to schemas: a name there is no keyword. */
const schemaMaps = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"])

/** The schema object with each `$ref` in it replaced by `f` of it. */
export const mapRefsOf = (schema: Json, f: (ref: string) => string): Json =>
  Object.fromEntries(
    Object.entries(schema).map(([key, value]) => {
      if (key === "$ref" && typeof value === "string") return [key, f(value)]
      if (data.has(key)) return [key, value]
      if (schemaMaps.has(key) && isRecord(value)) {
        return [key, Object.fromEntries(Object.entries(value).map(([name, entry]) => [name, mapRefs(entry, f)]))]
      }
      return [key, mapRefs(value, f)]
    })
  )

/** Any value of a schema with each `$ref` in it replaced by `f` of it. */
export const mapRefs = (schema: unknown, f: (ref: string) => string): unknown => {
  if (Array.isArray(schema)) return schema.map((entry) => mapRefs(entry, f))
  return isRecord(schema) ? mapRefsOf(schema, f) : schema
}

/**
 * The schemas directly inside a schema that its values pass through: in
 * `properties`, `anyOf`, `oneOf`, `allOf`, `prefixItems`, `items` (not its
 * definitions, reached through a `$ref` only).
 */
export const parts = (schema: Json): ReadonlyArray<unknown> => [
  ...valuesOf(schema.properties),
  ...listOf(schema.anyOf),
  ...listOf(schema.oneOf),
  ...listOf(schema.allOf),
  ...listOf(schema.prefixItems),
  ...(Array.isArray(schema.items) ? listOf(schema.items) : schema.items === undefined ? [] : [schema.items])
]

/** The schemas directly inside a schema: its {@link parts}, and those in `$defs` and `definitions`. */
export const subschemas = (schema: Json): ReadonlyArray<unknown> => [
  ...parts(schema),
  ...definitionKeywords.flatMap((keyword) => valuesOf(schema[keyword]))
]

/** Whether the schema, or any schema inside it, has an open object that closing would reduce to `{}`. */
export const hasOpenObject = (schema: unknown): boolean =>
  isRecord(schema) && (isOpen(schema) || mergesObject(schema) || subschemas(schema).some(hasOpenObject))

/** The system-prompt text asking for one JSON value matching `schema`. */
export const instruction = (schema: unknown): string =>
  `Reply in json only: a single JSON value, and nothing else, that matches this JSON Schema:\n${JSON.stringify(schema)}`

/** The system prompt with `instruction` after it: the instruction alone when there is none. */
export const withInstruction = (system: string | undefined, instruction: string): string =>
  system === undefined ? instruction : `${system}\n\n${instruction}`

/**
 * A schema's description with the keywords a provider cannot take told
 * after it (`Constraints: {"format":"uri"}`), so the model still reads them.
 */
export const described = (description: unknown, dropped: Json): string => {
  const constraints = `Constraints: ${JSON.stringify(dropped)}`
  return typeof description === "string" && description.length > 0
    ? `${description}\n\n${constraints}`
    : constraints
}
