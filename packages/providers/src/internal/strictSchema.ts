/**
 * OpenAI's strict structured-output subset of JSON Schema, and the way back.
 *
 * `response_format: { type: "json_schema", strict: true }` accepts a root
 * `type: "object"` whose objects list every property in `required` and set
 * `additionalProperties: false`, and only a subset of keywords. `toStrict`
 * rewrites any schema to that subset:
 *
 * - an optional property becomes required and nullable (`anyOf: [S, {type: "null"}]`);
 * - named subschemas (`$defs`, and draft-07's `definitions`, the rule of
 *   `jsonSchemaShape.ts`) are kept and rewritten in turn, so every `$ref`
 *   still resolves in the schema sent;
 * - `oneOf` becomes `anyOf`; keywords outside the subset are dropped (Baton
 *   still checks every answer against the caller's full schema, so a dropped
 *   constraint is enforced after the reply instead of during generation);
 * - a root that is not an object cannot be strict, and neither can a schema
 *   with an open object anywhere (`additionalProperties` other than `false`,
 *   `patternProperties`, `unevaluatedProperties`, an object merged through
 *   `allOf`, or an object with neither `properties` nor
 *   `additionalProperties: false`, such as a record; the rule is
 *   `jsonSchemaShape.ts`'s `hasOpenObject`, shared with Anthropic): closing
 *   it would leave the model only `{}` to answer. `toStrict` returns
 *   `undefined` and the caller sends the schema unchanged with
 *   `strict: false`.
 *
 * `dropOptionalNulls` undoes the nullable rewrite on an answer: a `null` in a
 * property that was optional (and did not allow null) is removed, so the
 * caller's decoder sees an absent key, as its schema expects. Inside an
 * `anyOf` or `oneOf` it follows the branch that fits the value, and through
 * a `$ref` the definition it names.
 */
import type { JsonSchema } from "@baton/core/StructuredOutput"
import * as JsonGuards from "./json.ts"
import * as JsonSchemaShape from "./jsonSchemaShape.ts"

type Json = { [key: string]: unknown }

const isRecord = JsonGuards.isObject

const kept = new Set([
  "$ref",
  "type",
  "title",
  "description",
  "enum",
  "const",
  "anyOf",
  "properties",
  "required",
  "items",
  "pattern",
  "format",
  "multipleOf",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "minItems",
  "maxItems"
])

const isObjectSchema = (schema: Json): boolean =>
  schema.type === "object" || (schema.type === undefined && isRecord(schema.properties))

const nullable = (schema: unknown): Json => ({ anyOf: [schema, { type: "null" }] })

const allowsNull = (schema: unknown): boolean =>
  isRecord(schema) && (
    schema.type === "null" ||
    (Array.isArray(schema.type) && schema.type.includes("null")) ||
    (Array.isArray(schema.anyOf) && schema.anyOf.some(allowsNull)) ||
    (Array.isArray(schema.oneOf) && schema.oneOf.some(allowsNull))
  )

const requiredOf = (schema: Json): ReadonlyArray<string> =>
  Array.isArray(schema.required) ? schema.required.filter((key): key is string => typeof key === "string") : []

const rewriteObject = (schema: Json, out: Json): void => {
  const properties = isRecord(schema.properties) ? schema.properties : {}
  const required = new Set(requiredOf(schema))
  const rewritten: Json = {}
  for (const [key, value] of Object.entries(properties)) {
    const strict = rewrite(value)
    rewritten[key] = required.has(key) || allowsNull(value) ? strict : nullable(strict)
  }
  out.type = "object"
  out.properties = rewritten
  out.required = Object.keys(rewritten)
  out.additionalProperties = false
}

const rewrite = (schema: unknown): unknown => {
  if (!isRecord(schema)) return schema
  const out: Json = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === "oneOf" && Array.isArray(value)) out.anyOf = value.map(rewrite)
    else if (key === "anyOf" && Array.isArray(value)) out.anyOf = value.map(rewrite)
    else if (key === "items") out.items = rewrite(value)
    else if (JsonSchemaShape.isDefinitions(key) && isRecord(value)) out[key] = rewriteDefinitions(value)
    else if (kept.has(key) && key !== "properties" && key !== "required") out[key] = value
  }
  if (isObjectSchema(schema)) rewriteObject(schema, out)
  return out
}

const rewriteDefinitions = (definitions: Json): Json =>
  Object.fromEntries(Object.entries(definitions).map(([key, value]) => [key, rewrite(value)]))

const isSet = (keyword: unknown): boolean => keyword !== undefined && keyword !== false

/** The strict form of a schema, or `undefined` when its root is not an object or it has an open object. */
export const toStrict = (schema: JsonSchema): JsonSchema | undefined => {
  if (JsonSchemaShape.hasOpenObject(schema)) return undefined
  const root = rewrite(schema)
  return isRecord(root) && root.type === "object" && root.anyOf === undefined ? root : undefined
}

/** The definition a `$ref` names in `root`, else the schema itself. */
const resolve = (schema: unknown, root: Json): unknown =>
  isRecord(schema) && typeof schema.$ref === "string"
    ? JsonSchemaShape.definitionOf(root, schema.$ref) ?? schema
    : schema

const hasType = (schema: Json, type: string): boolean =>
  schema.type === type || (Array.isArray(schema.type) && schema.type.includes(type))

/** Whether every key of an object answer is a property of the schema, with its `const` or `enum` if any. */
const fitsObject = (value: Json, schema: Json): boolean => {
  if (!isObjectSchema(schema)) return false
  const properties = isRecord(schema.properties) ? schema.properties : {}
  return Object.entries(value).every(([key, item]) => {
    const property = properties[key]
    if (property === undefined) return isSet(schema.additionalProperties)
    if (!isRecord(property)) return property !== false
    if ("const" in property) return property.const === item
    return !Array.isArray(property.enum) || property.enum.includes(item)
  })
}

/** Whether an answer has the shape of a branch of `anyOf` or `oneOf`. */
const fits = (value: unknown, schema: unknown): boolean => {
  if (!isRecord(schema)) return false
  if (value === null) return allowsNull(schema)
  if (Array.isArray(value)) return hasType(schema, "array") || schema.items !== undefined
  return isRecord(value) && fitsObject(value, schema)
}

/** The branch of `anyOf` or `oneOf` an answer follows, or `undefined` when there is none. */
const branchOf = (value: unknown, schema: Json, root: Json): unknown => {
  const branches = Array.isArray(schema.anyOf)
    ? JsonSchemaShape.listOf(schema.anyOf)
    : JsonSchemaShape.listOf(schema.oneOf)
  return branches.find((branch) => fits(value, resolve(branch, root)))
}

const strip = (value: unknown, schema: unknown, root: Json): unknown => {
  const resolved = resolve(schema, root)
  if (!isRecord(resolved) || value === null || typeof value !== "object") return value
  const branch = branchOf(value, resolved, root)
  if (branch !== undefined) return strip(value, branch, root)
  if (Array.isArray(value)) return value.map((item) => strip(item, resolved.items, root))
  if (!isRecord(value) || !isRecord(resolved.properties)) return value
  const properties = resolved.properties
  const required = new Set(requiredOf(resolved))
  const out: Json = {}
  for (const [key, item] of Object.entries(value)) {
    const property = properties[key]
    if (item === null && !required.has(key) && !allowsNull(resolve(property, root))) continue
    out[key] = strip(item, property, root)
  }
  return out
}

/** The answer with `null`s of originally optional, non-nullable properties removed. */
export const dropOptionalNulls = (value: unknown, original: JsonSchema): unknown => strip(value, original, original)
