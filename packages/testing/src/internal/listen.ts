/**
 * Why a server could not listen, as one line naming the address and the
 * reason: `cannot listen on 127.0.0.1:8080: address in use`. Public as
 * `MockServerCommand.listenFailure`, the line of `baton-mock-server`,
 * `baton mock-server` and `baton serve`.
 *
 * @internal
 */

const reasons: Readonly<Record<string, string>> = {
  EADDRINUSE: "address in use",
  EACCES: "permission denied",
  EADDRNOTAVAIL: "address not available on this machine",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  ERR_SOCKET_BAD_PORT: "a port is 0 to 65535"
}

const field = (error: unknown, name: string): unknown =>
  typeof error === "object" && error !== null && name in error ? (error as Record<string, unknown>)[name] : undefined

const text = (value: unknown): string | undefined =>
  typeof value === "string" && value.length > 0 ? value : typeof value === "number" ? String(value) : undefined

/**
 * The line for `cause`, the error of Node's `listen` (its `code`, `address`
 * and `port`), with `requested` naming the address when the error does not
 * (a host that does not resolve).
 *
 * @internal
 */
export const failure = (
  cause: unknown,
  requested: { readonly host?: string | undefined; readonly port?: number | undefined } = {}
): string => {
  const host = text(field(cause, "address")) ?? requested.host ?? text(field(cause, "hostname"))
  const port = text(field(cause, "port")) ?? text(requested.port)
  const where = host === undefined
    ? port === undefined ? "" : ` on port ${port}`
    : ` on ${host.includes(":") ? `[${host}]` : host}${port === undefined ? "" : `:${port}`}`
  const code = text(field(cause, "code"))
  const reason = (code === undefined ? undefined : reasons[code]) ?? text(field(cause, "message")) ?? String(cause)
  return `cannot listen${where}: ${reason}`
}
