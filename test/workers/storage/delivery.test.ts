/**
 * Delivery (workers/storage/delivery.ts) against real servers: which storage a target means (a request's
 * sealed upload config, the service's storage config), presigned locations that really open, and the
 * backup storage taking over only once the primary's last attempt failed — then for the rest of the egress.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { EgressInfo, EgressStatus, S3Upload } from '@livekit/protocol';
import { stringify } from 'yaml';
import { sealUploads, storageTarget } from '../../../api/validate/outputs/upload-storage.ts';
import type { EgressError } from '../../../shared/errors.ts';
import { Delivery } from '../../../workers/storage/delivery.ts';
import { createApiDeps, type TestApiDeps } from '../../support/api-deps.ts';
import { startAzurite, type Azurite } from '../../support/azurite.ts';
import { freePort } from '../../support/free-port.ts';
import { startRedis, type RedisServer } from '../../support/redis-server.ts';
import { startS3Server, type S3Server } from '../../support/s3-server.ts';
import { sha256Of, writeTestFile } from '../../support/test-files.ts';

const CONTAINER = 'backup';

let redis: RedisServer;
let s3: S3Server;
let azurite: Azurite;
let dir: string;
let deadPort: number;
const opened: TestApiDeps[] = [];

before(async () => {
  [redis, s3, azurite, dir, deadPort] = await Promise.all([
    startRedis(),
    startS3Server(),
    startAzurite(),
    mkdtemp(join(tmpdir(), 'egress-delivery-test-')),
    freePort(),
  ]);
  const blobs = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey));
  await blobs.getContainerClient(CONTAINER).createIfNotExists();
});

after(async () => {
  await Promise.all(opened.map((d) => d.close()));
  await Promise.all([redis?.stop(), s3?.stop(), azurite?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The worker's dependencies with `yaml` as its config. */
function depsWith(yaml: Record<string, unknown>): TestApiDeps {
  const deps = createApiDeps(redis.url, { EGRESS_CONFIG_BODY: stringify({ storage: { local: { directory: join(dir, 'recordings') } }, ...yaml }) });
  opened.push(deps);
  return deps;
}

const s3Config = (server: { endpoint: string }) => ({
  endpoint: server.endpoint,
  access_key: s3.accessKey,
  secret: s3.secret,
  region: s3.region,
  bucket: s3.bucket,
  force_path_style: true,
});
const deadS3 = () => ({ ...s3Config({ endpoint: `http://127.0.0.1:${deadPort}` }), max_retries: 1, max_retry_delay: '10ms' });
const azureBackup = () => ({
  prefix: 'bk',
  azure: { account_name: azurite.accountName, account_key: azurite.accountKey, container_name: CONTAINER, endpoint: azurite.endpoint },
});

let n = 0;
async function egress(deps: TestApiDeps): Promise<string> {
  const egressId = `EG_delivery${++n}`;
  await deps.events.store.create(new EgressInfo({ egressId, status: EgressStatus.EGRESS_ACTIVE }));
  return egressId;
}

async function s3Sha256(key: string): Promise<string> {
  const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return sha256Of(object.Body as Readable);
}

describe('Delivery', () => {
  test("a request's S3 config is opened from the sealed store at upload time; the local file goes once delivered", async () => {
    const deps = depsWith({});
    const egressId = await egress(deps);
    const upload = {
      case: 's3' as const,
      value: new S3Upload({
        accessKey: s3.accessKey,
        secret: s3.secret,
        region: s3.region,
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        forcePathStyle: true,
      }),
    };
    const storage = storageTarget(upload);
    await deps.secrets.put(egressId, { streamUrls: {}, uploads: sealUploads([upload]) });
    const path = join(dir, 'req.mp4');
    const sum = await writeTestFile(path, 3 * 1024 * 1024);
    const progress: number[] = [];
    const delivered = await new Delivery(deps).deliver({
      egressId,
      storage,
      key: 'req/a.mp4',
      payload: { path },
      contentType: 'video/mp4',
      lastAttempt: false,
      onProgress: (sent) => progress.push(sent),
    });
    assert.equal(delivered.location, `${s3.endpoint}/${s3.bucket}/req/a.mp4`);
    assert.equal(delivered.sizeBytes, 3 * 1024 * 1024);
    assert.equal(delivered.backup, false);
    assert.equal(await s3Sha256('req/a.mp4'), sum);
    assert.equal(progress.at(-1), 3 * 1024 * 1024);
    assert.ok(!existsSync(path), 'the local copy is deleted after the upload');
  });

  test('a request whose sealed config is gone fails with a clear reason, and its file stays', async () => {
    const deps = depsWith({});
    const egressId = await egress(deps);
    const storage = storageTarget({ case: 's3', value: new S3Upload({ bucket: 'b', accessKey: 'x', secret: 'y' }) });
    const path = join(dir, 'orphan.mp4');
    await writeTestFile(path, 1024);
    await assert.rejects(
      new Delivery(deps).deliver({ egressId, storage, key: 'o.mp4', payload: { path }, contentType: 'video/mp4', lastAttempt: true }),
      (err: EgressError) => err.code === 'EGR_ERR_UPLOAD_FAILED' && /upload config is gone/.test(err.message),
    );
    assert.ok(existsSync(path));
  });

  test('service storage.s3 with generate_presigned_url: the location opens without credentials', async () => {
    const deps = depsWith({ storage: { generate_presigned_url: true, s3: s3Config(s3), local: { directory: join(dir, 'recordings') } } });
    const egressId = await egress(deps);
    const delivered = await new Delivery(deps).deliver({
      egressId,
      storage: { kind: 'service' },
      key: 'svc/b.txt',
      payload: { text: 'hello presigned' },
      contentType: 'text/plain',
      lastAttempt: false,
    });
    const url = new URL(delivered.location);
    assert.equal(url.pathname, `/${s3.bucket}/svc/b.txt`);
    assert.ok(url.searchParams.get('X-Amz-Signature'), delivered.location);
    assert.equal(url.searchParams.get('X-Amz-Expires'), String(7 * 24 * 3600));
    const res = await fetch(delivered.location);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello presigned');
    // Tampering with the key breaks the signature: it is a real one.
    assert.equal((await fetch(delivered.location.replace('b.txt', 'c.txt'))).status, 403);
  });

  test('service storage.azure with generate_presigned_url: a SAS URL that reads the blob', async () => {
    const deps = depsWith({ storage: { generate_presigned_url: true, azure: azureBackup().azure, local: { directory: join(dir, 'recordings') } } });
    const egressId = await egress(deps);
    const path = join(dir, 'sas.bin');
    await writeTestFile(path, 256 * 1024);
    const bytes = await readFile(path);
    const delivered = await new Delivery(deps).deliver({
      egressId,
      storage: { kind: 'service' },
      key: 'sas/c.bin',
      payload: { path },
      contentType: 'application/octet-stream',
      lastAttempt: false,
    });
    assert.match(delivered.location, /[?&]sig=/);
    const res = await fetch(delivered.location);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
  });

  test('primary keeps failing: an earlier attempt fails, the last goes to backup, and the rest of the egress follows', async () => {
    const deps = depsWith({ storage: { s3: deadS3(), local: { directory: join(dir, 'recordings') } }, backup: azureBackup() });
    const delivery = new Delivery(deps);
    const egressId = await egress(deps);
    const path = join(dir, 'primary-down.mp4');
    const sum = await writeTestFile(path, 2 * 1024 * 1024);
    const request = { egressId, storage: { kind: 'service' } as const, key: 'rec/d.mp4', payload: { path }, contentType: 'video/mp4' };

    await assert.rejects(
      delivery.deliver({ ...request, lastAttempt: false }),
      (err: EgressError) => err.code === 'EGR_ERR_UPLOAD_FAILED' && /^S3 upload failed/.test(err.message),
    );
    assert.ok(existsSync(path), 'kept for the next attempt');
    assert.equal((await deps.events.store.get(egressId))?.backupStorageUsed, false);

    const delivered = await delivery.deliver({ ...request, lastAttempt: true });
    assert.equal(delivered.backup, true);
    assert.equal(delivered.location, `${azurite.endpoint}/${CONTAINER}/bk/rec/d.mp4`);
    assert.equal((await deps.events.store.get(egressId))?.backupStorageUsed, true);
    const blob = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey))
      .getContainerClient(CONTAINER)
      .getBlobClient('bk/rec/d.mp4');
    assert.equal(await sha256Of((await blob.download()).readableStreamBody!), sum);
    assert.equal((await blob.getProperties()).contentType, 'video/mp4');

    // A later upload of the same egress does not try the failing primary again, even on a first attempt.
    const started = Date.now();
    const playlist = await delivery.deliver({
      egressId,
      storage: { kind: 'service' },
      key: 'rec/index.m3u8',
      payload: { text: '#EXTM3U\n' },
      contentType: 'application/x-mpegurl',
      lastAttempt: false,
    });
    assert.equal(playlist.backup, true);
    assert.ok(Date.now() - started < 2000);
  });

  test('primary failing with no backup: the error stands and the file stays where it was', async () => {
    const deps = depsWith({ storage: { s3: deadS3(), local: { directory: join(dir, 'recordings') } } });
    const egressId = await egress(deps);
    const path = join(dir, 'no-backup.mp4');
    await writeTestFile(path, 1024 * 1024);
    await assert.rejects(
      new Delivery(deps).deliver({
        egressId,
        storage: { kind: 'service' },
        key: 'e.mp4',
        payload: { path },
        contentType: 'video/mp4',
        lastAttempt: true,
      }),
      (err: EgressError) => err.code === 'EGR_ERR_UPLOAD_FAILED' && /^S3 upload failed/.test(err.message),
    );
    assert.ok(existsSync(path));
    const head = s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'e.mp4' }));
    await assert.rejects(head);
  });
});
