/**
 * Plain-text tables for the terminal: a header, a rule, right-aligned numbers.
 *
 * @internal
 */

/** Renders rows under `headers`; numeric cells are right-aligned. @internal */
export const render = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string | number>>
): string => {
  const cells = rows.map((row) => row.map(String))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? "").length)))
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === "number"))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, i) => numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)).join("  ")
      .trimEnd()
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n")
}

/** US dollars with enough digits for fractions of a cent. @internal */
export const usd = (value: number): string => `$${value.toFixed(6)}`
