/**
 * PostgreSQL's text type cannot hold U+0000: one such character fails the
 * whole `INSERT` of a batch. Every text value a SQL sink writes passes
 * through here, so each driver stores the same thing: the NUL becomes
 * U+FFFD (the replacement character), the rest of the text is kept.
 */

/** The row with every string column made storable. */
export const storable = <Row extends Record<string, unknown>>(row: Row): Row => {
  let copy: Record<string, unknown> | undefined
  for (const [column, value] of Object.entries(row)) {
    if (typeof value === "string" && value.includes("\u0000")) {
      copy ??= { ...row }
      copy[column] = value.replaceAll("\u0000", "\uFFFD")
    }
  }
  return (copy ?? row) as Row
}
