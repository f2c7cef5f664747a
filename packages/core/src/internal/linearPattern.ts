/**
 * A matcher for JSON Schema `pattern`s that runs in time linear in its
 * input, for the patterns of schemas Baton did not write (a gateway client's).
 *
 * JavaScript's `RegExp` backtracks: `^(a+)+$` takes 2^n steps to refuse
 * `"aaa…!"`, and even `a+b` takes n² steps on `"aaa…"`, all of it on the
 * event loop, where no deadline can interrupt it. Here a pattern is compiled
 * into a program (Thompson's construction: characters, splits, jumps,
 * assertions) whose every way of matching advances together, one input
 * character at a time (Pike's simulation, without captures): a character
 * costs at most one step per instruction, whatever the pattern.
 *
 * The syntax is the `u`-flag syntax Ajv gives JSON Schema patterns, less
 * what needs backtracking: a backreference is refused. A class, an escape or
 * `.` is tested on one code point by `RegExp` itself, so it means exactly
 * what it means to JavaScript. A counted repetition is expanded.
 *
 * A lookaround is an assertion at a position, as `^` and `\b` are (after
 * Barrière and Pit-Claudel, "Linear Matching of JavaScript Regular
 * Expressions", PLDI 2024). Its body has a program of its own, run over the
 * whole input at the first question about it in a test, a thread starting at
 * every position: left to right for a lookbehind, marking every position
 * where the body can end; right to left over the body reversed for a
 * lookahead, marking every position where it can start. The assertion reads
 * that table for the rest of the test. Without captures, this is exactly what
 * `RegExp` says; a lookaround within another is one more assertion, whose own
 * table is computed when first asked.
 *
 * Each program runs at most once per test, so a character costs at most one
 * step per instruction of all of them: {@link maxInstructions} bounds their
 * sum, so that lookarounds cannot multiply the cost, and their runs draw on
 * the same {@link Budget}. Programs over {@link maxInstructions} in all, or
 * groups nested over {@link maxDepth} deep, are refused.
 *
 * @internal
 */
import { Result } from "effect"

/**
 * The most instructions of a pattern's programs together, its lookarounds'
 * included (`[a-z]{1,500}` is 1 000): what one input character can cost.
 */
const maxInstructions = 2_000

/** The deepest nesting of groups. */
const maxDepth = 64

/** A compiled pattern: whether it matches somewhere in `input`, as `RegExp#test` says. */
export interface LinearPattern {
  readonly test: (input: string) => boolean
}

/** A zero-width assertion at a position of the input. */
type Position = (input: string, index: number) => boolean

type Node =
  | { readonly _tag: "Char"; readonly matches: (codePoint: number) => boolean }
  | { readonly _tag: "Assert"; readonly holds: Position }
  | { readonly _tag: "Sequence"; readonly nodes: ReadonlyArray<Node> }
  | { readonly _tag: "Alternation"; readonly nodes: ReadonlyArray<Node> }
  | { readonly _tag: "Repeat"; readonly node: Node; readonly min: number; readonly max: number }

type Instruction =
  | { readonly op: "char"; readonly matches: (codePoint: number) => boolean }
  | { readonly op: "assert"; readonly holds: Position }
  | { readonly op: "split"; next: number; alternative: number }
  | { readonly op: "jump"; next: number }
  | { readonly op: "match" }

/** Why a pattern is refused, as its message: a clause completing "the pattern …". */
class Unsupported extends Error {}

/** A parse in progress: the pattern, where it is, how many groups are open, and what its programs share. */
interface Cursor {
  readonly source: string
  index: number
  depth: number
  readonly scope: Scope
}

/**
 * What the programs of one pattern share: the budget their runs draw on, the
 * instructions compiled so far, and the lookarounds' tables for the input
 * being tested, by their programs.
 */
interface Scope {
  readonly budget: Budget
  instructions: number
  readonly tables: Map<ReadonlyArray<Instruction>, Uint8Array>
}

// parsing, of a pattern `RegExp` accepted with the `u` flag: the syntax is known to be valid

const isWordAt = (input: string, index: number): boolean => /\w/.test(input.charAt(index))

const atStart: Position = (_, index) => index === 0
const atEnd: Position = (input, index) => index === input.length
const atBoundary: Position = (input, index) => isWordAt(input, index - 1) !== isWordAt(input, index)
const inWord: Position = (input, index) => !atBoundary(input, index)

/** One code point, matched as `source` (a class, an escape, `.`) means to JavaScript. */
const charLike = (source: string): Node => {
  const exact = new RegExp(`^(?:${source})$`, "u")
  // what it says of each ASCII character, once asked: 0 not yet, 1 yes, 2 no
  const ascii = new Int8Array(128)
  const test = (codePoint: number) => exact.test(String.fromCodePoint(codePoint))
  return {
    _tag: "Char",
    matches: (codePoint) => {
      if (codePoint >= 128) return test(codePoint)
      if (ascii[codePoint] === 0) ascii[codePoint] = test(codePoint) ? 1 : 2
      return ascii[codePoint] === 1
    }
  }
}

const literal = (codePoint: number): Node => ({ _tag: "Char", matches: (other) => other === codePoint })

const SURROGATE_PAIR_ESCAPE = /^\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}$/

/** The length of the escape at `index`: `\d`, `\x41`, `\u0041`, a pair of `\u` surrogates, `\u{1F600}`, `\p{L}`, ... */
const escapeLength = (source: string, index: number): number => {
  const kind = source.charAt(index + 1)
  if ("pPu".includes(kind) && source.charAt(index + 2) === "{") return source.indexOf("}", index) - index + 1
  if (kind === "u") return SURROGATE_PAIR_ESCAPE.test(source.slice(index, index + 12)) ? 12 : 6
  if (kind === "x") return 4
  if (kind === "c") return 3
  return 2
}

const parseEscape = (cursor: Cursor): Node => {
  const { index, source } = cursor
  const kind = source.charAt(index + 1)
  if (/[1-9k]/.test(kind)) throw new Unsupported("has a backreference")
  cursor.index += escapeLength(source, index)
  if (kind === "b") return { _tag: "Assert", holds: atBoundary }
  if (kind === "B") return { _tag: "Assert", holds: inWord }
  return charLike(source.slice(index, cursor.index))
}

/** `[...]`, which ends at the first `]` not escaped (the `u` flag nests no classes). */
const parseClass = (cursor: Cursor): Node => {
  const { index, source } = cursor
  let end = index + (source.charAt(index + 1) === "^" ? 2 : 1)
  while (source.charAt(end) !== "]") end += source.charAt(end) === "\\" ? 2 : 1
  cursor.index = end + 1
  return charLike(source.slice(index, cursor.index))
}

/**
 * Steps over `(`, `(?:`, `(?<name>`, or a lookaround's `(?=`, `(?!`, `(?<=`
 * or `(?<!`, whose kind (`=`, `!`, `<=`, `<!`) it returns; any other `(?` is
 * a syntax the matcher does not know.
 */
const openGroup = (cursor: Cursor): string | undefined => {
  const { index, source } = cursor
  const kind = source.slice(index + 1, index + 4)
  const lookaround = /^\?(<?[=!])/.exec(kind)?.[1]
  if (lookaround !== undefined) cursor.index += 2 + lookaround.length
  else if (!kind.startsWith("?")) cursor.index += 1
  else if (kind.startsWith("?:")) cursor.index += 3
  else if (kind.startsWith("?<")) cursor.index = source.indexOf(">", index) + 1
  else throw new Unsupported(`has a group "(${kind.slice(0, 2)}" the linear matcher does not know`)
  cursor.depth += 1
  if (cursor.depth > maxDepth) throw new Unsupported(`nests groups over ${maxDepth} deep`)
  return lookaround
}

const parseGroup = (cursor: Cursor): Node => {
  const kind = openGroup(cursor)
  const node = parseAlternation(cursor)
  cursor.index += 1
  cursor.depth -= 1
  return kind === undefined ? node : lookaround(node, kind, cursor.scope)
}

const parseAtom = (cursor: Cursor): Node => {
  const { index, source } = cursor
  const char = source.charAt(index)
  if (char === "(") return parseGroup(cursor)
  if (char === "[") return parseClass(cursor)
  if (char === "\\") return parseEscape(cursor)
  const codePoint = source.codePointAt(index) ?? 0
  cursor.index += codePoint > 0xffff ? 2 : 1
  if (char === "^") return { _tag: "Assert", holds: atStart }
  if (char === "$") return { _tag: "Assert", holds: atEnd }
  return char === "." ? charLike(".") : literal(codePoint)
}

const parseDigits = (cursor: Cursor): number | undefined => {
  const start = cursor.index
  while (/\d/.test(cursor.source.charAt(cursor.index))) cursor.index += 1
  return cursor.index === start ? undefined : Number(cursor.source.slice(start, cursor.index))
}

interface Bounds {
  readonly min: number
  readonly max: number
}

/** `{n}`, `{n,}` or `{n,m}`, from its `{`. */
const parseBraces = (cursor: Cursor): Bounds => {
  cursor.index += 1
  const min = parseDigits(cursor) ?? 0
  const open = cursor.source.charAt(cursor.index) === ","
  if (open) cursor.index += 1
  const max = open ? parseDigits(cursor) ?? Infinity : min
  cursor.index += 1
  return { min, max }
}

const symbolBounds = (char: string): Bounds | undefined =>
  char === "*"
    ? { min: 0, max: Infinity }
    : char === "+"
    ? { min: 1, max: Infinity }
    : char === "?"
    ? { min: 0, max: 1 }
    : undefined

/** The bounds of the quantifier at the cursor, if there is one; a lazy one matches the same strings. */
const parseQuantifier = (cursor: Cursor): Bounds | undefined => {
  const char = cursor.source.charAt(cursor.index)
  const symbol = symbolBounds(char)
  if (symbol !== undefined) cursor.index += 1
  const bounds = symbol ?? (char === "{" ? parseBraces(cursor) : undefined)
  if (bounds !== undefined && cursor.source.charAt(cursor.index) === "?") cursor.index += 1
  return bounds
}

const endsSequence = (char: string): boolean => char === "" || char === "|" || char === ")"

const parseSequence = (cursor: Cursor): Node => {
  const nodes: Array<Node> = []
  while (!endsSequence(cursor.source.charAt(cursor.index))) {
    const atom = parseAtom(cursor)
    const bounds = parseQuantifier(cursor)
    nodes.push(bounds === undefined ? atom : { _tag: "Repeat", node: atom, ...bounds })
  }
  return { _tag: "Sequence", nodes }
}

function parseAlternation(cursor: Cursor): Node {
  const nodes = [parseSequence(cursor)]
  while (cursor.source.charAt(cursor.index) === "|") {
    cursor.index += 1
    nodes.push(parseSequence(cursor))
  }
  return { _tag: "Alternation", nodes }
}

// compiling to a program

/** Whether a node can only match the empty string without testing anything: repeating it adds nothing. */
const isEmpty = (node: Node): boolean => {
  switch (node._tag) {
    case "Char":
    case "Assert":
      return false
    case "Sequence":
    case "Alternation":
      return node.nodes.every(isEmpty)
    case "Repeat":
      return node.max === 0 || isEmpty(node.node)
  }
}

const split = (program: Array<Instruction>): { next: number; alternative: number } => {
  const instruction = { op: "split" as const, next: program.length + 1, alternative: 0 }
  program.push(instruction)
  return instruction
}

/** Each branch but the last: a split to it or to the next branch, and a jump past the rest. */
const emitAlternation = (nodes: ReadonlyArray<Node>, program: Array<Instruction>, room: number): void => {
  const exits: Array<{ next: number }> = []
  for (const [i, node] of nodes.entries()) {
    if (i === nodes.length - 1) {
      emit(node, program, room)
      break
    }
    const choice = split(program)
    emit(node, program, room)
    const exit = { op: "jump" as const, next: 0 }
    program.push(exit)
    exits.push(exit)
    choice.alternative = program.length
  }
  for (const exit of exits) exit.next = program.length
}

/** `min` copies, then a loop (no upper bound) or `max - min` optional copies, each skipping to the end. */
const emitRepeat = (node: Node, { max, min }: Bounds, program: Array<Instruction>, room: number): void => {
  if (isEmpty(node)) return
  for (let i = 0; i < min; i++) emit(node, program, room)
  const skips: Array<{ alternative: number }> = []
  if (max === Infinity) {
    const loop = program.length
    skips.push(split(program))
    emit(node, program, room)
    program.push({ op: "jump", next: loop })
  } else {
    for (let i = min; i < max; i++) {
      skips.push(split(program))
      emit(node, program, room)
    }
  }
  for (const skip of skips) skip.alternative = program.length
}

/** Adds the instructions of `node` to `program`, which may hold `room`: what the pattern's other programs leave. */
function emit(node: Node, program: Array<Instruction>, room: number): void {
  if (program.length > room) {
    throw new Unsupported(
      `is over ${maxInstructions} instructions once its counted repetitions are expanded (its lookarounds' included)`
    )
  }
  switch (node._tag) {
    case "Char":
      program.push({ op: "char", matches: node.matches })
      break
    case "Assert":
      program.push({ op: "assert", holds: node.holds })
      break
    case "Sequence":
      for (const child of node.nodes) emit(child, program, room)
      break
    case "Alternation":
      emitAlternation(node.nodes, program, room)
      break
    case "Repeat":
      emitRepeat(node.node, node, program, room)
  }
}

/** The program of `node`, counted with the pattern's others. */
const programOf = (node: Node, scope: Scope): ReadonlyArray<Instruction> => {
  const program: Array<Instruction> = []
  emit(node, program, maxInstructions - scope.instructions)
  program.push({ op: "match" })
  scope.instructions += program.length
  return program
}

// running

/**
 * The steps the patterns of one schema may still take on the answer being
 * checked: a test that finds it spent says no, at once.
 */
export interface Budget {
  left: number
}

/** Which way a program reads its input: a lookahead's, compiled reversed, from the end. */
interface Direction {
  readonly start: (input: string) => number
  /** The code point read from `index` (a surrogate pair is one), or undefined at the end. */
  readonly read: (input: string, index: number) => number | undefined
  readonly step: 1 | -1
}

const forwards: Direction = { start: () => 0, read: (input, index) => input.codePointAt(index), step: 1 }

const backwards: Direction = {
  start: (input) => input.length,
  read: (input, index) => {
    if (index === 0) return undefined
    // a pair ends at `index` when the one starting two units before is over 16 bits
    const pair = input.codePointAt(index - 2) ?? 0
    return pair > 0xffff ? pair : input.charCodeAt(index - 1)
  },
  step: -1
}

/** A run of a program over one input. */
interface Run {
  readonly program: ReadonlyArray<Instruction>
  readonly input: string
  readonly budget: Budget
  readonly direction: Direction
  /** Where the program matches, when a lookaround's table wants them all: the run then reads to the end. */
  readonly ends: Uint8Array | undefined
  /** The position (its generation) that last reached each instruction: a thread is added once per position. */
  readonly seen: Int32Array
  readonly pending: Array<number>
}

const runOf = (
  program: ReadonlyArray<Instruction>,
  input: string,
  budget: Budget,
  direction: Direction = forwards,
  ends?: Uint8Array
): Run => ({ program, input, budget, direction, ends, seen: new Int32Array(program.length).fill(-1), pending: [] })

/**
 * Follows, from `start`, the instructions that consume no character at
 * `index`, adding the `char`s reached to `threads`; true when the program
 * matches there, unless the run marks every such position.
 */
const follow = (run: Run, index: number, generation: number, start: number, threads: Array<number>): boolean => {
  const { budget, input, pending, program, seen } = run
  pending.push(start)
  for (let pc = pending.pop(); pc !== undefined; pc = pending.pop()) {
    const instruction = program[pc]
    if (instruction === undefined || seen[pc] === generation) continue
    seen[pc] = generation
    budget.left -= 1
    switch (instruction.op) {
      case "match":
        if (run.ends === undefined) {
          pending.length = 0
          return true
        }
        run.ends[index] = 1
        break
      case "char":
        threads.push(pc)
        break
      case "assert":
        if (instruction.holds(input, index)) pending.push(pc + 1)
        break
      case "jump":
        pending.push(instruction.next)
        break
      case "split":
        pending.push(instruction.alternative, instruction.next)
    }
  }
  return false
}

/**
 * Whether the program matches somewhere in the input: a thread starts at
 * every position and all of them advance together, one character at a time.
 */
const matches = (run: Run): boolean => {
  const { budget, direction, input, program } = run
  let threads: Array<number> = []
  let advanced: Array<number> = []
  let index = direction.start(input)
  if (follow(run, index, 0, 0, threads)) return true
  for (let generation = 1; budget.left > 0; generation++) {
    const codePoint = direction.read(input, index)
    if (codePoint === undefined) break
    index += direction.step * (codePoint > 0xffff ? 2 : 1)
    for (const pc of threads) {
      const instruction = program[pc]
      budget.left -= 1
      if (instruction?.op === "char" && instruction.matches(codePoint)) {
        if (follow(run, index, generation, pc + 1, advanced)) return true
      }
    }
    if (follow(run, index, generation, 0, advanced)) return true
    ;[threads, advanced] = [advanced, threads]
    advanced.length = 0
  }
  return false
}

// lookarounds

/** The node matching the same strings reversed: assertions are of positions of the input, and stay. */
const reversed = (node: Node): Node => {
  switch (node._tag) {
    case "Char":
    case "Assert":
      return node
    case "Sequence":
      return { _tag: "Sequence", nodes: node.nodes.map(reversed).reverse() }
    case "Alternation":
      return { _tag: "Alternation", nodes: node.nodes.map(reversed) }
    case "Repeat":
      return { ...node, node: reversed(node.node) }
  }
}

/** Where the program matches in `input`, read in `direction` with a thread starting at every position. */
const tableOf = (program: ReadonlyArray<Instruction>, input: string, direction: Direction, scope: Scope) => {
  const table = new Uint8Array(input.length + 1)
  matches(runOf(program, input, scope.budget, direction, table))
  scope.tables.set(program, table)
  return table
}

/** The lookaround of kind `=`, `!`, `<=` or `<!` around `body`, as an assertion reading its table. */
const lookaround = (body: Node, kind: string, scope: Scope): Node => {
  const behind = kind.startsWith("<")
  const negated = kind.endsWith("!")
  const program = programOf(behind ? body : reversed(body), scope)
  const direction = behind ? forwards : backwards
  const table = (input: string) => scope.tables.get(program) ?? tableOf(program, input, direction, scope)
  return { _tag: "Assert", holds: (input, index) => (table(input)[index] === 1) !== negated }
}

/**
 * Whether the program matches in `input`. The lookarounds' tables are for
 * this input only, and one cut short by a spent budget is wrong: a test that
 * spent it says no, and the next computes its tables again.
 */
const test = (program: ReadonlyArray<Instruction>, input: string, scope: Scope): boolean => {
  const matched = scope.budget.left > 0 && matches(runOf(program, input, scope.budget)) && scope.budget.left > 0
  scope.tables.clear()
  return matched
}

const errorMessage = (error: unknown): string => error instanceof Error ? error.message : String(error)

/**
 * Compiles `source`, a pattern in the `u` flag's syntax, whose tests draw
 * on `budget`; or says why it is refused, as a clause completing "the pattern …".
 *
 * @internal
 */
export const compile = (source: string, budget: Budget): Result.Result<LinearPattern, string> => {
  try {
    new RegExp(source, "u")
  } catch (error) {
    return Result.fail(`is not a regular expression (${errorMessage(error)})`)
  }
  try {
    const scope: Scope = { budget, instructions: 0, tables: new Map() }
    const program = programOf(parseAlternation({ source, index: 0, depth: 0, scope }), scope)
    return Result.succeed({ test: (input) => test(program, input, scope) })
  } catch (error) {
    if (error instanceof Unsupported) return Result.fail(error.message)
    throw error
  }
}
