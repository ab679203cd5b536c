/**
 * A real LiveKit server for tests: livekit-server (built once from the Go module proxy by
 * scripts/ensure-livekit-server.sh) on loopback, on free ports (signal, RTC over TCP and one UDP port), with
 * our own key pair, no Redis (a single node). Rooms close soon after their last participant leaves, so a
 * room composite egress sees its room end within seconds.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort, freeUdpPort } from './free-port.ts';
import { startServerProcess } from './server-process.ts';

export interface LiveKitServer {
  /** ws://127.0.0.1:<port>: what clients and the egress `ws_url` take. */
  url: string;
  /** http://127.0.0.1:<port>: the server API (RoomServiceClient). */
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
  /** Kills it at once (SIGKILL), as a crash would: connections drop with no leave. stop() still cleans up. */
  kill(): void;
  /** Stops it for good. Safe to call twice. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const REPO = resolve(import.meta.dirname, '../..');
export const LIVEKIT_TEST_KEY = 'lk-test-key';
export const LIVEKIT_TEST_SECRET = 'lk-test-secret-0123456789abcdef0123456789';

let binary: string | undefined;

/** The livekit-server binary (built on first use: minutes once, instant afterwards). */
export function livekitServerBinary(): string {
  binary ??= execFileSync('bash', [join(REPO, 'scripts/ensure-livekit-server.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 20 * 60_000,
  }).trim();
  return binary;
}

export interface LiveKitServerOptions {
  /** The key pair it accepts (default LIVEKIT_TEST_KEY / LIVEKIT_TEST_SECRET); an egress service under test needs its own. */
  apiKey?: string;
  apiSecret?: string;
  emptyTimeoutSec?: number;
  departureTimeoutSec?: number;
}

/** Its RTC ports can be taken between our probe and its bind (the test process itself opens UDP sockets for WebRTC). */
const START_ATTEMPTS = 3;

export async function startLiveKitServer(options: LiveKitServerOptions = {}): Promise<LiveKitServer> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    try {
      return await startWithRtcPorts(options, await freePort(), await freeUdpPort());
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('livekit-server did not start');
}

async function startWithRtcPorts(options: LiveKitServerOptions, tcpPort: number, udpPort: number): Promise<LiveKitServer> {
  const apiKey = options.apiKey ?? LIVEKIT_TEST_KEY;
  const apiSecret = options.apiSecret ?? LIVEKIT_TEST_SECRET;
  const server = await startServerProcess({
    name: 'livekit-server',
    command: livekitServerBinary(),
    args: (port) => [
      '--bind',
      HOST,
      '--node-ip',
      HOST,
      '--config-body',
      stringify({
        port,
        bind_addresses: [HOST],
        keys: { [apiKey]: apiSecret },
        logging: { level: process.env.LIVEKIT_LOG_LEVEL ?? 'warn', json: true },
        rtc: { tcp_port: tcpPort, udp_port: udpPort, use_external_ip: false, node_ip: HOST, enable_loopback_candidate: true },
        room: { empty_timeout: options.emptyTimeoutSec ?? 10, departure_timeout: options.departureTimeoutSec ?? 2, enable_remote_unmute: true },
      }),
    ],
    ready: async (port) => {
      try {
        return (await fetch(`http://${HOST}:${port}/`)).ok;
      } catch {
        return false;
      }
    },
    readyTimeoutMs: 20_000,
  });
  return {
    url: `ws://${HOST}:${server.port}`,
    httpUrl: `http://${HOST}:${server.port}`,
    apiKey,
    apiSecret,
    kill: () => void server.child.kill('SIGKILL'),
    stop: () => server.stop(),
  };
}
