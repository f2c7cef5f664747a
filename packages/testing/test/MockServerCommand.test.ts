/**
 * `baton-mock-server` as a shell user runs it: the bin as a subprocess, what
 * it printed and its exit code.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import * as MockProviderServer from "../src/MockProviderServer.ts"
import * as NodeProcess from "../src/NodeProcess.ts"

const bin = fileURLToPath(new URL("../bin/baton-mock-server.js", import.meta.url))

describe("baton-mock-server", () => {
  it.live("on a port in use names the address and the reason in one line, exit 2", () =>
    Effect.gen(function*() {
      // a server of this test holds the port until the test's scope closes
      const holder = yield* MockProviderServer.start()
      const port = new URL(holder.url).port
      const ran = yield* Effect.promise(() => NodeProcess.run(bin, ["--port", port]))
      assert.strictEqual(ran.code, 2, ran.stderr)
      // effect's runMain prints a failure's stack on stdout
      assert.notMatch(`${ran.stdout}${ran.stderr}`, /^\s+at /m, "no stack trace")
      assert.deepStrictEqual(
        ran.stderr.split("\n").filter((line) => line.length > 0),
        [`baton-mock-server: cannot listen on 127.0.0.1:${port}: address in use`]
      )
    }), 60_000)

  it.live("on a port out of range says so in one line, exit 2", () =>
    Effect.gen(function*() {
      const ran = yield* Effect.promise(() => NodeProcess.run(bin, ["--port", "70000"]))
      assert.strictEqual(ran.code, 2, ran.stderr)
      assert.notMatch(`${ran.stdout}${ran.stderr}`, /^\s+at /m, "no stack trace")
      assert.deepStrictEqual(
        ran.stderr.split("\n").filter((line) => line.length > 0),
        ["baton-mock-server: cannot listen: a port is 0 to 65535"]
      )
    }), 60_000)
})
