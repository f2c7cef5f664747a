/**
 * The clients under test, each loaded on demand (so that a child process
 * measuring one client's cold start imports that client alone).
 */
import * as L from "./library.ts"

/** A client's module. */
export interface Module {
  readonly setup: (url: string) => Promise<L.Library>
}

/** Every client, by name, in report order. */
export const libraries = {
  floor: () => import("./libraries/floor.ts"),
  baton: () => import("./libraries/baton.ts"),
  effectAi: () => import("./libraries/effectAi.ts"),
  openai: () => import("./libraries/openai.ts"),
  langchain: () => import("./libraries/langchain.ts"),
  vercel: () => import("./libraries/vercel.ts"),
  transport: () => import("./libraries/transport.ts")
} satisfies Record<string, () => Promise<Module>>

/** A client's name. */
export type Name = keyof typeof libraries

/** The names, in report order. */
export const names = Object.keys(libraries) as ReadonlyArray<Name>

/** Whether `name` names a client. */
export const isName = (name: string): name is Name => name in libraries

/** Which client each case of the memory and cold-start children belongs to. */
export const memoryCases: ReadonlyArray<{ readonly library: Name; readonly name: string }> = [
  { library: "floor", name: L.names.floor },
  { library: "baton", name: L.names.adapter },
  { library: "baton", name: L.names.generate },
  { library: "baton", name: L.names.plain },
  { library: "baton", name: L.names.stream },
  { library: "openai", name: L.names.openai },
  { library: "langchain", name: L.names.langchain },
  { library: "vercel", name: L.names.vercel }
]
