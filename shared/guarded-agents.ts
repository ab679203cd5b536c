/**
 * HTTP(S) agents that connect only where url_policy allows, for the clients that send on a request's say
 * (webhooks, a request's own storage endpoint or proxy). Every new connection resolves its host once through
 * `resolveForConnect` and the socket is given exactly those checked addresses, so nothing can answer
 * differently between the check and the connection. An IP literal is checked too (Node skips `lookup` for
 * those). A refusal reaches the request as its error: the EgressError (permission_denied, naming the field).
 *
 * Through a proxy only the proxy is ours to connect to, so the proxy's host is what is checked: http targets
 * go as absolute-form requests, https targets through a CONNECT tunnel. Both are done here, not by Node's own
 * proxy support (http.Agent `proxyEnv`, only from Node 24.5), so a proxy works on every Node the engines allow.
 * The forward-proxy agent also serves the operator's own proxy (no guard: connected to as configured); the
 * operator's https tunnels go through https-proxy-agent (workers/storage/s3.ts).
 *
 * Why the guarded tunnel is not https-proxy-agent: the library connects to the proxy itself, with a `lookup`
 * Node skips for an IP literal, so the pinned, checked connection would have to be wrapped around its internals;
 * and it hands a proxy's refusal of the CONNECT to the client as if the target had answered it, where a
 * request's own proxy must fail the request naming the proxy. Neither matters for the operator's proxy.
 */
import { Agent as HttpAgent, type AgentOptions, type ClientRequest, type ClientRequestArgs } from 'node:http';
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
function connectChecked(
  options: ClientRequestArgs,
  guard: ConnectGuard,
  create: (options: ClientRequestArgs) => Duplex,
  callback: Callback | undefined,
): undefined {
  return deliver(async () => create({ ...options, lookup: await checkedLookup(hostOf(options), guard) }), callback);
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

/** A connection to the proxy of `proxyUrl` (TLS for an https:// proxy), checked when there is a guard. */
async function connectToProxy(proxy: URL, guard: ConnectGuard | undefined): Promise<Socket> {
  const host = proxy.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80);
  const lookup = guard ? await checkedLookup(host, guard) : undefined;
  return new Promise((resolve, reject) => {
    const socket =
      proxy.protocol === 'https:'
        ? tlsConnect({ host, port, ...(lookup ? { lookup } : {}), ...(isIP(host) ? {} : { servername: host }) }, () => resolve(socket))
        : netConnect({ host, port, ...(lookup ? { lookup } : {}) }, () => resolve(socket));
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

/** Node's own Agent#addRequest (not in its typings): where a request meets its agent, its head not yet sent. */
const baseAddRequest = (HttpAgent.prototype as unknown as { addRequest: (this: HttpAgent, req: ClientRequest, options: ClientRequestArgs) => void })
  .addRequest;

/** What Node keeps of a request's head before it is written (internals, stable since Node 0.x). */
interface PendingHead {
  _header?: string | null;
  outputData?: { data: unknown }[];
  outputSize?: number;
}

/**
 * Turns the request into the absolute-form a forward proxy takes (`GET http://host:port/path`), with the proxy's
 * credentials. Its head is usually still unwritten; with `Expect: 100-continue` (S3 part uploads) Node stored it
 * already, so the stored head (and its queued copy) is rewritten.
 */
function toAbsoluteForm(req: ClientRequest, options: ClientRequestArgs, auth: string | undefined): void {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(req.path)) return;
  const host = hostOf(options).replace(/^\[(.*)\]$/, '$1');
  const port = Number(options.port ?? 80);
  const target = `http://${isIP(host) === 6 ? `[${host}]` : host}${port === 80 ? '' : `:${port}`}${req.path}`;
  const pending = req as unknown as PendingHead;
  const head = pending._header;
  req.path = target;
  if (!head) {
    if (auth) req.setHeader('proxy-authorization', auth);
    return;
  }
  const rewritten = head.replace(
    /^(\S+) \S+ (HTTP\/1\.[01]\r\n)/,
    (_m, method: string, version: string) => `${method} ${target} ${version}${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}`,
  );
  pending._header = rewritten;
  for (const chunk of pending.outputData ?? []) {
    if (chunk.data !== head) continue;
    chunk.data = rewritten;
    if (pending.outputSize !== undefined) pending.outputSize += rewritten.length - head.length;
  }
}

/** http targets through a forward proxy: absolute-form requests with Proxy-Authorization; the socket goes only to the (checked) proxy. */
export class GuardedForwardProxyAgent extends HttpAgent {
  readonly #guard: ConnectGuard | undefined;
  readonly #proxy: URL;

  /** `guard` undefined: the operator's own proxy, not checked. */
  constructor(proxyUrl: string, guard: ConnectGuard | undefined, options: AgentOptions = {}) {
    super(options);
    this.#guard = guard;
    this.#proxy = new URL(proxyUrl);
  }

  addRequest(req: ClientRequest, options: ClientRequestArgs): void {
    toAbsoluteForm(req, options, proxyAuthorization(this.#proxy));
    baseAddRequest.call(this, req, options);
  }

  override createConnection(_options: ClientRequestArgs, callback?: Callback): Duplex | null | undefined {
    return deliver(() => connectToProxy(this.#proxy, this.#guard), callback);
  }
}

/** https targets through a request's proxy: a CONNECT tunnel over the checked connection to the proxy, TLS to the target inside it. */
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
    if (e instanceof EgressError ? e.code === 'EGR_ERR_PERMISSION_DENIED' : (e as { code?: unknown }).code === 'EGR_ERR_PERMISSION_DENIED')
      return e as Error;
    queue.push((e as { cause?: unknown }).cause);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
  return undefined;
}
