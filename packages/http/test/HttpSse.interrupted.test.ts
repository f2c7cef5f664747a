/**
 * An answer that breaks after its first text, over a real Node server with
 * DeepSeek then Gemini of the mock server behind `LlmManager`: the SSE
 * client's `error` event says why, as the same failure before any text would
 * (`HttpProblem`): a content filter stopping the answer is a refusal that no
 * retry changes, a cut connection that no provider could rescue is a 502 to
 * try again.
 */
import * as DeepSeek from "@baton/providers/DeepSeek"
import * as Gemini from "@baton/providers/Gemini"
import * as MockFault from "@baton/testing/MockFault"
import * as MockProviderServer from "@baton/testing/MockProviderServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { explain } from "./utils/explain.ts"
import { managerOver } from "./utils/manager.ts"
import * as Serve from "./utils/serve.ts"

const apiKey = Redacted.make("sk-test")

const Manager = managerOver((server) => [
  DeepSeek.layer({ apiKey, baseUrl: server.baseUrl("deepseek") }),
  Gemini.layer({ apiKey, baseUrl: server.baseUrl("gemini") })
])

/** DeepSeek answers with `deepseek`, Gemini with `gemini`; the event names of the answer and the data of its last. */
const explainWith = (deepseek: MockFault.MockFault, gemini?: MockFault.MockFault) =>
  Effect.gen(function*() {
    const mock = yield* MockProviderServer.MockProviderServer
    yield* mock.inject("deepseek", deepseek)
    if (gemini !== undefined) yield* mock.inject("gemini", gemini)
    const base = yield* Serve.serve(explain)
    const body = yield* Effect.promise(() =>
      fetch(`${base}/explain`, { method: "POST", headers: { "x-teacher-id": "teacher-7" } }).then((r) => r.text())
    )
    // comments (`: keep-alive`) are skipped, as SSE clients do
    const blocks = body.split("\n\n").filter((block) => block.trim() !== "" && !block.startsWith(":"))
    const field = (block: string, name: string) =>
      block.split("\n").find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2)
    const last = blocks.at(-1) ?? ""
    return {
      events: blocks.map((block) => field(block, "event")),
      last: JSON.parse(field(last, "data") ?? "null") as Record<string, unknown>
    }
  })

describe("an answer broken after its first text, over SSE", () => {
  it.live("stopped by a content filter: an error event refusing it, with its cause, never a 502 to try again", () =>
    Effect.gen(function*() {
      const { events, last } = yield* explainWith(MockFault.contentFilterAfter(2))
      assert.deepStrictEqual(events, ["delta", "delta", "error"])
      assert.deepStrictEqual(last, {
        type: "urn:baton:problem:StreamInterrupted",
        status: 400,
        title: "Refused by a content filter",
        detail: "The providers asked refused the request on policy grounds.",
        cause: "ContentFiltered"
      })
    }).pipe(Effect.scoped, Effect.provide(Manager)))

  it.live("cut, and the rescue down: an error event with a 502", () =>
    Effect.gen(function*() {
      const { events, last } = yield* explainWith(MockFault.cutStreamAfter(2), MockFault.status(503))
      assert.deepStrictEqual([events[0], events.at(-1)], ["delta", "error"])
      assert.deepStrictEqual([last["status"], last["cause"]], [502, undefined])
    }).pipe(Effect.scoped, Effect.provide(Manager)))
})
