/**
 * A 400 from the manager's own checks of a request (an `InvalidOptions`)
 * names the field as the client's body does, in `param` and in the message:
 * an OpenAI client reading `error.param` looks for `tool_choice`,
 * `max_tokens` or `messages`, not Baton's `toolChoice`, `options.maxTokens`
 * or `prompt`. No provider is called.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Fixture from "./fixture.ts"

const decodeError = Schema.decodeUnknownSync(Fixture.ErrorResponse)
const user = [{ role: "user", content: "hi" }]

const cases: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
  ["tool_choice naming no tool", {
    model: "fast",
    messages: user,
    tools: [{ type: "function", function: { name: "a" } }],
    tool_choice: { type: "function", function: { name: "b" } }
  }, "tool_choice"],
  ["max_tokens over Baton's bound", { model: "fast", messages: user, max_tokens: 100_000_000 }, "max_tokens"],
  ["max_completion_tokens over Baton's bound", {
    model: "fast",
    messages: user,
    max_completion_tokens: 100_000_000
  }, "max_completion_tokens"],
  // `null` is an absent field (as `model_dump()` writes it): the limit sent is max_tokens
  ["max_tokens over Baton's bound, max_completion_tokens null", {
    model: "fast",
    messages: user,
    max_tokens: 100_000_000,
    max_completion_tokens: null
  }, "max_tokens"],
  ["only a system message", { model: "fast", messages: [{ role: "system", content: "Be brief." }] }, "messages"],
  // one string, which Baton takes as a list of one: a lone surrogate the manager refuses
  ["a stop string Baton refuses", { model: "fast", messages: user, stop: "\ud800" }, "stop"]
]

layer(Fixture.gatewayWithMock(), { excludeTestServices: true })("the manager's 400 in the body's terms", (it) => {
  for (const [name, body, wire] of cases) {
    it.effect(`${name}: param and message name ${wire}`, () =>
      Effect.gen(function*() {
        const { mock, url } = yield* Fixture.setup
        const answer = yield* Fixture.post(url, body)
        assert.strictEqual(answer.status, 400, answer.text)
        const { error } = decodeError(JSON.parse(answer.text))
        assert.strictEqual(error.param, wire, error.message)
        assert.isTrue(error.message.startsWith(wire), error.message)
        assert.strictEqual((yield* mock.stats("openai")).requests + (yield* mock.stats("deepseek")).requests, 0)
      }))
  }
})
