/**
 * A worker lost between logging an HLS segment and queueing its upload (a window of one Redis round trip,
 * met when a kill lands as a segment closes): the segment is in the log, so the final playlist lists it, but
 * nothing sends it. The part that takes over sends it from where the lost recorder left it on the shared
 * tmp_dir; a segment already queued, or whose file is gone, is left alone. Real Redis, real upload pool,
 * real MPEG-TS segments, delivered to local storage.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { uploadJobId } from '../../../shared/queues.ts';
import { segmentsOutput } from '../../../workers/outputs/segments-output.ts';
import { openPart } from '../../../workers/takeover/recording-part.ts';
import { webPlan } from '../../support/plans.ts';
import { startService, type TestService } from '../../support/service.ts';
import { waitFor } from '../../support/wait-for.ts';

const run = promisify(execFile);

/** A real 2 s MPEG-TS segment at `path`. */
async function makeSegment(path: string): Promise<number> {
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-t', '2', '-c:v', 'libx264', '-f', 'mpegts', path]);
  return (await stat(path)).size;
}

describe('takeover: a segment logged but never queued', { concurrency: false }, () => {
  let service: TestService;

  before(async () => {
    service = await startService({ pools: ['upload'] });
  });
  after(async () => {
    await service?.stop();
  });

  test('the part taking over sends it, with its playlist; opened again, nothing is sent twice', async () => {
    const ctx = service.workers.ctx;
    const plan = webPlan({ url: 'http://127.0.0.1:1/', segments: { durationSec: 2 } });
    const { egressId } = plan;
    const log = pino({ level: 'warn' }).child({ egressId });
    const uploads = ctx.queues.get('upload');

    // Part 1: segment 0 logged and queued as usual; segment 1 logged, then the worker is lost before its upload is queued.
    const part1 = await openPart(ctx, egressId, undefined, log);
    const opened1 = await segmentsOutput.open({ ctx, plan, workDir: part1.workDir, log, part: part1 });
    const segmentsDir = opened1.wiring.segments!.dir;
    await mkdir(segmentsDir, { recursive: true });
    const sizes: number[] = [];
    for (const index of [0, 1]) sizes.push(await makeSegment(join(segmentsDir, `seg${index}.ts`)));
    opened1.wiring.segments!.onSegment({
      path: join(segmentsDir, 'seg0.ts'),
      index: 0,
      startedAtMs: Date.now() - 4000,
      durationSec: 2,
      sizeBytes: sizes[0]!,
    });
    await waitFor('segment 0 queued', 10_000, async () => (await uploads.getJob(uploadJobId.segment(egressId, 0))) !== undefined);
    await ctx.segments.append(egressId, {
      filename: 'live_00001.ts',
      key: 'segments/live_00001.ts',
      durationSec: 2,
      startedAtMs: Date.now() - 2000,
      sizeBytes: sizes[1]!,
      localPath: join(segmentsDir, 'seg1.ts'),
    });
    assert.equal(await uploads.getJob(uploadJobId.segment(egressId, 1)), undefined, 'segment 1 is logged, not queued');

    // Part 2 takes over: segment 1 goes to storage, and the playlist behind it lists both.
    const part2 = await openPart(ctx, egressId, { part: 2, lostAtMs: Date.now() }, log);
    const opened2 = await segmentsOutput.open({ ctx, plan, workDir: part2.workDir, log, part: part2 });
    assert.equal(opened2.wiring.segments!.startNumber, 2, 'part 2 numbers on after segment 1');
    const delivered = join(service.recordingsDir, 'segments', 'live_00001.ts');
    await waitFor('segment 1 delivered', 20_000, () => existsSync(delivered));
    assert.equal((await stat(delivered)).size, sizes[1], 'the whole segment');
    const playlistJob = await waitFor('the playlist up to segment 1 written', 20_000, async () => {
      const job = await uploads.getJob(uploadJobId.playlist(egressId, 2));
      return job && (await job.getState()) === 'completed' && job;
    });
    assert.ok(playlistJob);
    const playlist = await readFile(join(service.recordingsDir, 'segments', 'live.m3u8'), 'utf8');
    assert.deepEqual(
      playlist.split('\n').filter((line) => line.endsWith('.ts')),
      ['live_00000.ts', 'live_00001.ts'],
    );

    // A later part: segment 1 has its job now (and its file went once uploaded): it is not sent again.
    const queuedAt = (await uploads.getJob(uploadJobId.segment(egressId, 1)))!.timestamp;
    const part3 = await openPart(ctx, egressId, { part: 3, lostAtMs: Date.now() }, log);
    await segmentsOutput.open({ ctx, plan, workDir: part3.workDir, log, part: part3 });
    assert.equal((await uploads.getJob(uploadJobId.segment(egressId, 1)))!.timestamp, queuedAt, 'the same upload job');
    await Promise.all([part1.ended(), part2.ended(), part3.ended()]);
  });
});
