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
 * compile one to another document. It is followed wherever the schema it
 * names is, under a keyword Ajv does not know or in `const`, `default`,
 * `enum`, `examples` (Ajv compiles it all the same), and that schema is
 * walked as the others.
 *
 * A `$dynamicRef: "#name"` (2020-12) or `$recursiveRef: "#"` (2019-09) is
 * followed to that static target too, and to wherever Ajv may send it at
 * run time. Ajv keys dynamic anchors by name alone (`""` for
 * `$recursiveAnchor: true`) and calls the holder its check met first; when
 * it has met none (or compiled none before the reference), it calls the
 * function the reference is compiled in: the root, a reference's target or
 * a holder. The root's function sets the root's anchors, then calls its
 * `$ref`, before anything else, and so on down that chain of `$ref`s: a
 * reference to a name held there is followed to its first holder there
 * only. Any other is followed to every schema of the document holding its
 * anchor, and to every schema Ajv may compile to a function, through two
 * hubs (a vertex of no schema with an edge to each), which keeps the graph
 * linear in the schema's size. It over-approximates only which
 * of those Ajv calls, never what reads input: a tree's `$dynamicRef`,
 * under `items`, is on no loop; one to a name the root's chain does not
 * hold, checking the same value as the root or a definition (`{ anyOf: [{
 * $dynamicRef: "#x" }, …] }`), is refused.
 *
 * The same walk notes a client's schema whose dynamic anchors would make
 * Ajv's compile exponential: Ajv compiles each schema holding a
 * `$dynamicAnchor` or `$recursiveAnchor` (but the root) again as a schema
 * of its own, and a holder inside it again within that (not one in its
 * `$defs` or `definitions`, which Ajv compiles apart). A holder below
 * another holder, the root aside, is refused for an untrusted schema;
 * generic schemas hold theirs at the root and in definitions. So is a
 * holder outside the root's resource, but at the root of a resource in
 * `$defs`: Ajv compiles a holder but at the top of a function again against
 * the root's base URI, its `#…` references naming the root's schemas.
 *
 * The same walk estimates, for a client's schema, how much Ajv compiles:
 * with `$ref`s as calls, Ajv compiles the schema each distinct `$ref` URI
 * names as a function of its own, with all it holds but its definitions
 * (`$ref`s in it as calls; one with no keyword but `$ref` its dialect's
 * Ajv has a rule for, as the schema that names), so `$ref`s to each level of one chain compile
 * its bottom once a ref. Each schema's size (about its characters of JSON,
 * a dynamic anchor's holder in it twice) is summed once, deepest first;
 * the estimate adds the root's and each distinct target's, and a schema
 * over the bound it is given is refused.
 *
 * Cost: each object and array on a walked path is a node, made once; the
 * check's maps are keyed by nodes, by one key or name of the document, or
 * by a base URI, each at most {@link maxNameLength} characters (`jsonDepth`
 * refuses longer keys, `$id`s, anchors and references; a base URI longer is
 * refused here), so a lookup costs at most that many characters. A `#…`
 * reference resolves within its resource without parsing a URL; another is
 * parsed once per resource and reference. The walks are iterative: no
 * length of reference chain overflows them.
 */

import { escapePointer, maxNameLength } from "./jsonDepth.ts"

type Json = { readonly [key: string]: unknown }

/** A step to what checks the same value, and whether a reference makes it (the ones a message names). */
interface Edge {
  readonly to: Vertex
  readonly viaRef: boolean
}

/** What the loop search walks: a schema's node, or a hub (no schema, an edge to each schema it groups). */
interface Vertex {
  readonly edges: Array<Edge>
  state: "open" | "done" | undefined
}

/**
 * An object or array of the document, made once, from its parent and key:
 * the check keys its maps and keeps its states by node, never by a string
 * built from the client's (V8 hashes a string over 16,383 characters by its
 * length alone: such keys of one length all collide).
 */
interface Node extends Vertex {
  readonly value: object
  readonly parent: Node | undefined
  readonly key: string
  /** The URI its references resolve against: the nearest `$id`. */
  readonly base: string
  /** The root of its resource, the first node of its base; `undefined` when it is that root. */
  readonly resource: Node | undefined
  readonly children: Map<string, Node>
  /** On a resource's root: its anchors by name, and the references to other resources resolved from it. */
  readonly anchors: Map<string, Node>
  readonly resolved: Map<string, Target | undefined>
  walked: boolean
  /** The levels above it: 0 for the root. */
  readonly depth: number
  /** The subschemas Ajv compiles within it (all but its definitions). */
  readonly inline: Array<Node>
  /** About the characters of schema Ajv compiles for a function of it (see {@link setSizes}). */
  size: number
}

/** A reference resolved to a resource's root, and the fragment left to follow in it. */
interface Target {
  readonly resource: Node
  readonly fragment: string
}

/** The document as the check builds it. */
interface Graph {
  /** The root of each resource, by its base URI. */
  readonly resources: Map<string, Node>
  /** The schemas walked, parents first. */
  readonly places: Array<Node>
  /** The hub to the holders of each dynamic anchor, by its name. */
  readonly anchorHubs: Map<string, Vertex>
  /** The hub to every schema Ajv may compile to a function of its own, and those schemas. */
  readonly functionsHub: Vertex
  readonly functions: Set<Node>
  /** The dynamic anchors set before any other call (`addEntryAnchors`), by name. */
  readonly entryAnchors: Map<string, Node>
  /** Why the document is refused whatever its loops: a base URI too long. */
  refused: string | undefined
  /** Why a client's document is refused: a dynamic anchor's holder below another one not at the root. */
  nestedAnchor: string | undefined
  /** Why a client's document is refused: a dynamic anchor's holder outside the root's resource. */
  foreignAnchor: string | undefined
  /** The target of each `$ref` Ajv compiles to a function of its own, by the resource it is in and its URI. */
  readonly compiledRefs: Map<string, Node>
  /** The roots of the other resources a `$ref` leads into: Ajv compiles each once, whole. */
  readonly compiledResources: Set<Node>
  /** Each `$ref` naming no schema in the document, and the schema it is in. */
  readonly unresolved: Array<{ readonly at: Node; readonly ref: string }>
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

/** The keywords whose subschemas check a part of the value. */
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
  map: ["properties", "patternProperties"]
}

/** The keywords whose subschemas are definitions only: Ajv compiles none of them inline in the schema holding it. */
const definitions = { one: [], many: [], map: ["$defs", "definitions"] }

/** The references Ajv resolves at run time, by the dynamic anchors its check has met. */
const dynamicKeywords = ["$recursiveRef", "$dynamicRef"]

const refKeywords = ["$ref", ...dynamicKeywords]

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

const vertex = (): Vertex => ({ edges: [], state: undefined })

/**
 * The keys below which Ajv's JSON Pointer keeps its base URI
 * (`PREVENT_SCOPE_CHANGE`): a map of properties' schemas or of values,
 * whose `$id` key names a property, not a base.
 */
const keepsBase = new Set(["properties", "patternProperties", "enum", "dependencies", "definitions"])

/**
 * The base URI of `value` at `key` below a node based at `base`: its own
 * `$id` when it has one (not draft-07's `#name`) and `key` is not one that
 * `keepsBase`.
 */
const baseOf = (graph: Graph, key: string, value: object, base: string): string => {
  const id = isObject(value) && !keepsBase.has(key) ? value["$id"] : undefined
  const url = typeof id === "string" && !id.startsWith("#") ? absolute(id, base) : undefined
  const href = url === undefined ? base : withoutFragment(url)
  if (href.length <= maxNameLength) return href
  graph.refused ??= `an $id resolves to a URI of ${href.length} characters (at most ${maxNameLength})`
  return base
}

const resourceOf = (node: Node): Node => node.resource ?? node

/** The node of `value` at `key` below `parent` (none for the root), the root of a resource when its base is new. */
const makeNode = (graph: Graph, parent: Node | undefined, key: string, value: object): Node => {
  const base = baseOf(graph, key, value, parent?.base ?? documentBase)
  const resource = parent !== undefined && base === parent.base ? resourceOf(parent) : graph.resources.get(base)
  const node: Node = {
    ...vertex(),
    value,
    parent,
    key,
    base,
    resource,
    children: new Map(),
    anchors: new Map(),
    resolved: new Map(),
    walked: false,
    depth: parent === undefined ? 0 : parent.depth + 1,
    inline: [],
    size: 0
  }
  if (resource === undefined) graph.resources.set(base, node)
  return node
}

/** The node of the object or array at `key` in `parent`'s value; `undefined` when there is none. */
const childOf = (graph: Graph, parent: Node, key: string): Node | undefined => {
  const known = parent.children.get(key)
  if (known !== undefined) return known
  const value: unknown = Object.hasOwn(parent.value, key) ? Reflect.get(parent.value, key) : undefined
  if (typeof value !== "object" || value === null) return undefined
  const child = makeNode(graph, parent, key, value)
  parent.children.set(key, child)
  return child
}

const schemaChild = (graph: Graph, parent: Node, key: string): ReadonlyArray<Node> => {
  const child = childOf(graph, parent, key)
  return child !== undefined && isObject(child.value) ? [child] : []
}

/** The subschemas of `at` under `keywords`, as `sameValue` groups them. */
const children = (graph: Graph, at: Node, keywords: typeof sameValue): ReadonlyArray<Node> => {
  const one = keywords.one.flatMap((keyword) => schemaChild(graph, at, keyword))
  const several = [...keywords.many, ...keywords.map].flatMap((keyword) => {
    const group = childOf(graph, at, keyword)
    if (group === undefined || Array.isArray(group.value) !== keywords.many.includes(keyword)) return []
    return Object.keys(group.value).flatMap((key) => schemaChild(graph, group, key))
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

/** The names `at` is known by in its resource: `$anchor`, `$dynamicAnchor`, draft-07's `$id: "#name"`. */
const anchorsOf = (at: Node): ReadonlyArray<string> => {
  const schema = at.value as Json
  const id = schema["$id"]
  return [
    schema["$anchor"],
    schema["$dynamicAnchor"],
    typeof id === "string" && id.startsWith("#") ? id.slice(1) : undefined
  ]
    .flatMap((name) => typeof name === "string" ? [name] : [])
}

/** The dynamic anchors `at` holds, by Ajv's name: a `$dynamicAnchor`'s, and `""` for `$recursiveAnchor: true`. */
const dynamicAnchorsOf = (at: Node): ReadonlyArray<string> => {
  const schema = at.value as Json
  const name = schema["$dynamicAnchor"]
  return [...(typeof name === "string" ? [name] : []), ...(schema["$recursiveAnchor"] === true ? [""] : [])]
}

/** Where `node` is in the document, as a message shows it: `#/$defs/D0` (the document is at most 100 levels deep). */
const show = (node: Node): string => node.parent === undefined ? "#" : `${show(node.parent)}/${escapePointer(node.key)}`

/** The keyword that makes `value` hold a dynamic anchor, if one does. */
const anchorKeyword = (value: object): string | undefined => {
  if (!isObject(value)) return undefined
  if (typeof value["$dynamicAnchor"] === "string") return "$dynamicAnchor"
  return value["$recursiveAnchor"] === true ? "$recursiveAnchor" : undefined
}

/** Whether `node` is a definition of a schema the walk met: under its `$defs` or `definitions`. */
const isDefinition = (node: Node): boolean =>
  node.parent !== undefined && definitions.map.includes(node.parent.key) && !node.parent.walked &&
  node.parent.parent?.walked === true

/**
 * The nearest schema above `node` holding a dynamic anchor, the root aside,
 * in the schema Ajv compiles `node` within: the climb stops at a definition.
 */
const anchoredAbove = (node: Node): Node | undefined => {
  for (
    let below = node, at = node.parent;
    at?.parent !== undefined && !isDefinition(below);
    below = at, at = at.parent
  ) {
    if (anchorKeyword(at.value) !== undefined) return at
  }
  return undefined
}

/**
 * Why `at` may not hold its dynamic anchor in a client's schema, if it may
 * not: Ajv compiles each holder but the root again, as a schema of its own,
 * and a holder inside it again within that, so each level of holders below
 * holders doubles the compile (16 levels, 711 characters: 3.4 s).
 */
const nestedAnchorOf = (at: Node): string | undefined => {
  const keyword = anchorKeyword(at.value)
  const above = keyword === undefined ? undefined : anchoredAbove(at)
  return above === undefined ? undefined : `${show(at)}: a ${keyword} below another one at ${show(above)} ` +
    "(a client's schema holds dynamic anchors at its root or in schemas no other holder but the root contains: " +
    "Ajv compiles each holder within each holder above it again)"
}

/**
 * Why `at` may not hold its dynamic anchor in a client's schema, if it may
 * not: Ajv compiles a holder but at the top of a function again, against
 * the root's base URI, so a holder in another resource names the root's
 * schemas by its `#…` references, which the estimate does not follow (140
 * holders, 29,755 characters: 1.8 s). A holder at the root of a resource
 * that is a definition is compiled at the top of its function only; one
 * that is a definition inside another resource is too, but is refused all
 * the same: Ajv sets its anchor only once a `$ref` calls it, so a generic
 * resource's default (the 2020-12 release notes' `list`) never is.
 */
const foreignAnchorOf = (at: Node): string | undefined => {
  const keyword = anchorKeyword(at.value)
  const resource = resourceOf(at)
  if (keyword === undefined || resource.parent === undefined || (resource === at && isDefinition(at))) {
    return undefined
  }
  const why = isDefinition(at)
    ? "; a definition inside another resource is refused too, though Ajv compiles it only at the top of a function " +
      "of its own: Ajv sets its anchor only once a $ref calls it"
    : ": Ajv compiles a holder elsewhere again, its $refs naming the root's schemas"
  return `${show(at)}: a ${keyword} in the resource ${at.base}, not the root's ` +
    `(a client's schema holds dynamic anchors in its root's resource, or at the root of a resource in $defs${why})`
}

/** The hub to the holders of the dynamic anchor `name`. */
const anchorHub = (graph: Graph, name: string): Vertex => {
  const known = graph.anchorHubs.get(name)
  if (known !== undefined) return known
  const made = vertex()
  graph.anchorHubs.set(name, made)
  return made
}

/**
 * Walks `start` and the schemas below it not yet walked, parents first:
 * adds each to `places`, its anchors to its resource, and its steps to the
 * subschemas that check the same value.
 */
const walk = (graph: Graph, start: Node): void => {
  const pending = [start]
  for (let at = pending.pop(); at !== undefined; at = pending.pop()) {
    if (at.walked) continue
    at.walked = true
    graph.places.push(at)
    graph.nestedAnchor ??= nestedAnchorOf(at)
    graph.foreignAnchor ??= foreignAnchorOf(at)
    const resource = resourceOf(at)
    for (const name of anchorsOf(at)) {
      if (!resource.anchors.has(name)) resource.anchors.set(name, at)
    }
    const same = children(graph, at, sameValue)
    // one by one: spreading a schema's 100,000 subschemas into `push`'s arguments would overflow the stack
    for (const to of same) {
      at.edges.push({ to, viaRef: false })
      at.inline.push(to)
      pending.push(to)
    }
    for (const to of children(graph, at, nested)) {
      at.inline.push(to)
      pending.push(to)
    }
    for (const to of children(graph, at, definitions)) pending.push(to)
  }
}

/** The resource and fragment `ref` in `at` names: a `#…` one in `at`'s resource, another by its URI, once per resource. */
const targetOf = (graph: Graph, at: Node, ref: string): Target | undefined => {
  const from = resourceOf(at)
  if (ref.startsWith("#")) return { resource: from, fragment: ref.slice(1) }
  if (from.resolved.has(ref)) return from.resolved.get(ref)
  const url = absolute(ref, from.base)
  const resource = url === undefined ? undefined : graph.resources.get(withoutFragment(url))
  const target = url === undefined || resource === undefined ? undefined : { resource, fragment: url.hash.slice(1) }
  from.resolved.set(ref, target)
  return target
}

/** The schema a reference in `at` names in this document, by JSON Pointer or anchor. */
const resolve = (graph: Graph, at: Node, ref: string): Node | undefined => {
  const target = targetOf(graph, at, ref)
  if (target === undefined) return undefined
  if (target.fragment !== "" && !target.fragment.startsWith("/")) {
    const name = decodeToken(target.fragment)
    return name === undefined ? undefined : target.resource.anchors.get(name)
  }
  let node: Node | undefined = target.resource
  for (const token of target.fragment.split("/").slice(1)) {
    const key = decodeToken(token)
    node = key === undefined ? undefined : childOf(graph, node, key)
    if (node === undefined) return undefined
  }
  return isObject(node.value) ? node : undefined
}

/**
 * Adds to `entryAnchors` the dynamic anchors Ajv sets before any other
 * call: the root's, then those of the schema its `$ref` names, and so on
 * down that chain (the function of each sets its anchors, then calls its
 * `$ref`, before anything else), the first holder of a name. Ajv compiles
 * them first too, so each dynamic reference to such a name reaches that
 * holder, and no other.
 */
const addEntryAnchors = (graph: Graph, root: Node): void => {
  const met = new Set<Node>()
  for (let at: Node | undefined = root; at !== undefined && !met.has(at);) {
    met.add(at)
    for (const name of dynamicAnchorsOf(at)) {
      if (!graph.entryAnchors.has(name)) graph.entryAnchors.set(name, at)
    }
    const ref: unknown = (at.value as Json)["$ref"]
    at = typeof ref === "string" ? resolve(graph, at, ref) : undefined
  }
}

/**
 * Where a `$dynamicRef` / `$recursiveRef` in `at` leads besides its static
 * target. Ajv follows one to the schema holding its anchor that the check
 * met first, or, when it has met none yet (or has not compiled one before
 * it), to the function it is compiled in: so to the holder the entry sets
 * (`entryAnchors`) when there is one; else to every holder of the anchor
 * (a hub), and to every schema Ajv may compile to a function (a hub).
 */
const dynamicHubs = (graph: Graph, at: Node): ReadonlyArray<Vertex> =>
  dynamicKeywords.flatMap((keyword) => {
    const ref = (at.value as Json)[keyword]
    if (typeof ref !== "string") return []
    if (!ref.startsWith("#")) return [graph.functionsHub]
    const name = ref.slice(1)
    const entry = graph.entryAnchors.get(name)
    return entry !== undefined ? [entry] : [anchorHub(graph, name), graph.functionsHub]
  })

/**
 * Notes the function Ajv compiles for the `$ref` `ref` in `at`, which names
 * `to`: one per URI it resolves to (keyed by the resource it is in too, a
 * map of Ajv's per resource at most), none for the root (called, not
 * compiled again), and the resource it leads into, compiled whole once.
 */
const addCompiledRef = (graph: Graph, at: Node, ref: string, to: Node): void => {
  const target = targetOf(graph, at, ref)
  if (target === undefined || to.parent === undefined) return
  const key = `${resourceOf(at).base} ${target.resource.base}#${target.fragment}`
  if (!graph.compiledRefs.has(key)) graph.compiledRefs.set(key, to)
  if (target.resource.parent !== undefined) graph.compiledResources.add(target.resource)
}

/**
 * Adds the steps the references of `at` make, and the schemas Ajv compiles
 * to a function of its own: each reference's target and each dynamic
 * anchor's holder (a target it inlines holds no reference: no `$dynamicRef`
 * is in it). Walks a target the walk has not met.
 */
const addRefEdges = (graph: Graph, at: Node): void => {
  for (const keyword of refKeywords) {
    const ref = (at.value as Json)[keyword]
    const to = typeof ref === "string" ? resolve(graph, at, ref) : undefined
    if (keyword === "$ref" && typeof ref === "string" && to === undefined) graph.unresolved.push({ at, ref })
    if (typeof ref !== "string" || to === undefined) continue
    at.edges.push({ to, viaRef: true })
    graph.functions.add(to)
    if (keyword === "$ref") addCompiledRef(graph, at, ref, to)
    // a target outside the walk (under an unknown keyword, `const`, `default`, …): Ajv compiles it all the same
    walk(graph, to)
  }
  for (const to of dynamicHubs(graph, at)) at.edges.push({ to, viaRef: false })
  for (const name of dynamicAnchorsOf(at)) {
    anchorHub(graph, name).edges.push({ to: at, viaRef: true })
    graph.functions.add(at)
  }
}

/**
 * The document, each schema in it walked, with the steps from each
 * to the schemas that check the same value: its `allOf`, `anyOf`, …, and
 * where its references lead (`viaRef`).
 */
const graphOf = (root: Json): Graph => {
  const graph: Graph = {
    resources: new Map(),
    places: [],
    anchorHubs: new Map(),
    functionsHub: vertex(),
    functions: new Set(),
    entryAnchors: new Map(),
    refused: undefined,
    nestedAnchor: undefined,
    foreignAnchor: undefined,
    compiledRefs: new Map(),
    compiledResources: new Set(),
    unresolved: []
  }
  const rootNode = makeNode(graph, undefined, "", root)
  walk(graph, rootNode)
  graph.functions.add(rootNode)
  addEntryAnchors(graph, rootNode)
  // `places` grows as references lead out of the walk
  for (let i = 0, at = graph.places[0]; at !== undefined; at = graph.places[++i]) addRefEdges(graph, at)
  for (const to of graph.functions) graph.functionsHub.edges.push({ to, viaRef: true })
  return graph
}

const isNode = (at: Vertex): at is Node => "value" in at

const oneSchema = new Set([...sameValue.one, ...nested.one])
const schemaGroups = new Set([...sameValue.many, ...sameValue.map, ...nested.many, ...nested.map, ...definitions.map])

/**
 * About the characters of JSON `schema` has but its subschemas and its
 * definitions (which Ajv does not compile with it): its keys, its values,
 * and the keys of its groups of subschemas.
 */
const ownChars = (schema: Json): number => {
  let chars = 2
  for (const [key, value] of Object.entries(schema)) {
    if (definitions.map.includes(key)) continue
    chars += key.length + 4
    if (typeof value === "object" && value !== null && (schemaGroups.has(key) || oneSchema.has(key))) {
      if (!isObject(value) || !oneSchema.has(key)) chars += Object.keys(value).join("\",\"").length + 4
    } else {
      // in an array: `undefined` or a function is `null`, not `undefined`
      chars += JSON.stringify([value]).length - 2
    }
  }
  return chars
}

/**
 * Sets each walked schema's `size`: about the characters of JSON Ajv
 * compiles for a function of it, its own and those of the subschemas it
 * holds inline (not its definitions), each dynamic anchor's holder among
 * them twice (Ajv compiles one again as a function of its own, wherever it
 * compiles it, but at the top of a function). Children first: deepest
 * first, once each.
 */
const setSizes = (graph: Graph): void => {
  const deepestFirst = [...graph.places].sort((a, b) => b.depth - a.depth)
  for (const at of deepestFirst) {
    at.size = ownChars(at.value as Json)
    for (const child of at.inline) at.size += anchorKeyword(child.value) === undefined ? child.size : 2 * child.size
  }
}

/**
 * What the estimate needs of the dialect's Ajv: the most characters of
 * schema a client's may make it compile, and whether it has a rule for a
 * keyword (`RULES.all`): Ajv compiles a schema with no rule but `$ref` as
 * the schema it names, and each dialect's rules differ (2020-12 has no
 * `additionalItems`, 2019-09 no `prefixItems`, draft-07 no `maxContains`).
 *
 * @since 0.1.0
 */
export interface CompileBound {
  readonly maxChars: number
  readonly isRule: (keyword: string) => boolean
  /** Whether Ajv knows a schema by the absolute URI `uri` (no fragment): one of its meta-schemas. */
  readonly isKnown: (uri: string) => boolean
}

/**
 * Why a client's schema is refused, if it is: a `$ref` naming no schema in
 * the document nor one Ajv knows, which Ajv fails to compile, and which the
 * estimate cannot count.
 */
const unresolvedOf = (graph: Graph, isKnown: CompileBound["isKnown"]): string | undefined => {
  const found = graph.unresolved.find(({ at, ref }) => {
    const url = absolute(ref, resourceOf(at).base)
    return url === undefined || !isKnown(withoutFragment(url))
  })
  return found === undefined ? undefined : `the $ref ${found.ref} at ${show(found.at)} names no schema in the document`
}

const isRefOnly = (at: Node, isRule: CompileBound["isRule"]): boolean =>
  Object.keys(at.value).every((key) => key === "$ref" || !isRule(key))

/**
 * The schemas a `$ref` naming `at` goes through to the one Ajv compiles
 * for it, the last: through schemas of nothing but a `$ref`, each compiled
 * as the one it names.
 */
const compiledAs = (
  graph: Graph,
  at: Node,
  known: ReadonlyMap<Node, number>,
  isRule: CompileBound["isRule"]
): ReadonlyArray<Node> => {
  const chain = [at]
  const met = new Set(chain)
  for (let last = at; !known.has(last) && isRefOnly(last, isRule);) {
    const ref = (last.value as Json)["$ref"]
    const next = typeof ref === "string" ? resolve(graph, last, ref) : undefined
    if (next === undefined || next.parent === undefined || met.has(next)) break
    chain.push(next)
    met.add(next)
    last = next
  }
  return chain
}

/**
 * How many schemas Ajv compiles for the document: the root's function,
 * one for each `$ref` URI (the schema it names, as Ajv compiles it: for a
 * schema of only a `$ref`, the one it leads to), and each
 * other resource a `$ref` leads into. Linear in the document: each schema
 * sized once, each reference chain's sizes summed once.
 */
const compiledSize = (graph: Graph, root: Node, isRule: CompileBound["isRule"]): number => {
  setSizes(graph)
  const chained = new Map<Node, number>()
  let total = root.size
  for (const at of graph.compiledRefs.values()) {
    const chain = compiledAs(graph, at, chained, isRule)
    const last = chain[chain.length - 1] ?? at
    const size = chained.get(last) ?? last.size
    for (const link of chain) chained.set(link, size)
    total += size
  }
  for (const resource of graph.compiledResources) total += resource.size
  return total
}

/** One vertex on the walk: the next edge to follow from it, and whether a `$ref` led to it. */
interface Frame {
  readonly at: Vertex
  readonly viaRef: boolean
  next: number
}

/** The most `$ref` targets a message lists: a loop through thousands of definitions is named by its ends. */
const shownTargets = 8

const shortened = (loop: ReadonlyArray<Node>): ReadonlyArray<string> =>
  loop.length <= shownTargets
    ? loop.map(show)
    : [
      ...loop.slice(0, shownTargets - 2).map(show),
      `(${loop.length - shownTargets + 1} more)`,
      ...loop.slice(-1).map(show)
    ]

/** The loop found from `start`, as the schemas around it: where it starts, and each a reference led to. */
const loopFrom = (start: Node): ReadonlyArray<Node> | undefined => {
  if (start.state !== undefined) return undefined
  const path: Array<Frame> = [{ at: start, viaRef: false, next: 0 }]
  start.state = "open"
  for (let top = path.at(-1); top !== undefined; top = path.at(-1)) {
    const edge = top.at.edges[top.next++]
    if (edge === undefined) {
      top.at.state = "done"
      path.pop()
      continue
    }
    if (edge.to.state === "open") {
      const from = path.findIndex((f) => f.at === edge.to)
      // a hub left out
      const around = path.slice(from).filter((f, i) => i === 0 || f.viaRef).map((f) => f.at).filter(isNode)
      return [...around, ...around.slice(0, 1)]
    }
    if (edge.to.state === undefined) {
      edge.to.state = "open"
      path.push({ at: edge.to, viaRef: edge.viaRef, next: 0 })
    }
  }
  return undefined
}

/**
 * What is wrong with `root` as a schema that can check a value: a `$ref`
 * loop that reads no input, named by the definitions around it, or a base
 * URI too long, or, `untrusted`, a dynamic anchor's holder below another
 * one not at the root or outside the root's resource, or, given `bound`, a
 * `$ref` naming no schema in the document nor one Ajv knows, or
 * `$ref`s that make Ajv compile more than its `maxChars` characters of
 * schema; `undefined` when it has none of these. `root` is plain JSON of
 * bounded depth and key length (`jsonDepth`).
 */
export const issue = (root: Json, untrusted: boolean, bound?: CompileBound): string | undefined => {
  const graph = graphOf(root)
  const refused = graph.refused ?? (untrusted
    ? graph.nestedAnchor ?? graph.foreignAnchor ??
      (bound === undefined ? undefined : unresolvedOf(graph, bound.isKnown))
    : undefined)
  if (refused !== undefined) return refused
  for (const start of graph.places) {
    const loop = loopFrom(start)
    if (loop !== undefined) {
      return `a $ref loop that reads no input: ${
        shortened(loop).join(" -> ")
      } checks the same value against the same schema again, without end (a loop must go through properties, items or another keyword that checks a part of the value)`
    }
  }
  const rootNode = graph.places[0]
  const compiled = untrusted && rootNode !== undefined && bound !== undefined
    ? compiledSize(graph, rootNode, bound.isRule)
    : 0
  return bound !== undefined && compiled > bound.maxChars
    ? `its $refs make Ajv compile about ${compiled} characters of schema, at most ${bound.maxChars} for a client's schema ` +
      "(Ajv compiles the schema each $ref URI names, with all it holds, as a function of its own)"
    : undefined
}
