/**
 * The finalize job a finished recording hands over (workers/recording/finalize-flow.ts): each output's results
 * and uploads, in registry order, the manifest beside the first output that offers a place.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EgressError } from '../../../shared/errors.ts';
import type { RunningOutput } from '../../../workers/outputs/output-plugin.ts';
import type { RecordingResult } from '../../../workers/recording/recorder-contract.ts';
import { finalizeFlow } from '../../../workers/recording/finalize-flow.ts';
import { webPlan } from '../../support/plans.ts';

const result: RecordingResult = {
  started: true,
  end: 'stopped',
  startedAtMs: 1000,
  endedAtMs: 5000,
  stats: { frames: 1, duplicated: 0, dropped: 0 },
};
const service = { kind: 'service' } as const;

test('results merged, uploads as children, the manifest beside the first output offering a place', async () => {
  const plan = webPlan({ url: 'https://example.com', segments: {} });
  const segmentsSummary = {
    playlistKey: 'hls/p.m3u8',
    livePlaylistKey: '',
    storage: service,
    segmentDurationSec: 4,
    count: 2,
    startedAtMs: 1,
    endedAtMs: 2,
  };
  const outputs: RunningOutput[] = [
    { wiring: {} }, // a stream: nothing to finish
    {
      wiring: {},
      finish: async () => ({
        data: { segments: segmentsSummary },
        uploads: [],
        manifestBeside: { key: 'hls/p.m3u8', storage: service, contentType: '' },
      }),
    },
    {
      wiring: {},
      finish: async () => ({
        data: { images: [] },
        uploads: [{ name: 'upload', queueName: 'upload', data: { n: 1 } }],
        manifestBeside: { key: 'img/i.jpeg', storage: service, contentType: '' },
      }),
    },
  ];
  const flow = await finalizeFlow(plan, outputs, { ...result, namingVars: { roomId: 'RM_1' } }, { reason: 'StopEgress API', status: 'complete' });
  assert.deepEqual(flow.data, {
    egressId: plan.egressId,
    plan,
    status: 'complete',
    details: 'StopEgress API',
    segments: segmentsSummary,
    images: [],
    manifest: { key: `hls/${plan.egressId}.json`, storage: service },
    learnt: { roomId: 'RM_1' },
  });
  assert.deepEqual(flow.children, [{ name: 'upload', queueName: 'upload', data: { n: 1 } }]);
});

test('a failure after the start is carried as the error; no place offered, no manifest', async () => {
  const plan = webPlan({ url: 'https://example.com' });
  const failure = new EgressError('EGR_ERR_UNAVAILABLE', 'recording ended early');
  const flow = await finalizeFlow(
    plan,
    [{ wiring: {}, finish: async () => ({ data: {}, uploads: [] }) }],
    { ...result, failure },
    { reason: 'Failure', status: 'failed' },
  );
  assert.deepEqual(flow.data.error, { message: 'recording ended early', code: failure.egressCode });
  assert.equal(flow.data.manifest, undefined);
  assert.deepEqual(flow.children, []);
});
