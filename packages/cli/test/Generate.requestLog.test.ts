/**
 * `baton generate` run in-process, as a program embeds the command: a
 * `RequestLog` the program provides still gets the request's records (the
 * command sums what the request billed from the same reports, for the error
 * of a stop, without taking them from the program's log).
 */
import * as RequestLog from "@baton/core/RequestLog"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { ConfigProvider, Effect } from "effect"
import { Command } from "effect/cli"
import { afterEach, assert, describe, it, vi } from "vitest"
import * as Generate from "../src/Generate.ts"

describe("baton generate under a program's RequestLog", () => {
  const exitCode = process.exitCode
  afterEach(() => {
    vi.restoreAllMocks()
    process.exitCode = exitCode
  })

  it("the program's request log gets the attempt's record", async () => {
    const records: Array<RequestLog.LlmRequestLog> = []
    const stdout: Array<string> = []
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => stdout.push(String(chunk)) > 0)
    vi.spyOn(process.stderr, "write").mockImplementation(() => true)
    await Command.runWith(Generate.command, { version: "0.1.0" })(["Name a planet", "--json"]).pipe(
      Effect.provide(
        RequestLog.layer([{ name: "program", write: (record) => Effect.sync(() => records.push(record)) }])
      ),
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { LLM_USAGE_STORE_URL: "sqlite::memory:" } }))),
      Effect.provide(NodeServices.layer),
      Effect.runPromise
    )
    vi.restoreAllMocks()
    assert.include(stdout.join(""), "\"content\"")
    assert.deepStrictEqual(records.map((record) => record.outcome), ["success"])
  })
})
