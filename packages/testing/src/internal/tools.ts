/**
 * How the mock server plays a model that calls tools, whatever the wire
 * format: while some offered tool has not been called yet in the
 * conversation (and the tool choice allows it), the reply is one call to the
 * next such tool (the named one under a forced choice), with arguments
 * sampled from its parameters' JSON Schema; once every tool was called, the
 * reply is text, the usual answer followed by the tool results it was given.
 *
 * @internal
 */
import { sampleJson } from "./jsonSample.ts"

/** A tool offered by the request. @internal */
export interface OfferedTool {
  readonly name: string
  readonly parameters: unknown
}

/** The tools of a request and how they may be used. @internal */
export interface ToolRequest {
  readonly tools: ReadonlyArray<OfferedTool>
  /** `auto`, `none`, `required`, or the name of the one tool to call. */
  readonly choice: string
}

/** A call the mock model makes. @internal */
export interface MockToolCall {
  readonly id: string
  readonly name: string
  readonly arguments: string
}

/**
 * The call to make next, or `undefined` to answer with text.
 *
 * @internal
 */
export const nextCall = (
  request: ToolRequest | undefined,
  called: ReadonlyArray<string>
): MockToolCall | undefined => {
  if (request === undefined || request.choice === "none") return undefined
  const pending = request.tools.filter((tool) => !called.includes(tool.name))
  const forced = request.tools.find((tool) => tool.name === request.choice)
  const tool = forced !== undefined && !called.includes(forced.name)
    ? forced
    : forced === undefined
    ? pending[0]
    : undefined
  if (tool === undefined) return undefined
  return {
    id: `call_${called.length + 1}_${tool.name}`,
    name: tool.name,
    arguments: JSON.stringify(sampleJson(tool.parameters))
  }
}

/** The answer text once the tools have answered. @internal */
export const withResults = (answer: string, results: ReadonlyArray<string>): string =>
  results.length === 0 ? answer : `${answer} [tool results: ${results.join("; ")}]`
