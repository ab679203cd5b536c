/**
 * The parts of admission that can be checked without recordings: the free-cores rule, the LiveKit cost
 * kinds, the per-egress CPU read from /proc of real processes (busy and idle, tagged with EGRESS_ID), and
 * the worker process's own CPU shared among the recordings inside it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { freeCores } from '../../workers/capacity/admission.ts';
import { configuredCost, costKindOf } from '../../workers/capacity/cost-kinds.ts';
import { InProcessShares, perEgressUsage } from '../../workers/capacity/host-load.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { webPlan } from '../support/plans.ts';

describe('admission', () => {
  test('free cores: the share of the node, less the larger of what running recordings reserve and what the host uses', () => {
    // LiveKit's arithmetic on this 2-core machine: one 4-core room composite leaves nothing.
    assert.equal(freeCores({ cores: 2, maxUtilization: 0.8, hostBusyShare: 0.1, reservations: [4] }), -2.4);
    // Measured at 0.3 cores, two run with room for more.
    assert.ok(Math.abs(freeCores({ cores: 2, maxUtilization: 0.8, hostBusyShare: 0.2, reservations: [0.3, 0.3] }) - 1.0) < 1e-9);
    // A host busy with something else counts, even if the recordings are cheap.
    assert.ok(Math.abs(freeCores({ cores: 2, maxUtilization: 0.8, hostBusyShare: 0.7, reservations: [0.3] }) - 0.2) < 1e-9);
  });

  test("LiveKit's cpu_cost keys and defaults are the first estimates, per request kind", () => {
    const config = loadConfig({
      env: { LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's'.repeat(32), EGRESS_CONFIG_BODY: 'cpu_cost: { track_cpu_cost: 0.25 }' },
    });
    const web = webPlan({ url: 'https://example.com' });
    assert.equal(costKindOf(web), 'web');
    assert.equal(configuredCost(config, 'web'), 4);
    assert.equal(costKindOf({ ...web, video: false }), 'audio_web');
    assert.equal(costKindOf({ ...web, source: { kind: 'template', layout: 'grid', baseUrl: '' } }), 'room_composite');
    assert.equal(costKindOf({ ...web, source: { kind: 'track', trackId: 'TR' } }), 'track');
    assert.equal(configuredCost(config, 'track'), 0.25);
    assert.equal(config.cpu_cost.max_cpu_utilization, 0.8);
  });

  test('per-egress CPU: every process tagged EGRESS_ID, busy ones counted, others not', async () => {
    const busy = spawn(process.execPath, ['-e', 'const end = Date.now() + 1500; while (Date.now() < end);'], {
      env: { ...process.env, EGRESS_ID: 'EG_busy' },
    });
    const idle = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)'], { env: { ...process.env, EGRESS_ID: 'EG_idle' } });
    await new Promise((r) => setTimeout(r, 1200));
    const usage = await perEgressUsage(new Set(['EG_busy', 'EG_idle', 'EG_absent']));
    await Promise.all([once(busy, 'exit'), once(idle, 'exit')]);
    // Busy for 1.2 s of wall clock: most of it on CPU, unless the host is loaded; idle: Node's start only.
    assert.ok(usage.get('EG_busy')!.cpuSec >= 0.3, JSON.stringify([...usage]));
    assert.ok(usage.get('EG_idle')!.cpuSec < usage.get('EG_busy')!.cpuSec - 0.2, JSON.stringify([...usage]));
    assert.ok(usage.get('EG_busy')!.rssBytes > 10 * 1024 * 1024);
    assert.equal(usage.has('EG_absent'), false);
  });

  test('per-egress CPU: a warm station counts for the egress that took it, and for nobody while idle', async () => {
    const station = (id: string) =>
      spawn(process.execPath, ['-e', 'const end = Date.now() + 1500; while (Date.now() < end);'], {
        env: { ...process.env, EGRESS_WARM_STATION: id },
      });
    const [taken, idle] = [station('ws_taken'), station('ws_idle')];
    await new Promise((r) => setTimeout(r, 1200));
    const usage = await perEgressUsage(new Set(['EG_owner', 'EG_other']), new Map([['ws_taken', 'EG_owner']]));
    await Promise.all([once(taken, 'exit'), once(idle, 'exit')]);
    // Busy for 1.2 s of wall clock: most of it on CPU, unless the host is loaded.
    assert.ok(usage.get('EG_owner')!.cpuSec >= 0.2, JSON.stringify([...usage]));
    assert.deepEqual([...usage.keys()], ['EG_owner']);
  });

  test("in-process recordings: the worker process's CPU shared among them, accumulated, the ended ones forgotten", () => {
    const shares = new InProcessShares();
    shares.share([], 10);
    assert.deepEqual(
      [...shares.share(['EG_a', 'EG_b'], 12)],
      [
        ['EG_a', 1],
        ['EG_b', 1],
      ],
    );
    assert.deepEqual([...shares.share(['EG_b'], 12.5)], [['EG_b', 1.5]]);
    // Burning 0.2 s of CPU in this process is credited to what records in it.
    const real = new InProcessShares();
    const start = process.cpuUsage();
    while (process.cpuUsage(start).user < 200_000);
    assert.ok(real.share(['EG_c']).get('EG_c')! >= 0.2);
  });
});
