/**
 * Stream outputs against real servers: nginx-rtmp (recording what it receives, refusing keys not
 * starting with `good`), a stall proxy in front of it, and ffmpeg as an SRT listener. The fanout is
 * fed a live MPEG-TS encode as the recorder produces one; what the servers received is ffprobed, and
 * after every test no process of it may be left.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { redactStreamUrl } from '../../../shared/redact.ts';
import type { UrlPolicy } from '../../../shared/url-policy.ts';
import { Supervisor, type SupervisedProcess } from '../../../workers/process/processes.ts';
import { StreamFanout, type StreamFanoutOptions, type StreamState, type StreamTarget } from '../../../workers/streams/stream-fanout.ts';
import { probe } from '../../support/ffprobe.ts';
import { freePort } from '../../support/free-port.ts';
import { startRtmpServer, type RtmpServer } from '../../support/rtmp-server.ts';
import { startSrtListener } from '../../support/srt-listener.ts';
import { startStallProxy } from '../../support/stall-proxy.ts';
import { startLiveSource } from '../../support/live-source.ts';
import { waitFor } from '../../support/wait-for.ts';

/** Every stream key used, to check that none ever shows in a log line or an error. */
const keys = new Set<string>();
const logLines: string[] = [];
/** Every state any fanout reported. */
const reported: StreamState[] = [];
const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
/** Every child of these tests carries it, so the tests can tell whether any is left. */
const TAG = { EGRESS_ID: `EG_stream_sinks_${randomUUID()}` };
const supervisor = new Supervisor(log, TAG);

/** The running test's encodes, ended after it. */
let sources: SupervisedProcess[] = [];

function startSource(seconds: number): SupervisedProcess {
  const source = startLiveSource(supervisor, seconds);
  sources.push(source);
  return source;
}

function rtmpTarget(url: string, key: string): StreamTarget {
  keys.add(key);
  return { id: key, url, redactedUrl: redactStreamUrl(url), protocol: 'rtmp' };
}

const OPEN_POLICY: UrlPolicy = { allow: [], deny: [], denyPrivate: false };

function newFanout(options: Partial<StreamFanoutOptions> = {}): StreamFanout {
  return new StreamFanout({ ffmpegPath: 'ffmpeg', supervisor, log, urlPolicy: OPEN_POLICY, onChange: (state) => reported.push(state), ...options });
}

/** Adds a target and returns a reader of its current state. */
function add(fanout: StreamFanout, target: StreamTarget): () => StreamState {
  const index = fanout.states().length;
  fanout.add(target);
  return () => fanout.states()[index]!;
}

const connected = (state: () => StreamState, timeoutMs = 8_000) =>
  waitFor(`${state().url} to connect`, timeoutMs, () => state().connected && state());

async function recordingOf(server: RtmpServer, key: string): Promise<string[]> {
  return (await server.recordings()).filter((path) => path.split('/').pop()!.startsWith(`${key}-`));
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** The recording keeps growing: it gets more than 10 kB in a second. */
async function assertGrowing(path: string, message: string): Promise<void> {
  const before = await sizeOf(path);
  await sleep(1_000);
  assert.ok((await sizeOf(path)) > before + 10_000, message);
}

async function assertH264Aac(path: string, expectedDurationSec?: number): Promise<void> {
  const probed = await probe(path);
  assert.deepEqual(probed.streams.map((s) => s.codec_name).sort(), ['aac', 'h264'], `${path} holds H.264 + AAC`);
  if (expectedDurationSec !== undefined) {
    assert.ok(
      Math.abs(probed.format.duration - expectedDurationSec) <= 1,
      `${path} lasts ${probed.format.duration} s, expected ${expectedDurationSec} s ± 1 s`,
    );
  }
}

/** Processes carrying this test file's tag. */
async function processesLeft(): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      if (environ.includes(`EGRESS_ID=${TAG.EGRESS_ID}`))
        found.push(`${pid} ${(await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ').slice(0, 100)}`);
    } catch {
      // It ended while we looked.
    }
  }
  return found;
}

describe('stream sinks', { concurrency: false }, () => {
  let server: RtmpServer;
  let workDir: string;
  /** Cleanups of the running test (its fanouts, servers), run even when it fails. */
  let cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = <T extends { stop(): Promise<unknown> } | { close(): Promise<unknown> }>(thing: T): T => {
    cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
    return thing;
  };

  before(async () => {
    server = await startRtmpServer();
    workDir = await mkdtemp(join(tmpdir(), 'stream-sinks-test-'));
  });
  afterEach(async () => {
    for (const done of cleanups.reverse()) await done();
    cleanups = [];
    await Promise.all(sources.map((source) => source.kill()));
    sources = [];
    // Stopped fanouts must have ended every ffmpeg they started.
    const left = await processesLeft();
    await supervisor.killAll();
    assert.deepEqual(left, [], 'no process of the test is left');
  });
  after(async () => {
    await server?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  test('two RTMP URLs both go active and the server records the whole stream on each', async () => {
    const source = startSource(6);
    // What the fanout is fed, kept to compare durations with.
    const sent = join(workDir, 'sent.ts');
    source.child.stdout!.pipe(createWriteStream(sent));
    const fanout = cleanup(newFanout());
    const a = add(fanout, rtmpTarget(server.url('good-alpha-1'), 'good-alpha-1'));
    const b = add(fanout, rtmpTarget(server.url('good-bravo-2'), 'good-bravo-2'));
    fanout.attach(source.child.stdout!);

    for (const state of [a, b]) {
      const up = await connected(state);
      assert.equal(up.status, 'active');
      assert.ok(up.startedAtMs, 'startedAt is set once the server took the stream');
    }
    assert.equal((await source.exited).code, 0);
    // The encode ended, so the fanout ends every stream gracefully.
    const final = await fanout.stop();
    assert.deepEqual(
      final.map((s) => [s.status, s.retries, s.error]),
      [
        ['finished', 0, undefined],
        ['finished', 0, undefined],
      ],
    );

    const sentSec = (await probe(sent)).format.duration;
    for (const key of ['good-alpha-1', 'good-bravo-2']) {
      const files = await recordingOf(server, key);
      assert.equal(files.length, 1, `one recording of ${key}`);
      await assertH264Aac(files[0]!, sentSec);
    }
  });

  test('a refused connection and a refused stream key fail fast; the good URL goes on', async () => {
    const source = startSource(60);
    const fanout = cleanup(newFanout());
    const addedAtMs = Date.now();
    const refusedPort = add(fanout, rtmpTarget(`rtmp://127.0.0.1:${await freePort()}/live/refused-port-key`, 'refused-port-key'));
    const refusedKey = add(fanout, rtmpTarget(server.url('badkey-charlie-3'), 'badkey-charlie-3'));
    const good = add(fanout, rtmpTarget(server.url('good-delta-4'), 'good-delta-4'));
    fanout.attach(source.child.stdout!);

    for (const state of [refusedPort, refusedKey]) {
      const failed = await waitFor(`${state().url} to fail`, 5_000, () => state().status === 'failed' && state());
      assert.ok(failed.endedAtMs! - addedAtMs < 5_000, `failed within 5 s (took ${failed.endedAtMs! - addedAtMs} ms)`);
      assert.equal(failed.retries, 0, 'a first attempt that sent nothing is not retried');
      assert.ok(failed.error?.includes(failed.url), `the error names the redacted URL: ${failed.error}`);
      for (const key of keys) assert.ok(!failed.error!.includes(key), `the error does not name the stream key: ${failed.error}`);
    }
    assert.match(refusedPort().error!, /Connection refused/);

    await connected(good);
    const [recording] = await recordingOf(server, 'good-delta-4');
    assert.ok(recording, 'the good URL is recorded');
    await assertGrowing(recording, 'the good URL is still recording after the others failed');
    assert.equal(good().status, 'active');
    assert.deepEqual(await Promise.race([fanout.allStopped, sleep(0, 'pending')]), 'pending', 'one URL still streams');
    await fanout.stop();
  });

  test('a URL added while live is recorded from then on; a removed one finishes, the others go on', async () => {
    const source = startSource(60);
    const fanout = cleanup(newFanout());
    const addedAtMs = [Date.now()];
    const first = add(fanout, rtmpTarget(server.url('good-echo-5'), 'good-echo-5'));
    fanout.attach(source.child.stdout!);
    await connected(first);
    await sleep(1_500);

    addedAtMs.push(Date.now());
    const added = add(fanout, rtmpTarget(server.url('good-foxtrot-6'), 'good-foxtrot-6'));
    await connected(added);
    const [addedRecording] = await recordingOf(server, 'good-foxtrot-6');
    const [firstRecording] = await recordingOf(server, 'good-echo-5');
    assert.ok(addedRecording && firstRecording);
    await assertGrowing(addedRecording, 'the added URL records');

    await fanout.remove('good-echo-5');
    assert.equal(first().status, 'finished');
    assert.ok(first().endedAtMs);
    await assert.rejects(fanout.remove('good-echo-5'), { code: 'EGR_ERR_NOT_FOUND' });
    const endedSize = await sizeOf(firstRecording);
    await assertGrowing(addedRecording, 'the other URL goes on after a removal');
    assert.equal(await sizeOf(firstRecording), endedSize, 'the removed URL is no longer recorded');
    assert.equal(added().status, 'active');

    // Removing the last URL stops the streams: the caller ends the egress ("All streams stopped").
    await fanout.remove('good-foxtrot-6');
    assert.deepEqual(await fanout.allStopped, { reason: 'removed' });
    for (const [i, [state, file]] of (
      [
        [first(), firstRecording],
        [added(), addedRecording],
      ] as const
    ).entries()) {
      // Recorded from the first keyframe after it was added (the copy analyses 1 s of it before it
      // connects, then sends that too) until its removal.
      await assertH264Aac(file);
      const recordedSec = (await probe(file)).format.duration;
      const activeSec = (state.endedAtMs! - state.startedAtMs!) / 1000;
      const sinceAddedSec = (state.endedAtMs! - addedAtMs[i]!) / 1000;
      assert.ok(
        recordedSec >= activeSec - 0.5 && recordedSec <= sinceAddedSec + 0.5,
        `${file}: ${recordedSec} s recorded, active ${activeSec} s, added ${sinceAddedSec} s before its removal`,
      );
    }
  });

  test('a stalled RTMP server: retried with backoff, active again once it takes data, failed when it never does', async () => {
    const source = startSource(60);
    const resumes = cleanup(await startStallProxy(server.port));
    const never = cleanup(await startStallProxy(server.port));
    // Progress is what the server acknowledges, so the stall shows within the window whatever the
    // kernel's and the proxy's buffers still take in.
    const settings = { stallTimeoutMs: 3_000 };
    const fanout = cleanup(newFanout(settings));
    const failing = cleanup(newFanout({ ...settings, maxRetries: 1 }));
    const stalled = add(fanout, rtmpTarget(`rtmp://127.0.0.1:${resumes.port}/live/good-golf-7`, 'good-golf-7'));
    const doomed = add(failing, rtmpTarget(`rtmp://127.0.0.1:${never.port}/live/good-hotel-8`, 'good-hotel-8'));
    fanout.attach(source.child.stdout!);
    failing.attach(source.child.stdout!);
    await Promise.all([connected(stalled), connected(doomed)]);

    resumes.stall();
    never.stall();
    const retried = await waitFor('a retry', 30_000, () => stalled().retries > 0 && stalled());
    assert.equal(retried.status, 'active', 'a stream being retried stays active');
    assert.ok(retried.lastRetryAtMs && retried.lastRetryAtMs >= retried.startedAtMs!, 'lastRetryAt is set');

    const recordingsBefore = (await recordingOf(server, 'good-golf-7')).length;
    resumes.resume();
    await connected(stalled, 20_000);
    const reconnected = await waitFor('a new recording', 5_000, async () => {
      const files = await recordingOf(server, 'good-golf-7');
      return files.length > recordingsBefore && files.at(-1);
    });
    await assertGrowing(reconnected, 'the stream is recorded again after the server took data again');
    assert.equal(stalled().status, 'active');

    const failed = await waitFor('the never-resumed stream to fail', 40_000, () => doomed().status === 'failed' && doomed());
    assert.equal(failed.retries, 1);
    assert.match(failed.error!, /gave up after 1 retries/);
    const stopped = await failing.allStopped;
    assert.equal(stopped.reason, 'failed');
    assert.equal(stopped.reason === 'failed' && stopped.error.code, 'EGR_ERR_UNAVAILABLE');
  });

  test('SRT: the listener receives H.264 + AAC', async () => {
    const listener = cleanup(await startSrtListener());
    const source = startSource(5);
    const fanout = cleanup(newFanout());
    const srt = add(fanout, { id: 'srt', url: listener.url, redactedUrl: redactStreamUrl(listener.url), protocol: 'srt' });
    fanout.attach(source.child.stdout!);
    await connected(srt);
    await source.exited;
    assert.deepEqual(
      (await fanout.stop()).map((s) => s.status),
      ['finished'],
    );
    await listener.finished(5_000);
    await assertH264Aac(listener.file, 5);
  });

  test('no log line and no error message contains a stream key', () => {
    assert.ok(logLines.length > 20, 'the tests logged');
    assert.ok(keys.size >= 8);
    const errors = reported.flatMap((state) => state.error ?? []);
    assert.ok(errors.length >= 3, 'streams failed');
    for (const key of keys) {
      assert.deepEqual(
        logLines.filter((line) => line.includes(key)),
        [],
        `stream key ${key} in the log`,
      );
      assert.deepEqual(
        errors.filter((error) => error.includes(key)),
        [],
        `stream key ${key} in an error`,
      );
    }
  });
});
