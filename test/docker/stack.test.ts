/**
 * docker/compose.yml for real, as the README's "Running with Docker Compose" tells a user to run it: a
 * docker/.env made from docker/.env.example, `docker compose up -d --build --scale room-composite=2` (BuildKit),
 * then everything through the API as a client sees it: a web egress recorded to an MP4 in the recordings
 * volume (ffprobed), two egresses at once spread over both room-composite replicas, `docker compose stop
 * room-composite` draining them (COMPLETE, playable files, exit 0), every process unprivileged, /healthz,
 * /metrics and Bull Board answering. A Docker engine is started for it when none runs (engine.ts), base
 * images are made where Docker Hub is out of reach (scripts/docker-bases.sh); the project is removed with
 * its volumes afterwards. Skips, saying why, only where no engine can be started.
 */
import { EgressStatus, EncodedFileOutput, type EgressInfo } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { freePort } from '../support/free-port.ts';
import { startTestPage, type TestPage } from '../support/test-page.ts';
import { waitFor } from '../support/wait-for.ts';
import { baseImages } from './bases.ts';
import { copyBuildContext, type BuildContext } from './build-context.ts';
import { ComposeProject } from './compose-project.ts';
import { filesWithMarkerCertificate, sharedAppLayers } from './images.ts';
import { forwardPage, type Forwarder } from './page-forwarder.ts';
import { run } from './run.ts';
import { SuiteEngine } from './suite-engine.ts';

const API_KEY = 'compose-test';
const API_SECRET = 'compose-test-secret-0123456789abcdef';
/** EGRESS_SHUTDOWN_GRACE: what docker/.env.example suggests for development, shorter still. */
const SHUTDOWN_GRACE_SEC = 5;
const NODE_IMAGES = ['egress-queue-api', 'egress-queue-worker'];

interface Health {
  status: string;
  redis: string;
  workers: { workerId: string; running: number; canAccept: Record<string, boolean> }[];
}

describe('docker compose: built, scaled, recording, drained', { concurrency: false }, () => {
  const engine = new SuiteEngine();
  let context: BuildContext | undefined;
  let project: ComposeProject | undefined;
  let page: TestPage | undefined;
  let forwarder: Forwarder | undefined;
  let apiUrl = '';
  let client: EgressClient;
  let upSeconds = 0;
  let nodeImage = 'node:24-bookworm-slim';
  const scratch = mkdtempSync(join(tmpdir(), 'egress-queue-compose-'));
  /** The two egresses recording at once, for the drain test. */
  let pair: EgressInfo[] = [];

  before(async () => {
    if (!(await engine.start())) return;
    context = await copyBuildContext();
    project = new ComposeProject(context.dir, `egress-queue-test-${process.pid}`);
    const bases = await baseImages();
    nodeImage = bases.NODE_IMAGE ?? nodeImage;
    const port = await freePort();
    project.writeEnv({
      LIVEKIT_API_KEY: API_KEY,
      LIVEKIT_API_SECRET: API_SECRET,
      LIVEKIT_URL: '',
      EGRESS_API_PORT: `127.0.0.1:${port}`,
      EGRESS_SHUTDOWN_GRACE: String(SHUTDOWN_GRACE_SEC),
      ...bases,
    });
    const started = Date.now();
    const up = await project.compose(['up', '--detach', '--build', '--scale', 'room-composite=2', '--wait', '--wait-timeout', '180'], {
      timeoutMs: 1_500_000,
      env: { DOCKER_BUILDKIT: '1' },
      allowFailure: true,
    });
    upSeconds = (Date.now() - started) / 1000;
    if (up.code !== 0) {
      const logs = await project.compose(['logs', '--no-color', '--tail', '30'], { allowFailure: true });
      throw new Error(`docker compose up failed:\n${up.stderr.slice(-3000)}\n${logs.stdout.slice(-6000)}`);
    }
    // Replaced images are left untagged: drop ours, so that repeated runs do not fill the disk.
    await run('docker', ['image', 'prune', '--force', '--filter', 'label=org.opencontainers.image.title=egress-queue']);
    apiUrl = `http://127.0.0.1:${port}`;
    client = new EgressClient(apiUrl, API_KEY, API_SECRET);
    page = await startTestPage();
    const network = await run('docker', ['network', 'inspect', `${project.name}_default`, '--format', '{{(index .IPAM.Config 0).Gateway}}']);
    forwarder = await forwardPage(page.url, network.stdout.trim());
  });

  after(async () => {
    await forwarder?.close();
    await page?.close();
    await project?.down();
    context?.remove();
    rmSync(scratch, { recursive: true, force: true });
    await engine.stop();
  });

  const health = async (): Promise<Health> => {
    const response = await fetch(`${apiUrl}/healthz`);
    assert.equal(response.status, 200);
    return (await response.json()) as Health;
  };

  /** Container ids of the room-composite replicas; a container's host name is its id's first 12 characters. */
  const replicaHosts = async () => (await project!.containers('room-composite')).map((id) => id.slice(0, 12)).sort();

  /** ffprobe of a recording, copied out of the recordings volume as the README says (`compose cp`). */
  const probeRecording = async (location: string) => {
    assert.ok(location.startsWith('/recordings/'), location);
    const copy = join(scratch, `${Date.now()}-${location.split('/').pop()}`);
    await project!.compose(['cp', `room-composite:${location}`, copy]);
    return probe(copy);
  };

  const assertPlayable = async (info: EgressInfo, minSeconds: number) => {
    const media = await probeRecording(info.fileResults[0]!.location);
    assert.deepEqual(media.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    assert.ok(media.format.duration >= minSeconds, `${media.format.duration} s recorded, at least ${minSeconds} s expected`);
    assert.ok(Math.abs(media.format.duration - Number(info.fileResults[0]!.duration) / 1e9) < 1, 'ffprobe duration matches FileInfo');
  };

  test('up --build --scale room-composite=2 starts Redis, the API and 6 workers', async (t) => {
    if (engine.skipped(t)) return;
    t.diagnostic(`build and start: ${upSeconds.toFixed(0)} s`);
    const { stdout } = await project!.compose(['ps', '--format', '{{.Service}} {{.State}}']);
    const services = stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(services, [
      'api running',
      'redis running',
      'room-composite running',
      'room-composite running',
      'track running',
      'track-composite running',
      'upload running',
      'webhook running',
    ]);
  });

  test('every process in every container runs unprivileged; the Node images as the user egress', async (t) => {
    if (engine.skipped(t)) return;
    for (const id of await project!.containers()) {
      const image = (await run('docker', ['inspect', '--format', '{{.Config.Image}}', id])).stdout.trim();
      // docker top needs the pid column; uids are the containers' own (no user namespace remapping).
      const top = await run('docker', ['top', id, '-o', 'pid,uid,comm']);
      const processes = top.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/));
      assert.ok(processes.length > 0, image);
      for (const [, uid, command] of processes) assert.notEqual(uid, '0', `${image}: ${command} runs as root`);
      if (!NODE_IMAGES.includes(image)) continue;
      // Chromium, Xvfb, PulseAudio and ffmpeg too: every process of the Node images is the user egress's.
      const egress = (await run('docker', ['exec', id, 'id', '-u', 'egress'])).stdout.trim();
      assert.deepEqual([...new Set(processes.map(([, uid]) => uid))], [egress], image);
      assert.equal((await run('docker', ['exec', id, 'id', '-un'])).stdout.trim(), 'egress', image);
    }
  });

  test('each room-composite replica keeps a warm station (Xvfb, PulseAudio, Chromium) running', async (t) => {
    if (engine.skipped(t)) return;
    for (const id of await project!.containers('room-composite')) {
      await waitFor(
        `a warm station in ${id.slice(0, 12)}`,
        30_000,
        async () => {
          const { stdout } = await run('docker', ['top', id, '-o', 'pid,comm']);
          return ['Xvfb', 'pulseaudio', 'chromium'].every((name) => new RegExp(`\\s${name}$`, 'm').test(stdout));
        },
        500,
      );
    }
  });

  test('/healthz, /metrics and Bull Board answer; both room-composite replicas report in', async (t) => {
    if (engine.skipped(t)) return;
    const hosts = await replicaHosts();
    // Workers report their capacity every second; the API caches what it read for up to 3 s.
    const report = await waitFor(
      'both room-composite replicas in /healthz',
      15_000,
      async () => {
        const h = await health();
        const reporting = h.workers
          .filter((w) => 'room-composite' in w.canAccept)
          .map((w) => w.workerId.split('-')[0]!)
          .sort();
        return JSON.stringify(reporting) === JSON.stringify(hosts) && h;
      },
      500,
    );
    assert.equal(report.status, 'ok');
    assert.equal(report.redis, 'ok');

    const metrics = await fetch(`${apiUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^livekit_egress_available /m);

    assert.equal((await fetch(`${apiUrl}/admin/queues`)).status, 401);
    const board = await fetch(`${apiUrl}/admin/queues`, {
      headers: { authorization: `Basic ${Buffer.from(`${API_KEY}:${API_SECRET}`).toString('base64')}` },
    });
    assert.equal(board.status, 200);
    assert.match(await board.text(), /<html/i);
  });

  test('a web egress records an H.264/AAC MP4 into the recordings volume', async (t) => {
    if (engine.skipped(t)) return;
    const started = await client.startWebEgress(forwarder!.url, new EncodedFileOutput({ filepath: 'docker/{time}-web.mp4' }));
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    await sleep(5000);
    await client.stopEgress(started.egressId);
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.match(done.fileResults[0]!.location, /^\/recordings\/docker\/.+-web\.mp4$/);
    await assertPlayable(done, 4);
  });

  test('two egresses at once run on the two room-composite replicas, one each', async (t) => {
    if (engine.skipped(t)) return;
    const started = await Promise.all(
      ['a', 'b'].map((name) => client.startWebEgress(forwarder!.url, new EncodedFileOutput({ filepath: `docker/drain-${name}.mp4` }))),
    );
    pair = await Promise.all(started.map((s) => waitForStatus(client, s.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000)));
    const hosts = await replicaHosts();
    await waitFor(
      'one recording on each replica in /healthz',
      15_000,
      async () => {
        const busy = (await health()).workers
          .filter((w) => w.running > 0)
          .map((w) => `${w.workerId.split('-')[0]}:${w.running}`)
          .sort();
        return JSON.stringify(busy) === JSON.stringify(hosts.map((h) => `${h}:1`));
      },
      500,
    );
  });

  test('no warm station died or failed to start while the replicas ran', async (t) => {
    if (engine.skipped(t)) return;
    // A station that dies while idle is replaced, so its processes being there could hide it: the workers say so.
    const { stdout } = await project!.compose(['logs', '--no-color', 'room-composite']);
    assert.deepEqual(
      stdout.split('\n').filter((line) => /warm station died|could not prepare a warm station/.test(line)),
      [],
    );
  });

  test('docker compose stop room-composite drains both replicas: the recordings end COMPLETE and play, exit 0', async (t) => {
    if (engine.skipped(t)) return;
    assert.equal(pair.length, 2, 'the two egresses of the previous test are recording');
    const stopping = Date.now();
    await project!.compose(['stop', 'room-composite'], { timeoutMs: 180_000 });
    const seconds = (Date.now() - stopping) / 1000;
    t.diagnostic(`stop took ${seconds.toFixed(1)} s (shutdown_grace ${SHUTDOWN_GRACE_SEC} s)`);
    // The recordings went on for the grace period, then were finalized, well before Docker's SIGKILL.
    assert.ok(seconds >= SHUTDOWN_GRACE_SEC - 0.5 && seconds < 60, `stopped in ${seconds} s`);
    for (const id of await project!.containers('room-composite')) {
      assert.equal((await run('docker', ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', id])).stdout.trim(), 'exited 0');
    }
    for (const { egressId } of pair) {
      const done = await waitForStatus(client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 30_000);
      assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
      assert.equal(done.details, 'End reason: Server shutting down');
      await assertPlayable(done, SHUTDOWN_GRACE_SEC - 1);
    }
  });

  test('the images share the node_modules layer and hold none of the CA certificates the build trusted', async (t) => {
    if (engine.skipped(t)) return;
    const { shared, apiOwn } = await sharedAppLayers('egress-queue-api', 'egress-queue-worker', nodeImage);
    assert.equal(apiOwn, 1, 'layers of the api image that the worker image does not have (its sources)');
    assert.ok(shared >= 2, `layers shared beyond the base image: ${shared} (the user, node_modules)`);
    for (const image of NODE_IMAGES) assert.deepEqual(await filesWithMarkerCertificate(image), [], image);
  });
});
