/**
 * The registry of output kinds (workers/outputs/output-kinds.ts): which kinds a plan has, in the order their
 * results and manifest place are taken, and what the recorder is given for the file and a WebSocket.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ServiceContext } from '../../../shared/context.ts';
import type { EgressPlan } from '../../../shared/egress-plan.ts';
import { fileOutput } from '../../../workers/outputs/file-output.ts';
import { OUTPUT_PLUGINS, outputPluginsOf } from '../../../workers/outputs/output-kinds.ts';
import type { RecordingOutputs } from '../../../workers/recording/recorder-contract.ts';
import { websocketOutput } from '../../../workers/outputs/websocket-output.ts';
import { webPlan } from '../../support/plans.ts';
import { pino } from 'pino';

const log = pino({ level: 'silent' });
const kindsOf = (plan: EgressPlan) => outputPluginsOf(plan).map((plugin) => plugin.kind);

test('the kinds a plan has, in registry order', () => {
  const every = webPlan({ url: 'https://example.com', segments: {}, stream: true, images: [{ width: 64, height: 64, intervalSec: 1 }] });
  assert.deepEqual(kindsOf(every), ['file', 'segments', 'stream', 'images']);
  assert.deepEqual(kindsOf(webPlan({ url: 'https://example.com', file: false, stream: true })), ['stream']);
  const websocket: EgressPlan = { ...webPlan({ url: 'https://example.com', file: false }), stream: { protocol: 'websocket', redactedUrls: [] } };
  assert.deepEqual(kindsOf(websocket), ['websocket']);
  assert.deepEqual(
    outputPluginsOf(every).map((plugin) => plugin.live),
    [false, false, true, false],
  );
});

test('the file: its key known now (its name in the work directory), or for a track only after the recording', async () => {
  const ctx = { config: { storage: { prefix: 'pre' } } } as unknown as ServiceContext;
  const plan = webPlan({ url: 'https://example.com' });
  const web = await fileOutput.open({ ctx, plan, workDir: '/tmp/w', log });
  assert.deepEqual(web.wiring, { file: { path: join('/tmp/w', 'recording.mp4') } });
  const track: EgressPlan = { ...plan, source: { kind: 'track', trackId: 'TR_1' }, file: { ...plan.file!, fileType: 'auto' } };
  const remux = await fileOutput.open({ ctx, plan: track, workDir: '/tmp/w', log });
  assert.deepEqual(remux.wiring, { file: { path: join('/tmp/w', 'track-recording') } });
  await assert.rejects(
    remux.finish!({ started: true, end: 'stopped', startedAtMs: 0, endedAtMs: 0, stats: { frames: 0, duplicated: 0, dropped: 0 } }),
    /produced no file/,
  );
});

test('a WebSocket: the real URL from the sealed secrets', async () => {
  const url = 'wss://ws.example.com/in?token=abc';
  const ctx = {
    secrets: { get: async () => ({ streams: [{ id: 'x', url, redacted: 'wss://ws.example.com/in?token={redacted}' }] }) },
  } as unknown as ServiceContext;
  const plan: EgressPlan = { ...webPlan({ url: 'https://example.com', file: false }), stream: { protocol: 'websocket', redactedUrls: [] } };
  assert.deepEqual((await websocketOutput.open({ ctx, plan, workDir: '/tmp/w', log })).wiring, { websocket: { url } });
});

test("the recorder's outputs are derived from the registry: each kind's wiring under its name", () => {
  const wiring: RecordingOutputs = { file: { path: '/tmp/w/a.mp4' }, websocket: { url: 'wss://x' } };
  // @ts-expect-error -- a kind's entry has its own wiring's shape
  const wrong: RecordingOutputs = { file: { dir: '/tmp/w' } };
  // @ts-expect-error -- a kind the registry does not have
  const unknown: RecordingOutputs = { thumbnails: {} };
  assert.ok(wiring && wrong && unknown);
  assert.deepEqual(
    OUTPUT_PLUGINS.filter((plugin) => plugin.finalizer).map((plugin) => plugin.kind),
    ['file', 'segments', 'images'],
  );
});
