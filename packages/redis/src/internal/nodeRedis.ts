/**
 * The `Redis` and `NodeRedis` services of `@effect/platform-node`'s
 * `NodeRedis.layer`, over a node-redis client whose connection attempts and
 * close are bounded.
 *
 * node-redis's `connectTimeout` bounds the TCP connect only: `connect()` then
 * sends its handshake (`CLIENT SETINFO`, and `AUTH`, `SELECT` as the URL
 * asks) and waits for the replies without bound, and `close()` waits for
 * them too (and, once the socket is gone, for data that never comes).
 * Against a paused Redis (SIGSTOP) or a proxy that accepts the connection
 * and never answers, `NodeRedis.layer` therefore never builds, and
 * interrupting its build never ends. Here each attempt (the client's, and
 * those of the connections behind `reserve` and `subscribe`), TCP and
 * handshake, must be complete within `connectTimeout`; a client whose
 * attempt failed, timed out or was interrupted is destroyed (at once, or as
 * soon as its TCP connect completes), never closed.
 *
 * Once connected, the client (and a subscriber) reconnects on its own with
 * node-redis's backoff (as `NodeRedis.layer` does), each reconnection
 * bounded by `connectTimeout` too: node-redis bounds its TCP connect, and
 * waits for its handshake without bound, so a socket that connected but is
 * not ready within `connectTimeout` is dropped here; node-redis then tries
 * again after its backoff, and the client works again as soon as a
 * reconnection completes. Commands fail at once meanwhile
 * (`disableOfflineQueue`).
 *
 * Closing waits for in-flight replies at most `closeTimeout` (a `PING`
 * answered or not in time), then destroys the client, which drops its
 * socket. Never `close()`: it marks the client closed at once, so that
 * `destroy()` is refused from then on and the socket stays open until every
 * reply came (never, from a paused Redis).
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { Cause, Context, Deferred, Duration, Effect, type Scope } from "effect"
import { Redis } from "effect/persistence"
import { createClient } from "redis"

type Client = ReturnType<typeof createClient>

/** Where Redis is and the bounds of connecting and closing. */
export interface Options {
  readonly url: string
  readonly connectTimeout: Duration.Duration
  readonly closeTimeout: Duration.Duration
}

/** node-redis's wait before a reconnection (as `NodeRedis.layer`): doubling from 50 ms to 2 seconds, plus jitter. */
const backoff = (retries: number): number => Math.min(2 ** retries * 50, 2000) + Math.floor(Math.random() * 200)

const redisError = (cause: unknown) => new Redis.RedisError({ cause })

/** Rejects the client's commands and drops its socket at once (`close()` would wait for their replies). */
const destroy = (client: Client): Effect.Effect<void> =>
  Effect.sync(() => {
    if (client.isOpen) client.destroy()
  })

/**
 * Drops a client whose connection attempt failed, timed out or was
 * interrupted, and silences it: its errors from now on are the ones this
 * causes. A socket still in its TCP connect is out of reach of both
 * `destroy()` and `close()` (it would connect later and stay open), so such
 * a client is destroyed as soon as it connects, and node-redis's own
 * `connectTimeout` ends a TCP connect that never completes. Nothing else may
 * close or destroy the client after this: the releases below leave alone a
 * client that never got ready.
 */
const abandon = (client: Client, connected: boolean): Effect.Effect<void> =>
  Effect.sync(() => {
    client.removeAllListeners("error")
    // node-redis rethrows an `error` event nobody listens to
    client.on("error", () => {})
    if (!client.isOpen) return
    if (connected) {
      client.destroy()
    } else {
      client.once("connect", () => {
        if (client.isOpen) client.destroy()
      })
    }
  })

/** Why a connection attempt (the first one or a reconnection) was given up. */
const timedOut = (timeout: Duration.Duration): Cause.TimeoutError =>
  new Cause.TimeoutError(`Redis did not complete the connection (TCP and handshake) within ${Duration.format(timeout)}`)

/**
 * Runs `attempt` on `client` (its `connect()`, and what completes the
 * connection) within `timeout`; abandons the client when the attempt fails,
 * times out or is interrupted.
 */
const attemptWithin = <A>(
  client: Client,
  timeout: Duration.Duration,
  attempt: (client: Client) => Promise<A>
): Effect.Effect<A, Redis.RedisError> =>
  Effect.suspend(() => {
    let connected = false
    const onConnect = () => {
      connected = true
    }
    client.on("connect", onConnect)
    return Effect.tryPromise({ try: () => attempt(client), catch: redisError }).pipe(
      Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.fail(redisError(timedOut(timeout))) }),
      Effect.onError(() => abandon(client, connected)),
      Effect.ensuring(Effect.sync(() => client.off("connect", onConnect)))
    )
  })

/**
 * Drops the socket of a reconnection whose handshake hangs and fails the
 * handshake's commands with `cause`, keeping the client: node-redis's
 * reconnection then finds no socket and tries again after its backoff.
 * The client reaches its socket only through `_ejectSocket`, which detaches
 * the client's listeners (`_insertSocket` attaches them again); the
 * socket's `destroySocket` drops it silently, so its `error` is what makes
 * the client fail the commands waiting on it, as on any socket error. When
 * one of them fails the handshake (`AUTH`, `SELECT`, a resubscription),
 * node-redis also reports a `TypeError` (it destroys the socket already
 * gone) and retries all the same.
 */
const dropSocket = (client: Client, cause: Error): void => {
  // internal to node-redis (5.12): a version without them leaves the handshake unbounded rather than throw in a timer
  if (typeof client._ejectSocket !== "function" || typeof client._insertSocket !== "function") return
  const socket = client._ejectSocket()
  client._insertSocket(socket)
  if (typeof socket.destroySocket !== "function") return
  socket.destroySocket()
  socket.emit("error", cause)
}

/**
 * Bounds by `timeout` the handshake of each reconnection of `client`
 * (node-redis's `connectTimeout` bounds its TCP connect): a socket not
 * ready `timeout` after it connected is dropped (`dropSocket`). The timer
 * runs only from a socket's `connect` to its `ready`, `error` (node-redis
 * retries on its own) or `end`, so a ready connection is never dropped; the
 * scope's close clears it.
 */
const boundReconnections = (client: Client, timeout: Duration.Duration): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const stop = () => {
        clearTimeout(timer)
      }
      const start = () => {
        stop()
        timer = setTimeout(() => {
          dropSocket(client, timedOut(timeout))
        }, Duration.toMillis(timeout))
      }
      client.on("connect", start).on("ready", stop).on("error", stop).on("end", stop)
      return () => {
        stop()
        client.off("connect", start).off("ready", stop).off("error", stop).off("end", stop)
      }
    }),
    (release) => Effect.sync(release)
  )

/**
 * Logs the first error of an outage as a warning, and not the errors of the
 * reconnection attempts that follow it (one every 2 seconds at most, for as
 * long as Redis is down): they are counted, and their number logged once the
 * client is ready again, so the next outage is warned of again. Before the
 * client was first ready an error is no outage but the connection failing,
 * which `connect` reports: not logged.
 */
const warnOncePerOutage = (client: Client, what: string, runSync: (effect: Effect.Effect<void>) => void): void => {
  let connected = false
  let errors = 0
  client.on("error", (cause) => {
    if (!connected) return
    errors++
    if (errors === 1) {
      runSync(Effect.logWarning(`${what} error; reconnecting (further errors are counted until then)`, cause))
    }
  })
  client.on("ready", () => {
    connected = true
    if (errors > 0) runSync(Effect.logInfo(`${what} connected again after ${errors} errors`))
    errors = 0
  })
}

const sendWith = (client: Client) => <A = unknown>(command: string, ...args: ReadonlyArray<string>) =>
  Effect.tryPromise({
    // the reply's type is the caller's to state, as with every `Redis`
    try: () => client.sendCommand<A>([command, ...args]),
    catch: redisError
  })

/**
 * Destroys `client` once its in-flight replies are in, or after `timeout`:
 * sends a `PING`, whose reply comes only after every earlier one, and
 * destroys the client when it answers, fails or times out (not `close()`,
 * see the header).
 */
const closeWithin = (client: Client, timeout: Duration.Duration): Effect.Effect<void> =>
  sendWith(client)("PING").pipe(
    Effect.timeout(timeout),
    Effect.ignore,
    Effect.andThen(destroy(client))
  )

/**
 * Connects within `connectTimeout` and provides `Redis` and `NodeRedis`;
 * the client is closed within `closeTimeout` when the scope closes.
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const { closeTimeout, connectTimeout, url } = options
  let ready = false
  const socket = {
    connectTimeout: Duration.toMillis(connectTimeout),
    // the first connection fails on its first error; later ones are retried
    reconnectStrategy: (retries: number, cause: Error) => ready ? backoff(retries) : cause
  }
  const client = yield* Effect.acquireRelease(
    // no node-redis command timeout: on a command already written it corrupts the reply queue (5.12);
    // `RedisConnection.bound` times commands out instead and leaves their late replies to be read and dropped
    Effect.sync(() => createClient({ url, disableOfflineQueue: true, socket })),
    // a client that never got ready is its failed attempt's to drop (see `abandon`)
    (client) => ready ? closeWithin(client, closeTimeout) : Effect.void
  )
  client.once("ready", () => {
    ready = true
  })
  // node-redis rethrows an `error` event nobody listens to, which would crash the process
  const runSync = Effect.runSyncWith(yield* Effect.context())
  warnOncePerOutage(client, "Redis client", runSync)
  yield* attemptWithin(client, connectTimeout, (client) => client.connect())
  yield* boundReconnections(client, connectTimeout)

  const redis = yield* Redis.make({
    send: sendWith(client),
    // reserved connections do not reconnect: a dropped socket fails the command in flight
    connect: Effect.sync(() => client.duplicate({ socket: { ...socket, reconnectStrategy: false } })).pipe(
      Effect.tap((connection) =>
        Effect.sync(() => {
          connection.on("error", (cause) => {
            runSync(Effect.logWarning("Redis reserved connection error", cause))
          })
        })
      ),
      Effect.flatMap((connection) => attemptWithin(connection, connectTimeout, (connection) => connection.connect())),
      Effect.map((connection) => ({ send: sendWith(connection), close: destroy(connection) }))
    ),
    subscribe: Effect.fnUntraced(function*(channel, onMessage) {
      // fails when the subscriber's connection is lost for good
      const terminal = yield* Deferred.make<never, Redis.RedisError>()
      let subscribed = false
      const subscriber = yield* Effect.acquireRelease(
        Effect.sync(() =>
          client.duplicate({
            socket: { ...socket, reconnectStrategy: (retries, cause) => subscribed ? backoff(retries) : cause }
          })
        ),
        (subscriber) => subscribed ? destroy(subscriber) : Effect.void
      )
      subscriber.once("ready", () => {
        subscribed = true
      })
      warnOncePerOutage(subscriber, "Redis subscriber", runSync)
      subscriber.on("error", (cause) => {
        if (!subscriber.isOpen) runSync(Deferred.fail(terminal, redisError(cause)))
      })
      yield* attemptWithin(subscriber, connectTimeout, async (subscriber) => {
        await subscriber.connect()
        await subscriber.subscribe(channel, (message, channel) => {
          onMessage({ channel, message })
        })
      })
      yield* boundReconnections(subscriber, connectTimeout)
      return Deferred.await(terminal)
    })
  })

  const nodeRedis = NodeRedis.NodeRedis.of({
    client,
    use: (f) => Effect.tryPromise({ try: () => f(client), catch: redisError })
  })
  return Context.make(NodeRedis.NodeRedis, nodeRedis).pipe(Context.add(Redis.Redis, redis))
})
