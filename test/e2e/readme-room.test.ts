/**
 * The README's "Try it" for rooms, as a newcomer runs it: `npm run livekit` (a LiveKit server in dev mode, keys
 * devkey / secret), then `LIVEKIT_URL=ws://127.0.0.1:7880 npm start` with nothing else configured (the embedded
 * default: its own redis-server, the dev keys for its API and for the LiveKit server). A participant publishes;
 * a room composite, a participant and a track egress are started through the Twirp API with devkey / secret,
 * stopped, and their files checked with ffprobe and by colour: they open on the participant, and `room_id` is
 * the room's sid. When 7880 (or 7881/7882, or the API's 8080) is taken on this machine, the same commands run
 * on free ports through the environment (LIVEKIT_PORT, LIVEKIT_RTC_TCP_PORT, UDP_PORT; EGRESS_PORT). The
 * service's cache, recordings and temp folders are the test's; every process either command started is
 * killed at the end (their process groups, then anything left carrying the test's environment tag).
 */
import { DirectFileOutput, EgressStatus, EncodedFileOutput, EncodedFileType } from '@livekit/protocol';
import { dispose } from '@livekit/rtc-node';
import { EgressClient, RoomServiceClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { freePort, freeUdpPort } from '../support/free-port.ts';
import { readManifest } from '../support/manifest-file.ts';
import { apiUrlOf, runNpm, type NpmCommand } from '../support/npm-command.ts';
import { DEV_KEY, DEV_SECRET, processesTagged } from '../support/npm-start.ts';
import { startPublisher, type TestPublisher } from '../support/publisher.ts';
import { colourOver, openingColour } from '../support/recording-checks.ts';

const TAG = 'EGRESS_TEST_README_ROOM';
const ENDED = [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED, EgressStatus.EGRESS_LIMIT_REACHED];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a port can be bound now, as the server binds it (TCP on `host`, or UDP on every address). */
function canBind(port: number, protocol: 'tcp' | 'udp', host: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, host, () => socket.close(() => resolve(true)));
      return;
    }
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function waitFor<T>(what: string, command: NpmCommand, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (command.child.exitCode !== null || command.child.signalCode !== null || Date.now() > deadline) {
      throw new Error(
        `${what}: not there (${command.child.exitCode ?? command.child.signalCode ?? 'timed out'}); output:\n${command.output().slice(-4000)}`,
      );
    }
    await sleep(200);
  }
}

describe("README's Try it for rooms: npm run livekit, then LIVEKIT_URL=ws://127.0.0.1:7880 npm start", { concurrency: false }, () => {
  let root: string;
  let livekit: NpmCommand | undefined;
  let service: NpmCommand | undefined;
  let liveKitPort = 7880;
  let apiUrl = '';
  const tag = randomBytes(8).toString('hex');
  const publishers: TestPublisher[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'readme-room-'));
    await mkdir(join(root, 'tmp'));
    // A shell with no egress-queue or LiveKit setting (but where servers are built and cached), this Node first.
    const base: NodeJS.ProcessEnv = { [TAG]: tag };
    for (const [name, value] of Object.entries(process.env))
      if (!/^(EGRESS_(?!CACHE_DIR$)|LIVEKIT_|REDIS_URL$|UDP_PORT$)/.test(name)) base[name] = value;
    base.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;

    const defaults = (await canBind(7880, 'tcp', '127.0.0.1')) && (await canBind(7881, 'tcp', '0.0.0.0')) && (await canBind(7882, 'udp', '0.0.0.0'));
    const liveKitEnv: NodeJS.ProcessEnv = { ...base };
    if (!defaults) {
      liveKitPort = await freePort();
      Object.assign(liveKitEnv, {
        LIVEKIT_PORT: String(liveKitPort),
        LIVEKIT_RTC_TCP_PORT: String(await freePort()),
        UDP_PORT: String(await freeUdpPort()),
      });
    }
    livekit = runNpm(['run', 'livekit'], liveKitEnv);
    await waitFor(
      'npm run livekit',
      livekit,
      async () => ((await fetch(`http://127.0.0.1:${liveKitPort}/`).catch(() => undefined))?.ok ? true : undefined),
      20 * 60_000,
    );

    const serviceEnv: NodeJS.ProcessEnv = {
      ...base,
      LIVEKIT_URL: `ws://127.0.0.1:${liveKitPort}`,
      EGRESS_CACHE_DIR: join(root, 'cache'),
      EGRESS_RECORDINGS_DIR: join(root, 'recordings'),
      TMPDIR: join(root, 'tmp'),
    };
    if (!(await canBind(8080, 'tcp', '127.0.0.1'))) serviceEnv.EGRESS_PORT = String(await freePort());
    service = runNpm(['start'], serviceEnv);
    apiUrl = await apiUrlOf(service, 120_000);
  });

  /** A failed wait says what the service printed. */
  const withOutput = <T>(step: Promise<T>): Promise<T> =>
    step.catch((err: Error) => {
      throw new Error(`${err.message}\nnpm start printed:\n${service?.output().slice(-4000)}`);
    });

  after(async () => {
    await Promise.all(publishers.map((p) => p.leave().catch(() => undefined)));
    await dispose();
    // Killed outright (no drain to wait for): both process groups, then whatever runs in sessions of its own
    // (the service and its Redis, Chromium, PulseAudio) and still carries the tag.
    service?.killGroup();
    livekit?.killGroup();
    let left = await processesTagged(TAG, tag);
    for (let round = 0; round < 20 && left.length > 0; round++) {
      for (const { pid } of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await sleep(250);
      left = await processesTagged(TAG, tag);
    }
    if (root) await rm(root, { recursive: true, force: true });
    assert.deepEqual(left, [], 'every process the commands started is gone');
  });

  test('room composite, participant and track egress record the published participant, with devkey / secret', async (t) => {
    t.diagnostic(`npm run livekit on port ${liveKitPort}; npm start's API at ${apiUrl}`);
    const out = service!.output();
    assert.match(out, /Credentials\s+API key devkey, secret "secret"/);
    assert.doesNotMatch(out, /invalid configuration/);

    const room = 'readme-room';
    const alice = await startPublisher({
      url: `ws://127.0.0.1:${liveKitPort}`,
      apiKey: DEV_KEY,
      apiSecret: DEV_SECRET,
      room,
      identity: 'alice',
      colourIndex: 0,
    });
    publishers.push(alice);
    const rooms = new RoomServiceClient(`http://127.0.0.1:${liveKitPort}`, DEV_KEY, DEV_SECRET);
    const [{ sid: roomSid } = { sid: '' }] = await rooms.listRooms([room]);
    assert.match(roomSid, /^RM_/);

    const client = new EgressClient(apiUrl, DEV_KEY, DEV_SECRET);
    // One at a time: on a small machine the embedded default's admission (cpu_cost) runs one recording at once.
    const requests = {
      room_composite: () =>
        client.startRoomCompositeEgress(room, { file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'readme/room.mp4' }) }),
      participant: () =>
        client.startParticipantEgress(room, 'alice', {
          file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'readme/participant.mp4' }),
        }),
      track: () => client.startTrackEgress(room, new DirectFileOutput({ filepath: 'readme/track' }), alice.trackSid('video')!),
    };
    for (const [kind, start] of Object.entries(requests)) {
      const { egressId } = await start();
      const active = await withOutput(waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 90_000));
      assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, `${kind}: ${active.error}`);
      assert.equal(active.roomId, roomSid, `${kind}: room_id`);
      await sleep(5000);
      await client.stopEgress(egressId);
      const done = await withOutput(waitForStatus(client, egressId, ENDED, 60_000));
      assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, `${kind}: ${done.error}`);

      const file = done.fileResults[0]!;
      assert.ok(file.location.startsWith(join(root, 'recordings', 'readme')), `${kind}: in the recordings folder given: ${file.location}`);
      const probed = await probe(file.location);
      const video = probed.streams.find((s) => s.codec_type === 'video');
      const opening = await openingColour(file.location);
      t.diagnostic(
        `${kind}: ${probed.format.format_name}, ${video?.codec_name} ${video?.width}x${video?.height}, ${probed.format.duration.toFixed(2)} s, opens on ${opening}`,
      );
      assert.equal(video?.codec_name, kind === 'track' ? 'vp8' : 'h264', kind);
      if (kind !== 'track')
        assert.ok(
          probed.streams.some((s) => s.codec_type === 'audio'),
          `${kind}: audio`,
        );
      assert.ok(probed.format.duration > 3, `${kind}: ${probed.format.duration} s`);
      // The participant from the first frame on (or its white flash), and half a second past a flash.
      assert.ok(['red', 'flash'].includes(opening), `${kind}: opens on ${opening}`);
      assert.equal(await colourOver(file.location, 2.3), 'red', kind);
      assert.equal(done.roomId, roomSid, `${kind}: room_id`);
      assert.equal((await readManifest(done.manifestLocation)).room_id, roomSid, `${kind}: the manifest's room_id`);
    }
  });
});
