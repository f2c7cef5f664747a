/**
 * `effect/ai` tools as Baton tool definitions: each `Tool` of the toolkit
 * with its description and the JSON Schema of its parameters; the tool
 * choice as Baton's (`oneOf` already narrowed the tools; its `mode` decides
 * between `auto` and `required`).
 */
import type * as Tool from "@baton/core/Tool"
import { type LanguageModel, Tool as AiTool } from "effect/ai"

const choiceOf = (choice: LanguageModel.ToolChoice<string>): Tool.Choice => {
  if (typeof choice === "string") return choice
  return "tool" in choice ? { tool: choice.tool } : choice.mode ?? "auto"
}

/**
 * The `tools` and `toolChoice` of a Baton request (none when the call offers no tools).
 */
export const toRequest = (
  options: LanguageModel.ProviderOptions
): { readonly tools?: ReadonlyArray<Tool.Input>; readonly toolChoice?: Tool.Choice } =>
  options.tools.length === 0 ? {} : {
    tools: options.tools.map((tool: AiTool.Any) => ({
      name: String(tool.name),
      description: AiTool.getDescription(tool),
      parameters: AiTool.getJsonSchema(tool)
    })),
    toolChoice: choiceOf(options.toolChoice)
  }
