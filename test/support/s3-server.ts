/**
 * A throwaway S3 server for tests: versitygw (a real S3 gateway; posix back-end) on a free loopback port,
 * its data in a temp directory, one bucket created. Built once by scripts/ensure-test-servers.sh into the
 * cache (VERSITYGW_BIN overrides). `pause()`/`resume()` SIGSTOP/SIGCONT the process so tests can make the
 * server unresponsive mid-upload; `stop()` kills it and removes its data.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { acceptsConnections } from './free-port.ts';
import { startServerProcess } from './server-process.ts';

export interface S3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  accessKey: string;
  secret: string;
  region: string;
  /** Already created. */
  bucket: string;
  /** A plain client for checking what landed (HeadObject, GetObject). */
  client: S3Client;
  /** Kills the server and removes its data. Safe to call twice. */
  stop(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are accepted by the kernel but never answered. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

const HOST = '127.0.0.1';
const ACCESS_KEY = 'egresstestaccess';
const SECRET = 'egresstestsecret0123456789';
const REGION = 'us-east-1';
const REPO_ROOT = new URL('../../', import.meta.url).pathname;

let binary: Promise<string> | undefined;

/** The versitygw binary, installed on first use (a few minutes once; instant afterwards). */
export function versitygwBinary(): Promise<string> {
  binary ??= promisify(execFile)('bash', [join(REPO_ROOT, 'scripts/ensure-test-servers.sh')], { maxBuffer: 1 << 20, timeout: 10 * 60_000 }).then(
    ({ stdout }) => stdout.trim().split('\n').at(-1)!,
  );
  return binary;
}

export async function startS3Server(bucket = 'egress-test'): Promise<S3Server> {
  const server = await startServerProcess({
    name: 'versitygw',
    command: await versitygwBinary(),
    prepare: async (dataDir) => void (await Promise.all([mkdir(join(dataDir, 'root')), mkdir(join(dataDir, 'meta'))])),
    args: (port, dataDir) => [
      '--access',
      ACCESS_KEY,
      '--secret',
      SECRET,
      '--region',
      REGION,
      '--port',
      `${HOST}:${port}`,
      '--quiet',
      'posix',
      '--sidecar',
      join(dataDir, 'meta'),
      join(dataDir, 'root'),
    ],
    ready: (port) => acceptsConnections(port, HOST),
    readyTimeoutMs: 10_000,
  });
  const endpoint = `http://${HOST}:${server.port}`;
  const client = new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET } });
  const stop = async () => {
    client.destroy();
    await server.stop();
  };
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    accessKey: ACCESS_KEY,
    secret: SECRET,
    region: REGION,
    bucket,
    client,
    stop,
    pause: async () => server.suspend(),
    resume: async () => server.resume(),
  };
}
