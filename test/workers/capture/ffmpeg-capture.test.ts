/**
 * The capture's start watchdog against real Xvfb, PulseAudio and ffmpeg: when one input delivers
 * nothing, the capture fails naming that input (audio from PulseAudio or the X display), not with
 * whatever ffmpeg last printed; and it leaves no process behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { EgressError } from '../../../shared/errors.ts';
import { startCapture, type Capture } from '../../../workers/capture/ffmpeg-capture.ts';
import { Supervisor } from '../../../workers/process/processes.ts';
import { createSink, type AudioSink } from '../../../workers/web/pulse.ts';
import { startXvfb } from '../../../workers/web/xvfb.ts';
import { TEST_RECORDER_SETTINGS, webPlan } from '../../support/plans.ts';

const log = pino({ level: 'silent' });
const execFileAsync = promisify(execFile);
/** Short, so the tests are; the stalls below last forever anyway. */
const FIRST_OUTPUT_TIMEOUT_MS = 3_000;

/** Pids of the processes started with EGRESS_ID=tag, with their command names. */
async function processesTagged(tag: string): Promise<{ pid: number; command: string }[]> {
  const found: { pid: number; command: string }[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      if (!environ.includes(`EGRESS_ID=${tag}`)) continue;
      const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')[0] ?? '';
      found.push({ pid: Number(pid), command });
    } catch {
      // It ended while we looked.
    }
  }
  return found;
}

interface Setup {
  plan: ReturnType<typeof webPlan>;
  supervisor: Supervisor;
  display: string;
  sink: AudioSink;
  workDir: string;
  capture: () => Capture;
}

describe('ffmpeg capture: an input that delivers nothing', { concurrency: false }, () => {
  /** Undoes setUp() and the stall, last step first; also after a failed test. */
  let cleanup: (() => Promise<void>)[] = [];
  const tearDown = async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup = [];
  };
  afterEach(tearDown);

  async function setUp(): Promise<Setup> {
    const plan = webPlan({ url: 'about:blank', width: 640, height: 360 });
    const supervisor = new Supervisor(log, { EGRESS_ID: plan.egressId });
    const workDir = await mkdtemp(join(tmpdir(), 'ffmpeg-capture-test-'));
    cleanup.push(() => rm(workDir, { recursive: true, force: true }));
    let sink: AudioSink | undefined = undefined;
    cleanup.push(async () => {
      await supervisor.killAll();
      await sink?.remove();
    });
    const { display } = await startXvfb(supervisor, plan.encoding);
    sink = await createSink(plan.egressId, log);
    const audio = sink;
    const capture = () =>
      startCapture({
        ffmpegPath: TEST_RECORDER_SETTINGS.ffmpegPath,
        supervisor,
        plan,
        display,
        audio,
        workDir,
        outputs: { file: { path: join(workDir, 'out.mp4') } },
        log,
        firstOutputTimeoutMs: FIRST_OUTPUT_TIMEOUT_MS,
      });
    return { plan, supervisor, display, sink: audio, workDir, capture };
  }

  const neverActive = (capture: Capture) => Promise.race([capture.active.then(() => 'active'), capture.failed.then(() => 'failed')]);

  test('the sink suspended: fails naming the audio from PulseAudio, not the display', async () => {
    const { plan, sink, capture } = await setUp();
    const pactl = (...args: string[]) => execFileAsync('pactl', [`--server=${sink.server}`, ...args]);
    await pactl('suspend-sink', sink.name, '1');
    // Resumed before the processes are ended, so ffmpeg can take its SIGTERM.
    cleanup.push(async () => void (await pactl('suspend-sink', sink.name, '0')));

    const since = Date.now();
    const started = capture();
    assert.equal(await neverActive(started), 'failed');
    const error = await started.failed;
    assert.ok(error instanceof EgressError);
    assert.equal(error.code, 'EGR_ERR_ENCODER_FAILED');
    assert.match(error.message, /encoded nothing in 3 s: no audio from PulseAudio/);
    assert.ok(error.message.includes(sink.monitor), error.message);
    assert.doesNotMatch(error.message, /display/);
    assert.ok(Date.now() - since >= FIRST_OUTPUT_TIMEOUT_MS);

    // The ffmpegs that tried each input on their own are gone by then: only the capture's is left.
    assert.equal((await processesTagged(plan.egressId)).filter(({ command }) => command === 'ffmpeg').length, 1);
    await tearDown();
    assert.deepEqual(await processesTagged(plan.egressId), []);
  });

  test('the X server hung: fails naming the display, not the audio', async () => {
    const { plan, display, capture } = await setUp();
    const xvfb = (await processesTagged(plan.egressId)).find(({ command }) => command === 'Xvfb');
    assert.ok(xvfb, 'the Xvfb of the test');
    process.kill(xvfb.pid, 'SIGSTOP');
    cleanup.push(async () => void process.kill(xvfb.pid, 'SIGCONT'));

    const started = capture();
    assert.equal(await neverActive(started), 'failed');
    const error = await started.failed;
    assert.equal(error.code, 'EGR_ERR_ENCODER_FAILED');
    assert.equal(error.message, `ffmpeg encoded nothing in 3 s: no frames from the X display ${display}`);
    assert.equal((await processesTagged(plan.egressId)).filter(({ command }) => command === 'ffmpeg').length, 1);
    await tearDown();
    assert.deepEqual(await processesTagged(plan.egressId), []);
  });
});
