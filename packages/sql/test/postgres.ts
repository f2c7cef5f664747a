/**
 * Whether the PostgreSQL of `DATABASE_URL` (default
 * `postgres://postgres@127.0.0.1:5432/test`) answers. With `CI=true` a
 * missing server fails the run loudly; otherwise its suites are skipped with
 * a visible warning.
 */
import { reachable } from "@baton/testing/TcpProbe"

export const postgresUrl = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

export const postgresAvailable = await reachable(postgresUrl, 5432)

if (!postgresAvailable) {
  if (process.env["CI"] === "true") {
    throw new Error(`PostgreSQL is required in CI but ${new URL(postgresUrl).host} does not answer (DATABASE_URL)`)
  }
  console.warn(`SKIPPING PostgreSQL suites: nothing answers at ${new URL(postgresUrl).host} (set DATABASE_URL)`)
}
