/**
 * The salvage of a recording taken over whose parts cannot be joined (part 2 recorded at another size): each
 * part is delivered on its own (`_part<n>`), every one in file_results, and the egress's error says why its file
 * comes in parts, as the finalize job's does. Real Redis, the real upload pool, captures made by ffmpeg.
 */
import { EgressInfo, EgressStatus } from '@livekit/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { partLogOf } from '../../../shared/takeover/part-log.ts';
import { partWorkDir } from '../../../shared/takeover/takeover.ts';
import { endLostEgress } from '../../../shared/worker-lost.ts';
import { probe } from '../../support/ffprobe.ts';
import { capturePart } from '../../support/part-capture.ts';
import { webPlan } from '../../support/plans.ts';
import { startService, type TestService } from '../../support/service.ts';
import { waitFor } from '../../support/wait-for.ts';

describe('salvage of parts that cannot be joined', { concurrency: false }, () => {
  let service: TestService;

  before(async () => {
    service = await startService({ pools: ['upload'] });
  });
  after(async () => {
    await service?.stop();
  });

  test('each part delivered on its own, all in file_results, and the error says why', async () => {
    const ctx = service.workers.ctx;
    const plan = {
      ...webPlan({ url: 'http://127.0.0.1:1/' }),
      file: { fileType: 'mp4', filepath: 'apart/rec.mp4', disableManifest: true, storage: { kind: 'service' } },
    } as const;
    const { egressId } = plan;
    const startedAtMs = Date.now() - 20_000;
    await ctx.events.store.create(new EgressInfo({ egressId, status: EgressStatus.EGRESS_ACTIVE, startedAt: BigInt(startedAtMs) * 1_000_000n }));
    for (const [part, size, seconds] of [
      [1, '320x240', 4],
      [2, '640x360', 3],
    ] as const) {
      const workDir = partWorkDir(service.config.tmp_dir, egressId, part);
      await capturePart(workDir, 'blue', seconds, { size });
      await partLogOf(ctx).started(egressId, { part, workerId: `w${part}`, workDir, startedAtMs: startedAtMs + (part - 1) * 10_000 });
    }

    await endLostEgress(ctx, plan, 'test: the last part lost too');
    const ended = await waitFor('the salvage amended the file results', 60_000, async () => {
      const info = await ctx.events.store.get(egressId);
      return info && info.fileResults.length > 0 && info;
    });
    assert.equal(ended.status, EgressStatus.EGRESS_FAILED);
    assert.deepEqual(
      ended.fileResults.map((f) => f.filename),
      ['apart/rec_part1.mp4', 'apart/rec_part2.mp4'],
    );
    for (const [i, file] of ended.fileResults.entries()) {
      const mp4 = await probe(file.location);
      const video = mp4.streams.find((s) => s.codec_type === 'video')!;
      assert.equal(`${video.width}x${video.height}`, i === 0 ? '320x240' : '640x360');
      assert.ok(Math.abs(mp4.format.duration - (i === 0 ? 4 : 3)) < 0.5, `part ${i + 1}: ${mp4.format.duration} s`);
    }
    assert.match(ended.error, /^test: the last part lost too; what was recorded until then is delivered; /);
    assert.match(ended.error, /its 2 parts could not be joined \(.+\): each part is delivered on its own \(_part<n>\)$/);
  });
});
