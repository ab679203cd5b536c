/**
 * Connects a WebSocket output (track egress `websocket_url`, v2 WebSocket streams). Its host is checked
 * against url_policy first (every address it resolves to, or the address it is), and the socket connects
 * only to those checked addresses (a pinned `lookup`; TLS still names the host), so nothing can answer
 * differently between the check and the connection. No redirect is followed.
 */
import WebSocket from 'ws';
import { EgressError } from '../../shared/errors.ts';
import { redactStreamUrl } from '../../shared/redact.ts';
import type { Resolver, UrlPolicy } from '../../shared/url-policy.ts';
import { pinnedLookup } from '../../shared/url-policy.ts';
import { pinDestination } from '../streams/pinned-destination.ts';

const CONNECT_TIMEOUT_MS = 10_000;
export const WEBSOCKET_URL_FIELD = 'websocket_url';

export async function dialWebSocket(url: string, policy: UrlPolicy, resolve?: Resolver): Promise<WebSocket> {
  let addresses: string[];
  try {
    addresses = (await pinDestination(url, policy, resolve, WEBSOCKET_URL_FIELD)).addresses;
  } catch (err) {
    if (err instanceof EgressError) throw err;
    throw new EgressError('EGR_ERR_INVALID_ARGUMENT', `cannot connect to the WebSocket ${redactStreamUrl(url)}: ${(err as Error).message}`);
  }
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      headers: { 'Content-Type': 'audio/x-raw' },
      handshakeTimeout: CONNECT_TIMEOUT_MS,
      followRedirects: false,
      lookup: pinnedLookup(addresses),
    });
    const fail = (why: string) => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.terminate();
      reject(new EgressError('EGR_ERR_INVALID_ARGUMENT', `cannot connect to the WebSocket ${redactStreamUrl(url)}: ${why}`));
    };
    socket.once('unexpected-response', (_req, res) => fail(`HTTP ${res.statusCode}`));
    socket.once('error', (err) => fail(err.message));
    socket.once('open', () => {
      socket.removeAllListeners();
      // LiveKit answers the receiver's pings with "pong"; `ws` answers them itself.
      resolve(socket);
    });
  });
}
