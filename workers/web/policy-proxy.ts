/**
 * The policy proxy: url_policy on every connection the recording browser makes. One small HTTP forward proxy
 * of ours per Chromium (127.0.0.1, an ephemeral port, in the worker process), and Chromium launched to send
 * everything through it (chromium.ts: --proxy-server, --proxy-bypass-list=<-loopback> so that localhost,
 * 127/8, [::1] and link-local (the metadata service) are not sent around it, --disable-quic). Navigations,
 * redirect hops, frames, subresources, fetch/XHR, beacons, EventSource, service workers, prefetches and
 * WebSockets all arrive here: plain http as absolute-form requests, everything else (https, wss, and ws://,
 * which Chromium also tunnels) as CONNECT. WebRTC's TCP goes through CONNECT as well; its UDP does not use a
 * proxy at all (url_policy.webrtc_udp: false makes Chromium send none).
 *
 * Why a proxy and not CDP request interception (Fetch.requestPaused): interception decides on requests, not
 * on connections. It does not see WebSocket handshakes after the fact of the connection, misses requests of
 * service workers, of out-of-process iframes and popups unless every new target is attached and paused in
 * time, and does not cover prefetches or WebRTC's TCP. And for what it does see it cannot pin the address: it
 * approves a name, then Chromium resolves the name again and connects wherever DNS points now (DNS
 * rebinding). Behind a proxy Chromium never resolves a name of a page: the proxy resolves it once
 * (resolveForConnect), checks every address, and connects to one of exactly those.
 *
 * Refusals: an HTTP request is answered 403 with `X-Egress-Policy: refused`; a refused CONNECT gets a 403
 * too, which Chromium reports as net::ERR_TUNNEL_CONNECTION_FAILED. Each is logged (warn, on the egress's
 * log) with the host, port and why, never the path or query (they may hold tokens). The latest outcome per
 * host:port is kept, so the recorder can tell why a page load failed (refused-navigation.ts decides whether
 * it was the main document, which ends the egress). A proxy with no rules (a warm station before an egress
 * takes it) refuses everything. Redirects are not followed here: Chromium follows them, and each hop comes
 * back through the proxy.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { EgressError } from '../../shared/errors.ts';
import { normalizeHost } from '../../shared/address-forms.ts';
import { resolveForConnect, UnresolvedHostError, type Resolver, type UrlPolicy } from '../../shared/url-policy.ts';
import { answer, answerRaw, forwardedHeaders, parseAuthority, POLICY_HEADER, PROXY_ERROR_HEADER, splice, withoutHopByHop } from './proxy-wire.ts';

const CONNECT_TIMEOUT_MS = 30_000;
/** Chromium takes headers up to 256 KiB; Node's default (16 KiB) would break pages with large cookies. */
const MAX_HEADER_BYTES = 256 * 1024;
/** host:port outcomes remembered (the recorder asks about the page load that just failed). */
const OUTCOMES_KEPT = 256;
/** A page that hammers a refused host must not flood the log: later refusals go to debug. */
const REFUSALS_LOGGED_AT_WARN = 100;

const noop = () => undefined;

/** Who may be reached besides what url_policy allows, and what a refusal is reported against. */
export interface BrowserAccess {
  /** The request field a refused page load is named after: `url`, `custom_base_url`, `template_base`. */
  field: string;
  /** Operator hosts reachable on every port whatever allow / deny / deny_private say (the LiveKit server of ws_url). */
  exemptHosts: readonly string[];
  /** Operator origins, `host:port`, reachable the same way (the built-in templates). */
  exemptOrigins: readonly string[];
}

export interface ProxyRules extends BrowserAccess {
  policy: UrlPolicy;
  /** Refusals are logged here (the egress's log, which carries its egressId). */
  log: Logger;
}

export type ProxyOutcome = { refused: EgressError } | { unreachable: string };

export interface PolicyProxy {
  /** `http://127.0.0.1:<port>`, for --proxy-server. */
  readonly url: string;
  /** From now on, connections are decided by `rules`: a warm station's proxy refuses everything until then. */
  apply(rules: ProxyRules): void;
  /** What became of the latest connection to the host and port of `url` (any scheme), if it failed. */
  outcomeFor(url: string): ProxyOutcome | undefined;
  /** Stops listening and ends every connection, open tunnels included. Idempotent; never hangs. */
  close(): Promise<void>;
}

export interface PolicyProxyOptions {
  /** Absent: everything is refused until apply(). */
  rules?: ProxyRules;
  /** Used while there are no rules. */
  log: Logger;
  /** Name resolution (tests inject a DNS server's answers); the system's by default. */
  resolve?: Resolver;
}

/** A connection the proxy will not make, or could not. */
class NotReached extends Error {
  readonly status: 403 | 502;
  readonly outcome: ProxyOutcome;
  constructor(outcome: ProxyOutcome) {
    super('refused' in outcome ? outcome.refused.message : outcome.unreachable);
    this.status = 'refused' in outcome ? 403 : 502;
    this.outcome = outcome;
  }
}

const NET_ERRORS: ReadonlyMap<string, string> = new Map([
  ['ECONNREFUSED', 'ERR_CONNECTION_REFUSED'],
  ['ECONNRESET', 'ERR_CONNECTION_RESET'],
  ['ETIMEDOUT', 'ERR_CONNECTION_TIMED_OUT'],
  ['EHOSTUNREACH', 'ERR_ADDRESS_UNREACHABLE'],
  ['ENETUNREACH', 'ERR_ADDRESS_UNREACHABLE'],
  ['EADDRNOTAVAIL', 'ERR_ADDRESS_INVALID'],
]);

/** By a page URL's scheme: a Map, since the scheme is the page's to choose. */
const DEFAULT_PORTS: ReadonlyMap<string, number> = new Map([
  ['http:', 80],
  ['ws:', 80],
  ['https:', 443],
  ['wss:', 443],
]);

export async function startPolicyProxy(options: PolicyProxyOptions): Promise<PolicyProxy> {
  const proxy = new ProxyServer(options);
  await proxy.listen();
  return proxy;
}

class ProxyServer implements PolicyProxy {
  readonly #server = createServer({ requestTimeout: 0, maxHeaderSize: MAX_HEADER_BYTES });
  readonly #sockets = new Set<Duplex>();
  readonly #outcomes = new Map<string, ProxyOutcome>();
  readonly #idleLog: Logger;
  readonly #resolve: Resolver | undefined;
  #rules: ProxyRules | undefined;
  #refusals = 0;
  #url = '';
  #closed: Promise<void> | undefined;

  constructor(options: PolicyProxyOptions) {
    this.#idleLog = options.log;
    this.#resolve = options.resolve;
    if (options.rules) this.apply(options.rules);
    this.#server.on('connection', (socket: Socket) => this.#track(socket));
    // Whatever a page or a site sends, a failure ends that one connection, never the worker: each handler runs
    // on its own (the server does not wait for it) and its rejection is caught here.
    this.#server.on('request', (req, res) => {
      void this.#forward(req, res).catch((err: Error) => this.#broken(err, res.socket));
    });
    this.#server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
      void this.#tunnel(req, client, head).catch((err: Error) => this.#broken(err, client));
    });
    this.#server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
      void this.#upgrade(req, client, head).catch((err: Error) => this.#broken(err, client));
    });
    this.#server.on('clientError', (_err, socket: Duplex) => socket.destroy());
  }

  get url(): string {
    return this.#url;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  apply(rules: ProxyRules): void {
    this.#rules = {
      ...rules,
      exemptHosts: rules.exemptHosts.map(normalizeHost),
      exemptOrigins: rules.exemptOrigins.map((origin) => {
        const at = origin.lastIndexOf(':');
        return `${normalizeHost(origin.slice(0, at))}:${origin.slice(at + 1)}`;
      }),
    };
  }

  outcomeFor(url: string): ProxyOutcome | undefined {
    if (!URL.canParse(url)) return undefined;
    const parsed = new URL(url);
    const port = Number(parsed.port) || DEFAULT_PORTS.get(parsed.protocol);
    return port ? this.#outcomes.get(`${normalizeHost(parsed.hostname)}:${port}`) : undefined;
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closed;
  }

  /** Absolute-form `GET http://host/path`: forwarded to a checked address, the answer streamed back as it comes. */
  async #forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = URL.canParse(req.url ?? '') ? new URL(req.url!) : undefined;
    if (target?.protocol !== 'http:') return answer(res, 400, 'a proxy: absolute-form http requests and CONNECT only');
    let upstream: Socket;
    try {
      upstream = await this.#reach(target.hostname, Number(target.port) || 80, req.method ?? 'GET');
    } catch (err) {
      return answerNotReached(res, err);
    }
    if (res.destroyed) return void upstream.destroy();
    const out = httpRequest({
      createConnection: () => upstream,
      method: req.method,
      path: `${target.pathname}${target.search}`,
      headers: forwardedHeaders(req.rawHeaders, target.host),
      setHost: false,
      maxHeaderSize: MAX_HEADER_BYTES,
    });
    out.on('response', (answer) => {
      answer.on('error', () => res.destroy());
      try {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, withoutHopByHop(answer.rawHeaders));
      } catch (err) {
        // A header Node will not write (the site's answer is malformed): this one answer fails.
        this.#broken(err as Error, res.socket);
        return void answer.destroy();
      }
      answer.pipe(res);
    });
    out.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else answer(res, 502, `upstream: ${err.message}`, { [POLICY_HEADER]: 'unreachable', [PROXY_ERROR_HEADER]: netError(err) });
    });
    // One request per upstream connection: it ends with the answer, or when Chromium gives up on it.
    res.on('close', () => {
      out.destroy();
      upstream.destroy();
    });
    req.pipe(out);
  }

  /** CONNECT host:port (https, wss, ws, WebRTC over TCP): a tunnel to a checked address. */
  async #tunnel(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    this.#track(client);
    const target = parseAuthority(req.url ?? '');
    if (!target) return answerRaw(client, 400, 'Bad Request', {}, 'CONNECT takes host:port');
    let upstream: Socket;
    try {
      upstream = await this.#reach(target.host, target.port, 'CONNECT');
    } catch (err) {
      return answerNotReachedRaw(client, err);
    }
    if (client.destroyed) return void upstream.destroy();
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    splice(client, upstream);
  }

  /** An absolute-form request with Upgrade (a WebSocket not tunnelled): the handshake forwarded, then the bytes. */
  async #upgrade(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    this.#track(client);
    const target = URL.canParse(req.url ?? '') ? new URL(req.url!) : undefined;
    if (target?.protocol !== 'http:' && target?.protocol !== 'ws:') return answerRaw(client, 400, 'Bad Request', {}, 'absolute-form requests only');
    let upstream: Socket;
    try {
      upstream = await this.#reach(target.hostname, Number(target.port) || 80, `${req.method} (upgrade)`);
    } catch (err) {
      return answerNotReachedRaw(client, err);
    }
    if (client.destroyed) return void upstream.destroy();
    const headers = req.rawHeaders.flatMap((value, i, raw) =>
      i % 2 === 0 && !value.toLowerCase().startsWith('proxy-') ? [`${value}: ${raw[i + 1]}\r\n`] : [],
    );
    upstream.write(`${req.method} ${target.pathname}${target.search} HTTP/1.1\r\n${headers.join('')}\r\n`);
    if (head.length > 0) upstream.write(head);
    splice(client, upstream);
  }

  /**
   * The one decision: resolves the host once through url_policy (every address checked) and connects to one
   * of those addresses, never to the name. Throws NotReached (refused, or could not be reached).
   */
  async #reach(rawHost: string, port: number, via: string): Promise<Socket> {
    const host = normalizeHost(rawHost);
    const rules = this.#rules;
    let addresses: string[];
    try {
      if (!rules) throw new EgressError('EGR_ERR_PERMISSION_DENIED', `${host} is not allowed (this browser serves no egress yet)`);
      const exempt = rules.exemptHosts.includes(host) || rules.exemptOrigins.includes(`${host}:${port}`);
      addresses = await resolveForConnect(host, rules.field, rules.policy, {
        ...(this.#resolve ? { resolve: this.#resolve } : {}),
        exemptHosts: exempt ? [host] : [],
      });
    } catch (err) {
      if (err instanceof EgressError) this.#refused(host, port, via, err);
      else this.#remember(host, port, { unreachable: err instanceof UnresolvedHostError ? 'ERR_NAME_NOT_RESOLVED' : 'ERR_FAILED' });
      throw new NotReached(this.#outcomes.get(`${host}:${port}`)!);
    }
    try {
      const socket = await connectToOneOf(addresses, port, (s) => this.#track(s));
      this.#outcomes.delete(`${host}:${port}`);
      return socket;
    } catch (err) {
      this.#remember(host, port, { unreachable: netError(err as Error) });
      throw new NotReached(this.#outcomes.get(`${host}:${port}`)!);
    }
  }

  #broken(err: Error, socket: Duplex | null): void {
    (this.#rules?.log ?? this.#idleLog).debug({ err: err.message }, 'policy proxy: a connection failed');
    socket?.destroy();
  }

  #refused(host: string, port: number, via: string, error: EgressError): void {
    this.#remember(host, port, { refused: error });
    const log = this.#rules?.log;
    if (!log) return this.#idleLog.debug({ host, port, via }, 'policy proxy: refused a connection of a browser that serves no egress yet');
    this.#refusals++;
    const level = this.#refusals <= REFUSALS_LOGGED_AT_WARN ? 'warn' : 'debug';
    log[level]({ host, port, via, reason: error.message }, 'url_policy refused a connection of the recording browser');
    if (this.#refusals === REFUSALS_LOGGED_AT_WARN) log.warn(`${REFUSALS_LOGGED_AT_WARN} refusals; further ones are logged at debug`);
  }

  #remember(host: string, port: number, outcome: ProxyOutcome): void {
    const key = `${host}:${port}`;
    this.#outcomes.delete(key);
    this.#outcomes.set(key, outcome);
    if (this.#outcomes.size > OUTCOMES_KEPT) this.#outcomes.delete(this.#outcomes.keys().next().value!);
  }

  #track(socket: Duplex): void {
    if (this.#sockets.has(socket)) return;
    socket.on('error', noop);
    if (this.#closed) return void socket.destroy();
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }
}

/** Tries the checked addresses in turn; resolves with the first connected socket. */
function connectToOneOf(addresses: readonly string[], port: number, track: (socket: Socket) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let next = 0;
    const attempt = (lastError?: Error) => {
      const address = addresses[next++];
      if (address === undefined) return reject(lastError ?? new Error('no address'));
      // An IP address: net.connect does not resolve it, so this is the address that was checked.
      const socket = connect({ host: address, port });
      track(socket);
      let settled = false;
      const failed = (err: Error) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        attempt(err);
      };
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => failed(Object.assign(new Error(`connect to ${address}:${port} timed out`), { code: 'ETIMEDOUT' })));
      socket.once('error', failed);
      // Destroyed before it connected (the proxy is closing).
      socket.once('close', () => failed(new Error(`connection to ${address}:${port} closed`)));
      socket.once('connect', () => {
        settled = true;
        socket.setTimeout(0);
        resolve(socket);
      });
    };
    attempt();
  });
}

function netError(err: Error): string {
  return NET_ERRORS.get((err as NodeJS.ErrnoException).code ?? '') ?? 'ERR_CONNECTION_FAILED';
}

function markerOf(outcome: ProxyOutcome): Record<string, string> {
  return 'refused' in outcome ? { [POLICY_HEADER]: 'refused' } : { [POLICY_HEADER]: 'unreachable', [PROXY_ERROR_HEADER]: outcome.unreachable };
}

function answerNotReached(res: ServerResponse, err: unknown): void {
  if (!(err instanceof NotReached)) return answer(res, 502, 'proxy error');
  answer(res, err.status, err.message, markerOf(err.outcome));
}

function answerNotReachedRaw(socket: Duplex, err: unknown): void {
  if (!(err instanceof NotReached)) return answerRaw(socket, 502, 'Bad Gateway', {}, 'proxy error');
  answerRaw(socket, err.status, err.status === 403 ? 'Forbidden' : 'Bad Gateway', markerOf(err.outcome), err.message);
}
