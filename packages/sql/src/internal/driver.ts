/** The driver's name for sink names and metrics (`@effect/sql-pg` 4.0 leaves `driver` unset). */
export const driverName = (sql: {
  readonly driver: string | undefined
  readonly onDialectOrElse: (options: { readonly pg: () => string; readonly orElse: () => string }) => string
}): string => sql.onDialectOrElse({ pg: () => "pg", orElse: () => sql.driver ?? "sql" })
