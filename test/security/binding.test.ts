/**
 * Where the API listens, and with which keys. The embedded default (`npm start` with nothing configured) is
 * started for real (`node main.ts`, EGRESS_EMBEDDED=1, a test redis-server) and must listen on 127.0.0.1 only,
 * as the kernel's socket table shows; the development secret on any other address stops the service at start
 * (exit code 2, a message naming `host`). Nothing here ever listens beyond loopback: refused configs exit first.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { stringify } from 'yaml';
import { bindingProblem, isLoopbackHost } from '../../shared/config/binding.ts';
import { ConfigError, DEV_API_SECRET, loadConfig } from '../../shared/config/load.ts';
import { freePort } from '../support/free-port.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const REAL = { LIVEKIT_API_KEY: 'prod-key', LIVEKIT_API_SECRET: 'a-long-random-secret-0123456789abcdef' };
const DEV = { LIVEKIT_API_KEY: 'devkey', LIVEKIT_API_SECRET: 'secret' };

test('loopback hosts: 127.0.0.0/8, ::1, localhost; nothing else', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '[::1]', '0:0:0:0:0:0:0:1', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (const host of [
    '0.0.0.0',
    '::',
    '',
    '10.0.0.1',
    '192.168.1.10',
    '128.0.0.1',
    '::2',
    '::ffff:10.0.0.1',
    'example.com',
    'localhost.example.com',
    'my-host',
    '0',
  ]) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});

test('the development secret is refused beyond loopback, under any key name; other secrets are not', () => {
  const dev = new Map([['devkey', DEV_API_SECRET]]);
  assert.match(bindingProblem('0.0.0.0', dev, DEV_API_SECRET) ?? '', /^config key host: "0\.0\.0\.0" is not a loopback address.*devkey/);
  assert.match(
    bindingProblem(
      '::',
      new Map([
        ['ops', 'x'.repeat(40)],
        ['ci', DEV_API_SECRET],
      ]),
      DEV_API_SECRET,
    ) ?? '',
    /API key ci has/,
  );
  assert.equal(bindingProblem('127.0.0.1', dev, DEV_API_SECRET), undefined);
  assert.equal(bindingProblem('0.0.0.0', new Map([['devkey', 'x'.repeat(40)]]), DEV_API_SECRET), undefined, 'a key named devkey with a real secret');
});

test('loadConfig: the embedded default listens on 127.0.0.1, anything else on 0.0.0.0 unless host is set', () => {
  const embedded = loadConfig({ env: {}, embedded: true });
  assert.equal(embedded.host, '127.0.0.1');
  assert.equal(embedded.usingDevKeys, true);
  assert.equal(loadConfig({ env: REAL }).host, '0.0.0.0', 'docker/compose.yml relies on this default with its real keys');
  assert.equal(loadConfig({ env: { ...REAL, EGRESS_HOST: '::' } }).host, '::');
  assert.equal(loadConfig({ env: { ...REAL, EGRESS_CONFIG_BODY: 'host: 10.1.2.3' } }).host, '10.1.2.3');
  assert.equal(loadConfig({ env: { EGRESS_HOST: '::1' }, embedded: true }).host, '::1');
  assert.equal(loadConfig({ env: { ...DEV, EGRESS_HOST: 'localhost' } }).host, 'localhost');
});

test('loadConfig refuses the development secret on a non-loopback host, naming host', () => {
  const refusals: [string, { env: NodeJS.ProcessEnv; embedded?: boolean }][] = [
    ['embedded, EGRESS_HOST=0.0.0.0', { env: { EGRESS_HOST: '0.0.0.0' }, embedded: true }],
    ['embedded, host in YAML', { env: { EGRESS_CONFIG_BODY: 'host: "::"' }, embedded: true }],
    ['devkey/secret configured, default host', { env: DEV }],
    ['another key with the dev secret', { env: { ...REAL, EGRESS_CONFIG_BODY: stringify({ keys: { ci: 'secret' } }) } }],
    ['a LAN address', { env: { ...DEV, EGRESS_HOST: '192.168.1.10' } }],
    ['a host name', { env: { ...DEV, EGRESS_HOST: 'egress.internal' } }],
  ];
  for (const [name, options] of refusals) {
    assert.throws(
      () => loadConfig(options),
      (err: unknown) => err instanceof ConfigError && /^config key host: /.test(err.message) && /development secret/.test(err.message),
      name,
    );
  }
});

test('loadConfig checks trust_proxy the way Fastify will read it', () => {
  for (const value of [
    true,
    false,
    '127.0.0.1',
    'loopback',
    '10.0.0.0/8, 192.168.0.0/16',
    '::1',
    'fd00::/8',
    '10.0.0.0/255.0.0.0',
    'loopback,uniquelocal',
  ]) {
    assert.equal(loadConfig({ env: { ...REAL, EGRESS_CONFIG_BODY: stringify({ trust_proxy: value }) } }).trust_proxy, value);
    assert.doesNotThrow(() => Fastify({ trustProxy: value }), `Fastify takes ${value}`);
  }
  for (const value of ['proxy.example.com', '10.0.0.0/33', '::/129', '127.0.0.1,', 'yes', '1.2.3', '10.0.0.0/255.0.255.0']) {
    assert.throws(() => loadConfig({ env: { ...REAL, EGRESS_CONFIG_BODY: stringify({ trust_proxy: value }) } }), /config key trust_proxy: /, value);
  }
});

/** This process's environment without any egress-queue or LiveKit setting, so each child gets only what its test gives it. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NODE_ENV: 'production' };
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(EGRESS_|LIVEKIT_|REDIS_URL$|TEST_)/.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function runToExit(entry: string, env: NodeJS.ProcessEnv): Promise<Exit> {
  const child = spawn(process.execPath, [entry], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** LISTEN sockets on `port` in /proc/net/tcp and tcp6, as `address` strings (IPv4 dotted, IPv6 as the kernel's hex). */
async function listeners(port: number): Promise<string[]> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const rows = (await readFile(file, 'utf8'))
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/));
    for (const [, local, , state] of rows) {
      if (!local || state !== '0A') continue; // 0A: TCP_LISTEN
      const [address = '', p] = local.split(':');
      if (p !== hexPort) continue;
      found.push(
        address.length === 8
          ? (address.match(/../g) ?? [])
              .reverse()
              .map((b) => parseInt(b, 16))
              .join('.')
          : `v6:${address}`,
      );
    }
  }
  return found;
}

describe('the real process', () => {
  let redis: RedisServer;
  let dir: string;

  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'egress-binding-'));
  });
  after(async () => {
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("npm start's embedded default listens on 127.0.0.1 only and says so", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['main.ts'], {
      cwd: REPO,
      env: cleanEnv({
        EGRESS_EMBEDDED: '1',
        REDIS_URL: redis.url,
        EGRESS_PORT: String(port),
        // The lightest pool: this test is about the API's socket.
        EGRESS_POOLS: 'webhook',
        EGRESS_RECORDINGS_DIR: join(dir, 'recordings'),
        EGRESS_CONFIG_BODY: stringify({ tmp_dir: join(dir, 'tmp'), warm_pool: { size: 0 }, logging: { level: 'warn' } }),
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit');
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      for await (const chunk of child.stdout) {
        stdout += chunk.toString();
        if (/Recordings/.test(stdout)) break;
      }
      assert.match(stdout, /egress-queue is running/, stderr);
      assert.match(stdout, new RegExp(`Listening +127\\.0\\.0\\.1:${port} +\\(this machine only`));
      assert.match(stdout, new RegExp(`Twirp API +http://127\\.0\\.0\\.1:${port}/`));
      assert.match(stdout, /API key devkey/);
      assert.deepEqual(await listeners(port), ['127.0.0.1'], 'one listening socket, bound to 127.0.0.1');
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      await health.arrayBuffer();
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('the development keys on 0.0.0.0 stop it at start: exit code 2, a message naming host', async () => {
    const cases: [string, string, Record<string, string>][] = [
      ['npm start, EGRESS_HOST=0.0.0.0', 'main.ts', { EGRESS_EMBEDDED: '1', EGRESS_HOST: '0.0.0.0' }],
      ['npm start, host :: in YAML', 'main.ts', { EGRESS_EMBEDDED: '1', EGRESS_CONFIG_BODY: 'host: "::"' }],
      ['the API container with devkey / secret', 'api/main.ts', { ...DEV }],
      ['a real key plus one with the dev secret', 'api/main.ts', { ...REAL, EGRESS_CONFIG_BODY: stringify({ keys: { ci: 'secret' } }) }],
    ];
    for (const [name, entry, extra] of cases) {
      const port = await freePort();
      const exit = await runToExit(entry, cleanEnv({ REDIS_URL: redis.url, EGRESS_PORT: String(port), ...extra }));
      assert.equal(exit.code, 2, `${name}: ${exit.stderr}`);
      assert.match(exit.stderr, /invalid configuration: config key host: "(0\.0\.0\.0|::)" is not a loopback address/, name);
      assert.match(exit.stderr, /development secret/, name);
      assert.match(exit.stderr, /EGRESS_HOST/, name);
      assert.ok(!exit.stderr.includes('"secret"'), `${name}: the message does not spell out a secret`);
      assert.deepEqual(await listeners(port), [], `${name}: nothing listened`);
    }
  });
});
