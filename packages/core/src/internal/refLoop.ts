/**
 * The check that a JSON Schema has no reference loop that reads no input: a
 * definition that, through references and the keywords that apply to the
 * same value (`allOf`, `anyOf`, `oneOf`, `not`, `if` / `then` / `else`,
 * `dependentSchemas`), checks that value against itself again, as
 * `D0 = { anyOf: [{ $ref: "#/$defs/D0" }, …] }` does. Ajv compiles such a
 * schema, then overflows the stack on every answer checked against it. A
 * loop through a keyword that checks a part of the value (`properties`,
 * `items`, …: a recursive tree) reads a smaller part each turn, and ends.
 *
 * A `$ref` is followed to the schema it names in the same document: a JSON
 * Pointer or an anchor (`$anchor`, `$dynamicAnchor`, draft-07's `$id:
 * "#name"`), resolved against the nearest `$id` as Ajv does; Ajv fails to
 * compile one to another document.
 *
 * A `$dynamicRef: "#name"` (2020-12) or `$recursiveRef: "#"` (2019-09) is
 * followed to that static target too, and to wherever Ajv may send it at
 * run time. Ajv keys dynamic anchors by name alone (`""` for
 * `$recursiveAnchor: true`) and calls the holder its check met first; when
 * it has met none (or compiled none before the reference), it calls the
 * function the reference is compiled in: the root, a reference's target or
 * a holder. So the check follows one to every schema of the document
 * holding its anchor, and to every schema Ajv may compile to a function,
 * through two hubs (a place of no schema with an edge to each), which keeps
 * the graph linear in the schema's size. It over-approximates only which
 * of those Ajv calls, never what reads input: a tree's `$dynamicRef`,
 * under `items`, is on no loop; one checking the same value as the root or
 * a definition (`{ anyOf: [{ $dynamicRef: "#x" }, …] }`) is refused.
 *
 * The graph is built once, in time linear in the document's size; the
 * walks are iterative: no length of reference chain overflows them.
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

/** The references Ajv resolves at run time, by the dynamic anchors its check has met. */
const dynamicKeywords = ["$recursiveRef", "$dynamicRef"]

const refKeywords = ["$ref", ...dynamicKeywords]

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

/** The schemas a static reference can name: each resource by its base URI, each anchor by its URI (base, `#`, name). */
interface Names {
  readonly resources: ReadonlyMap<string, Place>
  readonly anchors: ReadonlyMap<string, Place>
}

/** A step to a schema that checks the same value, and whether a reference makes it (the ones a message names). */
interface Edge {
  readonly to: Place
  readonly viaRef: boolean
}

/** The steps from each schema, by its pointer, and from each hub, by the hub's pointer. */
type Edges = Map<string, Array<Edge>>

const add = (edges: Edges, from: string, edge: Edge): void => {
  const list = edges.get(from)
  if (list === undefined) edges.set(from, [edge])
  else list.push(edge)
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

/** The dynamic anchors `at` holds, by Ajv's name: a `$dynamicAnchor`'s, and `""` for `$recursiveAnchor: true`. */
const dynamicAnchorsOf = (at: Place): ReadonlyArray<string> => {
  const name = at.schema["$dynamicAnchor"]
  return [...(typeof name === "string" ? [name] : []), ...(at.schema["$recursiveAnchor"] === true ? [""] : [])]
}

/**
 * A hub: a place of no schema, whose pointer no schema has (a schema's is
 * `""` or starts with `/`), with an edge to each schema it groups, so that
 * n references to m schemas make n + m edges, not n × m.
 */
const hub = (pointer: string): Place => ({ pointer, schema: {}, base: "" })

const isHub = (at: Place): boolean => at.pointer !== "" && !at.pointer.startsWith("/")

/** The hub to every schema Ajv may compile to a function of its own. */
const functionsHub = "functions"

/** The hub to the holders of the dynamic anchor `name`. */
const anchorHub = (name: string): string => `anchor ${name}`

/** The schemas `at`'s `$ref`, `$recursiveRef` and `$dynamicRef` name statically. */
const staticTargets = (at: Place, names: Names): ReadonlyArray<Place> =>
  refKeywords.flatMap((keyword) => {
    const ref = at.schema[keyword]
    const to = typeof ref === "string" ? resolve(at, ref, names) : undefined
    return to === undefined ? [] : [to]
  })

/**
 * The hubs a `$dynamicRef` / `$recursiveRef` in `at` leads to besides its
 * static target. Ajv follows one to the schema holding its anchor that the
 * check met first, or, when it has met none yet (or has not compiled one
 * before it), to the function it is compiled in: so to every holder of the
 * anchor, and to every schema Ajv may compile to a function.
 */
const dynamicHubs = (at: Place): ReadonlyArray<string> =>
  dynamicKeywords.flatMap((keyword) => {
    const ref = at.schema[keyword]
    if (typeof ref !== "string") return []
    return ref.startsWith("#") ? [anchorHub(ref.slice(1)), functionsHub] : [functionsHub]
  })

/**
 * Adds to `edges` the steps the references of `all` (the root first) make.
 * Ajv compiles to a function of its own the root, each reference's target
 * and each dynamic anchor's holder (a target it inlines holds no reference:
 * no `$dynamicRef` is in it).
 */
const addRefEdges = (all: ReadonlyArray<Place>, edges: Edges): void => {
  const names: Names = {
    // the first place of a base is its resource's root: `graphOf` visits parents first
    resources: new Map(all.toReversed().map((at) => [at.base, at])),
    anchors: new Map(all.flatMap((at) => anchorsOf(at).map((uri) => [uri, at] as const)))
  }
  const functions = new Map(all.slice(0, 1).map((root) => [root.pointer, root]))
  for (const at of all) {
    for (const to of staticTargets(at, names)) {
      add(edges, at.pointer, { to, viaRef: true })
      functions.set(to.pointer, to)
    }
    for (const pointer of dynamicHubs(at)) add(edges, at.pointer, { to: hub(pointer), viaRef: false })
    for (const name of dynamicAnchorsOf(at)) {
      add(edges, anchorHub(name), { to: at, viaRef: true })
      functions.set(at.pointer, at)
    }
  }
  edges.set(functionsHub, [...functions.values()].map((to) => ({ to, viaRef: true })))
}

/** The schema a reference in `at` names in this document, by JSON Pointer or anchor. */
const resolve = (at: Place, ref: string, names: Names): Place | undefined => {
  const url = absolute(ref, at.base)
  const resource = url === undefined ? undefined : names.resources.get(withoutFragment(url))
  if (url === undefined || resource === undefined) return undefined
  if (url.hash !== "" && !url.hash.startsWith("#/")) {
    return names.anchors.get(`${resource.base}#${decodeToken(url.hash.slice(1)) ?? ""}`)
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

/**
 * Every schema in the document (the root first), and the steps from each
 * to the schemas that check the same value: its `allOf`, `anyOf`, …, and
 * where its references lead (`viaRef`).
 */
const graphOf = (root: Json): { readonly all: ReadonlyArray<Place>; readonly edges: Edges } => {
  const all: Array<Place> = []
  const edges: Edges = new Map()
  const pending: Array<Place> = [{ pointer: "", schema: root, base: baseOf(root, documentBase) }]
  for (let at = pending.pop(); at !== undefined; at = pending.pop()) {
    all.push(at)
    const same = children(at, sameValue)
    for (const to of same) add(edges, at.pointer, { to, viaRef: false })
    pending.push(...same, ...children(at, nested))
  }
  addRefEdges(all, edges)
  return { all, edges }
}

/** One schema on the walk: the edges from it, the next to follow, and whether a `$ref` led to it. */
interface Frame {
  readonly at: Place
  readonly viaRef: boolean
  readonly edges: ReadonlyArray<Edge>
  next: number
}

const frame = (at: Place, viaRef: boolean, edges: Edges): Frame => ({
  at,
  viaRef,
  edges: edges.get(at.pointer) ?? [],
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
  edges: Edges,
  seen: Map<string, "open" | "done">
): ReadonlyArray<string> | undefined => {
  if (seen.has(start.pointer)) return undefined
  const path: Array<Frame> = [frame(start, false, edges)]
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
      // the schemas around it, a hub left out: where it starts, and each a reference led to
      const around = path.slice(from).filter((f, i) => (i === 0 || f.viaRef) && !isHub(f.at))
      const shown = around.map((f) => show(f.at.pointer))
      return [...shown, shown[0] ?? ""]
    }
    if (state === undefined) {
      seen.set(edge.to.pointer, "open")
      path.push(frame(edge.to, edge.viaRef, edges))
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
  const { all, edges } = graphOf(root)
  for (const start of all) {
    const loop = loopFrom(start, edges, seen)
    if (loop !== undefined) {
      return `a $ref loop that reads no input: ${
        shortened(loop).join(" -> ")
      } checks the same value against the same schema again, without end (a loop must go through properties, items or another keyword that checks a part of the value)`
    }
  }
  return undefined
}
