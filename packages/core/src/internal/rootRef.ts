import { JsonPointer } from "effect"
import type { JsonSchema } from "../StructuredOutput.ts"

type Definitions = { readonly [name: string]: JsonSchema }

const isDefinitions = (value: unknown): value is Definitions =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const withDefinitions = (schema: JsonSchema, definitions: Definitions): JsonSchema =>
  Object.keys(definitions).length === 0 ? schema : { ...schema, $defs: definitions }

/** The name of the definition a `$ref` (`#/$defs/<name>`) names, if it names one. */
const definitionOf = (ref: unknown): string | undefined => {
  if (typeof ref !== "string") return undefined
  const path = JsonPointer.parseUriFragment(ref)
  return path?.length === 2 && path[0] === "$defs" ? path[1] : undefined
}

/**
 * Whether any object in `value` has `ref` as its `$ref`, walked without
 * recursion. One in a `const` or `default` counts too: it keeps a definition
 * that could have gone, never drops one still named.
 */
const names = (value: unknown, ref: string): boolean => {
  const stack: Array<unknown> = [value]
  while (stack.length > 0) {
    const node = stack.pop()
    if (typeof node !== "object" || node === null) continue
    if (!Array.isArray(node) && (node as JsonSchema)["$ref"] === ref) return true
    for (const child of Object.values(node as JsonSchema)) stack.push(child)
  }
  return false
}

/**
 * `schema` with the definition its root names inlined at the root, when the
 * root is only a `$ref` to one of its own `$defs` (what Effect's
 * `toJsonSchemaDocument` makes of a schema with an identifier, a
 * `Schema.Class`, and `effect/ai`'s tool parameters of one): providers want
 * the object itself (OpenAI's strict mode, its and Anthropic's tool
 * parameters take only a `type: "object"` root). The definition stays among
 * the definitions only while something still names it (a recursive schema);
 * any other schema is returned as it is.
 */
export const inlineRoot = (schema: JsonSchema): JsonSchema => {
  const { $defs: definitions, $ref: ref, ...rest } = schema
  const name = definitionOf(ref)
  if (name === undefined || Object.keys(rest).length > 0 || !isDefinitions(definitions)) return schema
  const root = Object.hasOwn(definitions, name) ? definitions[name] : undefined
  if (!isDefinitions(root)) return schema
  const inlined = withDefinitions(root, Object.fromEntries(Object.entries(definitions).filter(([key]) => key !== name)))
  return names(inlined, ref as string) ? withDefinitions(root, definitions) : inlined
}
