/**
 * `baton check [--ping]`: validates the configuration (exit 2 with the
 * variable to fix when it cannot work, a usage ledger URL no driver takes,
 * a `REDIS_URL` that is no Redis URL and an `LLM_PRICES` provider that is
 * neither hosted nor in the chain included, as `serve` without `--config`
 * refuses them), opens the stores `generate` and `serve` open without
 * writing to them (the usage ledger, read only: one that cannot be reached,
 * or that is no ledger `generate` could use, is refused with `generate`'s
 * line; Redis, connected to and closed: one that cannot be reached is
 * refused with `serve`'s line), and prints the effective provider chain,
 * limits and the ledger (its URL without password, and what is there); `--ping`
 * makes one tiny call per step of the chain (its provider and model, an
 * OpenAI-compatible endpoint included; 5 tokens, with `reasoning: "none"`
 * so that a model that can stop thinking does not spend them thinking; one
 * that always thinks may answer empty, which counts as an answer) and prints
 * provider, model, latency and outcome (`ok` or the error's tag), then one
 * line per failed ping with the reason: the provider's message, as
 * `generate` shows it (scrubbed of the key, cut at 400 characters).
 *
 * @since 0.1.0
 */
import * as LlmConfig from "@baton/core/LlmConfig"
import * as LlmProvider from "@baton/core/LlmProvider"
import * as LlmRequest from "@baton/core/LlmRequest"
import { excerpt } from "@baton/core/Redact"
import * as ProviderHttpClient from "@baton/providers/ProviderHttpClient"
import * as Providers from "@baton/providers/Providers"
import { Cause, Clock, Context, Effect, Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as Environment from "./internal/environment.ts"
import * as Exit from "./internal/exit.ts"
import * as Stores from "./internal/stores.ts"
import * as Table from "./internal/table.ts"

/** The attempt limit as the manager applies it: longer for a model that thinks first (`LLM_ATTEMPT_TIMEOUT_MS`). */
const attemptLimit = (settings: LlmConfig.Settings): string => {
  const thinking = settings.attemptTimeoutMs +
    Math.max(0, settings.thinkingFirstTokenTimeoutMs - settings.firstTokenTimeoutMs)
  return thinking === settings.attemptTimeoutMs
    ? `${settings.attemptTimeoutMs} ms`
    : `${settings.attemptTimeoutMs} ms; ${thinking} ms for a model that thinks first, as far as the deadline ` +
      `leaves a fallback ${settings.attemptTimeoutMs} ms`
}

const describe = (settings: LlmConfig.Settings, ledger: string): string => {
  const chain = settings.steps.map((step) => `${step.provider} (${step.model})`).join(" -> ")
  const rows: ReadonlyArray<readonly [string, string]> = [
    ["chain", chain],
    ["generation", settings.generationEnabled ? "enabled" : "disabled (AI_GENERATION_ENABLED=false)"],
    ["questions per request", String(settings.maxQuestionsPerRequest)],
    ["daily limit per teacher", `${settings.dailyLimitPerTeacher} (day in ${settings.quotaTimeZone})`],
    ["request deadline", `${settings.requestTimeoutMs} ms`],
    ["attempt limit", attemptLimit(settings)],
    ["retries", `${settings.maxRetries} (from ${settings.retryBaseDelayMs} ms)`],
    ["circuit", `opens after ${settings.circuitFailureThreshold} failures for ${settings.circuitCooldownMs} ms`],
    ["quota store", Option.isSome(settings.redisUrl) ? "Redis (REDIS_URL)" : "memory"],
    ["usage ledger", ledger]
  ]
  return `Configuration OK\n${rows.map(([k, v]) => `  ${k.padEnd(24)} ${v}`).join("\n")}\n`
}

/** The provider of one chain step, as `LlmManager.layerConfig` builds it (the step's model, an endpoint's settings). */
const providerOf = (step: LlmConfig.ChainStep) =>
  Layer.build(Providers.layerFromConfig(step.kind)).pipe(
    Effect.map((context) => Context.get(context, LlmProvider.LlmProvider)),
    Effect.provideService(LlmConfig.CurrentStep, step)
  )

/** How long a ping waits for its answer. */
const pingTimeout = "20 seconds"

/** One ping's row of the table, and why it failed (one line: the provider's scrubbed message, cut), if it did. */
interface Ping {
  readonly row: readonly [provider: string, model: string, latencyMs: number, outcome: string]
  readonly failure?: string | undefined
}

const pingOne = (step: LlmConfig.ChainStep) =>
  Effect.gen(function*() {
    const provider = yield* providerOf(step)
    const request = yield* LlmRequest.make({ prompt: "Reply with: pong", options: { maxTokens: 5, reasoning: "none" } })
    const started = yield* Clock.currentTimeMillis
    const failure = yield* provider.generate(request).pipe(
      Effect.timeout(pingTimeout),
      Effect.match({
        onSuccess: () => undefined,
        onFailure: (error) => ({
          tag: error._tag,
          message: Cause.isTimeoutError(error) ? `no answer within ${pingTimeout}` : excerpt(error.message, 400)
        })
      })
    )
    const latency = Math.round((yield* Clock.currentTimeMillis) - started)
    return {
      row: [step.provider, provider.model, latency, failure?.tag ?? "ok"],
      failure: failure && `${step.provider} ${provider.model}: ${failure.message}`
    } satisfies Ping
  })

/** The table of the pings, then one line per failed ping saying why. */
const renderPings = (pings: ReadonlyArray<Ping>): string => {
  const failures = pings.flatMap((ping) => ping.failure === undefined ? [] : [ping.failure])
  const table = Table.render(["provider", "model", "latency ms", "outcome"], pings.map((ping) => ping.row))
  return failures.length === 0 ? `${table}\n` : `${table}\n\n${failures.join("\n")}\n`
}

const check = (flags: { readonly ping: boolean }) =>
  Effect.gen(function*() {
    const settings = yield* LlmConfig.LlmConfig
    process.stdout.write(describe(settings, yield* Stores.serving(settings)))
    if (!flags.ping) return
    const pings = yield* Effect.forEach(settings.steps, pingOne)
    process.stdout.write(renderPings(pings))
    if (pings.some((ping) => ping.failure !== undefined)) {
      yield* Exit.fail(Exit.failed, "a provider did not answer the ping")
    }
  }).pipe(
    Effect.provide(
      Layer.mergeAll(LlmConfig.layerPricing, ProviderHttpClient.layer).pipe(
        Layer.provideMerge(LlmConfig.layer),
        Layer.provide(Environment.fromProcess())
      )
    ),
    Effect.scoped,
    Effect.catch((error) => Exit.fail(Exit.configuration, Exit.startProblem(error))),
    Exit.logsOnStderr
  )

/**
 * The `check` command.
 *
 * @since 0.1.0
 */
export const command = Command.make("check", {
  ping: Flag.Boolean("ping").pipe(Flag.withDefault(false), Flag.withDescription("one tiny call per provider"))
}, check).pipe(Command.withDescription("Validate the configuration and print the provider chain and limits"))
