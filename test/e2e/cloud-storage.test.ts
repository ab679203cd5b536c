/**
 * Cloud storage through the whole service, checked in the storage itself: web egresses of the test page
 * with file (MP4) and HLS outputs uploaded to S3 (versitygw), GCS (fake-gcs-server) and Azure Blob
 * (Azurite) by the request's own upload configs; the service's own `storage.s3` with its prefix; the
 * `backup` storage taking over from a dead primary; a failed upload with no backup leaving a playable file
 * on disk that a retried upload job delivers; and request credentials never readable in Redis or ListEgress.
 */
import { AzureBlobUpload, EgressStatus, EncodedFileOutput, GCPUpload, S3Upload, SegmentedFileOutput, type EgressInfo } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { loadConfig } from '../../shared/config/load.ts';
import type { EgressSecretStore } from '../../shared/egress-secrets.ts';
import { uploadJobId } from '../../shared/queues.ts';
import { StorageBackends } from '../../workers/storage/backends.ts';
import { startAzurite, type Azurite } from '../support/azurite.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { freePort } from '../support/free-port.ts';
import { startGcsServer, type GcsServer } from '../support/gcs-server.ts';
import { azureContainer, azureView, gcsView, s3View, startGateProxy, type ObjectStoreView } from '../support/object-stores.ts';
import { startS3Server, type S3Server } from '../support/s3-server.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { dumpRedis } from '../support/redis-dump.ts';
import { startTestPage, type TestPage } from '../support/test-page.ts';

const GCS_BUCKET = 'egress-gcs';
const AZURE_CONTAINER = 'egress-azure';
const BACKUP_CONTAINER = 'egress-backup';
/** Seconds each recording runs before it is stopped. */
const RECORD_SEC = 6;
/** Retries kept small so failures are quick: two attempts of each upload job, 200 ms apart. */
const QUICK_UPLOADS = { attempts: 2, backoff: 200 };
/** storage.s3.max_retries of the backup test's service (requests per S3 operation, request uploads included). */
const SERVICE_S3_MAX_RETRIES = 2;

type Upload = EncodedFileOutput['output'];

let s3: S3Server;
let gcs: GcsServer;
let azurite: Azurite;
let page: TestPage;
let scratch: string;

const ended = [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED, EgressStatus.EGRESS_LIMIT_REACHED];

/** A web egress of the test page: a file at `<dir>/recording.mp4`, and HLS in `<dir>/hls/` unless `segments` is false. */
async function record(
  client: EgressClient,
  upload: Upload,
  dir: string,
  options: { segments?: boolean; seconds?: number } = {},
): Promise<EgressInfo> {
  const file = new EncodedFileOutput({ filepath: `${dir}/recording.mp4`, output: upload });
  const segments =
    options.segments === false
      ? undefined
      : new SegmentedFileOutput({
          filenamePrefix: `${dir}/hls/seg`,
          playlistName: 'index.m3u8',
          livePlaylistName: 'live.m3u8',
          segmentDuration: 2,
          output: upload,
        });
  const started = await client.startWebEgress(page.url, segments ? { file, segments } : { file });
  await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 30_000);
  await sleep((options.seconds ?? RECORD_SEC) * 1000);
  await client.stopEgress(started.egressId);
  return waitForStatus(client, started.egressId, ended, 60_000);
}

const reportedSec = (nanos: bigint) => Number(nanos) / 1e9;

/** An MP4 (bytes) is h264 video lasting `durationSec` (±1 s). */
async function assertPlayableMp4(bytes: Buffer | string, durationSec: number, what: string): Promise<void> {
  const path = typeof bytes === 'string' ? bytes : join(scratch, `${what.replace(/\W+/g, '_')}-${Date.now()}.mp4`);
  if (typeof bytes !== 'string') await writeFile(path, bytes);
  const probed = await probe(path);
  assert.match(probed.format.format_name, /mp4/, `${what}: ${probed.format.format_name}`);
  const video = probed.streams.find((s) => s.codec_type === 'video');
  assert.equal(video?.codec_name, 'h264', `${what}: a h264 video stream`);
  assert.ok(durationSec > RECORD_SEC - 3, `${what}: reported duration ${durationSec} s for ~${RECORD_SEC} s recorded`);
  assert.ok(Math.abs(probed.format.duration - durationSec) < 1, `${what}: ffprobe says ${probed.format.duration} s, the egress ${durationSec} s`);
}

/** Segment file names a playlist lists (relative to the playlist). */
const playlistEntries = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

/**
 * Everything a completed file + HLS egress delivered, checked in the store: the MP4 (key, type, size,
 * location, playable), both playlists and every segment they name, the manifest; and nothing else under `dir`.
 */
async function assertDelivered(done: EgressInfo, view: ObjectStoreView, locationOf: (key: string) => string, dir: string): Promise<void> {
  assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
  assert.equal(done.backupStorageUsed, false);

  const file = done.fileResults[0]!;
  const fileKey = `${dir}/recording.mp4`;
  assert.equal(file.location, locationOf(fileKey));
  const mp4 = await view.get(fileKey);
  assert.ok(mp4, `${fileKey} is in the store`);
  assert.equal(mp4.contentType, 'video/mp4');
  assert.equal(mp4.size, Number(file.size));
  assert.equal(mp4.bytes.length, Number(file.size));
  assert.ok(mp4.size > 10_000, `${mp4.size} bytes of MP4`);
  await assertPlayableMp4(mp4.bytes, reportedSec(file.duration), fileKey);

  const segments = done.segmentResults[0]!;
  const hlsDir = `${dir}/hls`;
  assert.equal(segments.playlistName, `${hlsDir}/index.m3u8`);
  assert.equal(segments.livePlaylistName, `${hlsDir}/live.m3u8`);
  assert.equal(segments.playlistLocation, locationOf(segments.playlistName));
  assert.equal(segments.livePlaylistLocation, locationOf(segments.livePlaylistName));
  const count = Number(segments.segmentCount);
  assert.ok(count >= 2, `${count} segments of 2 s`);
  const segmentKeys = new Set<string>();
  for (const key of [segments.playlistName, segments.livePlaylistName]) {
    const playlist = await view.get(key);
    assert.ok(playlist, `${key} is in the store`);
    assert.equal(playlist.contentType, 'application/x-mpegurl', key);
    const text = playlist.bytes.toString('utf8');
    assert.ok(text.startsWith('#EXTM3U'), `${key}: ${text.slice(0, 40)}`);
    assert.ok(text.trimEnd().endsWith('#EXT-X-ENDLIST'), `${key} is final`);
    const entries = playlistEntries(text);
    assert.ok(entries.length > 0, `${key} names segments`);
    for (const name of entries) segmentKeys.add(posix.join(hlsDir, name));
    if (key === segments.playlistName) assert.equal(entries.length, count, `${key} names every segment`);
  }
  let segmentBytes = 0;
  for (const key of segmentKeys) {
    const segment = await view.get(key);
    assert.ok(segment, `${key}, named by a playlist, is in the store`);
    assert.equal(segment.contentType, 'video/mp2t', key);
    assert.ok(segment.size > 1000 && segment.size === segment.bytes.length, `${key}: ${segment.size} bytes`);
    assert.equal(segment.bytes[0], 0x47, `${key} is MPEG-TS (sync byte)`);
    segmentBytes += segment.size;
  }
  assert.equal(segmentBytes, Number(segments.size), 'SegmentsInfo.size is what landed');

  const manifestKey = `${dir}/${done.egressId}.json`;
  assert.equal(done.manifestLocation, locationOf(manifestKey));
  const manifestObject = await view.get(manifestKey);
  assert.ok(manifestObject, `${manifestKey} is in the store`);
  assert.equal(manifestObject.contentType, 'application/json');
  const manifest = JSON.parse(manifestObject.bytes.toString('utf8')) as {
    egress_id: string;
    files: { filename: string; location: string }[];
    playlists: { location: string; segments: { filename: string; location: string }[] }[];
  };
  assert.equal(manifest.egress_id, done.egressId);
  assert.deepEqual(
    manifest.files.map((f) => f.location),
    [file.location],
  );
  assert.equal(manifest.playlists.length, 1);
  assert.equal(manifest.playlists[0]!.location, segments.playlistLocation);
  assert.deepEqual(
    manifest.playlists[0]!.segments.map((s) => s.location),
    [...segmentKeys].sort().map(locationOf),
  );

  // Nothing else was written there: no stray temp objects, no duplicates under other names.
  assert.deepEqual(await view.list(`${dir}/`), [fileKey, manifestKey, segments.livePlaylistName, segments.playlistName, ...segmentKeys].sort());
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

describe('cloud storage, end to end', { concurrency: false, timeout: 300_000 }, () => {
  before(async () => {
    [s3, gcs, azurite, page, scratch] = await Promise.all([
      startS3Server(),
      startGcsServer(),
      startAzurite(),
      startTestPage(),
      mkdtemp(join(tmpdir(), 'egress-cloud-e2e-')),
    ]);
    await gcs.createBucket(GCS_BUCKET);
    await azureContainer(azurite, AZURE_CONTAINER).create();
    await azureContainer(azurite, BACKUP_CONTAINER).create();
  });
  after(async () => {
    await Promise.all([s3?.stop(), gcs?.stop(), azurite?.stop(), page?.close()]);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  describe('upload configs in the request', () => {
    let service: TestService;
    let client: EgressClient;
    const s3Upload = (endpoint = s3.endpoint): Upload => ({
      case: 's3',
      value: new S3Upload({ accessKey: s3.accessKey, secret: s3.secret, region: s3.region, endpoint, bucket: s3.bucket, forcePathStyle: true }),
    });

    before(async () => {
      // GCS and Azure requests carry no endpoint: the service's storage.gcp / storage.azure endpoint is used;
      // sections with no bucket or container leave the service's own storage on local disk.
      service = await startService({ storage: { gcp: { endpoint: gcs.endpoint }, azure: { endpoint: azurite.endpoint } }, upload: QUICK_UPLOADS });
      client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    });
    after(async () => {
      await service?.stop();
    });

    const finished = (egressId: string) => !existsSync(join(service.config.tmp_dir, egressId));

    test('S3 (versitygw): file + HLS + manifest land with their types, sizes and locations', async () => {
      const done = await record(client, s3Upload(), 'req-s3');
      await assertDelivered(done, s3View(s3), (key) => `${s3.endpoint}/${s3.bucket}/${key}`, 'req-s3');
      assert.ok(finished(done.egressId), 'the working directory is gone once everything is delivered');
    });

    test('GCS (fake-gcs-server): file + HLS + manifest land with their types, sizes and locations', async () => {
      const upload: Upload = { case: 'gcp', value: new GCPUpload({ credentials: '', bucket: GCS_BUCKET }) };
      const done = await record(client, upload, 'req-gcs');
      await assertDelivered(done, gcsView(gcs.endpoint, GCS_BUCKET), (key) => `${gcs.endpoint}/${GCS_BUCKET}/${key}`, 'req-gcs');
      assert.ok(finished(done.egressId), 'the working directory is gone once everything is delivered');
    });

    test('Azure Blob (Azurite): file + HLS + manifest land with their types, sizes and locations', async () => {
      const upload: Upload = {
        case: 'azure',
        value: new AzureBlobUpload({ accountName: azurite.accountName, accountKey: azurite.accountKey, containerName: AZURE_CONTAINER }),
      };
      const done = await record(client, upload, 'req-azure');
      await assertDelivered(done, azureView(azurite, AZURE_CONTAINER), (key) => `${azurite.endpoint}/${AZURE_CONTAINER}/${key}`, 'req-azure');
      assert.ok(finished(done.egressId), 'the working directory is gone once everything is delivered');
    });

    test('request credentials are nowhere in Redis nor in ListEgress', async () => {
      // The three egresses above sent S3 and Azure credentials; their sealed configs are still kept.
      const listed = await client.listEgress();
      assert.ok(listed.length >= 3, `${listed.length} egresses listed`);
      const listedJson = JSON.stringify(listed.map((info) => info.toJson()));
      const everything = await dumpRedis(service.workers.ctx.redis);
      assert.ok(everything.length > 20, `${everything.length} Redis values`);
      for (const info of listed) {
        assert.ok(
          everything.some((v) => v.includes(info.egressId)),
          `${info.egressId} is in Redis`,
        );
        // The worker can still open the sealed configs: the credentials are stored, just not in clear.
        const sealed = Object.values((await service.workers.ctx.secrets.get(info.egressId)).uploads ?? {});
        assert.ok(sealed.length > 0, `${info.egressId} has sealed uploads`);
      }
      const canaries = { 'S3 secret': s3.secret, 'S3 access key': s3.accessKey, 'Azure account key': azurite.accountKey };
      for (const [name, canary] of Object.entries(canaries)) {
        assert.ok(!listedJson.includes(canary), `${name} in ListEgress`);
        for (const value of everything) assert.ok(!value.includes(canary), `${name} in Redis: ${value.slice(0, 200)}`);
      }
    });

    test('no backup storage: a failed upload leaves a playable local file; retrying the job delivers it', async () => {
      const gate = await startGateProxy(Number(new URL(s3.endpoint).port));
      try {
        const done = await record(client, s3Upload(`http://127.0.0.1:${gate.port}`), 'req-retry', { segments: false });
        assert.equal(done.status, EgressStatus.EGRESS_FAILED, `${EgressStatus[done.status]}: ${done.error}`);
        assert.match(done.error, /upload failed/i);
        assert.match(done.error, /S3/);
        assert.ok(gate.dropped >= QUICK_UPLOADS.attempts, `${gate.dropped} connections dropped`);
        assert.equal(done.backupStorageUsed, false);

        const file = done.fileResults[0]!;
        assert.ok(file.location.startsWith('/'), `a local path: ${file.location}`);
        assert.ok(existsSync(file.location), `${file.location} is still there`);
        const local = await readFile(file.location);
        assert.equal(local.length, Number(file.size));
        await assertPlayableMp4(file.location, reportedSec(file.duration), 'the local file');
        assert.deepEqual(await s3View(s3).list('req-retry/'), [], 'nothing reached the bucket');

        const job = await service.workers.ctx.queues.get('upload').getJob(uploadJobId.file(done.egressId));
        assert.ok(job, 'the failed upload job is kept');
        assert.equal(await job.getState(), 'failed');
        gate.open();
        await job.retry();
        const landed = await waitFor('the retried upload lands', async () => (await s3View(s3).get('req-retry/recording.mp4')) ?? false);
        assert.ok(landed.bytes.equals(local), 'byte-identical to the local file');
        assert.equal(landed.contentType, 'video/mp4');
        await waitFor('the retried job completes', async () => (await job.getState()) === 'completed');
        assert.equal(existsSync(file.location), false, 'the local copy is deleted once delivered');
      } finally {
        await gate.stop();
      }
    });
  });

  test('storage.gcp / storage.azure holding only an endpoint (for request uploads) leave the service storage on local disk', async () => {
    // Checked on the workers' storage selection rather than through startService: a service whose workers
    // fail to start leaves its Redis and connections open, and the test process would never exit.
    for (const storage of [{ gcp: { endpoint: gcs.endpoint } }, { azure: { endpoint: azurite.endpoint } }]) {
      const config = loadConfig({
        env: { LIVEKIT_API_KEY: E2E_API_KEY, LIVEKIT_API_SECRET: E2E_API_SECRET, EGRESS_CONFIG_BODY: stringify({ storage }) },
      });
      const backends = new StorageBackends(config, undefined as unknown as EgressSecretStore);
      assert.equal((await backends.primary('EG_endpoint_only', { kind: 'service' })).name, 'local', JSON.stringify(storage));
    }
  });

  describe("the service's storage.s3", () => {
    let service: TestService;
    let client: EgressClient;
    before(async () => {
      service = await startService({
        storage: {
          prefix: 'svc',
          s3: { access_key: s3.accessKey, secret: s3.secret, region: s3.region, endpoint: s3.endpoint, bucket: s3.bucket, force_path_style: true },
        },
        upload: QUICK_UPLOADS,
      });
      client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    });
    after(async () => {
      await service?.stop();
    });

    test('a request with no upload config lands in the service bucket under storage.prefix', async () => {
      const done = await record(client, { case: undefined }, 'service');
      // storage.prefix applies to every key, the manifest's and the playlists' included.
      await assertDelivered(done, s3View(s3), (key) => `${s3.endpoint}/${s3.bucket}/${key}`, 'svc/service');
      assert.deepEqual(await s3View(s3).list('service/'), [], 'nothing outside the prefix');
      const local = await readdir(service.recordingsDir).catch(() => []);
      assert.deepEqual(local, [], 'nothing written to the local recordings directory');
    });
  });

  describe('backup storage', () => {
    let service: TestService;
    let client: EgressClient;
    before(async () => {
      service = await startService({
        storage: {
          s3: {
            access_key: s3.accessKey,
            secret: s3.secret,
            region: s3.region,
            endpoint: s3.endpoint,
            bucket: s3.bucket,
            force_path_style: true,
            max_retries: SERVICE_S3_MAX_RETRIES,
            min_retry_delay: 50,
          },
        },
        backup: {
          prefix: 'bk',
          azure: { account_name: azurite.accountName, account_key: azurite.accountKey, container_name: BACKUP_CONTAINER, endpoint: azurite.endpoint },
        },
        upload: QUICK_UPLOADS,
      });
      client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    });
    after(async () => {
      await service?.stop();
    });

    test('a request whose S3 endpoint is dead: COMPLETE with backupStorageUsed, the file playable in Azurite', async () => {
      const dead = `http://127.0.0.1:${await freePort()}`;
      const upload: Upload = {
        case: 's3',
        value: new S3Upload({
          accessKey: s3.accessKey,
          secret: s3.secret,
          region: s3.region,
          endpoint: dead,
          bucket: s3.bucket,
          forcePathStyle: true,
        }),
      };
      const startedAt = Date.now();
      const done = await record(client, upload, 'backup', { segments: false });
      assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
      assert.equal(done.backupStorageUsed, true);
      assert.ok(Date.now() - startedAt < 45_000, `the hand-over took ${Date.now() - startedAt} ms`);

      const backup = azureView(azurite, BACKUP_CONTAINER);
      const file = done.fileResults[0]!;
      const key = 'bk/backup/recording.mp4';
      assert.equal(file.location, `${azurite.endpoint}/${BACKUP_CONTAINER}/${key}`);
      const mp4 = await backup.get(key);
      assert.ok(mp4, `${key} is in the backup container`);
      assert.equal(mp4.contentType, 'video/mp4');
      assert.equal(mp4.size, Number(file.size));
      await assertPlayableMp4(mp4.bytes, reportedSec(file.duration), key);

      // The manifest follows the file to the backup storage.
      const manifestKey = `bk/backup/${done.egressId}.json`;
      assert.equal(done.manifestLocation, `${azurite.endpoint}/${BACKUP_CONTAINER}/${manifestKey}`);
      const manifest = await backup.get(manifestKey);
      assert.equal(manifest?.contentType, 'application/json');
      assert.equal((JSON.parse(manifest.bytes.toString('utf8')) as { files: { location: string }[] }).files[0]?.location, file.location);
      assert.deepEqual(await backup.list('bk/backup/'), [key, manifestKey].sort());
      assert.deepEqual(await s3View(s3).list('backup/'), [], 'nothing in the service S3 bucket');
    });

    test('request S3 uploads inherit storage.s3.max_retries: each upload job attempt makes that many requests', async () => {
      // A dead endpoint that counts: every connection is accepted and reset at once.
      const gate = await startGateProxy(Number(new URL(s3.endpoint).port));
      try {
        const endpoint = `http://127.0.0.1:${gate.port}`;
        const upload: Upload = {
          case: 's3',
          value: new S3Upload({ accessKey: s3.accessKey, secret: s3.secret, region: s3.region, endpoint, bucket: s3.bucket, forcePathStyle: true }),
        };
        const done = await record(client, upload, 'retries', { segments: false, seconds: 3 });
        assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
        assert.equal(done.backupStorageUsed, true);
        assert.ok(await azureView(azurite, BACKUP_CONTAINER).get('bk/retries/recording.mp4'), 'the file is in the backup container');
        // The file's job: `upload.attempts` attempts of `max_retries` requests each; the manifest then goes
        // straight to the backup storage (the egress already uses it). The SDK default would be 5 per attempt.
        assert.equal(gate.dropped, QUICK_UPLOADS.attempts * SERVICE_S3_MAX_RETRIES);
      } finally {
        await gate.stop();
      }
    });
  });
});
