/**
 * A throwaway Azurite blob service (the npm devDependency) for the Azure back-end tests: a free loopback
 * port, data in a temp directory, gone after `stop()` (or when the test process exits). `suspend()` /
 * `resume()` freeze and thaw it (SIGSTOP, SIGCONT): connections hang, as with an unreachable server.
 * Uses Azurite's well-known development account (devstoreaccount1).
 */
import { resolve } from 'node:path';
import { acceptsConnections } from './free-port.ts';
import { startServerProcess } from './server-process.ts';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** http://127.0.0.1:<port>/devstoreaccount1: the blob service endpoint. */
  endpoint: string;
  port: number;
  accountName: string;
  accountKey: string;
  dataDir: string;
  suspend(): void;
  resume(): void;
  /** Freezes the server for `ms`, then thaws it. */
  unavailableFor(ms: number): Promise<void>;
  /** Stops it for good and removes its data. Safe to call twice. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const BIN = resolve(import.meta.dirname, '../../node_modules/azurite/dist/src/blob/main.js');

export async function startAzurite(): Promise<Azurite> {
  // The blob service's entry point run directly by node (not the .bin shell wrapper): SIGSTOP then reaches
  // the process that serves.
  const server = await startServerProcess({
    name: 'azurite',
    command: process.execPath,
    args: (port, dataDir) => [
      BIN,
      '--blobHost',
      HOST,
      '--blobPort',
      String(port),
      '--location',
      dataDir,
      '--silent',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--loose',
    ],
    ready: (port) => acceptsConnections(port, HOST),
  });
  return {
    endpoint: `http://${HOST}:${server.port}/${AZURITE_ACCOUNT}`,
    port: server.port,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    dataDir: server.dataDir,
    suspend: server.suspend,
    resume: server.resume,
    unavailableFor: server.unavailableFor,
    stop: server.stop,
  };
}
