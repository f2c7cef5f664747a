/**
 * Anthropic's structured-output subset of JSON Schema.
 *
 * `output_config.format.schema` is refused (400) when it holds a keyword
 * outside a small subset (`minLength`, `minimum`, `pattern`, `minItems`
 * above 1, ...), which most Effect schemas produce (`Schema.Int` alone gives
 * `minimum` and `maximum`). `toAnthropic` rewrites any schema into it:
 *
 * - kept: `type`, `title`, `description`, `$ref`, `$defs` / `definitions`,
 *   `properties`, `required`, `items`, `anyOf`, `allOf`, `enum` and `const`
 *   of primitives, `minItems` 0 or 1, and `format` among the string formats
 *   Anthropic knows; subschemas are rewritten in turn;
 * - `oneOf` becomes `anyOf`;
 * - every object gets `additionalProperties: false`, the only value Anthropic
 *   takes;
 * - a larger `minItems` is sent as 1, which it implies;
 * - any other keyword is dropped and told to the model in `description`, as
 *   `Constraints: {"minLength":1}`. Baton checks every answer against the
 *   caller's full schema, so a dropped constraint is enforced after the
 *   reply instead of during generation.
 *
 * A schema with an open object (a record's `additionalProperties: <schema>`,
 * a bare `{ type: "object" }`, `patternProperties`, objects merged through
 * `allOf`; `jsonSchemaShape.ts`'s `hasOpenObject`, the rule OpenAI's strict
 * mode shares) has no form in the subset: closed, that object could only be
 * answered `{}`, and the decode would succeed with the data lost. `toAnthropic`
 * returns `undefined` for it, and the adapter sends no `output_config` but
 * asks for JSON matching the full schema in the system prompt.
 */
import type { JsonSchema } from "@baton/core/StructuredOutput"
import * as Json from "./json.ts"
import * as JsonSchemaShape from "./jsonSchemaShape.ts"
import * as SchemaCache from "./schemaCache.ts"

type Schema = { [key: string]: unknown }

/** The string formats Anthropic accepts. */
const formats = new Set([
  "date-time",
  "time",
  "date",
  "duration",
  "email",
  "hostname",
  "uri",
  "ipv4",
  "ipv6",
  "uuid"
])

const isPrimitive = (u: unknown): boolean =>
  u === null || typeof u === "string" || typeof u === "number" || typeof u === "boolean"

const isObjectSchema = (schema: Json.JsonObject): boolean =>
  schema.type === "object" || (Array.isArray(schema.type) && schema.type.includes("object")) ||
  Json.isObject(schema.properties)

/**
 * True for a keyword dropped without a word: metadata, `additionalProperties`
 * (always set to false), and `Schema.Int`'s bounds, the safe integers, which
 * tell a model nothing.
 */
const isSilent = (key: string, value: unknown): boolean =>
  key === "$schema" || key === "$id" || key === "$anchor" || key === "$comment" ||
  key === "additionalProperties" ||
  (key === "minimum" && value === Number.MIN_SAFE_INTEGER) ||
  (key === "maximum" && value === Number.MAX_SAFE_INTEGER)

const rewriteAll = (schemas: Json.JsonObject): Schema =>
  Object.fromEntries(Object.entries(schemas).map(([key, value]) => [key, rewrite(value)]))

/** The keyword as Anthropic takes it (its name may change), or `undefined` when it must be dropped. */
const keyword = (key: string, value: unknown): readonly [string, unknown] | undefined => {
  if (JsonSchemaShape.isDefinitions(key)) return Json.isObject(value) ? [key, rewriteAll(value)] : undefined
  switch (key) {
    case "type":
    case "title":
    case "description":
    case "$ref":
    case "required":
      return [key, value]
    case "properties":
      return Json.isObject(value) ? [key, rewriteAll(value)] : undefined
    case "items":
      return Json.isObject(value) ? [key, rewrite(value)] : undefined
    case "anyOf":
    case "allOf":
      return Array.isArray(value) ? [key, value.map(rewrite)] : undefined
    case "oneOf":
      return Array.isArray(value) ? ["anyOf", value.map(rewrite)] : undefined
    case "enum":
      return Array.isArray(value) && value.every(isPrimitive) ? [key, value] : undefined
    case "const":
      return isPrimitive(value) ? [key, value] : undefined
    case "format":
      return typeof value === "string" && formats.has(value) ? [key, value] : undefined
    case "minItems":
      return value === 0 || value === 1 ? [key, value] : undefined
    default:
      return undefined
  }
}

/** Sets a keyword; one already set (`anyOf` from a `oneOf`) is added to `allOf` instead. */
const add = (out: Schema, key: string, value: unknown): void => {
  if (!(key in out)) out[key] = value
  else out.allOf = [...JsonSchemaShape.listOf(out.allOf), { [key]: value }]
}

const rewriteSchema = (schema: Json.JsonObject): Schema => {
  const out: Schema = {}
  const dropped: Schema = {}
  for (const [key, value] of Object.entries(schema)) {
    const kept = keyword(key, value)
    if (kept !== undefined) add(out, kept[0], kept[1])
    else if (!isSilent(key, value)) dropped[key] = value
  }
  if (Json.count(schema.minItems) !== undefined && out.minItems === undefined) out.minItems = 1
  if (Object.keys(dropped).length > 0) out.description = JsonSchemaShape.described(out.description, dropped)
  if (isObjectSchema(schema)) out.additionalProperties = false
  return out
}

const rewrite = (schema: unknown): unknown => Json.isObject(schema) ? rewriteSchema(schema) : schema

/**
 * The schema in Anthropic's subset, or `undefined` when it has an open object;
 * the caller's schema is left as it was. Made once per schema
 * (`schemaCache.ts`): the form returned is shared, not to be changed.
 */
export const toAnthropic: (schema: JsonSchema) => JsonSchema | undefined = SchemaCache.make((schema) =>
  JsonSchemaShape.hasOpenObject(schema) ? undefined : rewriteSchema(schema)
)
