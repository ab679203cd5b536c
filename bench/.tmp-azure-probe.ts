import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../test/support/azurite.ts';
import { writeTestFile } from '../test/support/test-files.ts';
import { createAzureBackend } from '../workers/storage/azure.ts';
const MiB = 1024 * 1024, SIZE = 50 * MiB;
const az = await startAzurite();
const dir = await mkdtemp(join(tmpdir(), 'probe-'));
const src = join(dir, 'src');
await writeTestFile(src, SIZE);
const container = new BlobServiceClient(az.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient('probe');
await container.createIfNotExists();
const backend = createAzureBackend({ accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY, containerName: 'probe', endpoint: az.endpoint });
const t = async (label: string, f: () => Promise<unknown>) => { const t0 = performance.now(); await f(); console.log(label, (50 / ((performance.now() - t0) / 1000)).toFixed(1), 'MB/s'); };
for (let i = 0; i < 3; i++) {
  await t('raw sdk', () => container.getBlockBlobClient(`raw${i}`).uploadFile(src, { blockSize: 4 * MiB, concurrency: 16 }));
  await t('backend, src', () => backend.uploadFile(src, `b${i}`, { contentType: 'video/mp4', sizeBytes: SIZE }));
  await copyFile(src, join(dir, `c${i}`));
  await t('backend, fresh copy', () => backend.uploadFile(join(dir, `c${i}`), `c${i}`, { contentType: 'video/mp4', sizeBytes: SIZE }));
  await t('backend, progress', () => backend.uploadFile(src, `p${i}`, { contentType: 'video/mp4', sizeBytes: SIZE, onProgress: () => {} }));
}
await az.stop(); await rm(dir, { recursive: true, force: true });
process.exit(0);
