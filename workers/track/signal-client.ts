/**
 * A subscribe-only LiveKit signalling client on the v0 `/rtc` path: protobuf `SignalRequest` /
 * `SignalResponse` (@livekit/protocol) in binary WebSocket frames (`ws`). It joins, keeps the session
 * alive with `ping_req` every `ping_interval`, hands every later message to `onMessage`, and leaves.
 * The server offers the subscriber PeerConnection (`subscriber_primary`); the recorders never make a
 * publisher PC (only test publishers do, with `publisher`).
 */
import { DisconnectReason, type JoinResponse, LeaveRequest, LeaveRequest_Action, Ping, SignalRequest, SignalResponse } from '@livekit/protocol';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { EgressError } from '../../shared/errors.ts';

/** The protocol version current servers speak (server-sdk-go `protocolversion.go`). */
const PROTOCOL_VERSION = 17;
const CONNECT_TIMEOUT_MS = 15_000;

export type SignalMessage = NonNullable<SignalResponse['message']>;
export type SignalRequestMessage = NonNullable<SignalRequest['message']>;

export interface SignalClientOptions {
  /** ws(s):// URL of the LiveKit server. */
  url: string;
  token: string;
  log: Logger;
  /** Every message after the join, in order. */
  onMessage: (message: SignalMessage) => void;
  /** The connection is gone (not called after close()). */
  onClose: (reason: string) => void;
  /** The caller publishes (test publishers) and may have a primary publisher PeerConnection. */
  publisher?: boolean;
}

export class SignalClient {
  readonly join: JoinResponse;
  private readonly ws: WebSocket;
  private readonly log: Logger;
  private readonly pingTimer: NodeJS.Timeout;
  private lastHeardAt = Date.now();
  private closed = false;

  private constructor(ws: WebSocket, join: JoinResponse, options: SignalClientOptions) {
    this.ws = ws;
    this.join = join;
    this.log = options.log;
    const intervalMs = (join.pingInterval || 5) * 1000;
    const timeoutMs = (join.pingTimeout || 15) * 1000;
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeardAt > timeoutMs) {
        this.log.warn('LiveKit signalling silent past ping_timeout');
        this.terminate(options, 'signalling connection timed out');
        return;
      }
      const now = BigInt(Date.now());
      this.send({ case: 'pingReq', value: new Ping({ timestamp: now }) });
    }, intervalMs);
    ws.on('message', (data, isBinary) => {
      this.lastHeardAt = Date.now();
      let response: SignalResponse;
      try {
        response = isBinary ? SignalResponse.fromBinary(toBytes(data)) : SignalResponse.fromJsonString(Buffer.from(toBytes(data)).toString('utf8'));
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'unreadable signalling message');
        return;
      }
      if (response.message.case) options.onMessage(response.message);
    });
    ws.on('close', (code, reason) => this.terminate(options, `signalling closed (${code}${reason.length ? ` ${String(reason)}` : ''})`));
    ws.on('error', (err) => this.terminate(options, `signalling error: ${err.message}`));
  }

  /** Connects and waits for the JoinResponse (following `alternative_url` once). */
  static async connect(options: SignalClientOptions): Promise<SignalClient> {
    const { ws, join } = await open(options.url, options.token);
    if (join.alternativeUrl) {
      ws.close();
      const moved = await open(join.alternativeUrl, options.token);
      return new SignalClient(moved.ws, moved.join, options);
    }
    if (!join.subscriberPrimary && !options.publisher) {
      ws.close();
      throw new EgressError('EGR_ERR_INTERNAL', 'the LiveKit server did not make the subscriber PeerConnection primary');
    }
    return new SignalClient(ws, join, options);
  }

  send(message: SignalRequestMessage): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(new SignalRequest({ message }).toBinary());
  }

  /** Leaves the room (CLIENT_INITIATED, DISCONNECT) and closes the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.send({ case: 'leave', value: new LeaveRequest({ reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.DISCONNECT }) });
    this.closed = true;
    clearInterval(this.pingTimer);
    await new Promise<void>((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => (this.ws.terminate(), resolve()), 2000);
      this.ws.once('close', () => (clearTimeout(timer), resolve()));
      this.ws.close();
    });
  }

  private terminate(options: SignalClientOptions, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    this.ws.terminate();
    options.onClose(reason);
  }
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/** The v0 query string (server `rtcservice.go`): no auto-subscribe, no adaptive stream, no pause. */
function rtcUrl(base: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/rtc`;
  url.protocol = url.protocol === 'https:' ? 'wss:' : url.protocol === 'http:' ? 'ws:' : url.protocol;
  const params = { auto_subscribe: '0', protocol: String(PROTOCOL_VERSION), sdk: 'node', version: '1.0.0', os: 'linux', subscriber_allow_pause: '0' };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

function open(base: string, token: string): Promise<{ ws: WebSocket; join: JoinResponse }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(rtcUrl(base), { headers: { Authorization: `Bearer ${token}` }, handshakeTimeout: CONNECT_TIMEOUT_MS });
    const timer = setTimeout(() => fail(new Error('no JoinResponse within 15 s')), CONNECT_TIMEOUT_MS);
    const fail = (err: Error) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      reject(new EgressError('EGR_ERR_UNAVAILABLE', `cannot join the LiveKit room: ${err.message}`, { cause: err }));
    };
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => fail(new Error(`HTTP ${res.statusCode}${body ? `: ${body.trim().slice(0, 200)}` : ''}`)));
    });
    ws.once('error', fail);
    ws.once('close', (code) => fail(new Error(`closed before joining (${code})`)));
    ws.once('message', (data, isBinary) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      try {
        const response = isBinary
          ? SignalResponse.fromBinary(toBytes(data))
          : SignalResponse.fromJsonString(Buffer.from(toBytes(data)).toString('utf8'));
        if (response.message.case === 'leave') throw new Error(`the server refused the join (leave reason ${response.message.value.reason})`);
        if (response.message.case !== 'join') throw new Error(`expected a JoinResponse, got ${response.message.case}`);
        resolve({ ws, join: response.message.value });
      } catch (err) {
        ws.terminate();
        reject(new EgressError('EGR_ERR_UNAVAILABLE', `cannot join the LiveKit room: ${(err as Error).message}`, { cause: err }));
      }
    });
  });
}
