import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ConfigError, DEV_API_KEY, DEV_API_SECRET, loadConfig } from '../../shared/config/load.ts';

const KEYS = { LIVEKIT_API_KEY: 'key', LIVEKIT_API_SECRET: 'secret-value' };

test('Config/Defaults: port 8080, every pool, 120 s start deadline, local recordings', () => {
  const config = loadConfig({ env: KEYS });
  assert.equal(config.port, 8080);
  assert.deepEqual(config.pools, ['room-composite', 'track-composite', 'track', 'upload', 'webhook']);
  assert.equal(config.start_deadline, 120);
  assert.equal(config.egress_ttl, 86_400);
  assert.ok(config.storage.local.directory.endsWith('/recordings'));
  assert.deepEqual(Object.fromEntries(config.apiKeys), { key: 'secret-value' });
  assert.equal(config.usingDevKeys, false);
});

test('Config/YAML then env: env wins, REDIS_URL parsed, EGRESS_POOLS split', () => {
  const config = loadConfig({
    env: {
      ...KEYS,
      EGRESS_CONFIG_BODY: 'port: 9000\nredis:\n  address: other:1\nconcurrency:\n  room-composite: 3\nkeys:\n  k2: s2\n',
      EGRESS_PORT: '9100',
      REDIS_URL: 'redis://user:p%40ss@127.0.0.1:6390/2',
      EGRESS_POOLS: 'room-composite, upload',
    },
  });
  assert.equal(config.port, 9100);
  assert.equal(config.redis.address, '127.0.0.1:6390');
  assert.equal(config.redis.password, 'p@ss');
  assert.equal(config.redis.db, 2);
  assert.equal(config.concurrency['room-composite'], 3);
  assert.deepEqual(config.pools, ['room-composite', 'upload']);
  assert.deepEqual([...config.apiKeys.keys()].sort(), ['k2', 'key']);
});

test('Config/Takeover: on, with the lease timing of shared/lease/lease-timing.ts', () => {
  const { takeover } = loadConfig({ env: KEYS });
  assert.deepEqual(takeover, { enabled: true, lease_ttl: 6, lease_renew_interval: 2, lease_safety_margin: 1 });
});

test('Config/Errors name the key', () => {
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{ ...KEYS, EGRESS_CONFIG_BODY: 'port: abc' }, /config key port/],
    [{ ...KEYS, EGRESS_CONFIG_BODY: 'storage:\n  locl: 1' }, /unknown config key storage\.locl/],
    [{ ...KEYS, EGRESS_CONFIG_BODY: 'start_deadline: -1' }, /config key start_deadline/],
    [{ ...KEYS, EGRESS_CONFIG_BODY: 'webhook:\n  api_key: nope' }, /webhook\.api_key/],
    [
      { ...KEYS, EGRESS_CONFIG_BODY: 'takeover:\n  lease_ttl: 3\n  lease_renew_interval: 2.5' },
      /config key takeover\.lease_renew_interval: .*lease_ttl − lease_safety_margin/,
    ],
    [{ ...KEYS, EGRESS_CONFIG_BODY: 'takeover:\n  lease_ttl: 0.5' }, /config key takeover\.lease_ttl/],
    [{ ...KEYS, EGRESS_CONFIG_BODY: '[1, 2]' }, /YAML mapping/],
    [{ ...KEYS, EGRESS_CONFIG_BODY: 'a: [' }, /not valid YAML/],
    [{ ...KEYS, EGRESS_POOLS: 'room-composite,nope' }, /EGRESS_POOLS: unknown pool nope/],
    [{ ...KEYS, REDIS_URL: 'http://x' }, /REDIS_URL/],
    [{ LIVEKIT_API_KEY: 'only-key' }, /api_secret/],
    [{ EGRESS_CONFIG_FILE: '/nonexistent/egress.yaml', ...KEYS }, /cannot read EGRESS_CONFIG_FILE/],
    [{}, /no API key configured/],
  ];
  for (const [env, message] of cases)
    assert.throws(
      () => loadConfig({ env }),
      (err: Error) => err instanceof ConfigError && message.test(err.message),
      String(message),
    );
});

test('Config/LiveKit keys not used yet are accepted and listed', () => {
  const config = loadConfig({
    env: { ...KEYS, EGRESS_CONFIG_BODY: 'cpu_cost:\n  web_cpu_cost: 3\nprometheus_port: 9090\nstorage:\n  alioss: { bucket: b }\n' },
  });
  assert.deepEqual(config.ignoredKeys, ['prometheus_port', 'storage.alioss']);
  // cpu_cost is used now (the first estimate of admission).
  assert.equal(config.cpu_cost.web_cpu_cost, 3);
});

test('Config/Dev keys only in the embedded default', () => {
  const config = loadConfig({ env: {}, embedded: true });
  assert.equal(config.usingDevKeys, true);
  assert.deepEqual([...config.apiKeys.keys()], [DEV_API_KEY]);
  assert.equal(loadConfig({ env: KEYS, embedded: true }).usingDevKeys, false);
});

test('Config/The embedded default records rooms of `npm run livekit` with the dev key pair', () => {
  const config = loadConfig({ env: { LIVEKIT_URL: 'ws://127.0.0.1:7880' }, embedded: true });
  assert.equal(config.ws_url, 'ws://127.0.0.1:7880');
  assert.deepEqual([config.api_key, config.api_secret], [DEV_API_KEY, DEV_API_SECRET]);
  // Keys of its own: those, for the API and the LiveKit server alike.
  const own = loadConfig({ env: { ...KEYS, LIVEKIT_URL: 'ws://127.0.0.1:7880' }, embedded: true });
  assert.deepEqual([own.api_key, own.api_secret, own.usingDevKeys], ['key', 'secret-value', false]);
});

test('Config/ws_url without a LiveKit key pair is refused at start, naming the keys', () => {
  const refusals: NodeJS.ProcessEnv[] = [
    { LIVEKIT_URL: 'ws://livekit:7880', EGRESS_CONFIG_BODY: 'keys:\n  k: s' },
    { EGRESS_CONFIG_BODY: 'ws_url: wss://livekit.example.com\nkeys:\n  k: s' },
  ];
  for (const env of refusals) {
    assert.throws(
      () => loadConfig({ env }),
      (err: Error) => err instanceof ConfigError && /^config key ws_url: .*api_key and api_secret/.test(err.message),
      JSON.stringify(env),
    );
  }
  assert.equal(loadConfig({ env: { ...KEYS, LIVEKIT_URL: 'ws://livekit:7880' } }).api_key, 'key');
});

test('Config/logging.json: readable lines in a terminal, JSON lines otherwise, unless set', () => {
  assert.equal(loadConfig({ env: KEYS, stdoutIsTTY: true }).logging.json, false);
  assert.equal(loadConfig({ env: KEYS, stdoutIsTTY: false }).logging.json, true);
  assert.equal(loadConfig({ env: { ...KEYS, EGRESS_CONFIG_BODY: 'logging:\n  json: true' }, stdoutIsTTY: true }).logging.json, true);
  assert.equal(loadConfig({ env: { ...KEYS, EGRESS_CONFIG_BODY: 'logging:\n  json: false' }, stdoutIsTTY: false }).logging.json, false);
});

test('Config/docs/config.md is generated from the schema', () => {
  const generated = execFileSync(process.execPath, ['scripts/config-docs.ts'], { encoding: 'utf8' });
  assert.equal(readFileSync('docs/config.md', 'utf8'), generated, 'run: node scripts/config-docs.ts > docs/config.md');
});
