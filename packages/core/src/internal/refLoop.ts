/**
 * The check that a JSON Schema has no `$ref` loop that reads no input: a
 * definition that, through `$ref`s and the keywords that apply to the same
 * value (`allOf`, `anyOf`, `oneOf`, `not`, `if` / `then` / `else`,
 * `dependentSchemas`), checks that value against itself again, as
 * `D0 = { anyOf: [{ $ref: "#/$defs/D0" }, …] }` does. Ajv compiles such a
 * schema, then overflows the stack on every answer checked against it. A
 * loop through a keyword that checks a part of the value (`properties`,
 * `items`, …: a recursive tree) reads a smaller part each turn, and ends.
 *
 * Only a `$ref` within its own document (`#` and a JSON Pointer after it,
 * within the nearest `$id`) is followed; Ajv fails to compile any other it
 * cannot resolve. Both walks are iterative: no length of `$ref` chain
 * overflows them.
 */

import { escapePointer } from "./jsonDepth.ts"

type Json = { readonly [key: string]: unknown }

/** A schema where it is in the document (a JSON Pointer), and the schema resource (`$id`) its `$ref`s resolve in. */
interface Place {
  readonly pointer: string
  readonly schema: Json
  readonly resource: Json
  readonly resourcePointer: string
}

/** The keywords whose subschemas check the same value: one subschema, an array of them, a map of them. */
const sameValue = {
  one: ["not", "if", "then", "else"],
  many: ["allOf", "anyOf", "oneOf"],
  map: ["dependentSchemas", "dependencies"]
}

/** The keywords whose subschemas check a part of the value, or are only definitions. */
const nested = {
  one: [
    "items",
    "additionalItems",
    "additionalProperties",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema"
  ],
  many: ["prefixItems", "items"],
  map: ["properties", "patternProperties", "$defs", "definitions"]
}

const refKeywords = ["$ref", "$recursiveRef", "$dynamicRef"]

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/** `schema` at `key` below `parent`, a resource of its own when it has an `$id` (not draft-07's `#anchor` form). */
const place = (parent: Place, key: string, schema: Json): Place => {
  const pointer = `${parent.pointer}/${escapePointer(key)}`
  const id = schema["$id"]
  return typeof id === "string" && !id.startsWith("#")
    ? { pointer, schema, resource: schema, resourcePointer: pointer }
    : { pointer, schema, resource: parent.resource, resourcePointer: parent.resourcePointer }
}

/** The subschemas of `at` under `keywords`, as `sameValue` groups them. */
const children = (at: Place, keywords: typeof sameValue): ReadonlyArray<Place> => {
  const one = keywords.one.flatMap((keyword) => {
    const child = at.schema[keyword]
    return isObject(child) ? [place(at, keyword, child)] : []
  })
  const several = [...keywords.many, ...keywords.map].flatMap((keyword) => {
    const group = at.schema[keyword]
    if (typeof group !== "object" || group === null || (Array.isArray(group) !== keywords.many.includes(keyword))) {
      return []
    }
    const inGroup = place(at, keyword, {})
    return Object.entries(group).flatMap(([key, child]: [string, unknown]) =>
      isObject(child) ? [place(inGroup, key, child)] : []
    )
  })
  return [...one, ...several]
}

const decodeToken = (token: string): string | undefined => {
  try {
    return decodeURIComponent(token).replaceAll("~1", "/").replaceAll("~0", "~")
  } catch {
    return undefined
  }
}

/** The schema a `$ref` names within `at`'s resource, when it is `#` and a JSON Pointer. */
const resolve = (at: Place, ref: string): Place | undefined => {
  if (ref !== "#" && !ref.startsWith("#/")) return undefined
  let target: Place = { ...at, pointer: at.resourcePointer, schema: at.resource }
  let value: unknown = at.resource
  for (const token of ref.split("/").slice(1)) {
    const key = decodeToken(token)
    if (key === undefined || typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined
    value = Reflect.get(value, key)
    target = place(target, key, isObject(value) ? value : {})
  }
  return isObject(value) ? target : undefined
}

/** The schemas that check the same value as `at`: its `$ref`s' targets (`viaRef`), its `allOf`, `anyOf`, …. */
const sameValueEdges = (at: Place): ReadonlyArray<{ readonly to: Place; readonly viaRef: boolean }> => [
  ...refKeywords.flatMap((keyword) => {
    const ref = at.schema[keyword]
    const to = typeof ref === "string" ? resolve(at, ref) : undefined
    return to === undefined ? [] : [{ to, viaRef: true }]
  }),
  ...children(at, sameValue).map((to) => ({ to, viaRef: false }))
]

/** Every schema in the document, the root first. */
const places = (root: Json): ReadonlyArray<Place> => {
  const all: Array<Place> = []
  const pending: Array<Place> = [{ pointer: "", schema: root, resource: root, resourcePointer: "" }]
  for (let at = pending.pop(); at !== undefined; at = pending.pop()) {
    all.push(at)
    pending.push(...children(at, sameValue), ...children(at, nested))
  }
  return all
}

/** One schema on the walk: the edges from it, the next to follow, and whether a `$ref` led to it. */
interface Frame {
  readonly at: Place
  readonly viaRef: boolean
  readonly edges: ReadonlyArray<{ readonly to: Place; readonly viaRef: boolean }>
  next: number
}

const frame = (at: Place, viaRef: boolean): Frame => ({ at, viaRef, edges: sameValueEdges(at), next: 0 })

const show = (pointer: string): string => `#${pointer}`

/** The most `$ref` targets a message lists: a loop through thousands of definitions is named by its ends. */
const shownTargets = 8

const shortened = (loop: ReadonlyArray<string>): ReadonlyArray<string> =>
  loop.length <= shownTargets
    ? loop
    : [...loop.slice(0, shownTargets - 2), `(${loop.length - shownTargets + 1} more)`, loop.at(-1) ?? ""]

/** The loop found from `start`, as the `$ref` targets around it (`#/$defs/D0`, …, `#/$defs/D0`). */
const loopFrom = (start: Place, seen: Map<string, "open" | "done">): ReadonlyArray<string> | undefined => {
  if (seen.has(start.pointer)) return undefined
  const path: Array<Frame> = [frame(start, false)]
  seen.set(start.pointer, "open")
  for (let top = path.at(-1); top !== undefined; top = path.at(-1)) {
    const edge = top.edges[top.next++]
    if (edge === undefined) {
      seen.set(top.at.pointer, "done")
      path.pop()
      continue
    }
    const state = seen.get(edge.to.pointer)
    if (state === "open") {
      const from = path.findIndex((f) => f.at.pointer === edge.to.pointer)
      const between = path.slice(from + 1).filter((f) => f.viaRef).map((f) => show(f.at.pointer))
      return [show(edge.to.pointer), ...between, show(edge.to.pointer)]
    }
    if (state === undefined) {
      seen.set(edge.to.pointer, "open")
      path.push(frame(edge.to, edge.viaRef))
    }
  }
  return undefined
}

/**
 * What is wrong with `root` as a schema that can check a value: a `$ref`
 * loop that reads no input, named by the definitions around it; `undefined`
 * when it has none. `root` is plain JSON of bounded depth (`jsonDepth`).
 */
export const issue = (root: Json): string | undefined => {
  const seen = new Map<string, "open" | "done">()
  for (const start of places(root)) {
    const loop = loopFrom(start, seen)
    if (loop !== undefined) {
      return `a $ref loop that reads no input: ${
        shortened(loop).join(" -> ")
      } checks the same value against the same schema again, without end (a loop must go through properties, items or another keyword that checks a part of the value)`
    }
  }
  return undefined
}
