/**
 * HTTP(S) agents that connect only where url_policy allows, for the clients that send on a request's say
 * (webhooks, a request's own storage endpoint or proxy). Every new connection resolves its host once through
 * `resolveForConnect` and the socket is given exactly those checked addresses, so nothing can answer
 * differently between the check and the connection. An IP literal is checked too (Node skips `lookup` for
 * those). A refusal reaches the request as its error: the EgressError (permission_denied, naming the field).
 *
 * Through a proxy only the proxy is ours to connect to, so the proxy's host is what is checked: http targets
 * go as absolute-form requests (Node's own proxy support), https targets through a CONNECT tunnel.
 */
import { Agent as HttpAgent, type AgentOptions, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { connect as netConnect, isIP, type LookupFunction, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { EgressError } from './errors.ts';
import { pinnedLookup, resolveForConnect, type HostCheckOptions, type UrlPolicy } from './url-policy.ts';

/** What a connection is checked against, and the request field it is reported under. */
export interface ConnectGuard {
  /** e.g. `webhooks[0].url`, `s3.endpoint`. */
  field: string;
  policy: UrlPolicy;
  /** exemptHosts: operator-configured hosts (only the always-denied apply to them). */
  options?: HostCheckOptions;
}

/** How long a proxy may take to open a CONNECT tunnel. */
const TUNNEL_TIMEOUT_MS = 30_000;

/** Resolves and checks `host` once; the lookup its socket must use. */
async function checkedLookup(host: string, guard: ConnectGuard): Promise<LookupFunction> {
  return pinnedLookup(await resolveForConnect(host, guard.field, guard.policy, guard.options));
}

const hostOf = (options: ClientRequestArgs): string => options.host ?? options.hostname ?? 'localhost';

type Callback = (err: Error | null, stream: Duplex) => void;

/** Runs `create` and hands its socket (or its error) to the agent's callback. */
function deliver(create: () => Promise<Duplex>, callback: Callback | undefined): undefined {
  if (!callback) throw new Error('a guarded agent creates its sockets asynchronously: it needs the callback');
  create().then(
    (socket) => callback(null, socket),
    (err: Error) => callback(err, undefined as unknown as Duplex),
  );
  return undefined;
}

/** The agent's own connection (`create`), given a lookup that answers only with the target's checked addresses. */
function connectChecked(options: ClientRequestArgs, guard: ConnectGuard, create: (options: ClientRequestArgs) => Duplex, callback: Callback | undefined): undefined {
  return deliver(async () => create({ ...options, lookup: await checkedLookup(hostOf(options), guard) } as ClientRequestArgs), callback);
}

/** Plain HTTP, straight to the target. */
export class GuardedHttpAgent extends HttpAgent {
  readonly #guard: ConnectGuard;

  constructor(guard: ConnectGuard, options: AgentOptions = {}) {
    super(options);
    this.#guard = guard;
  }

  override createConnection(options: ClientRequestArgs, callback?: Callback): Duplex | null | undefined {
    return connectChecked(options, this.#guard, (checked) => super.createConnection(checked)!, callback);
  }
}

/** HTTPS, straight to the target; TLS verifies the name the URL gave (servername is left to the agent). */
export class GuardedHttpsAgent extends HttpsAgent {
  readonly #guard: ConnectGuard;

  constructor(guard: ConnectGuard, options: HttpsAgentOptions = {}) {
    super(options);
    this.#guard = guard;
  }

  override createConnection(options: ClientRequestArgs, callback?: Callback): Duplex | null | undefined {
    return connectChecked(options, this.#guard, (checked) => super.createConnection(checked)!, callback);
  }
}

/** A checked connection to the proxy of `proxyUrl` (TLS for an https:// proxy). */
async function connectToProxy(proxy: URL, guard: ConnectGuard): Promise<Socket> {
  const host = proxy.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80);
  const lookup = await checkedLookup(host, guard);
  return new Promise((resolve, reject) => {
    const socket =
      proxy.protocol === 'https:'
        ? tlsConnect({ host, port, lookup, ...(isIP(host) ? {} : { servername: host }) }, () => resolve(socket))
        : netConnect({ host, port, lookup }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** `Basic …` for the proxy's userinfo, as Node and curl send it. */
function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  return `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`;
}

/** Asks the proxy for a tunnel to `authority` and waits for its 2xx; the socket then carries the tunnel. */
function openTunnel(socket: Socket, authority: string, auth: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16 * 1024) fail(new Error('proxy answered CONNECT with an oversized header'));
        return;
      }
      cleanup();
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      if (status < 200 || status > 299) {
        socket.destroy();
        reject(new Error(`proxy answered CONNECT with HTTP ${status || 'garbage'}`));
        return;
      }
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve();
    };
    const onEnd = () => fail(new Error('proxy closed the connection before the tunnel opened'));
    const onTimeout = () => fail(new Error('proxy did not open the tunnel in time'));
    const cleanup = () => {
      socket.off('data', onData).off('end', onEnd).off('error', fail).off('timeout', onTimeout);
      socket.setTimeout(0);
    };
    socket.on('data', onData).once('end', onEnd).once('error', fail).once('timeout', onTimeout);
    socket.setTimeout(TUNNEL_TIMEOUT_MS);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}\r\n`);
  });
}

/** `host:port` for a CONNECT line; IPv6 in brackets. */
function authorityOf(options: ClientRequestArgs, defaultPort: number): string {
  const host = hostOf(options).replace(/^\[(.*)\]$/, '$1');
  return `${isIP(host) === 6 ? `[${host}]` : host}:${options.port ?? defaultPort}`;
}

/** http targets through a forward proxy: Node writes the absolute-form request and Proxy-Authorization; the socket goes only to the checked proxy. */
export class GuardedForwardProxyAgent extends HttpAgent {
  readonly #guard: ConnectGuard;
  readonly #proxy: URL;

  constructor(proxyUrl: string, guard: ConnectGuard, options: AgentOptions = {}) {
    super({ ...options, proxyEnv: { HTTP_PROXY: proxyUrl } });
    this.#guard = guard;
    this.#proxy = new URL(proxyUrl);
  }

  override createConnection(_options: ClientRequestArgs, callback?: Callback): Duplex | null | undefined {
    return deliver(() => connectToProxy(this.#proxy, this.#guard), callback);
  }
}

/** https targets through a proxy: a CONNECT tunnel over the checked connection to the proxy, TLS to the target inside it. */
export class GuardedTunnelAgent extends HttpsAgent {
  readonly #guard: ConnectGuard;
  readonly #proxy: URL;

  constructor(proxyUrl: string, guard: ConnectGuard, options: HttpsAgentOptions = {}) {
    super(options);
    this.#guard = guard;
    this.#proxy = new URL(proxyUrl);
  }

  override createConnection(options: ClientRequestArgs, callback?: Callback): Duplex | null | undefined {
    return deliver(async () => {
      const socket = await connectToProxy(this.#proxy, this.#guard);
      await openTunnel(socket, authorityOf(options, 443), proxyAuthorization(this.#proxy));
      return super.createConnection({ ...options, socket } as ClientRequestArgs)!;
    }, callback);
  }
}

/**
 * The url_policy refusal behind an error, if that is what it is: SDKs wrap socket errors (`cause`,
 * AggregateError) or copy their `code` (node-fetch), so the chain is followed and the code recognised.
 */
export function policyRefusal(err: unknown): Error | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e) || seen.size > 16) continue;
    seen.add(e);
    if (e instanceof EgressError ? e.code === 'EGR_ERR_PERMISSION_DENIED' : (e as { code?: unknown }).code === 'EGR_ERR_PERMISSION_DENIED') return e as Error;
    queue.push((e as { cause?: unknown }).cause);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return undefined;
}
