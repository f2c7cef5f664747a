/**
 * A small, deterministic generator of one JSON value satisfying a JSON Schema
 * (or the OpenAPI subset Gemini's `responseSchema` uses: upper-case types,
 * `nullable`). Supports objects (every listed property, required ones always),
 * strings (with `format`, `minLength`/`maxLength`), integers and numbers within
 * `minimum`/`maximum`/`exclusive*`, arrays with `minItems`, `enum`, `const`,
 * `anyOf`/`oneOf` (first branch), `allOf` (merged) and `$ref` into `$defs` or
 * `definitions`.
 *
 * @internal
 */

type SchemaObject = Readonly<Record<string, unknown>>

const MAX_DEPTH = 8

const isObject = (u: unknown): u is SchemaObject => typeof u === "object" && u !== null && !Array.isArray(u)

const num = (u: unknown): number | undefined => typeof u === "number" && Number.isFinite(u) ? u : undefined

const resolveRef = (root: SchemaObject, ref: string): SchemaObject => {
  const target = ref.replace(/^#\/?/, "").split("/").filter((p) => p !== "").reduce<unknown>(
    (node, part) => isObject(node) ? node[part.replaceAll("~1", "/").replaceAll("~0", "~")] : undefined,
    root
  )
  return isObject(target) ? target : {}
}

const firstType = (schema: SchemaObject): string | undefined => {
  const type = schema["type"]
  const types = Array.isArray(type) ? type.filter((t) => t !== "null") : [type]
  const first: unknown = types[0] ?? (Array.isArray(type) ? "null" : undefined)
  if (typeof first === "string") return first.toLowerCase()
  if (isObject(schema["properties"])) return "object"
  if (schema["items"] !== undefined) return "array"
  return undefined
}

const FORMATS: Record<string, string> = {
  "date-time": "2026-01-01T00:00:00Z",
  date: "2026-01-01",
  time: "00:00:00Z",
  duration: "P1D",
  email: "mock@example.com",
  hostname: "example.com",
  uri: "https://example.com/",
  ipv4: "127.0.0.1",
  ipv6: "::1",
  uuid: "00000000-0000-4000-8000-000000000000"
}

const sampleString = (schema: SchemaObject, name: string): string => {
  const format = schema["format"]
  if (typeof format === "string" && format in FORMATS) return FORMATS[format] ?? "mock"
  const base = `mock ${name}`.trim()
  const min = num(schema["minLength"]) ?? 0
  const max = num(schema["maxLength"])
  const padded = base.length >= min ? base : base.padEnd(min, "x")
  return max === undefined ? padded : padded.slice(0, max)
}

const sampleNumber = (schema: SchemaObject, integer: boolean): number => {
  const exclusiveMin = num(schema["exclusiveMinimum"])
  const exclusiveMax = num(schema["exclusiveMaximum"])
  const step = integer ? 1 : 0.5
  const low = num(schema["minimum"]) ?? (exclusiveMin === undefined ? undefined : exclusiveMin + step)
  const high = num(schema["maximum"]) ?? (exclusiveMax === undefined ? undefined : exclusiveMax - step)
  const value = low ?? (high === undefined ? 1 : Math.min(1, high))
  return integer ? Math.ceil(value) : value
}

const mergeAll = (root: SchemaObject, parts: ReadonlyArray<unknown>): SchemaObject =>
  parts.reduce<SchemaObject>((merged, part) => {
    const schema = isObject(part) && typeof part["$ref"] === "string" ? resolveRef(root, part["$ref"]) : part
    if (!isObject(schema)) return merged
    const properties = { ...(isObject(merged["properties"]) ? merged["properties"] : {}) }
    const required: ReadonlyArray<unknown> = Array.isArray(merged["required"]) ? merged["required"] : []
    const extra: ReadonlyArray<unknown> = Array.isArray(schema["required"]) ? schema["required"] : []
    return {
      ...merged,
      ...schema,
      properties: { ...properties, ...(isObject(schema["properties"]) ? schema["properties"] : {}) },
      required: [...required, ...extra]
    }
  }, {})

const sampleObject = (root: SchemaObject, schema: SchemaObject, depth: number): unknown => {
  const properties = isObject(schema["properties"]) ? schema["properties"] : {}
  const required = Array.isArray(schema["required"]) ? schema["required"] : []
  const out: Record<string, unknown> = {}
  for (const [key, property] of Object.entries(properties)) {
    if (depth < MAX_DEPTH / 2 || required.includes(key)) out[key] = sample(root, property, depth + 1, key)
  }
  return out
}

const sampleArray = (root: SchemaObject, schema: SchemaObject, depth: number, name: string): unknown => {
  const count = Math.min(Math.max(num(schema["minItems"]) ?? 1, 1), num(schema["maxItems"]) ?? Infinity)
  return Array.from({ length: count }, () => sample(root, schema["items"], depth + 1, name))
}

const sample = (root: SchemaObject, node: unknown, depth: number, name: string): unknown => {
  if (!isObject(node) || depth > MAX_DEPTH) return null
  if (typeof node["$ref"] === "string") return sample(root, resolveRef(root, node["$ref"]), depth + 1, name)
  if ("const" in node) return node["const"]
  if (Array.isArray(node["enum"]) && node["enum"].length > 0) return node["enum"][0]
  const branches = node["anyOf"] ?? node["oneOf"]
  if (Array.isArray(branches) && branches.length > 0) return sample(root, branches[0], depth + 1, name)
  if (Array.isArray(node["allOf"])) return sample(root, mergeAll(root, node["allOf"]), depth + 1, name)
  switch (firstType(node)) {
    case "object":
      return sampleObject(root, node, depth)
    case "array":
      return sampleArray(root, node, depth, name)
    case "integer":
      return sampleNumber(node, true)
    case "number":
      return sampleNumber(node, false)
    case "boolean":
      return true
    case "null":
      return null
    default:
      return sampleString(node, name)
  }
}

/**
 * One JSON value satisfying `schema`, the same value for the same schema.
 *
 * @internal
 */
export const sampleJson = (schema: unknown): unknown => sample(isObject(schema) ? schema : {}, schema, 0, "")
