/**
 * The HTTP wire of the policy proxy (policy-proxy.ts): CONNECT authorities, which headers cross it, its own
 * answers, and a tunnel's two-way splice. No decisions here.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** On the proxy's own answers: `refused` (url_policy) or `unreachable` (resolution or connection failed). */
export const POLICY_HEADER = 'x-egress-policy';
/** On an `unreachable` answer: Chromium's name for what went wrong (ERR_CONNECTION_REFUSED, …). */
export const PROXY_ERROR_HEADER = 'x-egress-proxy-error';

/** `host:port` or `[v6]:port` of a CONNECT. */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(authority);
  const port = Number(match?.[2]);
  return match && port > 0 && port < 65536 ? { host: match[1]!, port } : undefined;
}

/**
 * Headers that belong to one connection (RFC 9110 §7.6.1), and every Proxy-* header: never forwarded. Nor are
 * our own markers: only the proxy's answers may carry them.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  POLICY_HEADER,
  PROXY_ERROR_HEADER,
]);

export function withoutHopByHop(raw: readonly string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const name of raw[i + 1]!.split(',')) named.add(name.trim().toLowerCase());
  }
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(name) && !named.has(name) && !name.startsWith('proxy-')) kept.push(raw[i]!, raw[i + 1]!);
  }
  return kept;
}

/** The request's headers as the origin gets them: Host kept (added from the URL if missing), hop-by-hop and Proxy-* dropped. */
export function forwardedHeaders(raw: readonly string[], host: string): string[] {
  const kept = withoutHopByHop(raw);
  const hasHost = kept.some((name, i) => i % 2 === 0 && name.toLowerCase() === 'host');
  return hasHost ? kept : ['Host', host, ...kept];
}

export function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

export function answerRaw(socket: Duplex, status: number, reason: string, headers: Record<string, string>, text: string): void {
  if (socket.destroyed) return;
  const body = `${text}\n`;
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n${lines.join('')}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Bytes both ways until either side closes; then both are gone. */
export function splice(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  a.once('close', () => b.destroy());
  b.once('close', () => a.destroy());
}
