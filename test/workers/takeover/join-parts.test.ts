/**
 * A recording that changed workers becomes one file: the first worker's capture, cut short where it was killed
 * (a fragmented MP4 truncated mid-fragment), and the second worker's, joined without re-encoding. The file plays
 * end to end: its duration is the sum of what each part holds, its streams are the parts' codecs, the frames at
 * its end are the second part's and its start the first's. Parts with other streams are refused, not joined.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { joinParts } from '../../../workers/takeover/join-parts.ts';
import { decodeFrameAt, probe } from '../../support/ffprobe.ts';

const run = promisify(execFile);
let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'join-parts-'))));
after(async () => rm(dir, { recursive: true, force: true }));

/** A capture as the recorder writes it (workers/capture/ffmpeg-args.ts): fragmented MP4, H.264 + AAC. */
async function capture(name: string, color: string, seconds: number, size = '320x240'): Promise<string> {
  const path = join(dir, name);
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `color=c=${color}:size=${size}:rate=25`,
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    '25',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-ac',
    '2',
    '-movflags',
    '+empty_moov+default_base_moof',
    '-frag_duration',
    '1000000',
    path,
  ]);
  return path;
}

async function remux(capturePath: string): Promise<string> {
  const path = capturePath.replace(/\.mp4$/, '.file.mp4');
  await run('ffmpeg', ['-v', 'error', '-y', '-i', capturePath, '-map', '0', '-c', 'copy', '-movflags', '+faststart', path]);
  return path;
}

test('a killed part and its successor make one playable MP4, the gap left out', async () => {
  const first = await capture('first.mp4', 'blue', 4);
  // Killed mid-fragment: the last bytes never reached the disk.
  await truncate(first, Math.floor((await stat(first)).size * 0.6));
  // Each part is a normal file before the join (the salvage's remux, the capture's own).
  const firstFile = await remux(first);
  const secondFile = await remux(await capture('second.mp4', 'red', 3));
  const joined = await joinParts('ffmpeg', [firstFile, secondFile], 'mp4', join(dir, 'joined.mp4'));

  const [firstSec, secondSec] = joined.partDurationsSec;
  assert.ok(firstSec! > 1 && firstSec! < 3.5, `the cut first part holds ${firstSec} s`);
  assert.ok(Math.abs(secondSec! - 3) < 0.1, `the second part holds ${secondSec} s`);
  assert.ok(Math.abs(joined.durationSec - (firstSec! + secondSec!)) < 0.15, `joined ${joined.durationSec} s, parts ${firstSec} + ${secondSec} s`);

  const probed = await probe(joined.path);
  assert.deepEqual(probed.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:h264']);
  assert.ok(Math.abs(probed.format.duration - joined.durationSec) < 0.15, `ffprobe says ${probed.format.duration} s`);
  const start = (await decodeFrameAt(joined.path, 0.5)).pixel(160, 120);
  const end = (await decodeFrameAt(joined.path, joined.durationSec - 0.5)).pixel(160, 120);
  assert.ok(start.b > 200 && start.r < 60, `the start is the first part's (blue): ${JSON.stringify(start)}`);
  assert.ok(end.r > 200 && end.b < 60, `the end is the second part's (red): ${JSON.stringify(end)}`);
});

test('parts whose streams differ are refused, naming the part', async () => {
  const first = await remux(await capture('a.mp4', 'blue', 1));
  const second = await remux(await capture('b.mp4', 'red', 1, '640x360'));
  await assert.rejects(joinParts('ffmpeg', [first, second], 'mp4', join(dir, 'refused.mp4')), /part 2 has other streams .*640x360/);
});
