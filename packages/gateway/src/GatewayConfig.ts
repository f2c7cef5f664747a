/**
 * What a gateway serves and to whom: the providers it may call, the model
 * aliases clients may ask for, the gateway keys clients authenticate with,
 * and the request size limit.
 *
 * A config file (JSON or YAML) looks like this:
 *
 * ```yaml
 * providers:
 *   deepseek: { models: [deepseek-flash, deepseek-pro] }        # key from DEEPSEEK_API_KEY
 *   openai: { models: [gpt-4o-mini], apiKeyEnv: OPENAI_KEY_PROD }
 *   ollama: { baseUrl: "http://127.0.0.1:11434/v1", models: [llama3] }  # OpenAI-compatible
 * models:
 *   fast: [deepseek/deepseek-flash, openai/gpt-4o-mini]          # an alias: a chain of steps
 *   careful:                                                     # steps with their own policy
 *     - { model: deepseek/deepseek-pro, retries: 0, firstTokenMs: 20000 }
 *     - openai/gpt-4o-mini
 * keys:
 *   - sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *     subject: teacher-42
 *     daily: 200
 * maxBodyBytes: 1048576
 * ```
 *
 * - A provider named `deepseek`, `gemini`, `openai` or `anthropic` uses that
 *   adapter (`baseUrl` optional); any other name is an OpenAI-compatible
 *   endpoint and needs a `baseUrl`. The first model of `models` is its
 *   default; a client may name only the models listed.
 * - Its key is read from `apiKeyEnv` (default `<NAME>_API_KEY`) through
 *   Effect `Config`; provider keys never leave the server. A model (in
 *   `models` or a step), a step's provider, a provider's name, an alias's
 *   name (which `GET /v1/models` lists to every client) or a gateway key's
 *   `subject` (written to the request log and the usage ledger on every
 *   request of that key) holding any key the gateway holds (`heldKeys`: its
 *   providers' and the environment's) is refused by `Gateway.make`
 *   (`checkKeysNotShown`, by the rule of `LlmConfig.keyAsModelProblem`),
 *   before the gateway listens, whether the config came from a file,
 *   `BATON_GATEWAY_KEYS` or code, the error showing no part of the key.
 *   `parse` applies the same check before the file's schema, and `fromFile`
 *   before its own checks, with the keys the file's providers read and every
 *   key variable of the environment (`LlmConfig.environmentKeys`), so that
 *   no error of theirs (schema, unknown provider, model not listed) repeats a
 *   name, a model or a step holding a key; they give the YAML line.
 * - A step is `provider/model`, or `{ model: provider/model, retries,
 *   firstTokenMs }` to override, for that step only, the environment's
 *   retries on the same provider (`LLM_MAX_RETRIES`) and first-token limit
 *   (`LLM_FIRST_TOKEN_TIMEOUT_MS`, and `LLM_THINKING_FIRST_TOKEN_TIMEOUT_MS`
 *   for a model that thinks, whatever the request's reasoning level).
 * - A client asks for an alias (`fast`) or a concrete `provider/model`; a
 *   `fallbacks` body field may add more of either.
 * - Gateway keys are stored as the SHA-256 (hex) of the key (`hashKey`),
 *   each mapping to a subject and optional daily limits (`daily`,
 *   `dailyTokens`, `dailyCostNanoUsd`) that override the environment's
 *   defaults; `revoked: true` refuses a key. A key is listed once: a hash
 *   repeated is refused (`keys[1].sha256`, or `BATON_GATEWAY_KEYS`'s entry
 *   by position), never resolved by the last entry winning (which would
 *   un-revoke a key or move it to another subject). The limits are the
 *   subject's (one quota for all its keys): a revoked key's are ignored,
 *   and every active key of one subject must state the same ones, or the
 *   file is refused naming the field (`keys[1].daily`). `BATON_GATEWAY_KEYS`
 *   sets no limits, so its keys never disagree.
 *
 * `parse` checks a file against the schema (unknown fields included) and
 * the cross-references between its parts, failing with a
 * `GatewayConfigError` that names the field and, for YAML, the line; a key
 * the field repeats (a provider, an alias) is cut after 64 characters, its
 * control characters escaped (`Redact.excerpt`), or shown as
 * `<a key: not shown>` when it holds a key the file's providers read or the
 * environment holds (an unknown property pasted from one). `fromEnvironment` builds
 * the config without a file, from `LlmConfig`'s chain and the
 * `BATON_GATEWAY_KEYS` variable.
 *
 * @since 0.1.0
 */
import { ModelId, ProviderName, SubjectId } from "@baton/core/Ids"
import * as LlmConfig from "@baton/core/LlmConfig"
import { excerpt, scrub } from "@baton/core/Redact"
import {
  Array as Arr,
  Config,
  Effect,
  Option,
  Predicate,
  type Redacted,
  Result,
  Schema,
  SchemaIssue,
  SchemaTransformation
} from "effect"
import { Yaml } from "effect/encoding"
import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"
import { lineOf } from "./internal/yamlLine.ts"

/**
 * A config that cannot be used: the field (a dotted path) and, for YAML,
 * the 1-based line it is on.
 *
 * @since 0.1.0
 * @category errors
 */
export class GatewayConfigError extends Schema.TaggedError<GatewayConfigError>()("GatewayConfigError", {
  field: Schema.String,
  line: Schema.optionalKey(Schema.Int),
  message: Schema.String
}) {}

/** The adapters a provider name selects; any other name is OpenAI-compatible. */
const hostedKinds: ReadonlyArray<string> = ["deepseek", "gemini", "openai", "anthropic"]

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

const ProviderEntry = Schema.Struct({
  baseUrl: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^https?:\/\/\S+$/))),
  apiKeyEnv: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[A-Z_][A-Z0-9_]*$/))),
  models: Schema.Array(ModelId).check(Schema.isMinLength(1))
})

const KeyEntry = Schema.Struct({
  sha256: Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/)),
  subject: SubjectId,
  daily: Schema.optionalKey(PositiveInt),
  dailyTokens: Schema.optionalKey(PositiveInt),
  dailyCostNanoUsd: Schema.optionalKey(PositiveInt),
  revoked: Schema.optionalKey(Schema.Boolean)
})

const StepName = Schema.String.check(Schema.isPattern(/^[^/\s]+\/\S+$/))

const StepEntry = Schema.Union([
  StepName,
  Schema.Struct({
    model: StepName,
    retries: Schema.optionalKey(NonNegativeInt),
    firstTokenMs: Schema.optionalKey(PositiveInt)
  })
])

/**
 * The file's schema.
 *
 * @since 0.1.0
 * @category schemas
 */
export const File = Schema.Struct({
  providers: Schema.Record(
    Schema.String.check(Schema.isPattern(/^[a-z0-9_-]+$/)),
    ProviderEntry
  ),
  models: Schema.optionalKey(Schema.Record(Schema.String, Schema.Array(StepEntry).check(Schema.isMinLength(1)))),
  keys: Schema.Array(KeyEntry),
  maxBodyBytes: Schema.optionalKey(PositiveInt)
})

/** @since 0.1.0 */
export type File = typeof File.Type

/**
 * One step of a chain: a provider, one of its models, and the step's own
 * policy where the config gives one (else the environment's).
 *
 * @since 0.1.0
 * @category models
 */
export interface Step {
  readonly provider: ProviderName
  readonly model: ModelId
  /** Retries on this step for retryable errors. */
  readonly retries?: number | undefined
  /** The first streamed token's limit on this step, in milliseconds. */
  readonly firstTokenMs?: number | undefined
}

/**
 * A provider the gateway may call.
 *
 * @since 0.1.0
 * @category models
 */
export interface Provider {
  readonly name: ProviderName
  /** The adapter: a hosted one, or `openai-compatible`. */
  readonly kind: LlmConfig.ProviderKind | "openai-compatible"
  /** Its base URL; a hosted provider without one is called at the environment's (`<NAME>_BASE_URL`, else public). */
  readonly baseUrl: string | undefined
  readonly apiKey: Option.Option<Redacted.Redacted>
  /** The variable the key came from, for error messages. */
  readonly apiKeyVariable: string
  readonly models: ReadonlyArray<ModelId>
}

/**
 * A gateway key's owner and limits.
 *
 * @since 0.1.0
 * @category models
 */
export type Key = typeof KeyEntry.Type

/**
 * A checked config.
 *
 * @since 0.1.0
 * @category models
 */
export interface GatewayConfig {
  readonly providers: ReadonlyMap<string, Provider>
  /** Alias name to its chain. */
  readonly aliases: ReadonlyMap<string, ReadonlyArray<Step>>
  /** SHA-256 (hex) of a key to its entry. */
  readonly keys: ReadonlyMap<string, Key>
  readonly maxBodyBytes: number
}

/** The default request body limit: 1 MiB. @since 0.1.0 */
export const defaultMaxBodyBytes = 1_048_576

/**
 * Every provider key the config holds (each read from its provider's
 * `apiKeyEnv`, default `<NAME>_API_KEY`); with the environment's, the
 * gateway's `heldKeys`.
 *
 * @since 0.1.0
 */
export const secrets = (config: GatewayConfig): ReadonlyArray<Redacted.Redacted> => keysOf(config.providers)

/**
 * Every key a gateway of `config` holds: its providers' (`secrets`) and the
 * environment's (`LlmConfig.secrets` of `settings`: every provider key
 * variable set, an OpenAI-compatible endpoint's outside any chain too),
 * whether it calls their providers or not. Every chain's manager scrubs them
 * from its errors and the request log from its records, so a key one
 * endpoint echoes never leaves, whichever chain it was asked through; and no
 * name, model, step or subject of the config may hold one
 * (`checkKeysNotShown`, in `Gateway.make`). Each value once (a file's
 * provider reading a variable the environment's settings read too).
 *
 * @since 0.1.0
 */
export const heldKeys = (config: GatewayConfig, settings: LlmConfig.Settings): ReadonlyArray<Redacted.Redacted> =>
  Arr.dedupe([...secrets(config), ...LlmConfig.secrets(settings)])

/** The keys of `providers`, those that have one. */
const keysOf = (providers: ReadonlyMap<string, Provider>): ReadonlyArray<Redacted.Redacted> =>
  [...providers.values()].flatMap((provider) => Option.toArray(provider.apiKey))

/**
 * The SHA-256 (hex) of a gateway key, as stored in the config.
 *
 * @since 0.1.0
 */
export const hashKey = (key: string): string => createHash("sha256").update(key).digest("hex")

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * The error of a file the schema refuses: the field of its first issue, a
 * property name of the path holding one of `keys` (an excess property pasted
 * from a key, by the rule of `LlmConfig.keyAsModelProblem`) shown as
 * `<a key: not shown>`, and the YAML line.
 */
const schemaError = (
  error: Schema.SchemaError,
  text: string | undefined,
  keys: ReadonlyArray<Redacted.Redacted>
): GatewayConfigError => {
  const issue = formatter(error.issue).issues[0]
  const path = (issue?.path ?? []).map((segment) => typeof segment === "object" ? segment.key : segment)
  const shown = path.map((segment) =>
    typeof segment === "string" && LlmConfig.keyHeldIn(segment, keys) !== undefined
      ? "<a key: not shown>"
      : segment
  )
  return configError(path, issue?.message ?? error.message, text, shown)
}

/**
 * The error for the field at `path`: a key of the path (a provider or an
 * alias, of any length and holding anything) as `excerpt` repeats it, in the
 * field and the message (`shown`, the path itself unless a key of it must
 * not be repeated); the YAML line found from the keys as written.
 */
const configError = (
  path: ReadonlyArray<PropertyKey>,
  problem: string,
  yamlText: string | undefined,
  shown: ReadonlyArray<PropertyKey> = path
): GatewayConfigError => {
  const field = shown.map((segment) => typeof segment === "number" ? `[${segment}]` : `.${excerpt(String(segment))}`)
    .join("").replace(/^\./, "")
  const line = yamlText === undefined ? undefined : lineOf(yamlText, path)
  const where = line === undefined ? field : `${field} (line ${line})`
  return new GatewayConfigError({
    field,
    ...(line === undefined ? {} : { line }),
    message: `gateway config: ${where}: ${problem}`
  })
}

const decodeFile = Schema.decodeUnknownEffect(File)

/**
 * The text parsed, or an error with the parser's message scrubbed of the
 * environment's keys (`LlmConfig.environmentKeys`) and of key shapes
 * (`Redact.scrub`): a YAML duplicate key or alias, or a JSON token, pasted
 * from a key is named by the message.
 */
const parseText = (text: string, format: "json" | "yaml"): Effect.Effect<unknown, GatewayConfigError> =>
  Effect.try({
    try: (): unknown => format === "json" ? JSON.parse(text) : Yaml.parse(text),
    catch: (error) => error
  }).pipe(Effect.catch((error) =>
    Effect.flatMap(LlmConfig.environmentKeys, (keys) =>
      Effect.fail(
        new GatewayConfigError({
          field: "",
          message: `gateway config: not valid ${format.toUpperCase()} (${scrub(parserMessage(error, format), keys)})`
        })
      ))
  ))

/**
 * A parser's message; JSON's without the text V8 quotes around an
 * unexpected token (`..."apiKeyEnv": sk-proj-ab"...`), where a key cut
 * there escapes the scrub; its position (when V8 gives one) kept.
 */
const parserMessage = (error: unknown, format: "json" | "yaml"): string => {
  const message = error instanceof Error ? error.message : String(error)
  return format === "json" ? message.replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, "") : message
}

const isProviderName = Schema.is(ProviderName)

const isModelId = Schema.is(ModelId)

const decodeModelId = Schema.decodeUnknownResult(ModelId)

/** A `provider/model` name's two parts, as written (not checked). */
const partsOf = (name: string): { readonly provider: string; readonly model: string } => {
  const slash = name.indexOf("/")
  return slash < 0 ? { provider: name, model: "" } : { provider: name.slice(0, slash), model: name.slice(slash + 1) }
}

/**
 * A `provider/model` name as a step, when its parts are a valid
 * `ProviderName` and `ModelId`; `undefined` otherwise (a client's name may
 * be anything: it must never reach `make`, which throws).
 */
const splitStep = (name: string): Step | undefined => {
  const { model, provider } = partsOf(name)
  return isProviderName(provider) && isModelId(model) ? { provider, model } : undefined
}

/**
 * What is wrong with a step's `provider/model` name holding a key
 * (`LlmConfig.keyAsModelProblem`): in its provider part (the advice naming
 * a provider), its model part, or across the `/`; `undefined` when it holds
 * none.
 */
const stepKeyProblem = (name: string, keys: ReadonlyArray<Redacted.Redacted>): string | undefined => {
  const { model, provider } = partsOf(name)
  const inProvider = LlmConfig.keyHeldIn(provider, keys)
  if (inProvider !== undefined) {
    return `the provider before "/" ${
      LlmConfig.heldKeyProblem(inProvider, "put a provider name here and the key in its key variable")
    }`
  }
  const inModel = LlmConfig.keyAsModelProblem(model, keys)
  if (inModel !== undefined) return `the model after "/" ${inModel}`
  const inName = LlmConfig.keyAsModelProblem(name, keys)
  return inName === undefined ? undefined : `the step ${inName}`
}

const checkStep = (
  providers: ReadonlyMap<string, Provider>,
  entry: typeof StepEntry.Type,
  at: ReadonlyArray<PropertyKey>,
  text: string | undefined
): Effect.Effect<Step, GatewayConfigError> => {
  const { model: name, ...policy } = typeof entry === "string" ? { model: entry } : entry
  const path = typeof entry === "string" ? at : [...at, "model"]
  const parts = partsOf(name)
  // the providers were checked first: a known one has a valid name
  const provider = providers.get(parts.provider)
  if (provider === undefined) {
    return Effect.fail(configError(path, `unknown provider "${excerpt(parts.provider)}" in "${excerpt(name)}"`, text))
  }
  const model = decodeModelId(parts.model)
  if (Result.isFailure(model)) {
    return Effect.fail(configError(path, `the model after "/" in "${excerpt(name)}": ${model.failure.message}`, text))
  }
  return provider.models.includes(model.success)
    ? Effect.succeed({ provider: provider.name, model: model.success, ...policy })
    : Effect.fail(
      configError(path, `model "${model.success}" is not in providers.${provider.name}.models`, text)
    )
}

/** The variable a provider's key is read from: its `apiKeyEnv`, else `<NAME>_API_KEY`. */
const keyVariable = (name: string, apiKeyEnv: string | undefined): string =>
  apiKeyEnv ?? `${name.toUpperCase().replace(/-/g, "_")}_API_KEY`

const resolveProvider = (
  name: string,
  entry: File["providers"][string],
  text: string | undefined
): Effect.Effect<Provider, GatewayConfigError> =>
  Effect.gen(function*() {
    if (!isProviderName(name)) {
      return yield* configError(
        ["providers", name],
        "is not a provider name: a provider name is 1-64 lower-case letters, digits, '-' or '_', starting with a letter",
        text
      )
    }
    const hosted = hostedKinds.includes(name)
    if (!hosted && entry.baseUrl === undefined) {
      return yield* configError(
        ["providers", name, "baseUrl"],
        `is required: "${name}" is not deepseek, gemini, openai or anthropic, so it is an OpenAI-compatible endpoint`,
        text
      )
    }
    const apiKeyVariable = keyVariable(name, entry.apiKeyEnv)
    const apiKey = yield* LlmConfig.apiKey(apiKeyVariable).pipe(
      Effect.mapError((error) => configError(["providers", name, "apiKeyEnv"], error.message, text))
    )
    const baseUrl = entry.baseUrl === undefined ? undefined : yield* LlmConfig.baseUrl(
      `providers.${name}.baseUrl`,
      apiKeyVariable
    )(entry.baseUrl).pipe(Effect.mapError((error) => configError(["providers", name, "baseUrl"], error.message, text)))
    if (hosted && Option.isNone(apiKey)) {
      return yield* configError(["providers", name, "apiKeyEnv"], `${apiKeyVariable} is not set`, text)
    }
    return {
      name,
      kind: hosted ? name as LlmConfig.ProviderKind : "openai-compatible",
      baseUrl,
      apiKey,
      apiKeyVariable,
      models: entry.models
    }
  })

/** What a text of a config a key must not be in is. */
type Kind = "provider name" | "alias name" | "model" | "step" | "subject"

/** A text of a file as written, where it is (`path`) and, for a subject, its key's hash as written. */
interface Text {
  readonly kind: Kind
  readonly path: ReadonlyArray<PropertyKey>
  readonly text: string
  readonly sha256?: unknown
}

/** The entries of `value` when it is an object (a section of a file as written, decoded or not), else none. */
const entriesOf = (value: unknown): ReadonlyArray<readonly [string, unknown]> =>
  Predicate.isObject(value) ? Object.entries(value) : []

/** The items of `value` when it is an array, else none. */
const itemsOf = (value: unknown): ReadonlyArray<unknown> => Array.isArray(value) ? value : []

/** `value` as a text at `path` when it is a string, else none. */
const textAt = (kind: Kind, path: ReadonlyArray<PropertyKey>, value: unknown): ReadonlyArray<Text> =>
  typeof value === "string" ? [{ kind, path, text: value }] : []

/**
 * Every text of a file as written (decoded or not) that the gateway shows or
 * logs, names first (every later path repeats one): the providers' and the
 * aliases' names, the providers' models, the aliases' steps and the keys'
 * subjects.
 */
const textsOf = (file: unknown): ReadonlyArray<Text> => {
  const { keys, models, providers } = Predicate.isObject(file) ? file : {}
  return [
    ...entriesOf(providers).map(([name]): Text => ({ kind: "provider name", path: ["providers", name], text: name })),
    ...entriesOf(models).map(([alias]): Text => ({ kind: "alias name", path: ["models", alias], text: alias })),
    ...entriesOf(providers).flatMap(([name, entry]) =>
      itemsOf(Predicate.isObject(entry) ? entry.models : undefined).flatMap((model, index) =>
        textAt("model", ["providers", name, "models", index], model)
      )
    ),
    ...entriesOf(models).flatMap(([alias, steps]) =>
      itemsOf(steps).flatMap((step, index) =>
        Predicate.isObject(step)
          ? textAt("step", ["models", alias, index, "model"], step.model)
          : textAt("step", ["models", alias, index], step)
      )
    ),
    ...itemsOf(keys).flatMap((key, index) =>
      Predicate.isObject(key)
        ? textAt("subject", ["keys", index], key.subject).map((text) => ({ ...text, sha256: key.sha256 }))
        : []
    )
  ]
}

/** How an error names a name or a subject holding a key (where it is, not what it says), and what to do. */
const namedBy = {
  "provider name": { name: "a provider name", fix: "name the provider and put the key in its key variable" },
  "alias name": { name: "an alias name", fix: "name the alias and put the key in its provider's key variable" },
  subject: {
    name: "its subject",
    fix: "name the client (a user or team id) and put the key in its provider's key variable"
  }
} as const

/**
 * What is wrong with a text holding one of `keys` (by the rule of
 * `LlmConfig.keyAsModelProblem`; a step's by `stepKeyProblem`), naming the
 * variable the key came from (`LlmConfig.heldKeyProblem`), never repeating
 * it; `undefined` when it holds none.
 */
const keyProblem = (
  { kind, path, sha256, text }: Text,
  keys: ReadonlyArray<Redacted.Redacted>,
  placeOf: (index: number) => string
): string | undefined => {
  if (kind === "step") return stepKeyProblem(text, keys)
  if (kind === "model") return LlmConfig.keyAsModelProblem(text, keys)
  const key = LlmConfig.keyHeldIn(text, keys)
  if (key === undefined) return undefined
  const what = kind === "subject"
    ? `${entryOf(Number(path[1]), sha256, placeOf)}: ${namedBy.subject.name}`
    : namedBy[kind].name
  return `${what} ${LlmConfig.heldKeyProblem(key, namedBy[kind].fix)}`
}

/** A gateway key's entry as an error names it: the start of its hash (when it is one) and its place (`placeOf`). */
const entryOf = (index: number, sha256: unknown, placeOf: (index: number) => string): string => {
  const hash = typeof sha256 === "string" && /^[0-9a-f]{64}$/.test(sha256) ? `${sha256.slice(0, 12)}... ` : ""
  return `the gateway key ${hash}(${placeOf(index)})`
}

/** A gateway key's place in a file: `keys[1]`. */
const placeInFile = (index: number): string => `keys[${index}]`

/** A gateway key's place in a checked config, whose source is not known: a file's, `BATON_GATEWAY_KEYS` or code. */
const placeInConfig = (index: number): string =>
  `entry ${index + 1} of BATON_GATEWAY_KEYS, or keys[${index}] of a file or a config built in code`

/**
 * No text of a file as written (`textsOf`: names, models, steps, subjects)
 * holds one of `keys`: the error names the field (a name's or a subject's by
 * its section alone; a subject's entry by `placeOf`, `keys[1]` in a file) and
 * the YAML line, never the value.
 */
const checkTexts = (
  file: unknown,
  keys: ReadonlyArray<Redacted.Redacted>,
  yamlText: string | undefined,
  placeOf: (index: number) => string = placeInFile
): Effect.Effect<void, GatewayConfigError> => {
  for (const text of textsOf(file)) {
    const problem = keyProblem(text, keys, placeOf)
    if (problem !== undefined) {
      const shown = text.kind === "model" || text.kind === "step" ? text.path : text.path.slice(0, 1)
      return Effect.fail(configError(text.path, problem, yamlText, shown))
    }
  }
  return Effect.void
}

/** `config` as a file would write it, for `checkTexts`. */
const writtenOf = (config: GatewayConfig) => ({
  providers: Object.fromEntries([...config.providers].map(([name, provider]) => [name, { models: provider.models }])),
  models: Object.fromEntries(
    [...config.aliases].map(([alias, steps]) => [alias, steps.map((step) => `${step.provider}/${step.model}`)])
  ),
  keys: [...config.keys.values()]
})

/**
 * No text of `config` the gateway shows or logs holds one of `keys` (by the
 * rule of `LlmConfig.keyAsModelProblem`): a provider's or an alias's name
 * (`GET /v1/models` lists every alias to every client), a provider's model,
 * a step's provider or model (the request log's), a gateway key's subject
 * (the request log's and the usage ledger's on every request of that key).
 * The error names the field (`models.fast[1]`; a name's section,
 * `providers` or `models`; a subject's entry, by the start of its hash and
 * its place, in `BATON_GATEWAY_KEYS` or `keys` as the config does not say
 * which; `parse` names `keys[1]`), never the value.
 * `Gateway.make` checks every key the gateway holds (`heldKeys`); `parse`
 * and `fromFile` the file's providers' keys and the environment's
 * (`LlmConfig.environmentKeys`) first, so that no error of theirs repeats one.
 *
 * @since 0.1.0
 */
export const checkKeysNotShown = (
  config: GatewayConfig,
  keys: ReadonlyArray<Redacted.Redacted>
): Effect.Effect<void, GatewayConfigError> => checkTexts(writtenOf(config), keys, undefined, placeInConfig)

/**
 * The keys a file as written reads: each provider's entry's `apiKeyEnv`
 * when it is a string, else `<NAME>_API_KEY` (a key that cannot be read is
 * none).
 */
const writtenKeys = (raw: unknown): Effect.Effect<ReadonlyArray<Redacted.Redacted>> => {
  const providers = Predicate.isObject(raw) ? raw.providers : undefined
  return Effect.map(
    Effect.forEach(entriesOf(providers), ([name, entry]) => {
      const apiKeyEnv = Predicate.isObject(entry) && typeof entry.apiKeyEnv === "string" ? entry.apiKeyEnv : undefined
      return LlmConfig.apiKey(keyVariable(name, apiKeyEnv)).pipe(Effect.orElseSucceed(Option.none))
    }),
    (keys) => keys.flatMap(Option.toArray)
  )
}

/**
 * A key is listed once: the first entry repeating an earlier entry's hash,
 * with that earlier entry's index (else a later entry would silently replace
 * it: un-revoke a key, or move it to another subject).
 */
const firstRepeat = (
  keys: ReadonlyArray<{ readonly sha256: string }>
): { readonly index: number; readonly first: number } | undefined => {
  const seen = new Map<string, number>()
  for (const [index, key] of keys.entries()) {
    const first = seen.get(key.sha256)
    if (first !== undefined) return { index, first }
    seen.set(key.sha256, index)
  }
  return undefined
}

/** The keys by hash, once `firstRepeat` found no hash listed twice. */
const keysByHash = <K extends { readonly sha256: string }>(keys: ReadonlyArray<K>): ReadonlyMap<string, K> =>
  new Map(keys.map((key) => [key.sha256, key]))

const checkUniqueKeys = (keys: File["keys"], yamlText: string | undefined): Effect.Effect<void, GatewayConfigError> => {
  const repeat = firstRepeat(keys)
  return repeat === undefined ? Effect.void : Effect.fail(configError(
    ["keys", repeat.index, "sha256"],
    `is the same key as keys[${repeat.first}].sha256: list each key once ` +
      "(to revoke a key, set revoked: true on its one entry)",
    yamlText
  ))
}

/** The per-key limits, which are the limits of the key's subject. */
const limitFields = ["daily", "dailyTokens", "dailyCostNanoUsd"] as const

const showLimit = (value: number | undefined): string => value === undefined ? "unset (the default)" : String(value)

/**
 * Limits are a subject's, not a key's: every active key of one subject must
 * state the same `daily`, `dailyTokens` and `dailyCostNanoUsd` (or leave the
 * same ones unset). Revoked keys are ignored, so a rotated-out key may stay
 * listed with whatever limits it had.
 */
const checkSubjectLimits = (
  keys: File["keys"],
  yamlText: string | undefined
): Effect.Effect<void, GatewayConfigError> => {
  const firstActive = new Map<string, { readonly index: number; readonly key: Key }>()
  for (const [index, key] of keys.entries()) {
    if (key.revoked === true) continue
    const first = firstActive.get(key.subject)
    if (first === undefined) {
      firstActive.set(key.subject, { index, key })
      continue
    }
    const field = limitFields.find((name) => key[name] !== first.key[name])
    if (field !== undefined) {
      return Effect.fail(configError(
        ["keys", index, field],
        `is ${showLimit(key[field])}, but keys[${first.index}] (another active key of the same subject) ` +
          `has ${field} ${showLimit(first.key[field])}: limits belong to the subject, so its active keys ` +
          "must state the same daily, dailyTokens and dailyCostNanoUsd (revoke the old key or give both the same)",
        yamlText
      ))
    }
  }
  return Effect.void
}

/**
 * Checks a decoded file: no name, model, step or subject holds a key of
 * its providers or of the environment (`LlmConfig.environmentKeys`; the rule
 * of `checkKeysNotShown`, before any error may repeat one), every alias step names a configured provider and one of its
 * models, hosted providers have their key, compatible ones a URL, and the
 * active keys of one subject agree on its limits.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFile = (file: File, yamlText?: string): Effect.Effect<GatewayConfig, GatewayConfigError> =>
  Effect.gen(function*() {
    // every provider first, so that no error repeats a name holding another provider's key
    const resolved = yield* Effect.forEach(
      Object.entries(file.providers),
      ([name, entry]) => Effect.result(resolveProvider(name, entry, yamlText))
    )
    const providers = new Map(
      resolved.flatMap((result) => Result.isSuccess(result) ? [[result.success.name, result.success]] : [])
    )
    yield* checkTexts(file, [...keysOf(providers), ...yield* LlmConfig.environmentKeys], yamlText)
    const failed = resolved.find(Result.isFailure)
    if (failed !== undefined) return yield* failed.failure
    const aliases = new Map<string, ReadonlyArray<Step>>()
    for (const [alias, steps] of Object.entries(file.models ?? {})) {
      if (alias.includes("/")) {
        return yield* configError(["models", alias], "an alias may not contain '/'", yamlText)
      }
      aliases.set(
        alias,
        yield* Effect.forEach(steps, (step, i) => checkStep(providers, step, ["models", alias, i], yamlText))
      )
    }
    yield* checkUniqueKeys(file.keys, yamlText)
    yield* checkSubjectLimits(file.keys, yamlText)
    return {
      providers,
      aliases,
      keys: keysByHash(file.keys),
      maxBodyBytes: file.maxBodyBytes ?? defaultMaxBodyBytes
    }
  })

/**
 * Parses and checks a config file's text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (text: string, format: "json" | "yaml"): Effect.Effect<GatewayConfig, GatewayConfigError> =>
  Effect.gen(function*() {
    const raw = yield* parseText(text, format)
    const yamlText = format === "yaml" ? text : undefined
    // before a schema error may repeat a name holding a key (the field of an error in its entry)
    const keys = [...yield* writtenKeys(raw), ...yield* LlmConfig.environmentKeys]
    yield* checkTexts(raw, keys, yamlText)
    const file = yield* decodeFile(raw, { onExcessProperty: "error" }).pipe(
      Effect.mapError((error) => schemaError(error, yamlText, keys))
    )
    return yield* fromFile(file, yamlText)
  })

/**
 * Reads and checks a config file; `.yaml` / `.yml` are YAML, anything else JSON.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (path: string): Effect.Effect<GatewayConfig, GatewayConfigError> =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (error) =>
      new GatewayConfigError({
        field: "",
        message: `gateway config: cannot read ${path} (${error instanceof Error ? error.message : String(error)})`
      })
  }).pipe(Effect.flatMap((text) => parse(text, /\.ya?ml$/i.test(path) ? "yaml" : "json")))

const KeysVariable = Schema.String.check(Schema.isPattern(/^([^:,\s]+:[0-9a-f]{64})(,[^:,\s]+:[0-9a-f]{64})*$/))

/** `BATON_GATEWAY_KEYS` decoded: each pair's subject checked as a `SubjectId` (length, no control characters). */
const GatewayKeyPairs = KeysVariable.pipe(
  Schema.decodeTo(
    Schema.Array(Schema.Struct({ subject: SubjectId, sha256: Schema.String })),
    SchemaTransformation.transform<ReadonlyArray<{ readonly subject: string; readonly sha256: string }>, string>({
      decode: (value) =>
        value.split(",").map((pair) => {
          const [subject = "", sha256 = ""] = pair.split(":")
          return { subject, sha256 }
        }),
      encode: (keys) => keys.map(({ sha256, subject }) => `${subject}:${sha256}`).join(",")
    })
  )
)

const gatewayKeysVariable = Config.schema(GatewayKeyPairs, "BATON_GATEWAY_KEYS")

const withModel = (provider: Provider, model: ModelId): Provider => ({
  ...provider,
  models: [...provider.models, model]
})

/** A chain step's provider as the environment describes it: a hosted one or an OpenAI-compatible endpoint. */
const environmentProvider = (settings: LlmConfig.Settings, step: LlmConfig.ChainStep): Provider => {
  if (step.kind === "openai-compatible") {
    const endpoint = settings.compatible[step.provider]
    return {
      name: step.provider,
      kind: "openai-compatible",
      baseUrl: endpoint?.baseUrl,
      apiKey: endpoint?.apiKey ?? Option.none(),
      apiKeyVariable: step.variable,
      models: [step.model]
    }
  }
  const hosted = settings.providers[step.kind]
  return {
    name: step.provider,
    kind: step.kind,
    baseUrl: hosted.baseUrl,
    apiKey: hosted.apiKey,
    apiKeyVariable: hosted.apiKeyVariable,
    models: [step.model]
  }
}

/**
 * The config without a file: one provider per provider of `LlmConfig`'s
 * chain (`LLM_CHAIN` or the older variables; a hosted provider's key and
 * URL, or an OpenAI-compatible endpoint's, and every model the chain names
 * for it), the alias `default` for the whole chain, and the
 * gateway keys of `BATON_GATEWAY_KEYS` (`subject:sha256hex`, comma-separated).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEnvironment = (settings: LlmConfig.Settings): Effect.Effect<GatewayConfig, GatewayConfigError> =>
  Effect.gen(function*() {
    const given = yield* Config.option(Config.String("BATON_GATEWAY_KEYS")).pipe(Effect.orElseSucceed(Option.none))
    const keys = yield* gatewayKeysVariable.pipe(
      Effect.mapError(() =>
        new GatewayConfigError({
          field: "BATON_GATEWAY_KEYS",
          message: `BATON_GATEWAY_KEYS: ${Option.isNone(given) ? "is required: " : ""}` +
            "expected subject:sha256hex pairs separated by commas (a subject of 1-256 characters, no control " +
            "characters or white space; the SHA-256 of the client's key in 64 lower-case hex digits)"
        })
      )
    )
    const repeat = firstRepeat(keys)
    if (repeat !== undefined) {
      return yield* new GatewayConfigError({
        field: "BATON_GATEWAY_KEYS",
        message: `BATON_GATEWAY_KEYS: entry ${repeat.index + 1} is the same key as entry ${repeat.first + 1} ` +
          "(entries counted from 1): list each key once"
      })
    }
    const providers = new Map<string, Provider>()
    for (const step of settings.steps) {
      const known = providers.get(step.provider)
      if (known !== undefined) {
        if (!known.models.includes(step.model)) providers.set(step.provider, withModel(known, step.model))
      } else {
        providers.set(step.provider, environmentProvider(settings, step))
      }
    }
    const chain = settings.steps.map((step): Step => ({ provider: step.provider, model: step.model }))
    return {
      providers,
      aliases: new Map([["default", chain]]),
      keys: keysByHash(keys),
      maxBodyBytes: defaultMaxBodyBytes
    }
  })

/**
 * The chain a model name stands for: an alias's steps, or the one step of a
 * configured `provider/model`; `undefined` for anything else, a name that
 * is no valid provider name and model id included (a client's name is
 * checked here, never thrown on).
 *
 * @since 0.1.0
 */
export const resolveModel = (config: GatewayConfig, name: string): ReadonlyArray<Step> | undefined => {
  const alias = config.aliases.get(name)
  if (alias !== undefined) return alias
  const step = splitStep(name)
  if (step === undefined) return undefined
  const provider = config.providers.get(step.provider)
  return provider !== undefined && provider.models.includes(step.model) ? [step] : undefined
}

/**
 * The entry of a presented key, when it is known and not revoked.
 *
 * @since 0.1.0
 */
export const authenticate = (config: GatewayConfig, presented: string): Option.Option<Key> => {
  const key = config.keys.get(hashKey(presented))
  return key === undefined || key.revoked === true ? Option.none() : Option.some(key)
}
