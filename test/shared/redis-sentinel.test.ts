/**
 * Redis behind Sentinel (redis.sentinel_*): the API and a worker process configured with a Sentinel and no
 * Redis address find the primary through it, and a web egress is queued, recorded and finalized; a name the
 * Sentinel does not know, or a wrong Sentinel password, stops the start with a message naming the key. Real
 * redis-servers (a primary and a Sentinel) on loopback.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { startApi, type RunningApi } from '../../api/main.ts';
import { ConfigError, loadConfig } from '../../shared/config/load.ts';
import { REDACTED_LOG_PATHS } from '../../shared/logger.ts';
import { redisOptions } from '../../shared/redis.ts';
import { spawnSupervised } from '../../workers/process/processes.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { freePort } from '../support/free-port.ts';
import { MASTER_NAME, PRIMARY_PASSWORD, SENTINEL_PASSWORD, startSentinelRedis, type SentinelRedis } from '../support/redis-sentinel.ts';
import { startTestPage, type TestPage } from '../support/test-page.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const KEY = 'sentinel-key';
const SECRET = 'sentinel-secret-0123456789abcdef0123';

/** The environment of a service that knows Redis only through the Sentinel (passwords from env, as the Helm chart gives them). */
function sentinelEnv(
  root: string,
  redis: Record<string, unknown>,
  passwords = { REDIS_PASSWORD: PRIMARY_PASSWORD, REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD },
): Record<string, string> {
  return {
    LIVEKIT_API_KEY: KEY,
    LIVEKIT_API_SECRET: SECRET,
    ...passwords,
    EGRESS_CONFIG_BODY: stringify({
      host: '127.0.0.1',
      tmp_dir: join(root, 'tmp'),
      storage: { local: { directory: join(root, 'recordings') } },
      logging: { level: 'info' },
      admission: false,
      warm_pool: { size: 0 },
      redis,
    }),
  };
}

/** Runs `entry` (api/main.ts, workers/main.ts) as a process of its own; its output and how it exits. */
function spawnEntry(entry: string, env: Record<string, string>) {
  const { child } = spawnSupervised(entry, process.execPath, [entry], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, output: () => output };
}

describe('Redis/Sentinel', { concurrency: false }, () => {
  let redis: SentinelRedis;
  let page: TestPage;
  let root: string;
  before(async () => {
    [redis, page, root] = await Promise.all([startSentinelRedis(), startTestPage(), mkdtemp(join(tmpdir(), 'egress-sentinel-'))]);
  });
  after(async () => {
    await Promise.all([redis?.stop(), page?.close()]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('the API and a worker process with only a Sentinel: a web egress is queued, picked up, recorded; no password logged', async () => {
    const env = sentinelEnv(root, { sentinel_master_name: MASTER_NAME, sentinel_addresses: [redis.sentinelAddress] });
    const config = loadConfig({ env: { ...env, EGRESS_PORT: String(await freePort()) } });
    assert.equal(config.redis.address, '', 'no Redis address: only the Sentinel says where it is');
    const apiLog = new PassThrough();
    let apiLines = '';
    apiLog.setEncoding('utf8').on('data', (chunk: string) => (apiLines += chunk));
    let api: RunningApi | undefined;
    const worker = spawnEntry('workers/main.ts', { ...env, EGRESS_POOLS: 'room-composite,upload' });
    const primary = new Redis({ port: redis.primary.port, host: '127.0.0.1', password: PRIMARY_PASSWORD, lazyConnect: true });
    try {
      api = await startApi(config, pino({ level: 'info', redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } }, apiLog));
      const client = new EgressClient(api.url, KEY, SECRET);
      const started = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'sentinel.mp4' }));
      // Queued by the API, taken by the worker process: both reached Redis through the Sentinel.
      await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 25_000);
      const [listed] = await client.listEgress({ egressId: started.egressId });
      assert.equal(listed?.status, EgressStatus.EGRESS_ACTIVE);
      await client.stopEgress(started.egressId);
      const ended = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 20_000);
      assert.equal(ended.status, EgressStatus.EGRESS_COMPLETE, ended.error);

      // Those connections are on the primary the Sentinel named (a password-protected server on its own port).
      await primary.connect();
      const clients = String(await primary.call('CLIENT', 'LIST'));
      assert.match(clients, /name=egress-queue:api /);
      assert.match(clients, /name=egress-queue:workers /);
      assert.equal(await primary.exists(`${config.redis.prefix}:store:info:${started.egressId}`), 1, 'the egress is kept on that primary');

      const health = await fetch(`${api.url}/healthz`);
      const body = await health.text();
      assert.equal(health.status, 200, body);
      for (const secret of [SENTINEL_PASSWORD, PRIMARY_PASSWORD]) {
        assert.ok(!body.includes(secret), '/healthz shows no password');
        assert.ok(!worker.output().includes(secret), 'the worker logs no password');
        assert.ok(!apiLines.includes(secret), 'the API logs no password');
      }
      assert.match(worker.output(), /workers started/, 'the worker logged (so its silence about passwords means something)');
    } finally {
      primary.disconnect();
      await api?.close();
      worker.child.kill('SIGINT');
      await worker.exited;
    }
  });

  test('a master name the Sentinel does not know stops the start, naming redis.sentinel_master_name', async () => {
    const worker = spawnEntry(
      'workers/main.ts',
      sentinelEnv(root, { sentinel_master_name: 'no-such-primary', sentinel_addresses: [redis.sentinelAddress] }),
    );
    const [code] = await worker.exited;
    assert.equal(code, 2, worker.output());
    assert.match(
      worker.output(),
      new RegExp(
        `invalid configuration: config key redis\\.sentinel_master_name: no Sentinel gives the primary "no-such-primary": ${redis.sentinelAddress} knows no primary by that name`,
      ),
    );
  });

  test("a wrong Sentinel password stops the API's start, naming the Sentinel credentials, without printing the password", async () => {
    const wrong = 'not-the-sentinel-password';
    const env = sentinelEnv(
      root,
      { sentinel_master_name: MASTER_NAME, sentinel_addresses: [redis.sentinelAddress] },
      { REDIS_PASSWORD: PRIMARY_PASSWORD, REDIS_SENTINEL_PASSWORD: wrong },
    );
    const api = spawnEntry('api/main.ts', { ...env, EGRESS_PORT: String(await freePort()) });
    const [code] = await api.exited;
    assert.equal(code, 2, api.output());
    assert.match(api.output(), /config key redis\.sentinel_username, redis\.sentinel_password: .*refused: WRONGPASS/);
    assert.ok(!api.output().includes(wrong));
  });

  test('a Sentinel that does not answer holds no start: the service waits for Redis as it does without Sentinel', async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const worker = spawnEntry('workers/main.ts', {
      ...sentinelEnv(root, { sentinel_master_name: MASTER_NAME, sentinel_addresses: [nobody] }),
      EGRESS_POOLS: 'webhook',
    });
    try {
      const deadline = Date.now() + 15_000;
      while (!/workers started/.test(worker.output()) && worker.child.exitCode === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.match(worker.output(), /workers started/);
      assert.equal(worker.child.exitCode, null);
    } finally {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
  });
});

describe('Redis/Sentinel config', () => {
  const KEYS = { LIVEKIT_API_KEY: 'key', LIVEKIT_API_SECRET: 'secret-value' };
  const load = (redis: string, env: Record<string, string> = {}) => loadConfig({ env: { ...KEYS, ...env, EGRESS_CONFIG_BODY: `redis: ${redis}` } });

  test('ioredis Sentinel options: every Sentinel, the master name, both passwords, TLS to the Sentinels and the primary', () => {
    const config = load(
      '{ sentinel_master_name: mymaster, sentinel_addresses: ["s1.redis:26379", "[fd00::7]:26380"], sentinel_username: watcher, username: egress, db: 3, use_tls: true }',
      {
        REDIS_PASSWORD: 'primary-secret',
        REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      },
    );
    const options = redisOptions(config);
    assert.deepEqual(options.sentinels, [
      { host: 's1.redis', port: 26379 },
      { host: 'fd00::7', port: 26380 },
    ]);
    assert.equal(options.name, 'mymaster');
    assert.deepEqual([options.sentinelUsername, options.sentinelPassword], ['watcher', 'sentinel-secret']);
    assert.deepEqual([options.username, options.password, options.db], ['egress', 'primary-secret', 3]);
    assert.deepEqual([options.tls, options.sentinelTLS, options.enableTLSForSentinelMode], [{}, {}, true]);
    assert.equal(options.host, undefined, 'no address: the Sentinels say where the primary is');
    assert.equal(options.maxRetriesPerRequest, null, 'BullMQ workers wait out a failover');
    // Without a master name: the address, as before.
    const plain = redisOptions(load('{ address: "redis:6380" }'));
    assert.deepEqual([plain.host, plain.port, plain.sentinels], ['redis', 6380, undefined]);
  });

  test('half a Sentinel config, or an address beside it, is refused naming the key', () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['{ sentinel_master_name: m }', {}, /config key redis\.sentinel_addresses: required/],
      ['{ sentinel_addresses: ["s:26379"] }', {}, /config key redis\.sentinel_master_name: required/],
      ['{ sentinel_master_name: m, sentinel_addresses: ["s:26379"], address: "r:6379" }', {}, /config key redis\.address: not used with Sentinel/],
      ['{ sentinel_master_name: m, sentinel_addresses: ["s:26379"] }', { REDIS_URL: 'redis://r:6379' }, /env REDIS_URL: not used with Sentinel/],
      ['{ sentinel_master_name: m, sentinel_addresses: ["s"] }', {}, /config key redis\.sentinel_addresses\[0\]: must be host:port/],
      ['{ sentinel_master_name: m, sentinel_addresses: ["s:99999"] }', {}, /redis\.sentinel_addresses\[0\]: port must be at most 65535/],
      [
        `{ sentinel_master_name: m, sentinel_addresses: [${Array.from({ length: 17 }, (_, i) => `"s${i}:26379"`).join(', ')}] }`,
        {},
        /redis\.sentinel_addresses/,
      ],
    ];
    for (const [redis, env, message] of cases) {
      assert.throws(
        () => load(redis, env),
        (err: Error) => err instanceof ConfigError && message.test(err.message),
        `${redis}: ${message}`,
      );
    }
  });

  test("LiveKit's cluster_addresses is accepted and listed as not used, like its other keys this version does not use", () => {
    const config = load('{ address: "r:6379", cluster_addresses: ["c1:6379", "c2:6379"] }');
    assert.deepEqual(config.ignoredKeys, ['redis.cluster_addresses']);
    assert.equal(config.redis.address, 'r:6379');
  });

  test('sentinel_password is censored in log lines', () => {
    const out = new PassThrough();
    let text = '';
    out.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    const config = load('{ sentinel_master_name: m, sentinel_addresses: ["s:26379"] }', { REDIS_SENTINEL_PASSWORD: 'never-printed-7c1' });
    const log = pino({ redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } }, out);
    log.info({ redis: config.redis }, 'redis');
    log.info({ config: { redis: config.redis } }, 'config');
    log.info(redisOptions(config), 'options');
    const [first, second, third] = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(first.redis.sentinel_password, '[redacted]');
    assert.equal(second.config.redis.sentinel_password, '[redacted]');
    assert.equal(third.sentinelPassword, '[redacted]');
    assert.equal(first.redis.sentinel_master_name, 'm', 'the rest is logged');
    assert.ok(!text.includes('never-printed-7c1'), text);
  });
});
