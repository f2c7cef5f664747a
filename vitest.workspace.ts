/**
 * The test projects of the workspace, one per package. vitest 5 no longer
 * reads this file on its own: `vitest.config.ts` passes it to `test.projects`.
 */
import { fileURLToPath } from "node:url"

const project = (name: string, dir: string, extra: { readonly testTimeout?: number } = {}) => ({
  test: {
    name,
    root: fileURLToPath(new URL(dir, import.meta.url)),
    include: ["test/**/*.test.ts"],
    ...extra
  }
})

export default [
  project("core", "./packages/core"),
  project("providers", "./packages/providers"),
  project("testing", "./packages/testing"),
  project("redis", "./packages/redis", { testTimeout: 30_000 }),
  project("sql", "./packages/sql", { testTimeout: 30_000 }),
  project("ai", "./packages/ai"),
  project("gateway", "./packages/gateway", { testTimeout: 30_000 }),
  project("http", "./packages/http"),
  project("cli", "./packages/cli", { testTimeout: 180_000 }),
  project("quiz-service", "./examples/quiz-service", { testTimeout: 60_000 }),
  project("chaos", "./chaos", { testTimeout: 120_000 })
]
