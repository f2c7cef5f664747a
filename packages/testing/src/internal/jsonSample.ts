/**
 * A small, deterministic generator of one JSON value satisfying a JSON Schema
 * (or the OpenAPI subset Gemini's `responseSchema` uses: upper-case types,
 * `nullable`). Supports objects (every listed property, required ones always),
 * strings (with `format`, `minLength`/`maxLength`), integers and numbers within
 * `minimum`/`maximum`/`exclusive*`, arrays with `minItems`, `enum`, `const`,
 * `anyOf`/`oneOf` (first branch), `allOf` (merged) and `$ref` into `$defs` or
 * `definitions`.
 *
 * Content reads like a model's answer to the prompt: the topic (`about X`)
 * fills `topic`/`title` fields and every question; a `questions` array has as
 * many items as the prompt asks for (`5 ... questions`); `choices`/`options`
 * arrays hold four distinct choices; an `answer`/`correct` integer next to
 * them is an index in range; `explanation` fields explain.
 *
 * @internal
 */

type SchemaObject = Readonly<Record<string, unknown>>

/** What the prompt asked about, and where in the answer a value sits. */
interface Context {
  readonly topic: string
  readonly count: number | undefined
  /** Index of the innermost array item being generated. */
  readonly item: number
}

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

const QUESTIONS: ReadonlyArray<(topic: string) => string> = [
  (topic) => `Which statement about ${topic} is true?`,
  (topic) => `What is the main idea behind ${topic}?`,
  (topic) => `Which example best shows ${topic} at work?`,
  (topic) => `Why does ${topic} matter?`,
  (topic) => `What would change without ${topic}?`
]

const CHOICES: ReadonlyArray<(topic: string) => string> = [
  (topic) => `A key fact about ${topic}`,
  (topic) => `A common myth about ${topic}`,
  (topic) => `Something unrelated to ${topic}`,
  (topic) => `A half-truth about ${topic}`
]

const pick = <A>(list: ReadonlyArray<A>, index: number): A => list[index % list.length] as A

const wordOf = (name: string, pattern: RegExp): boolean => pattern.test(name.toLowerCase())

const contentFor = (name: string, context: Context): string => {
  if (wordOf(name, /^(topic|subject|title)$/)) return context.topic
  if (wordOf(name, /question|stem/)) return `${pick(QUESTIONS, context.item)(context.topic)} (#${context.item + 1})`
  if (wordOf(name, /choice|option/)) return pick(CHOICES, context.item)(context.topic)
  if (wordOf(name, /explanation|reason|rationale/)) {
    return `The right choice states a key fact about ${context.topic}; the others are myths or unrelated.`
  }
  return `mock ${name}`.trim()
}

const sampleString = (schema: SchemaObject, name: string, context: Context): string => {
  const format = schema["format"]
  if (typeof format === "string" && format in FORMATS) return FORMATS[format] ?? "mock"
  const base = contentFor(name, context)
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

const isAnswerIndex = (name: string) => wordOf(name, /answer|correct/)

/** An answer index next to a list of choices points into it, one per item so answers vary. */
const pointAnswers = (out: Record<string, unknown>, context: Context): void => {
  const choices = Object.values(out).find(Array.isArray)
  if (choices === undefined || choices.length === 0) return
  for (const [key, value] of Object.entries(out)) {
    if (isAnswerIndex(key) && typeof value === "number" && Number.isInteger(value)) {
      out[key] = context.item % choices.length
    }
  }
}

const sampleObject = (root: SchemaObject, schema: SchemaObject, depth: number, context: Context): unknown => {
  const properties = isObject(schema["properties"]) ? schema["properties"] : {}
  const required = Array.isArray(schema["required"]) ? schema["required"] : []
  const out: Record<string, unknown> = {}
  for (const [key, property] of Object.entries(properties)) {
    if (depth < MAX_DEPTH / 2 || required.includes(key)) out[key] = sample(root, property, depth + 1, key, context)
  }
  pointAnswers(out, context)
  return out
}

const wantedItems = (name: string, context: Context): number =>
  wordOf(name, /choice|option/) ? CHOICES.length : wordOf(name, /question|item/) ? context.count ?? 1 : 1

const sampleArray = (root: SchemaObject, schema: SchemaObject, depth: number, name: string, context: Context) => {
  const wanted = Math.max(num(schema["minItems"]) ?? 1, wantedItems(name, context), 1)
  const count = Math.min(wanted, num(schema["maxItems"]) ?? Infinity)
  return Array.from(
    { length: count },
    (_, item) => sample(root, schema["items"], depth + 1, name, { ...context, item })
  )
}

const sample = (root: SchemaObject, node: unknown, depth: number, name: string, context: Context): unknown => {
  if (!isObject(node) || depth > MAX_DEPTH) return null
  if (typeof node["$ref"] === "string") return sample(root, resolveRef(root, node["$ref"]), depth + 1, name, context)
  if ("const" in node) return node["const"]
  if (Array.isArray(node["enum"]) && node["enum"].length > 0) return node["enum"][0]
  const branches = node["anyOf"] ?? node["oneOf"]
  if (Array.isArray(branches) && branches.length > 0) return sample(root, branches[0], depth + 1, name, context)
  const allOf: unknown = node["allOf"]
  if (Array.isArray(allOf)) {
    // the node's own keywords hold beside its allOf: merged with its branches
    const own = Object.fromEntries(Object.entries(node).filter(([key]) => key !== "allOf"))
    return sample(root, mergeAll(root, [own, ...(allOf as ReadonlyArray<unknown>)]), depth + 1, name, context)
  }
  switch (firstType(node)) {
    case "object":
      return sampleObject(root, node, depth, context)
    case "array":
      return sampleArray(root, node, depth, name, context)
    case "integer":
      return sampleNumber(node, true)
    case "number":
      return sampleNumber(node, false)
    case "boolean":
      return true
    case "null":
      return null
    default:
      return sampleString(node, name, context)
  }
}

/** The topic of a prompt: what follows "about" (up to "for", punctuation or the end), else its first words. */
const topicOf = (prompt: string): string => {
  const about = /\babout\s+(.+?)(?:\s+for\b|\s+to\b|[.,;:!?\n]|$)/i.exec(prompt)?.[1]?.trim()
  if (about !== undefined && about !== "") return about
  const words = prompt.split(/\s+/).filter((w) => w !== "").slice(0, 4).join(" ")
  return words === "" ? "the topic" : words
}

/** How many questions a prompt asks for ("Write 5 multiple-choice questions"). */
const countOf = (prompt: string): number | undefined => {
  const match = /\b(\d{1,3})\s+(?:[\w-]+\s+){0,3}questions?\b/i.exec(prompt)?.[1]
  return match === undefined ? undefined : Number(match)
}

/**
 * One JSON value satisfying `schema` that reads like an answer to `prompt`,
 * the same value for the same schema and prompt.
 *
 * @internal
 */
export const sampleJson = (schema: unknown, prompt = ""): unknown =>
  sample(isObject(schema) ? schema : {}, schema, 0, "", { topic: topicOf(prompt), count: countOf(prompt), item: 0 })
