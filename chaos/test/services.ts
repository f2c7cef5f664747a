/**
 * What the chaos suite needs: `redis-server` on the PATH (each scenario
 * starts its own and kills it by pid) and PostgreSQL at `DATABASE_URL`.
 * With `CI=true` a missing one fails the run loudly; otherwise the suite is
 * skipped with a visible warning. `CHAOS_SIZE=full` (`pnpm test:chaos`)
 * runs the full size; anything else the reduced size CI runs.
 */
import { reachable } from "@baton/testing/TcpProbe"
import { spawnSync } from "node:child_process"
import { databaseUrl } from "../src/Scenario.ts"

const redisServer = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0
const postgres = await reachable(databaseUrl, 5432)

const missing = [
  ...(redisServer ? [] : ["redis-server on the PATH"]),
  ...(postgres ? [] : [`PostgreSQL at ${new URL(databaseUrl).host} (DATABASE_URL)`])
]

if (missing.length > 0) {
  if (process.env["CI"] === "true") {
    throw new Error(`the chaos suite needs ${missing.join(" and ")} (CI=true)`)
  }
  console.warn(`SKIPPING the chaos suite: no ${missing.join(", no ")} (CI=true fails)`)
}

/** True when Redis and PostgreSQL are there. */
export const available = missing.length === 0

/** True for the full size (`CHAOS_SIZE=full`). */
export const full = process.env["CHAOS_SIZE"] === "full"
