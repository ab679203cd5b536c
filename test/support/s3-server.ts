/**
 * A throwaway S3 server for tests: versitygw (a real S3 gateway; posix back-end) on a free loopback port,
 * its data in a temp directory, one bucket created. Built once by scripts/ensure-test-servers.sh into the
 * cache (VERSITYGW_BIN overrides). `pause()`/`resume()` SIGSTOP/SIGCONT the process so tests can make the
 * server unresponsive mid-upload; `stop()` kills it and removes its data.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, acceptsConnections } from './free-port.ts';

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
const READY_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;
const REPO_ROOT = new URL('../../', import.meta.url).pathname;

let binary: Promise<string> | undefined;

/** The versitygw binary, installed on first use (a few minutes once; instant afterwards). */
export function versitygwBinary(): Promise<string> {
  binary ??= promisify(execFile)('bash', [join(REPO_ROOT, 'scripts/ensure-test-servers.sh')], { maxBuffer: 1 << 20, timeout: 10 * 60_000 }).then(({ stdout }) =>
    stdout.trim().split('\n').at(-1)!,
  );
  return binary;
}

export async function startS3Server(bucket = 'egress-test'): Promise<S3Server> {
  const bin = await versitygwBinary();
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    try {
      return await startOn(bin, await freePort(), bucket);
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError ?? new Error('versitygw did not start');
}

async function startOn(bin: string, port: number, bucket: string): Promise<S3Server> {
  const dataDir = await mkdtemp(join(tmpdir(), 'egress-s3-'));
  const root = join(dataDir, 'root');
  const sidecar = join(dataDir, 'meta');
  await Promise.all([mkdirp(root), mkdirp(sidecar)]);
  const accessKey = 'egresstestaccess';
  const secret = 'egresstestsecret0123456789';
  const region = 'us-east-1';
  const child = spawn(
    bin,
    ['--access', accessKey, '--secret', secret, '--region', region, '--port', `${HOST}:${port}`, '--quiet', 'posix', '--sidecar', sidecar, root],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  const killOnExit = () => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const endpoint = `http://${HOST}:${port}`;
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secret } });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    client.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => stderr);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    accessKey,
    secret,
    region,
    bucket,
    client,
    stop,
    pause: async () => void child.kill('SIGSTOP'),
    resume: async () => void child.kill('SIGCONT'),
  };
}

async function mkdirp(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`versitygw on port ${port} exited (${child.exitCode ?? child.signalCode}): ${stderr().trim()}`);
    }
    if (await acceptsConnections(port)) return;
    await sleep(50);
  }
  throw new Error(`versitygw on port ${port} not ready after ${READY_TIMEOUT_MS} ms: ${stderr().trim()}`);
}
