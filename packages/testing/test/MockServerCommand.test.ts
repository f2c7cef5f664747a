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

  it.live(
    "refuses a port that is not decimal digits 0 to 65535, naming --port, with the usage, exit 1",
    () =>
      Effect.gen(function*() {
        for (const port of ["70000", "1e3", "0x50", "80.0", " 80"]) {
          const ran = yield* Effect.promise(() => NodeProcess.run(bin, ["--port", port]))
          assert.strictEqual(ran.code, 1, ran.stderr)
          assert.include(ran.stdout, "USAGE", port)
          assert.include(ran.stderr, "--port", port)
          assert.include(ran.stderr, "0 to 65535", port)
        }
      }),
    60_000
  )
})
