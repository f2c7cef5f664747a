/**
 * JSON Schemas the structured-output rewrite tests build their cases from.
 */

/** A closed object whose one property, `field` (required), has the schema `field`. */
export const withField = (field: unknown) => ({
  type: "object",
  properties: { field },
  required: ["field"],
  additionalProperties: false
})

/** The keywords OpenAI's strict structured outputs refuse, as its structured-outputs guide lists them. */
const refusedKeywords = new Set([
  "allOf",
  "oneOf",
  "not",
  "if",
  "then",
  "else",
  "patternProperties",
  "prefixItems",
  "contains",
  "uniqueItems",
  "minProperties",
  "maxProperties",
  "dependentRequired",
  "dependentSchemas",
  "unevaluatedItems",
  "unevaluatedProperties"
])

type Node = { readonly [key: string]: unknown }

const isNode = (u: unknown): u is Node => typeof u === "object" && u !== null && !Array.isArray(u)

const hasType = (node: Node, type: string): boolean =>
  node.type === type || (Array.isArray(node.type) && node.type.includes(type))

/** What one node breaks of OpenAI's strict rules, its children aside. */
const nodeViolations = (node: Node): ReadonlyArray<string> => [
  ...Object.keys(node).filter((key) => refusedKeywords.has(key)).map((key) => `refused keyword ${key}`),
  ...("$ref" in node && Object.keys(node).length > 1 ? ["$ref with siblings"] : []),
  ...(["type", "$ref", "anyOf", "enum", "const"].some((key) => key in node) ? [] : ["no type"]),
  ...(hasType(node, "array") && !isNode(node.items) ? ["array without items"] : []),
  ...(hasType(node, "object") && !isNode(node.properties) ? ["object without properties"] : []),
  ...(hasType(node, "object") && node.additionalProperties !== false ? ["object not closed"] : []),
  ...(isNode(node.properties) &&
      JSON.stringify(Object.keys(node.properties)) !== JSON.stringify(node.required)
    ? ["not every property required"]
    : [])
]

const childrenOf = (node: Node): ReadonlyArray<readonly [string, unknown]> => [
  ...["properties", "$defs", "definitions"].flatMap((keyword) =>
    isNode(node[keyword])
      ? Object.entries(node[keyword]).map(([key, child]) => [`${keyword}/${key}`, child] as const)
      : []
  ),
  ...(Array.isArray(node.anyOf) ? node.anyOf.map((child, index) => [`anyOf/${index}`, child] as const) : []),
  ...("items" in node ? [["items", node.items] as const] : [])
]

const violationsAt = (schema: unknown, path: string): ReadonlyArray<string> =>
  isNode(schema)
    ? [
      ...nodeViolations(schema).map((violation) => `${path}: ${violation}`),
      ...childrenOf(schema).flatMap(([key, child]) => violationsAt(child, `${path}/${key}`))
    ]
    : [`${path}: not a schema object`]

/**
 * What a schema sent with `strict: true` breaks of OpenAI's strict rules, as
 * `path: rule` lines: an object root; no refused keyword; a `$ref`
 * alone; a `type`, `$ref`, `anyOf`, `enum` or `const` on every node; `items`
 * on arrays; `properties`, `additionalProperties: false` and every property
 * required on objects. Empty when it keeps them all.
 */
export const strictViolations = (schema: unknown): ReadonlyArray<string> => [
  ...(isNode(schema) && schema.type === "object" ? [] : ["#: root is not an object"]),
  ...violationsAt(schema, "#")
]
