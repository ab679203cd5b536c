import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, BlockBlobClient, StorageRetryPolicyType, StorageSharedKeyCredential, newPipeline } from '@azure/storage-blob';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../test/support/azurite.ts';
import { writeTestFile } from '../test/support/test-files.ts';
const MiB = 1024 * 1024, SIZE = 50 * MiB;
const az = await startAzurite();
const dir = await mkdtemp(join(tmpdir(), 'probe-'));
const src = join(dir, 'src');
await writeTestFile(src, SIZE);
const cred = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
const container = new BlobServiceClient(az.endpoint, cred).getContainerClient('probe');
await container.createIfNotExists();
const variants: Record<string, Parameters<typeof newPipeline>[1]> = {
  default: {},
  retry: { retryOptions: { retryPolicyType: StorageRetryPolicyType.EXPONENTIAL, maxTries: 5, retryDelayInMs: 4000, maxRetryDelayInMs: 5000 } },
  tryTimeout: { retryOptions: { tryTimeoutInMs: 60_000 } },
  keepAlive: { keepAliveOptions: { enable: true } },
};
const t = async (label: string, f: () => Promise<unknown>) => { const t0 = performance.now(); await f(); console.log(label, (50 / ((performance.now() - t0) / 1000)).toFixed(1), 'MB/s'); };
for (let i = 0; i < 2; i++) {
  await t('container client', () => container.getBlockBlobClient(`raw${i}`).uploadFile(src, { blockSize: 4 * MiB, concurrency: 16 }));
  for (const [name, opts] of Object.entries(variants)) {
    const bbc = new BlockBlobClient(`${az.endpoint}/probe/${name}${i}`, newPipeline(cred, opts));
    await t(name, () => bbc.uploadFile(src, { blockSize: 4 * MiB, concurrency: 16 }));
  }
  const bbc = new BlockBlobClient(`${az.endpoint}/probe/ss${i}`, newPipeline(cred, {}));
  await t('maxSingleShot+headers', () => bbc.uploadFile(src, { blockSize: 4 * MiB, maxSingleShotSize: 4 * MiB, concurrency: 16, blobHTTPHeaders: { blobContentType: 'video/mp4' } }));
}
await az.stop(); await rm(dir, { recursive: true, force: true });
process.exit(0);
