/**
 * G.711 track egress parts: the μ-law / A-law tables decode every byte as ffmpeg does (and the test
 * publisher's encoders round-trip within G.711's step); the codec of a MIME type; and the Opus encoder
 * (g711EncodeArgs) is crash-safe: killed (SIGKILL, as a dying worker leaves it) while its input still
 * flows, its Ogg decodes up to a fraction of a second before the kill.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { decodeG711, g711Law, linearToAlaw, linearToUlaw } from '../../../workers/track/codecs.ts';
import { g711EncodeArgs } from '../../../workers/track/g711-session.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'g711-'))));
after(async () => rm(dir, { recursive: true, force: true }));

test('g711Law: PCMU and PCMA, any case; nothing else', () => {
  assert.equal(g711Law('audio/PCMU'), 'pcmu');
  assert.equal(g711Law('audio/pcma'), 'pcma');
  assert.equal(g711Law('audio/opus'), undefined);
  assert.equal(g711Law('video/H264'), undefined);
});

test('decodeG711: all 256 bytes of each law decode as ffmpeg decodes them', async () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const input = join(dir, 'all.bin');
  await writeFile(input, all);
  for (const [law, format] of [
    ['pcmu', 'mulaw'],
    ['pcma', 'alaw'],
  ] as const) {
    const { stdout } = await run('ffmpeg', ['-v', 'error', '-f', format, '-ar', '8000', '-ac', '1', '-i', input, '-f', 's16le', '-'], {
      encoding: 'buffer',
    });
    const reference = new Int16Array(stdout.buffer, stdout.byteOffset, 256);
    assert.deepEqual([...decodeG711(law, all)], [...reference], law);
  }
  // Silence: μ-law 0xff is 0, A-law 0xd5 is the smallest positive step.
  assert.equal(decodeG711('pcmu', Uint8Array.of(0xff))[0], 0);
  assert.equal(decodeG711('pcma', Uint8Array.of(0xd5))[0], 8);
});

test('linearToUlaw / linearToAlaw round-trip within G.711 quantisation', () => {
  for (const [law, encode] of [
    ['pcmu', linearToUlaw],
    ['pcma', linearToAlaw],
  ] as const) {
    let worst = 0;
    for (let s = -32_000; s <= 32_000; s += 13) {
      const back = decodeG711(law, Uint8Array.of(encode(s)))[0]!;
      worst = Math.max(worst, Math.abs(back - s) / Math.max(256, Math.abs(s)));
    }
    assert.ok(worst < 0.07, `${law}: worst relative error ${worst}`);
  }
});

test('the Opus encoder: Opus 48 kHz in Ogg, on disk as it records; killed mid-way, the Ogg decodes up to the kill', async () => {
  const path = join(dir, 'capture.ogg');
  const ffmpeg = spawn('ffmpeg', g711EncodeArgs(path, 8000), { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  ffmpeg.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => ffmpeg.once('exit', (code, signal) => resolve(signal ?? code)));
  // 3 s of a 1 kHz tone at 8 kHz, fed in real time (20 ms packets, as RTP comes).
  const startedAt = performance.now();
  for (let packet = 0; packet < 150; packet++) {
    const pcm = Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 1000 * (packet * 160 + i)) / 8000)));
    ffmpeg.stdin.write(Buffer.from(pcm.buffer));
    const due = (packet + 1) * 20 - (performance.now() - startedAt);
    if (due > 0) await sleep(due);
  }
  await sleep(300);
  ffmpeg.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', stderr);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,sample_rate:format=duration', '-of', 'json', path]);
  const info = JSON.parse(stdout) as { streams: { codec_name: string; sample_rate: string }[]; format: { duration: string } };
  assert.equal(info.streams[0]?.codec_name, 'opus');
  assert.equal(info.streams[0]?.sample_rate, '48000');
  const { stdout: pcm, stderr: errors } = await run('ffmpeg', ['-v', 'error', '-i', path, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(errors.toString().trim(), '', 'decodes without errors');
  const seconds = pcm.length / 2 / 48_000;
  assert.ok(seconds > 2.5 && seconds <= 3.1, `${seconds} s of the 3 s fed before the kill`);
});
