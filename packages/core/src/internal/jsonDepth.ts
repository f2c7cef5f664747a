/**
 * The check of a caller's JSON Schema object before Baton uses it (a tool's
 * parameters; a structured output's schema): a plain JSON object, nested at
 * most {@link maxDepth} levels of objects and arrays, that `JSON.stringify`
 * encodes as it is.
 *
 * The schema is sent in a request body and walked by recursive code
 * (`JSON.stringify`, Ajv, the codecs' schema rewrites), each of which
 * throws `RangeError: Maximum call stack size exceeded` past some thousand
 * levels: unchecked, a 20,000-deep schema (740 KB, under a gateway's 1 MiB
 * body limit) fails every provider's adapter. This walk is iterative (an
 * explicit stack of frames), so no depth of input overflows it; it visits
 * each value once per path to it, as `JSON.stringify` does.
 *
 * It also refuses a key, `$id`, anchor or reference longer than
 * {@link maxNameLength} characters: the reference-loop check keys maps by
 * them, and V8 hashes a string over 16,383 characters by its length alone.
 */

/** The most levels of objects and arrays a schema may nest, the root object being the first (why: `Tool.maxParametersDepth`). */
export const maxDepth = 100

/** The most characters of a key, and of the value of a `$id`, an anchor or a reference (`names`): no schema needs more. */
export const maxNameLength = 4096

/** The keywords whose string the reference-loop check resolves or keys a map by. */
const names = new Set(["$id", "$anchor", "$dynamicAnchor", "$ref", "$dynamicRef", "$recursiveRef"])

/** What is wrong with the string `value` at `key`: too long, for a key or a name. */
const lengthIssue = (key: string, value: unknown): string | undefined => {
  if (key.length > maxNameLength) return `a key of ${key.length} characters (at most ${maxNameLength})`
  return typeof value === "string" && value.length > maxNameLength && names.has(key)
    ? `${key} of ${value.length} characters (at most ${maxNameLength})`
    : undefined
}

/** Pushes the objects and arrays among `values` onto `containers`. */
const pushContainers = (values: Iterable<unknown>, containers: Array<object>): void => {
  for (const value of values) if (typeof value === "object" && value !== null) containers.push(value)
}

/**
 * Whether `value` (parsed JSON: no cycle) nests more than `max` levels of
 * arrays and objects, measured a level at a time without recursion: one
 * array a level of the objects and arrays in it, none for a scalar.
 */
export const deeperThan = (value: unknown, max: number): boolean => {
  let level: Array<object> = []
  pushContainers([value], level)
  for (let depth = 0; level.length > 0; depth++) {
    if (depth === max) return true
    const below: Array<object> = []
    for (const container of level) {
      pushContainers(Array.isArray(container) ? container : Object.values(container), below)
    }
    level = below
  }
  return false
}

/** One object or array being walked: its keys, and the next one to visit. */
interface Frame {
  readonly container: object
  readonly keys: ReadonlyArray<string>
  next: number
}

const frame = (container: object): Frame => ({ container, keys: Object.keys(container), next: 0 })

const isPlainObject = (value: object): boolean => {
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** What a value that is not plain JSON is, for a message: `null`, `an array`, `a bigint`, `a Map`. */
const kindOf = (value: unknown): string => {
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return "an array"
  if (typeof value !== "object") return `${/^[aeiou]/.test(typeof value) ? "an" : "a"} ${typeof value}`
  const constructor: unknown = Reflect.get(value, "constructor")
  return typeof constructor === "function" && constructor.name !== "" ? `a ${constructor.name}` : "a class instance"
}

/** What is wrong with a scalar in a JSON value: only strings, booleans, finite numbers, `null` and `undefined`. */
const scalarIssue = (value: unknown): string | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined": // left out by `JSON.stringify`, as an optional field written `field: undefined`
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : `${String(value)} is not a JSON number`
    default:
      return value === null ? undefined : `${kindOf(value)} is not a JSON value`
  }
}

/** `key` as a JSON Pointer token (RFC 6901): `~` and `/` escaped. */
export const escapePointer = (key: string): string => key.replaceAll("~", "~0").replaceAll("/", "~1")

/** `issue` said where: the JSON Pointer of the key each frame is at. */
const at = (path: ReadonlyArray<Frame>, issue: string): string =>
  path.length === 0 ? issue : `${path.map((f) => `/${escapePointer(f.keys[f.next - 1] ?? "")}`).join("")}: ${issue}`

/**
 * What is wrong with `value` as a JSON Schema object, said where (a JSON
 * Pointer) when it is inside it; `undefined` when it is a plain object
 * (not an array, not a class instance) of plain objects, arrays, strings,
 * booleans, finite numbers and `null` (an `undefined` field is left out),
 * with no cycle, nested at most {@link maxDepth} levels, no key, `$id`,
 * anchor or reference longer than {@link maxNameLength} characters.
 */
export const issue = (value: unknown): string | undefined => {
  if (typeof value !== "object" || value === null || Array.isArray(value) || !isPlainObject(value)) {
    return `expected a JSON object, got ${kindOf(value)}`
  }
  const path: Array<Frame> = [frame(value)]
  // the containers on the path: one met again below itself is a cycle
  const ancestors = new Set<object>([value])
  for (let top = path.at(-1); top !== undefined; top = path.at(-1)) {
    const key = top.keys[top.next]
    if (key === undefined) {
      ancestors.delete(top.container)
      path.pop()
      continue
    }
    top.next++
    const child: unknown = Reflect.get(top.container, key)
    const long = lengthIssue(key, child)
    if (long !== undefined) {
      // said where the key is: the key itself may be thousands of characters
      return at(key.length > maxNameLength ? path.slice(0, -1) : path, long)
    } else if (typeof child !== "object" || child === null) {
      const wrong = scalarIssue(child)
      if (wrong !== undefined) return at(path, wrong)
    } else if (!Array.isArray(child) && !isPlainObject(child)) {
      return at(path, `${kindOf(child)} is not a JSON value`)
    } else if (ancestors.has(child)) {
      return at(path, "a cycle: this value contains itself, which JSON cannot write")
    } else if (path.length === maxDepth) {
      return `nested deeper than ${maxDepth} levels of objects and arrays`
    } else {
      ancestors.add(child)
      path.push(frame(child))
    }
  }
  return undefined
}
