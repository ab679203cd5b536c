/**
 * The web recorder against real Chromium, Xvfb, PulseAudio and ffmpeg, recording a local test page;
 * files checked with ffprobe, and after every recording no process of it may be left.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { EgressPlan } from '../../../shared/egress-plan.ts';
import type { RecorderSettings, Recording } from '../../../workers/recording/recorder-contract.ts';
import { TEST_RECORDER_SETTINGS, webPlan } from '../../support/plans.ts';
import { recordWeb } from '../../../workers/web/web-recorder.ts';
import { decodeFrameAt, meanVolumeDb, probe } from '../../support/ffprobe.ts';
import { BLOCK_BAND, BLOCK_PERIOD_SEC, PAGE_COLOUR, startTestPage, type TestPage } from '../../support/test-page.ts';

const log = pino({ level: 'warn' });

interface Started {
  plan: EgressPlan;
  recording: Recording;
  workDir: string;
  filePath: string;
  /** Resolves with what onActive was called with. */
  active: Promise<number>;
}

async function start(plan: EgressPlan, settings: Partial<RecorderSettings> = {}): Promise<Started> {
  const workDir = await mkdtemp(join(tmpdir(), `web-recorder-test-${plan.egressId}-`));
  const filePath = join(workDir, 'out', plan.file!.filepath);
  let onActive = (_startedAtMs: number) => {};
  const active = new Promise<number>((resolve) => (onActive = resolve));
  const recording = recordWeb({
    plan,
    workDir,
    outputs: { file: { path: filePath } },
    settings: { ...TEST_RECORDER_SETTINGS, ...settings },
    log,
    onActive,
  });
  return { plan, recording, workDir, filePath, active };
}

/** Processes of a recording: tagged with its EGRESS_ID (Chromium's helpers inherit it) or naming its work dir. */
async function processesOf({ plan, workDir }: Started): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      if (cmdline.includes(workDir) || environ.includes(`EGRESS_ID=${plan.egressId}`)) found.push(`${pid} ${cmdline.slice(0, 100)}`);
    } catch {
      // It ended while we looked.
    }
  }
  return found;
}

/** The pid of the Chromium browser process (not a helper) of a recording. */
async function chromiumOf(started: Started): Promise<number> {
  const browser = (await processesOf(started)).find((line) => line.includes('chromium') && !line.includes('--type='));
  assert.ok(browser, 'the Chromium browser process of the recording');
  return Number(browser.split(' ')[0]);
}

const isColour = (pixel: { r: number; g: number; b: number }, colour: { r: number; g: number; b: number }) =>
  Math.abs(pixel.r - colour.r) <= 12 && Math.abs(pixel.g - colour.g) <= 12 && Math.abs(pixel.b - colour.b) <= 12;

describe('web recorder', { concurrency: false }, () => {
  let page: TestPage;
  const workDirs: string[] = [];
  const record = async (plan: EgressPlan, settings?: Partial<RecorderSettings>) => {
    const started = await start(plan, settings);
    workDirs.push(started.workDir);
    return started;
  };
  const assertNothingLeft = async (started: Started) => assert.deepEqual(await processesOf(started), []);

  before(async () => {
    page = await startTestPage();
  });
  after(async () => {
    await page.close();
    await Promise.all(workDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  test('720p30 for about 6 s, stopped: a playable H.264/AAC MP4 showing the page, with its sound', async () => {
    const started = await record(webPlan({ url: page.url }));
    const activeAt = await started.active;
    await sleep(6000);
    started.recording.stop('test over');
    const result = await started.recording.done;

    assert.equal(result.started, true);
    assert.equal(result.end, 'stopped');
    assert.equal(result.startedAtMs, activeAt);
    assert.equal(result.file?.path, started.filePath);
    assert.equal(result.file?.sizeBytes, statSync(started.filePath).size);
    const media = await probe(started.filePath);
    const video = media.streams.find((stream) => stream.codec_type === 'video');
    const audio = media.streams.find((stream) => stream.codec_type === 'audio');
    assert.equal(video?.codec_name, 'h264');
    assert.equal(video.width, 1280);
    assert.equal(video.height, 720);
    assert.ok(video.avg_frame_rate! >= 29 && video.avg_frame_rate! <= 31, `avg fps ${video.avg_frame_rate}`);
    assert.equal(audio?.codec_name, 'aac');
    assert.equal(audio.sample_rate, 44100);
    assert.equal(audio.channels, 2);
    const wallSec = (result.endedAtMs - result.startedAtMs) / 1000;
    assert.ok(Math.abs(media.format.duration - wallSec) < 1, `file ${media.format.duration} s, recorded ${wallSec} s`);
    assert.ok((await meanVolumeDb(started.filePath)) > -40, 'the tone is audible');

    // Half a crossing apart, the block is far from where it was.
    const early = await decodeFrameAt(started.filePath, 2);
    const late = await decodeFrameAt(started.filePath, 2 + BLOCK_PERIOD_SEC / 2);
    assert.ok(isColour(early.pixel(20, 20), PAGE_COLOUR), `page colour, got ${JSON.stringify(early.pixel(20, 20))}`);
    assert.ok(isColour(early.pixel(early.width - 20, early.height - 20), PAGE_COLOUR), 'the page fills the frame');
    const bandRow = Math.round((early.height * (BLOCK_BAND.top + BLOCK_BAND.bottom)) / 2) * early.width * 3;
    const band = (frame: typeof early) => frame.rgb.subarray(bandRow, bandRow + frame.width * 3);
    assert.notDeepEqual(band(early), band(late), 'the block moves: frames are live, not frozen');

    assert.ok(result.stats.frames >= wallSec * 30 * 0.9, `frames ${result.stats.frames}`);
    assert.ok(result.stats.dropped <= result.stats.frames * 0.05, `dropped ${result.stats.dropped} of ${result.stats.frames}`);
    await assertNothingLeft(started);
  });

  test('recording on past the 15 s start watchdog: not failed, the file covers all of it', async () => {
    // The watchdog for a capture that encodes nothing once failed every recording 15 s after ffmpeg started.
    const started = await record(webPlan({ url: page.url, width: 640, height: 360 }));
    await started.active;
    await sleep(18_000);
    started.recording.stop('test over');
    const result = await started.recording.done;

    assert.equal(result.end, 'stopped');
    const media = await probe(started.filePath);
    const wallSec = (result.endedAtMs - result.startedAtMs) / 1000;
    assert.ok(wallSec >= 18 && Math.abs(media.format.duration - wallSec) < 1, `file ${media.format.duration} s, recorded ${wallSec} s`);
    assert.deepEqual(
      media.streams.map((stream) => stream.codec_name),
      ['h264', 'aac'],
    );
    await assertNothingLeft(started);
  });

  test('audio only: an OGG with 48 kHz Opus and no video', async () => {
    const started = await record(webPlan({ url: page.url, video: false, fileType: 'ogg' }));
    await started.active;
    await sleep(3000);
    started.recording.stop('test over');
    const result = await started.recording.done;

    const media = await probe(started.filePath);
    assert.deepEqual(
      media.streams.map((stream) => stream.codec_name),
      ['opus'],
    );
    assert.equal(media.streams[0]?.sample_rate, 48000);
    assert.equal(media.streams[0]?.channels, 2);
    assert.ok((await meanVolumeDb(started.filePath)) > -40, 'the tone is audible');
    assert.equal(result.stats.frames, 0);
    await assertNothingLeft(started);
  });

  test('video only: an MP4 without an audio stream', async () => {
    const started = await record(webPlan({ url: page.url, audio: false }));
    await started.active;
    await sleep(3000);
    started.recording.stop('test over');
    await started.recording.done;

    const media = await probe(started.filePath);
    assert.deepEqual(
      media.streams.map((stream) => stream.codec_type),
      ['video'],
    );
    await assertNothingLeft(started);
  });

  test('awaiting a start signal that never comes: EGR_ERR_START_SIGNAL after the timeout', async () => {
    const started = await record(webPlan({ url: page.url, awaitStartSignal: true }), { startSignalTimeoutSec: 3 });
    const since = Date.now();
    await assert.rejects(started.recording.done, { name: 'EgressError', code: 'EGR_ERR_START_SIGNAL', message: 'Start signal not received' });
    assert.ok(Date.now() - since >= 3000);
    assert.equal(existsSync(started.filePath), false);
    await assertNothingLeft(started);
  });

  test('stopped while awaiting the start signal: nothing recorded, started false', async () => {
    const started = await record(webPlan({ url: page.url, awaitStartSignal: true }));
    started.recording.stop('changed my mind');
    const result = await started.recording.done;

    assert.equal(result.started, false);
    assert.equal(result.end, 'stopped');
    assert.equal(result.file, undefined);
    await assertNothingLeft(started);
  });

  test('START_RECORDING then END_RECORDING from the page: recorded in between, ends with end_signal', async () => {
    const started = await record(webPlan({ url: `${page.url}?signal=start&end=4`, awaitStartSignal: true }));
    const result = await started.recording.done;

    assert.equal(result.started, true);
    assert.equal(result.end, 'end_signal');
    const media = await probe(started.filePath);
    // START_RECORDING at 1 s, END_RECORDING at 4 s after load.
    assert.ok(media.format.duration > 2 && media.format.duration < 4, `duration ${media.format.duration} s`);
    await assertNothingLeft(started);
  });

  test('Chromium killed mid-recording: EGR_ERR_BROWSER_CRASHED, and no process of the recording left', async () => {
    const started = await record(webPlan({ url: page.url }));
    await started.active;
    await sleep(1000);
    process.kill(await chromiumOf(started), 'SIGKILL');

    await assert.rejects(started.recording.done, { name: 'EgressError', code: 'EGR_ERR_BROWSER_CRASHED', message: /Chromium/ });
    await assertNothingLeft(started);
  });

  test('a page answering HTTP 500: EGR_ERR_PAGE_LOAD naming the status', async () => {
    const started = await record(webPlan({ url: `${page.url}?status=500` }));
    await assert.rejects(started.recording.done, { name: 'EgressError', code: 'EGR_ERR_PAGE_LOAD', message: /HTTP 500/ });
    await assertNothingLeft(started);
  });

  test('two recordings at once in one process: own display, sink and profile each, both files fine', async () => {
    const both = await Promise.all([
      record(webPlan({ url: page.url, width: 640, height: 360 })),
      record(webPlan({ url: page.url, width: 640, height: 360, video: false, fileType: 'ogg' })),
    ]);
    await Promise.all(both.map((started) => started.active));
    await sleep(3000);
    for (const started of both) started.recording.stop('test over');
    await Promise.all(both.map((started) => started.recording.done));

    const [video, audioOnly] = await Promise.all(both.map((started) => probe(started.filePath)));
    assert.deepEqual(
      video?.streams.map((stream) => stream.codec_name),
      ['h264', 'aac'],
    );
    assert.deepEqual(
      audioOnly?.streams.map((stream) => stream.codec_name),
      ['opus'],
    );
    for (const started of both) {
      assert.ok((await meanVolumeDb(started.filePath)) > -40, `${started.plan.egressId} is audible`);
      await assertNothingLeft(started);
    }
  });
});
