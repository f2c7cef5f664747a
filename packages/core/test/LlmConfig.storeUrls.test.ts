/**
 * The stores' URLs name what they open: a `REDIS_URL` without a host, or a
 * `LLM_USAGE_STORE_URL` whose path after `sqlite:`/`file:` is blank, is an
 * error naming the variable when the layer is built (not a client sent to
 * a default host, or an SQLite file named by spaces).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as LlmConfig from "../src/LlmConfig.ts"

const keys = { DEEPSEEK_API_KEY: "sk-deepseek", GEMINI_API_KEY: "g-key" }

const failure = (variables: Record<string, string>) =>
  Effect.flip(
    Effect.service(LlmConfig.LlmConfig).pipe(Effect.provide(LlmConfig.layerFromRecord({ ...keys, ...variables })))
  )

describe("LlmConfig store URLs", () => {
  for (const url of ["redis://", "rediss://", "redis:///0", "redis://:6379", "redis://user:S3CRET@/1"]) {
    it.effect(`REDIS_URL="${url.replace("S3CRET", "…")}" (no host) is an error naming REDIS_URL`, () =>
      Effect.gen(function*() {
        const error = yield* failure({ REDIS_URL: url })
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, "REDIS_URL")
        assert.match(error.message, /^REDIS_URL: not a Redis URL \(.*host/)
        assert.notInclude(error.message, "S3CRET")
        assert.include(LlmConfig.redisUrlProblem(url) ?? "", "host")
      }))
  }

  for (const url of ["sqlite: ", "file:  ", "sqlite:\t"]) {
    it.effect(`LLM_USAGE_STORE_URL=${JSON.stringify(url)} (a blank path) is an error naming it`, () =>
      Effect.gen(function*() {
        const error = yield* failure({ LLM_USAGE_STORE_URL: url })
        assert.strictEqual(error._tag, "LlmConfigError")
        assert.strictEqual(error.variable, "LLM_USAGE_STORE_URL")
        assert.include(error.message, "unsupported database URL")
        assert.isUndefined(LlmConfig.databaseUrl(url))
      }))
  }

  for (const url of ["redis://127.0.0.1:6379?db=7", "redis://:S3CRET@127.0.0.1:6379/1?family=6", "redis://h/2#3"]) {
    it.effect(`REDIS_URL="${url.replace("S3CRET", "…")}" (a query or fragment, never read) is an error naming it`, () =>
      Effect.gen(function*() {
        // the client reads the database from the path alone: ?db=7 would silently be database 0
        const error = yield* failure({ REDIS_URL: url })
        assert.strictEqual(error.variable, "REDIS_URL")
        assert.include(error.message, "put the database in the path")
        assert.notInclude(error.message, "S3CRET")
      }))
  }
})
