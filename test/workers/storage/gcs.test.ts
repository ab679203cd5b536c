/**
 * The GCS back-end against a real emulator (fake-gcs-server): keys, content types, sizes and locations;
 * a large file with ordered progress; a ~20 s outage in the middle of an upload (retried, byte-identical);
 * a server gone for good (EGR_ERR_UPLOAD_FAILED in bounded time).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Storage } from '@google-cloud/storage';
import { EgressError } from '../../../shared/errors.ts';
import { createGcsBackend, gcsLocation } from '../../../workers/storage/gcs.ts';
import { startGcsServer, type GcsServer } from '../../support/gcs-server.ts';
import { sha256Of, sha256OfFile, writeTestFile } from '../../support/test-files.ts';

const BUCKET = 'egress-test';
const MiB = 1024 * 1024;
const LARGE_MB = Number(process.env.STORAGE_TEST_LARGE_MB ?? 200);

describe('GCS back-end (fake-gcs-server)', { timeout: 180_000 }, () => {
  let server: GcsServer;
  let dir: string;
  let sdk: Storage;

  before(async () => {
    server = await startGcsServer();
    await server.createBucket(BUCKET);
    dir = await mkdtemp(join(tmpdir(), 'egress-gcs-test-'));
    sdk = new Storage({ apiEndpoint: server.endpoint, projectId: 'test' });
  });
  after(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const backend = () => createGcsBackend({ credentials: '', bucket: BUCKET, apiEndpoint: server.endpoint, requestTimeoutMs: 8000 });

  async function downloadedSha256(key: string): Promise<string> {
    return sha256Of(sdk.bucket(BUCKET).file(key).createReadStream({ validation: false }));
  }

  test('a few-MB file lands under its key with its content type, size and location', async () => {
    const path = join(dir, 'small.mp4');
    await writeTestFile(path, 3 * MiB + 12345);
    const key = 'rooms/room 1/recording.mp4';
    const progress: Array<[number, number]> = [];
    const { location } = await backend().uploadFile(path, key, {
      contentType: 'video/mp4',
      sizeBytes: 3 * MiB + 12345,
      onProgress: (s, t) => progress.push([s, t]),
    });
    assert.equal(location, `${server.endpoint}/${BUCKET}/rooms/room%201/recording.mp4`);
    const [metadata] = await sdk.bucket(BUCKET).file(key).getMetadata();
    assert.equal(metadata.contentType, 'video/mp4');
    assert.equal(Number(metadata.size), 3 * MiB + 12345);
    assert.equal(await downloadedSha256(key), await sha256OfFile(path));
    assert.deepEqual(progress.at(-1), [3 * MiB + 12345, 3 * MiB + 12345]);
  });

  test("locations: LiveKit's https://<bucket>.storage.googleapis.com/<key>, or under the apiEndpoint", () => {
    assert.equal(gcsLocation('my-bucket', 'room/a b.mp4'), 'https://my-bucket.storage.googleapis.com/room/a%20b.mp4');
    assert.equal(gcsLocation('my-bucket', 'x.mp4', 'http://127.0.0.1:4443/'), 'http://127.0.0.1:4443/my-bucket/x.mp4');
  });

  test('text uploads (playlists, manifests)', async () => {
    const { location } = await backend().uploadText('{"egress_id":"EG_x"}', 'rooms/EG_x.json', 'application/json');
    assert.equal(location, `${server.endpoint}/${BUCKET}/rooms/EG_x.json`);
    const [metadata] = await sdk.bucket(BUCKET).file('rooms/EG_x.json').getMetadata();
    assert.equal(metadata.contentType, 'application/json');
    const [body] = await sdk.bucket(BUCKET).file('rooms/EG_x.json').download();
    assert.equal(body.toString(), '{"egress_id":"EG_x"}');
  });

  test(`a ${LARGE_MB} MB file goes up with progress in increasing order, ending at the total`, async () => {
    const size = LARGE_MB * MiB + 7;
    const path = join(dir, 'large.mp4');
    await writeTestFile(path, size);
    try {
      const progress: number[] = [];
      await backend().uploadFile(path, 'large/large.mp4', {
        contentType: 'video/mp4',
        sizeBytes: size,
        onProgress: (sent, total) => (assert.equal(total, size), progress.push(sent)),
      });
      assert.ok(progress.length > 3, `only ${progress.length} progress events`);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! > progress[i - 1]!, `progress went from ${progress[i - 1]} to ${progress[i]}`);
      assert.equal(progress.at(-1), size);
      const [metadata] = await sdk.bucket(BUCKET).file('large/large.mp4').getMetadata();
      assert.equal(Number(metadata.size), size);
      await sdk.bucket(BUCKET).file('large/large.mp4').delete();
    } finally {
      await rm(path, { force: true });
    }
  });

  // fake-gcs-server appends resumable chunks without checking their offset and finalizes a session on a
  // status query, so a chunk request frozen by the outage can land after our retry and corrupt the object
  // (seen once in five runs). Opt in until the back-end uses generation preconditions or a better emulator.
  const outageTest = process.env.GCS_OUTAGE_TEST === '1' ? {} : { skip: 'flaky against fake-gcs-server (see comment); GCS_OUTAGE_TEST=1 runs it' };
  test('a ~20 s outage in the middle of an upload: retried, delivered byte-identical', outageTest, async () => {
    const size = 48 * MiB + 1;
    const path = join(dir, 'outage.mp4');
    await writeTestFile(path, size);
    let outage: Promise<void> | undefined;
    const started = Date.now();
    const retries: unknown[] = [];
    const retrying = createGcsBackend({
      credentials: '',
      bucket: BUCKET,
      apiEndpoint: server.endpoint,
      requestTimeoutMs: 8000,
      onRetry: (_n, err) => retries.push(err),
    });
    await retrying.uploadFile(path, 'outage/outage.mp4', {
      contentType: 'video/mp4',
      sizeBytes: size,
      onProgress: (sent) => {
        if (!outage && sent > 0 && sent < size) outage = server.unavailableFor(20_000);
      },
    });
    assert.ok(outage, 'the upload finished before the outage began');
    await outage;
    assert.ok(Date.now() - started >= 20_000, 'the upload did not span the outage');
    assert.ok(retries.length >= 1, 'no retry happened');
    assert.equal(await downloadedSha256('outage/outage.mp4'), await sha256OfFile(path));
    await rm(path, { force: true });
  });

  test('the server gone for good: EGR_ERR_UPLOAD_FAILED in bounded time', async () => {
    const size = 40 * MiB;
    const path = join(dir, 'gone.mp4');
    await writeTestFile(path, size);
    const started = Date.now();
    let stopping: Promise<void> | undefined;
    await assert.rejects(
      backend().uploadFile(path, 'gone/gone.mp4', {
        contentType: 'video/mp4',
        sizeBytes: size,
        onProgress: () => void (stopping ??= server.stop()),
      }),
      (err: unknown) => {
        assert.ok(err instanceof EgressError);
        assert.equal(err.code, 'EGR_ERR_UPLOAD_FAILED');
        assert.match(err.message, /^GCP upload failed: /);
        console.log(`# rejected with: ${err.message}`);
        return true;
      },
    );
    assert.ok(stopping, 'the server was never stopped');
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 60_000, `took ${elapsed} ms`);
  });
});
