/**
 * The Azure Blob back-end against a real emulator (Azurite): keys, content types, sizes and locations; a
 * large file with ordered progress; a ~20 s outage in the middle of an upload (retried, byte-identical); a
 * server gone for good (EGR_ERR_UPLOAD_FAILED in bounded time).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import { EgressError } from '../../../shared/errors.ts';
import { azureLocation, createAzureBackend } from '../../../workers/storage/azure.ts';
import { startAzurite, type Azurite } from '../../support/azurite.ts';
import { sha256Of, sha256OfFile, writeTestFile } from '../../support/test-files.ts';

const CONTAINER = 'egress-test';
const MiB = 1024 * 1024;
const LARGE_MB = Number(process.env.STORAGE_TEST_LARGE_MB ?? 200);
describe('Azure Blob back-end (Azurite)', { timeout: 180_000 }, () => {
  let server: Azurite;
  let dir: string;
  let container: ContainerClient;

  before(async () => {
    server = await startAzurite();
    dir = await mkdtemp(join(tmpdir(), 'egress-azure-test-'));
    const service = new BlobServiceClient(server.endpoint, new StorageSharedKeyCredential(server.accountName, server.accountKey));
    container = service.getContainerClient(CONTAINER);
    await container.createIfNotExists();
  });
  after(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const backend = (tryTimeoutMs = 5000) =>
    createAzureBackend({
      accountName: server.accountName,
      accountKey: server.accountKey,
      containerName: CONTAINER,
      endpoint: server.endpoint,
      tryTimeoutMs,
    });

  async function downloadedSha256(key: string): Promise<string> {
    const response = await container.getBlobClient(key).download();
    return sha256Of(response.readableStreamBody!);
  }

  test('a few-MB file lands under its key with its content type, size and location', async () => {
    const size = 9 * MiB + 12345; // more than one 4 MiB block
    const path = join(dir, 'small.mp4');
    await writeTestFile(path, size);
    const key = 'rooms/room 1/recording.mp4';
    const progress: Array<[number, number]> = [];
    const { location } = await backend().uploadFile(path, key, {
      contentType: 'video/mp4',
      sizeBytes: size,
      onProgress: (s, t) => progress.push([s, t]),
    });
    assert.equal(location, `${server.endpoint}/${CONTAINER}/rooms/room%201/recording.mp4`);
    const properties = await container.getBlobClient(key).getProperties();
    assert.equal(properties.contentType, 'video/mp4');
    assert.equal(properties.contentLength, size);
    assert.equal(properties.blobType, 'BlockBlob');
    assert.equal(await downloadedSha256(key), await sha256OfFile(path));
    assert.deepEqual(progress.at(-1), [size, size]);
  });

  test("locations: LiveKit's https://<account>.blob.core.windows.net/<container>/<key>, or under the endpoint", () => {
    assert.equal(azureLocation('acct', 'recordings', 'room/a b.mp4'), 'https://acct.blob.core.windows.net/recordings/room/a%20b.mp4');
    assert.equal(
      azureLocation('acct', 'recordings', 'x.mp4', 'https://acct.blob.core.usgovcloudapi.net/'),
      'https://acct.blob.core.usgovcloudapi.net/recordings/x.mp4',
    );
  });

  test('text uploads (playlists, manifests)', async () => {
    const b = createAzureBackend({
      accountName: server.accountName,
      accountKey: server.accountKey,
      containerName: CONTAINER,
      endpoint: server.endpoint,
    });
    const { location } = await b.uploadText('#EXTM3U\n', 'hls/playlist.m3u8', 'application/x-mpegurl');
    assert.equal(location, `${server.endpoint}/${CONTAINER}/hls/playlist.m3u8`);
    const properties = await container.getBlobClient('hls/playlist.m3u8').getProperties();
    assert.equal(properties.contentType, 'application/x-mpegurl');
    assert.equal(properties.contentLength, 8);
  });

  test(`a ${LARGE_MB} MB file goes up with progress in increasing order, ending at the total`, async () => {
    const size = LARGE_MB * MiB + 7;
    const path = join(dir, 'large.mp4');
    await writeTestFile(path, size);
    try {
      const progress: number[] = [];
      await backend(60_000).uploadFile(path, 'large/large.mp4', {
        contentType: 'video/mp4',
        sizeBytes: size,
        onProgress: (sent, total) => (assert.equal(total, size), progress.push(sent)),
      });
      assert.ok(progress.length > 3, `only ${progress.length} progress events`);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! > progress[i - 1]!, `progress went from ${progress[i - 1]} to ${progress[i]}`);
      assert.equal(progress.at(-1), size);
      const properties = await container.getBlobClient('large/large.mp4').getProperties();
      assert.equal(properties.contentLength, size);
      await container.getBlobClient('large/large.mp4').delete();
    } finally {
      await rm(path, { force: true });
    }
  });

  test('a ~20 s outage in the middle of an upload: retried, delivered byte-identical', async () => {
    const size = 96 * MiB + 1;
    const path = join(dir, 'outage.mp4');
    await writeTestFile(path, size);
    let outage: Promise<void> | undefined;
    const started = Date.now();
    await backend(5000).uploadFile(path, 'outage/outage.mp4', {
      contentType: 'video/mp4',
      sizeBytes: size,
      onProgress: (sent) => {
        if (!outage && sent > 0 && sent < size) outage = server.unavailableFor(20_000);
      },
    });
    assert.ok(outage, 'the upload finished before the outage began');
    await outage;
    assert.ok(Date.now() - started >= 20_000, 'the upload did not span the outage');
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
      backend(5000).uploadFile(path, 'gone/gone.mp4', {
        contentType: 'video/mp4',
        sizeBytes: size,
        onProgress: () => void (stopping ??= server.stop()),
      }),
      (err: unknown) => {
        assert.ok(err instanceof EgressError);
        assert.equal(err.code, 'EGR_ERR_UPLOAD_FAILED');
        assert.match(err.message, /^Azure upload failed: /);
        console.log(`# rejected with: ${err.message}`);
        assert.doesNotMatch(err.message, new RegExp(server.accountKey.slice(0, 20).replace(/[+/]/g, '.')));
        return true;
      },
    );
    assert.ok(stopping, 'the server was never stopped');
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 90_000, `took ${elapsed} ms`);
  });
});
