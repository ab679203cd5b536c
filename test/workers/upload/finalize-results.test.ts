/**
 * What a finalize job fills into EgressInfo (workers/upload/finalize-results.ts), part by part: the file result
 * (delivered or left on disk), segments from the segment log, images, the deprecated single result, and the
 * status the egress ends with.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EgressInfo, EgressStatus, StreamInfo } from '@livekit/protocol';
import { ERRORS } from '../../../shared/errors.ts';
import type { UploadJobData } from '../../../shared/queues.ts';
import {
  deliveredEnd,
  fileResult,
  imagesResult,
  manifestOutputsOf,
  resultsFiller,
  segmentsResult,
  uploadsFailedEnd,
  type DeliveredUpload,
} from '../../../workers/upload/finalize-results.ts';
import { fileOutput } from '../../../workers/outputs/file-output.ts';
import { imagesOutput } from '../../../workers/outputs/images-output.ts';
import type { FinalizeInput } from '../../../workers/outputs/output-plugin.ts';

const file = { filename: 'a.mp4', localPath: '/tmp/EG_x/a.mp4', startedAtMs: 1000, endedAtMs: 4500, sizeBytes: 10 };
const upload = (output: UploadJobData['output'], key: string, location: string, capturedAtMs?: number): DeliveredUpload => ({
  data: { output, key, ...(capturedAtMs !== undefined ? { capturedAtMs } : {}) } as UploadJobData,
  result: { output, location, sizeBytes: 1 },
});

test("Finalize/file result: the file's own duration if known, else wall-clock; the delivered size and location, else the local file", () => {
  const local = fileResult(file, undefined);
  assert.equal(local.location, file.localPath);
  assert.equal(local.size, 10n);
  assert.equal(local.duration, 3_500_000_000n);
  const delivered = fileResult({ ...file, durationSec: 3.25 }, { output: 'file', location: 's3://b/a.mp4', sizeBytes: 12 });
  assert.equal(delivered.location, 's3://b/a.mp4');
  assert.equal(delivered.size, 12n);
  assert.equal(delivered.duration, 3_250_000_000n);
});

test('Finalize/segments and images: totals from the segment log, locations from the uploads', () => {
  const segments = {
    playlistKey: 'p.m3u8',
    livePlaylistKey: '',
    storage: { kind: 'service' as const },
    segmentDurationSec: 2,
    count: 2,
    startedAtMs: 0,
    endedAtMs: 4000,
  };
  const logged = [
    { key: 's/0.ts', filename: '0.ts', durationSec: 2, sizeBytes: 5, startedAtMs: 0 },
    { key: 's/1.ts', filename: '1.ts', durationSec: 1.5, sizeBytes: 7, startedAtMs: 2000 },
  ];
  const { info, playlist } = segmentsResult(segments, { main: 'https://x/p.m3u8' }, logged, [upload('segment', 's/0.ts', 'https://x/0.ts')]);
  assert.equal(info.segmentCount, 2n);
  assert.equal(info.size, 12n);
  assert.equal(info.duration, 3_500_000_000n);
  assert.equal(info.playlistLocation, 'https://x/p.m3u8');
  assert.deepEqual(playlist, {
    location: 'https://x/p.m3u8',
    segments: [
      { filename: '0.ts', location: 'https://x/0.ts' },
      { filename: '1.ts', location: '' },
    ],
  });

  const images = imagesResult(
    [{ outputIndex: 0, filenamePrefix: 'img', count: 1, startedAtMs: 0, endedAtMs: 1000 }],
    [upload('image', 'img_0.jpeg', 'https://x/img_0.jpeg', 0), upload('segment', 's/0.ts', 'x')],
  );
  assert.equal(images.infos[0]!.imageCount, 1n);
  assert.deepEqual(images.manifest, [{ filename: 'img_0.jpeg', timestamp: new Date(0).toISOString(), location: 'https://x/img_0.jpeg' }]);
});

test('Finalize/results filler: every kind fills its results, and the deprecated single one only with exactly one output kind', async () => {
  const part = await fileOutput.finalizer!.finalize({ children: [] } as unknown as FinalizeInput, file);
  assert.deepEqual(part.manifest, { files: [{ filename: 'a.mp4', location: file.localPath }] });
  const only = new EgressInfo();
  resultsFiller([part])(only);
  assert.equal(only.fileResults.length, 1);
  assert.equal(only.result.case, 'file');
  const withStream = new EgressInfo({ streamResults: [new StreamInfo({ url: 'rtmp://x' })] });
  resultsFiller([part])(withStream);
  assert.equal(withStream.result.case, undefined);
  const images = await imagesOutput.finalizer!.finalize({ delivered: [] } as unknown as FinalizeInput, []);
  const withImages = new EgressInfo();
  resultsFiller([part, images])(withImages);
  assert.equal(withImages.result.case, 'file');
  assert.deepEqual(manifestOutputsOf([part, images]), { files: [{ filename: 'a.mp4', location: file.localPath }], playlists: [], images: [] });
});

test('Finalize/end: the recording status once delivered; FAILED with every upload error otherwise', () => {
  assert.deepEqual(deliveredEnd({ status: 'complete', details: 'End reason: Source closed' }), {
    status: EgressStatus.EGRESS_COMPLETE,
    reason: 'End reason: Source closed',
  });
  assert.equal(deliveredEnd({ status: 'limit_reached', details: 'd' }).status, EgressStatus.EGRESS_LIMIT_REACHED);
  assert.deepEqual(deliveredEnd({ status: 'failed', details: 'd', error: { message: 'room lost', code: 503 } }), {
    status: EgressStatus.EGRESS_FAILED,
    reason: 'd',
    error: 'room lost',
    errorCode: 503,
  });
  const failed = uploadsFailedEnd({ status: 'failed', error: { message: 'room lost', code: 503 } }, ['a.mp4: denied', 'b: gone']);
  assert.equal(failed.error, 'room lost; upload failed: a.mp4: denied; b: gone');
  assert.equal(failed.errorCode, ERRORS.EGR_ERR_UPLOAD_FAILED.egressCode);
  assert.equal(uploadsFailedEnd({ status: 'complete' }, ['x']).error, 'upload failed: x');
});
