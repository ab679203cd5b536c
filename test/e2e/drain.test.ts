/**
 * Signals are API: `npm start`'s process (main.ts) drains on SIGTERM — running recordings go on for
 * shutdown_grace, then are stopped and finalized, uploaded, marked COMPLETE, and the process exits 0.
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { EgressStore } from '../../shared/egress-store.ts';
import { createRedis } from '../../shared/redis.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { startRedis } from '../support/redis-server.ts';
import { startTestPage } from '../support/test-page.ts';

const KEY = 'drain-key';
const SECRET = 'drain-secret-0123456789abcdef0123';

test('Signals/SIGTERM drains: the recording is finalized and COMPLETE, the process exits 0', async () => {
  const redis = await startRedis();
  const page = await startTestPage();
  const root = await mkdtemp(join(tmpdir(), 'egress-drain-'));
  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    LIVEKIT_API_KEY: KEY,
    LIVEKIT_API_SECRET: SECRET,
    EGRESS_CONFIG_BODY: stringify({
      port: 0,
      host: '127.0.0.1',
      shutdown_grace: 3,
      tmp_dir: join(root, 'tmp'),
      storage: { local: { directory: join(root, 'recordings') } },
      logging: { level: 'warn' },
    }),
  };
  const service = spawn(process.execPath, ['main.ts'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    service.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const deadline = Date.now() + 20_000;
    while (!/Twirp API\s+(http:\/\/\S+)\/twirp/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const url = /Twirp API\s+(http:\/\/\S+)\/twirp/.exec(out)?.[1];
    assert.ok(url, `the service printed its URL: ${out}`);

    const client = new EgressClient(url, KEY, SECRET);
    const info = await client.startWebEgress(page.url, new EncodedFileOutput({ filepath: 'drained.mp4' }));
    await waitForStatus(client, info.egressId, [EgressStatus.EGRESS_ACTIVE]);
    const signalledAt = Date.now();
    service.kill('SIGTERM');
    const [code] = await once(service, 'exit');
    assert.equal(code, 0);
    const drainedSec = (Date.now() - signalledAt) / 1000;
    assert.ok(drainedSec >= 3 && drainedSec < 20, `drained in ${drainedSec} s (grace 3 s)`);

    const config = loadConfig({ env });
    const connection = createRedis(config, 'drain-test');
    const ended = await new EgressStore(connection, { prefix: config.redis.prefix, ttlSeconds: 60 }).get(info.egressId);
    connection.disconnect();
    assert.equal(ended?.status, EgressStatus.EGRESS_COMPLETE, ended?.error);
    assert.equal(ended?.details, 'End reason: Server shutting down');
    assert.ok(existsSync(ended.fileResults[0]!.location));
  } finally {
    service.kill('SIGKILL');
    await page.close();
    await redis.stop();
    await rm(root, { recursive: true, force: true });
  }
});
