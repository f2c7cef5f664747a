/**
 * What Gemini's `responseJsonSchema` cannot take: a `$ref` loop of required
 * fields.
 *
 * Gemini unrolls a recursive schema to a finite depth, so it takes a `$ref`
 * loop only when the loop can stop: through a property that is optional or
 * nullable, or through the items of an array that may be empty. Any other
 * loop (an expression tree whose `Add` requires its `left` and `right`, a
 * `Schema.NonEmptyArray` of itself) is a 400, "ref loops are only supported
 * if they include optional or nullable property values, or a
 * potentially-zero-length array items", even when a branch of a union beside
 * it would stop it. `hasRequiredLoop` finds such a loop; the adapter then
 * sends no `responseJsonSchema` but JSON mode (none beside function
 * declarations before Gemini 3: `gemini.ts`), and asks for JSON matching the
 * full schema in the system prompt (`jsonSchemaShape.ts`'s `instruction`, as
 * Anthropic does for a schema its mode cannot take). Baton decodes the answer
 * against the caller's schema either way, and re-asks when it does not fit.
 *
 * Gemini documents `$defs` for named subschemas, not draft-07's
 * `definitions` (what zod-to-json-schema and the OpenAI SDK's
 * `zodResponseFormat` write), and no `$schema`: `toGemini` drops the root's
 * `$schema` and merges `definitions` into `$defs`, each `$ref` to them moved
 * with them; a definition named like one already in `$defs` is renamed with
 * `_` before its name (`Address` becomes `_Address`).
 */
import type { JsonSchema } from "@baton/core/StructuredOutput"
import * as Json from "./json.ts"
import * as JsonSchemaShape from "./jsonSchemaShape.ts"
import * as SchemaCache from "./schemaCache.ts"

type Schema = { [key: string]: unknown }

const minItems = (schema: Schema): number => typeof schema.minItems === "number" ? schema.minItems : 0

/** The subschemas an answer to `schema` must hold: its required properties, an array's first `minItems` items, every branch. */
const requiredParts = (schema: Schema): ReadonlyArray<unknown> => {
  const required = JsonSchemaShape.listOf(schema.required)
  const properties = Json.isObject(schema.properties) ? Object.entries(schema.properties) : []
  const prefix = JsonSchemaShape.listOf(schema.prefixItems).slice(0, minItems(schema))
  return [
    ...properties.filter(([key]) => required.includes(key)).map(([, property]) => property),
    ...prefix,
    ...(minItems(schema) > prefix.length && Json.isObject(schema.items) ? [schema.items] : []),
    ...JsonSchemaShape.listOf(schema.anyOf),
    ...JsonSchemaShape.listOf(schema.oneOf),
    ...JsonSchemaShape.listOf(schema.allOf)
  ]
}

/** The `$ref`s an answer to `schema` must follow, up to the first `$ref` on each path; none past a nullable schema. */
const requiredRefs = (schema: unknown): ReadonlyArray<string> => {
  if (!Json.isObject(schema) || JsonSchemaShape.allowsNull(schema)) return []
  if (typeof schema.$ref === "string") return [schema.$ref]
  return requiredParts(schema).flatMap(requiredRefs)
}

/** Whether a `$ref` loop of required fields can be reached from `schema`'s root. */
const hasRequiredLoop = (schema: Schema): boolean => {
  const done = new Set<string>()
  const visit = (ref: string, path: ReadonlySet<string>): boolean => {
    if (path.has(ref)) return true
    if (done.has(ref)) return false
    const next = new Set([...path, ref])
    const loops = requiredRefs(JsonSchemaShape.targetOf(schema, ref)).some((to) => visit(to, next))
    done.add(ref)
    return loops
  }
  return visit("#", new Set())
}

const draft07 = "#/definitions/"

/**
 * `$defs` with draft-07's `definitions` merged in, each under its own name
 * or, when one in `$defs` has it, under it with `_` before it as many times
 * as it takes; and the `_`s each name took.
 */
const merged = (defs: Schema, definitions: Schema) => {
  const all: Schema = { ...defs }
  const prefixes = new Map<string, string>()
  for (const [name, definition] of Object.entries(definitions)) {
    let prefix = ""
    while (Object.hasOwn(all, `${prefix}${name}`)) prefix += "_"
    all[`${prefix}${name}`] = definition
    prefixes.set(name, prefix)
  }
  return { all, prefixes }
}

/**
 * The schema as Gemini takes it: without its root `$schema`, which
 * `responseJsonSchema` does not list, and with draft-07's `definitions`
 * merged into `$defs` (one named like a definition of `$defs` renamed), each
 * `$ref` to them moved with them.
 */
const toGemini = (schema: Schema): Schema => {
  const rest = Object.fromEntries(Object.entries(schema).filter(([key]) => key !== "$schema" && key !== "definitions"))
  const definitions = schema.definitions
  if (!Json.isObject(definitions)) return rest
  const { all, prefixes } = merged(Json.isObject(schema.$defs) ? schema.$defs : {}, definitions)
  const moved = (ref: string): string => {
    if (!ref.startsWith(draft07)) return ref
    const [first = ""] = ref.slice(draft07.length).split("/")
    // the definition named whole, else the one whose inside the pointer goes on into (`Address/properties/city`)
    const renamed = [ref, `${draft07}${first}`].map((named) => JsonSchemaShape.definitionName(named)?.name ?? "")
      .map((name) => prefixes.get(name)).find((prefix) => prefix !== undefined)
    return `#/$defs/${renamed ?? ""}${ref.slice(draft07.length)}`
  }
  return JsonSchemaShape.mapRefsOf({ ...rest, $defs: all }, moved)
}

/**
 * How a structured-output schema goes to Gemini: as `responseJsonSchema`
 * ({@link toGemini}'s form), or, when that form holds a `$ref` loop of
 * required fields (a 400 there, see above), as a system-prompt instruction
 * asking for JSON that matches it.
 */
export type Form =
  | { readonly _tag: "ResponseJsonSchema"; readonly schema: JsonSchema }
  | { readonly _tag: "Instruction"; readonly instruction: string }

/**
 * The {@link Form} of a schema, made once per schema rather than once per call
 * (`schemaCache.ts`): the form returned is shared, not to be changed.
 */
export const formOf: (schema: JsonSchema) => Form = SchemaCache.make((schema) => {
  const gemini = toGemini(schema)
  return hasRequiredLoop(gemini)
    ? { _tag: "Instruction", instruction: JsonSchemaShape.instruction(gemini) }
    : { _tag: "ResponseJsonSchema", schema: gemini }
})

/**
 * The system-prompt instruction asking for JSON that matches a form's
 * schema, for a call that cannot send it as `responseJsonSchema`: the
 * `Instruction` form's own, or one made alike from the schema (Gemini before
 * 3 refuses JSON mode beside function declarations: see `gemini.ts`).
 */
export const instructionOf = (form: Form): string =>
  form._tag === "Instruction" ? form.instruction : JsonSchemaShape.instruction(form.schema)
