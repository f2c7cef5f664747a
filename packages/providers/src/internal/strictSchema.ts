/**
 * OpenAI's strict structured-output subset of JSON Schema, and the way back.
 *
 * `response_format: { type: "json_schema", strict: true }` accepts a root
 * `type: "object"` whose objects list every property in `required` and set
 * `additionalProperties: false`, and only a subset of keywords. `toStrict`
 * rewrites any schema to that subset:
 *
 * - an optional property becomes required and nullable (`anyOf: [S, {type: "null"}]`)
 *   unless its schema takes `null` already (`jsonSchemaShape.ts`'s
 *   `allowsNull`: its `type`, OpenAPI's `nullable: true`, `enum` or `const`
 *   naming it, none of them refusing it, or a branch taking it);
 *   `nullable: true`, which strict mode does not take, becomes `"null"`
 *   added to the node's `type`;
 *   an object whose `type` is a list holding `"object"` (`["object", "null"]`)
 *   is closed as one whose `type` is `"object"`, its list kept;
 * - named subschemas (`$defs`, and draft-07's `definitions`, the rule of
 *   `jsonSchemaShape.ts`) are kept and rewritten in turn, so every `$ref`
 *   still resolves in the schema sent; a `$ref` to any other place
 *   (`#/properties/home`, as zod-to-json-schema writes a schema used twice or
 *   recursive) points to a copy of that place added to them, as strict mode
 *   takes a `$ref` only to a definition or the root, and the rewrite changes
 *   the places (an optional property becomes nullable);
 * - a one-entry `allOf` beside annotations only (`{allOf: [{$ref}],
 *   description}`) is merged into its node; strict mode takes no keyword
 *   beside a `$ref`, so a `$ref` with a title or description becomes
 *   `{anyOf: [{$ref}], description}`;
 * - `oneOf` becomes `anyOf`; keywords outside the subset are dropped (Baton
 *   still checks every answer against the caller's full schema, so a dropped
 *   constraint is enforced after the reply instead of during generation),
 *   except a tuple's `prefixItems`, which cannot be dropped without changing
 *   which arrays fit (it is dropped only when each entry repeats `items`, as
 *   in `Schema.NonEmptyArray`);
 * - a `format` strict mode does not know is dropped too (it refuses the
 *   whole schema with a 400 for one, as "'uri' is not a valid format") and
 *   told in the node's description instead (`Constraints: {"format":"uri"}`,
 *   as Anthropic's rewrite tells what it drops): Baton's check of the answer
 *   does not assert formats, so only the model's reading of it holds it;
 * - a schema with an open object anywhere cannot be strict
 *   (`additionalProperties` other than `false`, `patternProperties`,
 *   `unevaluatedProperties`, an object merged through `allOf`, or an object
 *   with neither `properties` nor `additionalProperties: false`, such as a
 *   record; the rule is `jsonSchemaShape.ts`'s `hasOpenObject`, shared with
 *   Anthropic): closing it would leave the model only `{}` to answer;
 * - nor can one whose rewrite breaks a strict rule, which `toStrict` checks
 *   on its own output: an object root; only supported keywords; a `$ref`
 *   alone, naming a definition; a `type`, `anyOf`, `enum` or `const` on every
 *   other node; `items` on every array; every object closed with all its
 *   properties required. A tuple, a field with no type (`Schema.Unknown`'s
 *   `{}`) or an `allOf` that cannot be merged fails it;
 * - nor can one past OpenAI's documented limits on its size (each a 400 on
 *   every call): more than 5 000 object properties, 10 levels of objects or
 *   1 000 enum values in all, more than 120 000 characters of property
 *   names, definition names, enum values and `const`s, or a string enum of
 *   more than 250 values whose values pass 15 000 characters. Levels are
 *   counted through each `$ref`, a definition as deep as where it is used;
 *   a recursive `$ref` (to `#`, or a definition naming itself), which strict
 *   mode takes, counts its loop once, on every path through it (A naming B
 *   naming A is as deep from B as from A). Definitions so entangled that the
 *   paths through their loops pass 1 000 count as too deep.
 *
 * Without a strict form `toStrict` returns `undefined` and the caller sends
 * the schema unchanged with `strict: false`. Either answer is kept for the
 * schema object and for its JSON text (`schemaCache.ts`): the rewrite is
 * made once per schema, not once per call, even when each call brings a new
 * object.
 *
 * `dropOptionalNulls` undoes the nullable rewrite on an answer to a schema
 * sent strict (the caller leaves one sent non-strict as it came): a `null`
 * in a declared property that was optional and whose schema does not take
 * `null` is removed, so the caller's decoder sees an absent key, as its
 * schema expects. Any other `null` (a property's schema that takes it, a
 * required property, a key the schema does not declare) is kept for the
 * caller's schema to check. Inside an `anyOf` or `oneOf` it follows the
 * branch that fits the value, and through a `$ref` (alone or in a one-entry
 * `allOf`) the place it names.
 */
import type { JsonSchema } from "@baton/core/StructuredOutput"
import { isDeepStrictEqual } from "node:util"
import * as JsonGuards from "./json.ts"
import * as JsonSchemaShape from "./jsonSchemaShape.ts"
import * as SchemaCache from "./schemaCache.ts"

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
  "multipleOf",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "minItems",
  "maxItems"
])

/** The string formats strict mode knows; it refuses a schema with any other. */
const formats = new Set(["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"])

/** The keywords strict mode takes: those kept, and those the rewrite writes. */
const supported = new Set([...kept, "format", "additionalProperties", "$defs", "definitions"])

/** Keywords that describe a schema without constraining what fits it. */
const annotations = new Set([
  "title",
  "description",
  "$comment",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly"
])

const isObjectSchema = JsonSchemaShape.isObjectSchema

const nullable = (schema: unknown): Json => ({ anyOf: [schema, { type: "null" }] })

const allowsNull = JsonSchemaShape.allowsNull

/** Whether the rewrite makes a property nullable: optional, and its schema takes no `null`. */
const madeNullable = (property: unknown, required: boolean): boolean => !required && !allowsNull(property)

/** A `type` with `"null"` in it: how strict mode says OpenAPI's `nullable: true`, which it does not take. */
const withNull = (type: unknown): unknown => {
  const types: ReadonlyArray<unknown> = Array.isArray(type) ? type : [type]
  return types.includes("null") ? type : [...types, "null"]
}

const requiredOf = (schema: Json): ReadonlyArray<string> =>
  Array.isArray(schema.required) ? schema.required.filter((key): key is string => typeof key === "string") : []

const rewriteObject = (schema: Json, out: Json): void => {
  const properties = isRecord(schema.properties) ? schema.properties : {}
  const required = new Set(requiredOf(schema))
  const rewritten: Json = {}
  for (const [key, value] of Object.entries(properties)) {
    const strict = rewrite(value)
    rewritten[key] = madeNullable(value, required.has(key)) ? nullable(strict) : strict
  }
  out.type ??= "object"
  out.properties = rewritten
  out.required = Object.keys(rewritten)
  out.additionalProperties = false
}

/**
 * A one-entry `allOf` beside annotations only (how many generators write a
 * described `$ref`), merged into one node, its annotations over the entry's:
 * the same schema, without the `allOf` strict mode refuses.
 */
const foldAllOf = (schema: Json): Json => {
  const { allOf, ...siblings } = schema
  const [entry, ...rest] = JsonSchemaShape.listOf(allOf)
  return isRecord(entry) && rest.length === 0 && Object.keys(siblings).every((key) => annotations.has(key))
    ? { ...entry, ...siblings }
    : schema
}

/**
 * A `$ref` alone or, when it has a title or description, in a one-branch
 * `anyOf` beside them: strict mode refuses any keyword beside a `$ref`. Its
 * other siblings are dropped, as keywords outside the subset are.
 */
const rewriteRef = (schema: Json): Json => {
  const notes = Object.entries(schema).filter(([key]) => annotations.has(key) && kept.has(key))
  return notes.length === 0
    ? { $ref: schema.$ref }
    : { anyOf: [{ $ref: schema.$ref }], ...Object.fromEntries(notes) }
}

/** Whether `prefixItems` says nothing `items` does not (`Schema.NonEmptyArray`), so dropping it changes no answer. */
const repeatsItems = (schema: Json): boolean =>
  JsonSchemaShape.listOf(schema.prefixItems).every((entry) => isDeepStrictEqual(entry, schema.items))

const rewrite = (schema: unknown): unknown => {
  if (!isRecord(schema)) return schema
  const node = foldAllOf(schema)
  if (typeof node.$ref === "string") return rewriteRef(node)
  const out: Json = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === "oneOf" && Array.isArray(value)) out.anyOf = value.map(rewrite)
    else if (key === "anyOf" && Array.isArray(value)) out.anyOf = value.map(rewrite)
    else if (key === "items") out.items = rewrite(value)
    else if (key === "type") out.type = node.nullable === true ? withNull(value) : value
    else if (key === "prefixItems" && !repeatsItems(node)) out.prefixItems = value
    else if (key === "format" && typeof value === "string" && formats.has(value)) out.format = value
    else if (JsonSchemaShape.isDefinitions(key) && isRecord(value)) out[key] = rewriteDefinitions(value)
    else if (kept.has(key) && key !== "properties" && key !== "required") out[key] = value
  }
  if (typeof node.format === "string" && !formats.has(node.format)) {
    // strict mode refuses the format: the model is told it instead (Baton's check does not assert formats)
    out.description = JsonSchemaShape.described(node.description, { format: node.format })
  }
  if (isObjectSchema(node)) rewriteObject(node, out)
  return out
}

const rewriteDefinitions = (definitions: Json): Json =>
  Object.fromEntries(Object.entries(definitions).map(([key, value]) => [key, rewrite(value)]))

/** A definition name for the `index`th place a `$ref` names, taken by none of `definitions`. */
const freshName = (definitions: Json, index: number): string => {
  let name = `ref${index}`
  while (Object.hasOwn(definitions, name)) name = `_${name}`
  return name
}

/**
 * The schema with every `$ref` to a place outside its definitions pointing
 * to a copy of that place added to them (to `definitions` in a draft-07
 * schema that has them, else to `$defs`).
 */
const refsToDefinitions = (schema: Json): Json => {
  const places = new Set<string>()
  JsonSchemaShape.mapRefsOf(schema, (ref) => {
    const outside = ref !== "#" && JsonSchemaShape.definitionOf(schema, ref) === undefined
    if (outside && isRecord(JsonSchemaShape.targetOf(schema, ref))) places.add(ref)
    return ref
  })
  if (places.size === 0) return schema
  const keyword = schema.$defs === undefined && isRecord(schema.definitions) ? "definitions" : "$defs"
  const definitions = isRecord(schema[keyword]) ? schema[keyword] : {}
  const names = new Map([...places].map((ref, index) => [ref, freshName(definitions, index)]))
  const moved = (ref: string): string => {
    const name = names.get(ref)
    return name === undefined ? ref : `#/${keyword}/${name}`
  }
  const copies = [...names].map(([ref, name]): [string, unknown] => [
    name,
    JsonSchemaShape.mapRefs(JsonSchemaShape.targetOf(schema, ref), moved)
  ])
  // mapped under their keyword, so that a definition named like a keyword (`default`, `enum`) is still a schema
  const mapped = JsonSchemaShape.mapRefsOf({ ...schema, [keyword]: definitions }, moved)
  const mappedDefinitions = isRecord(mapped[keyword]) ? mapped[keyword] : {}
  return { ...mapped, [keyword]: { ...mappedDefinitions, ...Object.fromEntries(copies) } }
}

const isSet = (keyword: unknown): boolean => keyword !== undefined && keyword !== false

const hasType = (schema: Json, type: string): boolean =>
  schema.type === type || (Array.isArray(schema.type) && schema.type.includes(type))

/** Whether a `$ref` names the root (`#`) or one of its definitions. */
const resolves = (ref: unknown, root: Json): boolean =>
  ref === "#" || (typeof ref === "string" && JsonSchemaShape.definitionOf(root, ref) !== undefined)

/** Whether an object lists properties, each of them required, and takes no other key. */
const isClosed = (schema: Json): boolean => {
  const required = requiredOf(schema)
  return isRecord(schema.properties) && schema.additionalProperties === false &&
    Object.keys(schema.properties).every((key) => required.includes(key))
}

/**
 * Whether one node keeps strict mode's rules, its subschemas aside: only
 * supported keywords; a `$ref` alone, naming a definition; else a `type`,
 * `anyOf`, `enum` or `const`; `items` (one schema) on an array; an object
 * closed.
 */
const keepsRules = (schema: Json, root: Json): boolean => {
  if (!Object.keys(schema).every((key) => supported.has(key))) return false
  if ("$ref" in schema) return Object.keys(schema).length === 1 && resolves(schema.$ref, root)
  return ["type", "anyOf", "enum", "const"].some((key) => key in schema) &&
    (schema.items === undefined ? !hasType(schema, "array") : isRecord(schema.items)) &&
    (!isObjectSchema(schema) || isClosed(schema))
}

const isStrictNode = (schema: unknown, root: Json): boolean =>
  isRecord(schema) && keepsRules(schema, root) &&
  JsonSchemaShape.subschemas(schema).every((subschema) => isStrictNode(subschema, root))

/** Whether a rewritten schema is one strict mode takes: an object root, and every node keeping the rules. */
const isStrict = (root: Json): boolean => root.type === "object" && root.anyOf === undefined && isStrictNode(root, root)

/** OpenAI's documented limits on the size of a strict schema. */
const limits = {
  properties: 5_000,
  depth: 10,
  /** Characters of property names, definition names, enum values and `const`s, all together. */
  chars: 120_000,
  enumValues: 1_000,
  /** Characters of one string enum's values, when it has more than `largeEnum` of them. */
  largeEnumChars: 15_000,
  largeEnum: 250
}

/** What a schema adds up to against {@link limits}, its depth aside ({@link depthOf}). */
interface Size {
  properties: number
  chars: number
  enumValues: number
  largeEnumChars: number
}

const stringsOf = (values: ReadonlyArray<unknown>): ReadonlyArray<string> =>
  values.filter((value): value is string => typeof value === "string")

const charsOf = (strings: ReadonlyArray<string>): number => strings.reduce((n, string) => n + string.length, 0)

/** Adds a schema and every schema inside it to `size`. */
const measure = (schema: unknown, size: Size): void => {
  if (!isRecord(schema)) return
  const properties = isRecord(schema.properties) ? Object.keys(schema.properties) : []
  const definitions = Object.entries(schema).flatMap(([key, value]) =>
    JsonSchemaShape.isDefinitions(key) && isRecord(value) ? Object.keys(value) : []
  )
  const values = stringsOf(JsonSchemaShape.listOf(schema.enum))
  size.properties += properties.length
  size.enumValues += JsonSchemaShape.listOf(schema.enum).length
  size.chars += charsOf([...properties, ...definitions, ...values, ...stringsOf([schema.const])])
  if (values.length > limits.largeEnum) size.largeEnumChars = Math.max(size.largeEnumChars, charsOf(values))
  for (const subschema of JsonSchemaShape.subschemas(schema)) measure(subschema, size)
}

/**
 * How deep a place goes ({@link depthOf}), and the places on the path above
 * it whose loops were cut inside it: with any, its depth holds only where
 * that path led to it.
 */
interface Depth {
  readonly levels: number
  readonly cutAt: ReadonlySet<string>
}

/**
 * A walk of {@link depthOf}: the depth of each place followed whose loops all
 * close inside it, and how many places it walked whose depth it could not
 * keep (all it may, once the schema is known to be too deep).
 */
interface Walk {
  readonly depths: Map<string, number>
  loopWalks: number
}

/**
 * The places one depth walk may walk without keeping their depth (each path
 * through a loop walks them again): past them the schema counts as too deep.
 */
const maxLoopWalks = 1_000

const noCuts: ReadonlySet<string> = new Set()

const tooDeep: Depth = { levels: Infinity, cutAt: noCuts }

const cutsOf = (depths: ReadonlyArray<Depth>, except?: string): ReadonlySet<string> => {
  const places = depths.flatMap((depth) => [...depth.cutAt]).filter((place) => place !== except)
  return places.length === 0 ? noCuts : new Set(places)
}

/**
 * How many levels of objects deep a value of `schema` goes, under `above`
 * levels, each `$ref` followed into the place it names (a definition is as
 * deep as where it is used), but none back into a place the path already
 * holds: strict mode takes a recursive schema, so its loop counts once. A
 * place whose loops all close inside it (or at the root, on every path) is
 * walked once, however often it is used; one whose loop was cut at a place
 * above it (A naming B naming A) is walked again from each path, as its
 * depth is not the same from each. The walk ends as too deep at the first
 * path past {@link limits}' depth, or past {@link maxLoopWalks}.
 */
const depthOf = (schema: unknown, root: Json, path: ReadonlySet<string>, above: number, walk: Walk): Depth => {
  if (!isRecord(schema)) return { levels: 0, cutAt: noCuts }
  if (typeof schema.$ref === "string") return refDepthOf(schema.$ref, root, path, above, walk)
  const level = isObjectSchema(schema) ? 1 : 0
  if (above + level > limits.depth) {
    walk.loopWalks = maxLoopWalks
    return tooDeep
  }
  const inner = JsonSchemaShape.parts(schema).map((part) => depthOf(part, root, path, above + level, walk))
  return { levels: level + Math.max(0, ...inner.map((depth) => depth.levels)), cutAt: cutsOf(inner) }
}

const refDepthOf = (ref: string, root: Json, path: ReadonlySet<string>, above: number, walk: Walk): Depth => {
  if (path.has(ref)) return { levels: 0, cutAt: ref === "#" ? noCuts : new Set([ref]) }
  const known = walk.depths.get(ref)
  if (known !== undefined) return { levels: known, cutAt: noCuts }
  if (walk.loopWalks >= maxLoopWalks) return tooDeep
  const inner = depthOf(JsonSchemaShape.targetOf(root, ref), root, new Set([...path, ref]), above, walk)
  const cutAt = cutsOf([inner], ref)
  if (cutAt.size === 0) walk.depths.set(ref, inner.levels)
  else walk.loopWalks++
  return { levels: inner.levels, cutAt }
}

/** Whether a strict schema is within {@link limits}: past any of them strict mode refuses it with a 400. */
const withinLimits = (root: Json): boolean => {
  const size: Size = { properties: 0, chars: 0, enumValues: 0, largeEnumChars: 0 }
  measure(root, size)
  return size.properties <= limits.properties && size.chars <= limits.chars &&
    depthOf(root, root, new Set(["#"]), 0, { depths: new Map(), loopWalks: 0 }).levels <= limits.depth &&
    size.enumValues <= limits.enumValues && size.largeEnumChars <= limits.largeEnumChars
}

const strictFormOf = (schema: JsonSchema): JsonSchema | undefined => {
  if (JsonSchemaShape.hasOpenObject(schema)) return undefined
  const root = rewrite(refsToDefinitions(schema))
  return isRecord(root) && isStrict(root) && withinLimits(root) ? root : undefined
}

/**
 * The strict form of a schema, or `undefined` when it has an open object,
 * its rewrite breaks a strict rule or is past OpenAI's limits. Made once per
 * schema (`schemaCache.ts`): a schema must not change once used, and the
 * form returned is shared, not to be changed either.
 */
export const toStrict: (schema: JsonSchema) => JsonSchema | undefined = SchemaCache.make(strictFormOf)

/** The schema with a one-entry `allOf` merged, then the place its `$ref` names in `root`, if any. */
const resolve = (schema: unknown, root: Json): unknown => {
  if (!isRecord(schema)) return schema
  const node = foldAllOf(schema)
  return typeof node.$ref === "string" ? JsonSchemaShape.targetOf(root, node.$ref) ?? node : node
}

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
    // a key the schema does not declare was not rewritten: it is kept as it came, for the caller's schema to check
    const property = Object.hasOwn(properties, key) ? properties[key] : undefined
    // resolved: a `$ref` to a schema that takes `null` keeps its `null`
    if (item === null && property !== undefined && madeNullable(resolve(property, root), required.has(key))) continue
    out[key] = strip(item, property, root)
  }
  return out
}

/**
 * The answer to a schema sent strict with the `null`s of its declared
 * optional properties whose schemas do not take `null` removed.
 */
export const dropOptionalNulls = (value: unknown, original: JsonSchema): unknown => strip(value, original, original)
