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
 * A `$ref` is followed when it names a schema of the same document: a JSON
 * Pointer or an anchor (`$anchor`, `$dynamicAnchor`, draft-07's `$id:
 * "#name"`), resolved against the nearest `$id` as Ajv does; Ajv fails to
 * compile one to another document. The walks are iterative: no length of
 * `$ref` chain overflows them.
 */

import { escapePointer } from "./jsonDepth.ts"

type Json = { readonly [key: string]: unknown }

/** A schema where it is in the document (a JSON Pointer), and the URI its `$ref`s resolve against (the nearest `$id`). */
interface Place {
  readonly pointer: string
  readonly schema: Json
  readonly base: string
}

/** The base of a root without `$id`: any absolute URI, for relative `$id`s below it to resolve against. */
const documentBase = "https://baton.invalid/schema.json"

/** `uri` resolved against `base`, without its fragment; `undefined` when it is no URI. */
const absolute = (uri: string, base: string): URL | undefined => {
  try {
    return new URL(uri, base)
  } catch {
    return undefined
  }
}

const withoutFragment = (url: URL): string => url.href.replace(/#.*$/s, "")

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

/** The base URI of `schema` inside a resource based at `base`: its own `$id` when it has one (not draft-07's `#name`). */
const baseOf = (schema: Json, base: string): string => {
  const id = schema["$id"]
  const url = typeof id === "string" && !id.startsWith("#") ? absolute(id, base) : undefined
  return url === undefined ? base : withoutFragment(url)
}

/** `schema` at `key` below `parent`. */
const place = (parent: Place, key: string, schema: Json): Place => ({
  pointer: `${parent.pointer}/${escapePointer(key)}`,
  schema,
  base: baseOf(schema, parent.base)
})

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

/** The schemas a `$ref` can name: each resource by its base URI, each anchor by its URI (base, `#`, name). */
interface Index {
  readonly resources: ReadonlyMap<string, Place>
  readonly anchors: ReadonlyMap<string, Place>
}

const anchorsOf = (at: Place): ReadonlyArray<string> => {
  const id = at.schema["$id"]
  return [
    at.schema["$anchor"],
    at.schema["$dynamicAnchor"],
    typeof id === "string" && id.startsWith("#") ? id.slice(1) : undefined
  ]
    .flatMap((name) => typeof name === "string" ? [`${at.base}#${name}`] : [])
}

const indexOf = (all: ReadonlyArray<Place>): Index => ({
  // the first place of a base is its resource's root: `places` visits parents first
  resources: new Map(all.toReversed().map((at) => [at.base, at])),
  anchors: new Map(all.flatMap((at) => anchorsOf(at).map((uri) => [uri, at] as const)))
})

/** The schema a `$ref` in `at` names in this document, by JSON Pointer or anchor. */
const resolve = (at: Place, ref: string, index: Index): Place | undefined => {
  const url = absolute(ref, at.base)
  const resource = url === undefined ? undefined : index.resources.get(withoutFragment(url))
  if (url === undefined || resource === undefined) return undefined
  if (url.hash !== "" && !url.hash.startsWith("#/")) {
    return index.anchors.get(`${resource.base}#${decodeToken(url.hash.slice(1)) ?? ""}`)
  }
  let target = resource
  let value: unknown = resource.schema
  for (const token of url.hash.split("/").slice(1)) {
    const key = decodeToken(token)
    if (key === undefined || typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined
    value = Reflect.get(value, key)
    target = place(target, key, isObject(value) ? value : {})
  }
  return isObject(value) ? target : undefined
}

/** The schemas that check the same value as `at`: its `$ref`s' targets (`viaRef`), its `allOf`, `anyOf`, …. */
const sameValueEdges = (at: Place, index: Index): ReadonlyArray<{ readonly to: Place; readonly viaRef: boolean }> => [
  ...refKeywords.flatMap((keyword) => {
    const ref = at.schema[keyword]
    const to = typeof ref === "string" ? resolve(at, ref, index) : undefined
    return to === undefined ? [] : [{ to, viaRef: true }]
  }),
  ...children(at, sameValue).map((to) => ({ to, viaRef: false }))
]

/** Every schema in the document, the root first. */
const places = (root: Json): ReadonlyArray<Place> => {
  const all: Array<Place> = []
  const pending: Array<Place> = [{ pointer: "", schema: root, base: baseOf(root, documentBase) }]
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

const frame = (at: Place, viaRef: boolean, index: Index): Frame => ({
  at,
  viaRef,
  edges: sameValueEdges(at, index),
  next: 0
})

const show = (pointer: string): string => `#${pointer}`

/** The most `$ref` targets a message lists: a loop through thousands of definitions is named by its ends. */
const shownTargets = 8

const shortened = (loop: ReadonlyArray<string>): ReadonlyArray<string> =>
  loop.length <= shownTargets
    ? loop
    : [...loop.slice(0, shownTargets - 2), `(${loop.length - shownTargets + 1} more)`, loop.at(-1) ?? ""]

/** The loop found from `start`, as the `$ref` targets around it (`#/$defs/D0`, …, `#/$defs/D0`). */
const loopFrom = (
  start: Place,
  index: Index,
  seen: Map<string, "open" | "done">
): ReadonlyArray<string> | undefined => {
  if (seen.has(start.pointer)) return undefined
  const path: Array<Frame> = [frame(start, false, index)]
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
      path.push(frame(edge.to, edge.viaRef, index))
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
  const all = places(root)
  const index = indexOf(all)
  for (const start of all) {
    const loop = loopFrom(start, index, seen)
    if (loop !== undefined) {
      return `a $ref loop that reads no input: ${
        shortened(loop).join(" -> ")
      } checks the same value against the same schema again, without end (a loop must go through properties, items or another keyword that checks a part of the value)`
    }
  }
  return undefined
}
