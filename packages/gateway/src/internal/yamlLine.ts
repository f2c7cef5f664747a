/**
 * The line of a field in a YAML text, found by walking the path through the
 * block structure: a key segment is the next `key:` line indented deeper
 * than its parent, an index segment the nth `- ` item below it. Best effort:
 * inside a flow collection (`{ ... }`, `[ ... ]`) it gives the line of the
 * collection.
 */
const indentOf = (line: string): number => line.length - line.trimStart().length

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const isKeyLine = (content: string, key: string) => new RegExp(`^["']?${escape(key)}["']?\\s*:`).test(content)

interface Cursor {
  readonly start: number
  readonly minIndent: number
  /** The start line belongs to the parent (a `- key:` item line). */
  readonly inclusive: boolean
}

const find = (lines: ReadonlyArray<string>, cursor: Cursor, segment: PropertyKey): number => {
  let item = -1
  let dashIndent = -1
  let keyIndent = -1
  for (let i = cursor.start; i < lines.length; i++) {
    const line = lines[i] ?? ""
    const trimmed = line.trimStart()
    if (trimmed === "" || trimmed.startsWith("#")) continue
    const indent = indentOf(line)
    const dash = trimmed.startsWith("- ")
    const first = cursor.inclusive && i === cursor.start
    const indentlessItem = typeof segment === "number" && dash && indent === cursor.minIndent
    if (!first && indent <= cursor.minIndent && !indentlessItem) return -1
    if (typeof segment === "number") {
      if (dash && (dashIndent === -1 || indent === dashIndent)) {
        dashIndent = indent
        item++
        if (item === segment) return i
      }
    } else {
      const level = first ? indent + 2 : indent
      if (keyIndent === -1) keyIndent = level
      if (level === keyIndent && isKeyLine(first ? trimmed.replace(/^-\s+/, "") : trimmed, String(segment))) return i
    }
  }
  return -1
}

/** The 1-based line of `path` in `text`, or of its deepest ancestor found. */
export const lineOf = (text: string, path: ReadonlyArray<PropertyKey>): number | undefined => {
  const lines = text.split(/\r?\n/)
  let cursor: Cursor = { start: 0, minIndent: -1, inclusive: false }
  let last = -1
  for (const segment of path) {
    const found = find(lines, cursor, segment)
    if (found === -1) break
    last = found
    const line = lines[found] ?? ""
    cursor = typeof segment === "number"
      ? { start: found, minIndent: indentOf(line), inclusive: true }
      : { start: found + 1, minIndent: indentOf(line) + (line.trimStart().startsWith("- ") ? 2 : 0), inclusive: false }
  }
  return last === -1 ? undefined : last + 1
}
