/**
 * What a recording taken over leaves on the shared tmp_dir made into what the user gets
 * (workers/takeover/part-files.ts, as the salvage and the last part's file output use it): each part's
 * directory holds a crash-safe capture, the killed ones cut mid-fragment; every part is recovered and
 * all are joined into one file, or, when a part's streams differ, each is kept on its own (none lost).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import type { RecordedPart } from '../../../shared/takeover/part-log.ts';
import { partWorkDir } from '../../../shared/takeover/takeover.ts';
import { earlierPartDirs, joinedParts, recoveredParts } from '../../../workers/takeover/part-files.ts';
import { decodeFrameAt, probe } from '../../support/ffprobe.ts';
import { capturePart } from '../../support/part-capture.ts';
import { webPlan } from '../../support/plans.ts';

const log = pino({ level: 'silent' });
const config = { ffmpeg_path: 'ffmpeg', storage: { prefix: '', local: { directory: tmpdir() }, generate_presigned_url: false } };
let tmp: string;
before(async () => (tmp = await mkdtemp(join(tmpdir(), 'part-files-'))));
after(async () => rm(tmp, { recursive: true, force: true }));

const logged = (part: number, workDir: string): RecordedPart => ({
  part,
  workerId: `w${part}`,
  workDir,
  startedAtMs: part * 100_000,
  lastSeenAtMs: part * 100_000 + 3000,
});

test('three parts, two of them killed: every part recovered and joined into one file, in order', async () => {
  const plan = webPlan({ url: 'https://example.com' });
  const egressId = plan.egressId;
  await capturePart(partWorkDir(tmp, egressId, 1), 'blue', 4, { keep: 0.7 });
  await capturePart(partWorkDir(tmp, egressId, 2), 'green', 3, { keep: 0.8 });
  await capturePart(partWorkDir(tmp, egressId, 3), 'red', 3);
  // Part 2 is not in the part log (its entry lost): its directory is found all the same.
  const dirs = earlierPartDirs(tmp, egressId, [logged(1, partWorkDir(tmp, egressId, 1))], 4);
  assert.deepEqual(
    dirs.map((d) => d.part),
    [1, 2, 3],
  );
  const { files, fileType } = await recoveredParts(config, plan, dirs, log);
  assert.equal(fileType, 'mp4');
  assert.deepEqual(
    files.map((f) => f.part),
    [1, 2, 3],
  );
  const outcome = await joinedParts('ffmpeg', files, 'mp4', join(tmp, 'joined.mp4'), log);
  assert.ok(outcome.joined);
  const sum = outcome.parts.reduce((total, p) => total + p.durationSec, 0);
  assert.ok(Math.abs(outcome.durationSec - sum) < 0.2, `joined ${outcome.durationSec} s, parts ${sum} s`);
  const probed = await probe(outcome.path);
  assert.ok(Math.abs(probed.format.duration - outcome.durationSec) < 0.2);
  const at = async (sec: number) => (await decodeFrameAt(outcome.path, sec)).pixel(160, 120);
  assert.ok((await at(0.5)).b > 200, 'part 1 first');
  assert.ok((await at(outcome.parts[0]!.durationSec + 0.5)).g > 100, 'then part 2');
  assert.ok((await at(outcome.durationSec - 0.5)).r > 200, 'part 3 last');
});

test('a part with other streams: the parts kept apart, each a playable file, and why', async () => {
  const plan = webPlan({ url: 'https://example.com' });
  await capturePart(partWorkDir(tmp, plan.egressId, 1), 'blue', 3, { keep: 0.8 });
  await capturePart(partWorkDir(tmp, plan.egressId, 2), 'red', 2, { size: '640x360' });
  const { files } = await recoveredParts(config, plan, earlierPartDirs(tmp, plan.egressId, [], 3), log);
  const outcome = await joinedParts('ffmpeg', files, 'mp4', join(tmp, 'apart.mp4'), log);
  assert.equal(outcome.joined, false);
  assert.match(outcome.joined ? '' : outcome.reason, /part 2 has other streams/);
  assert.equal(outcome.parts.length, 2);
  for (const part of outcome.parts) assert.ok((await probe(part.path)).format.duration > 1, `part ${part.part} plays`);
});
