/**
 * (e) Upload throughput: one large file to each storage emulator (S3: versitygw, GCS: fake-gcs-server,
 * Azure: Azurite), through the service's upload queue (BullMQ add of an `upload` job → the upload pool's
 * worker → Delivery → the back-end; timed from the add to the QueueEvents `completed`) against the baseline
 * of the SDK's own upload of the same file to the same emulator, in the same run. Also the `progress` events
 * the job published: how many, how often, and whether they grow monotonically up to the total.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import { QueueEvents } from 'bullmq';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../shared/config/load.ts';
import { bullConnection, bullPrefix, type UploadJobData } from '../shared/queues.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../test/support/azurite.ts';
import { startGcsServer } from '../test/support/gcs-server.ts';
import { startRedis, type RedisServer } from '../test/support/redis-server.ts';
import { startS3Server } from '../test/support/s3-server.ts';
import { writeTestFile } from '../test/support/test-files.ts';
import { startWorkers } from '../workers/main.ts';
import { partSizeFor, S3_DEFAULTS } from '../workers/storage/s3.ts';
import { fmt, summarize } from './stats.ts';

const MiB = 1024 * 1024;
const SIZE_MB = Number(process.env.BENCH_UPLOAD_MB ?? 200);
const SIZE_BYTES = Math.round(SIZE_MB * MiB);
const RUNS = 3;
/** Progress events may trail the `completed` event (they are published without being awaited): wait this long for them. */
const TRAILING_EVENTS_MS = 1000;
const CONTENT_TYPE = 'video/mp4';
/** Which emulators, e.g. `s3,azure` (default all three). */
const ONLY = (process.env.BENCH_UPLOAD_STORAGES ?? 's3,gcs,azure').split(',').map((s) => s.trim());

/** One emulator, started: its service `storage` config section, the SDK's own upload, and a size check of what landed. */
interface Target {
  name: string;
  baselineLabel: string;
  storage: Record<string, unknown>;
  baseline(path: string, key: string): Promise<void>;
  storedSize(key: string): Promise<number>;
  stop(): Promise<void>;
}

async function s3Target(): Promise<Target> {
  const s3 = await startS3Server('bench-upload');
  const partSize = partSizeFor(SIZE_BYTES);
  return {
    name: 'S3 (versitygw)',
    baselineLabel: `lib-storage Upload, ${partSize / MiB} MiB parts, ${S3_DEFAULTS.queueSize} in flight`,
    storage: { s3: { access_key: s3.accessKey, secret: s3.secret, region: s3.region, endpoint: s3.endpoint, bucket: s3.bucket, force_path_style: true } },
    async baseline(path, key) {
      const body = createReadStream(path);
      try {
        await new Upload({ client: s3.client, params: { Bucket: s3.bucket, Key: key, Body: body, ContentType: CONTENT_TYPE }, partSize, queueSize: S3_DEFAULTS.queueSize }).done();
      } finally {
        body.destroy();
      }
    },
    storedSize: async (key) => (await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))).ContentLength ?? -1,
    stop: () => s3.stop(),
  };
}

async function gcsTarget(): Promise<Target> {
  const gcs = await startGcsServer();
  const bucketName = 'bench-upload';
  try {
    await gcs.createBucket(bucketName);
  } catch (err) {
    await gcs.stop();
    throw err;
  }
  const bucket = new Storage({ apiEndpoint: gcs.endpoint, projectId: 'bench' }).bucket(bucketName);
  return {
    name: 'GCS (fake-gcs-server)',
    baselineLabel: 'createWriteStream, resumable, one streamed request, no validation',
    storage: { gcp: { credentials_json: '', bucket: bucketName, endpoint: gcs.endpoint } },
    // The SDK's defaults (no chunkSize: the whole file in one request), without the MD5/CRC32C check that
    // the back-end also turns off, so both move the same bytes and neither hashes them.
    baseline: (path, key) => pipeline(createReadStream(path), bucket.file(key).createWriteStream({ resumable: true, contentType: CONTENT_TYPE, validation: false })),
    storedSize: async (key) => Number((await bucket.file(key).getMetadata())[0].size ?? -1),
    stop: () => gcs.stop(),
  };
}

async function azureTarget(): Promise<Target> {
  const azurite = await startAzurite();
  const containerName = 'bench-upload';
  const container = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient(containerName);
  try {
    await container.createIfNotExists();
  } catch (err) {
    await azurite.stop();
    throw err;
  }
  return {
    name: 'Azure (Azurite)',
    baselineLabel: 'BlockBlobClient.uploadFile, 4 MiB blocks, 16 in flight',
    storage: { azure: { account_name: AZURITE_ACCOUNT, account_key: AZURITE_KEY, container_name: containerName, endpoint: azurite.endpoint } },
    baseline: async (path, key) => void (await container.getBlockBlobClient(key).uploadFile(path, { blockSize: 4 * MiB, concurrency: 16, blobHTTPHeaders: { blobContentType: CONTENT_TYPE } })),
    storedSize: async (key) => (await container.getBlockBlobClient(key).getProperties()).contentLength ?? -1,
    stop: () => azurite.stop(),
  };
}

interface ProgressEvent {
  atMs: number;
  sentBytes: number;
  totalBytes: number;
}

interface QueueRun {
  seconds: number;
  events: ProgressEvent[];
  /** Progress events that arrived after `completed`. */
  late: number;
}

/** Progress problems of one job, as short phrases; empty when all is well. */
function progressProblems(events: ProgressEvent[]): string[] {
  const problems: string[] = [];
  if (events.length === 0) return ['no progress events'];
  let notIncreasing = 0;
  for (let i = 1; i < events.length; i++) if (events[i]!.sentBytes <= events[i - 1]!.sentBytes) notIncreasing++;
  if (notIncreasing) problems.push(`${notIncreasing} not increasing`);
  const totals = new Set(events.map((e) => e.totalBytes));
  if (totals.size !== 1 || !totals.has(SIZE_BYTES)) problems.push(`totals ${[...totals].join(',')} (file ${SIZE_BYTES})`);
  const last = events.at(-1)!;
  if (last.sentBytes !== SIZE_BYTES) problems.push(`last at ${last.sentBytes} of ${SIZE_BYTES}`);
  return problems;
}

async function benchTarget(redis: RedisServer, dir: string, source: string, start: () => Promise<Target>): Promise<string[]> {
  const target = await start();
  const root = await mkdtemp(join(dir, 'service-'));
  const config = loadConfig({
    env: {
      REDIS_URL: redis.url,
      LIVEKIT_API_KEY: 'bench-key',
      LIVEKIT_API_SECRET: 'bench-secret-0123456789abcdef0123456789',
      EGRESS_CONFIG_BODY: stringify({ tmp_dir: join(root, 'tmp'), pools: ['upload'], storage: target.storage, logging: { level: 'error' } }),
    },
  });
  const workers = await startWorkers(config, pino({ level: 'error' }));
  const queueEvents = new QueueEvents('upload', { connection: bullConnection(config), prefix: bullPrefix(config) });
  try {
    await queueEvents.waitUntilReady();
    const queue = workers.ctx.queues.get('upload');
    // Per job id: its progress events, and the completed/failed waiter.
    const progress = new Map<string, ProgressEvent[]>();
    const waiters = new Map<string, { resolve(): void; reject(err: Error): void }>();
    queueEvents.on('progress', ({ jobId, data }) => {
      const p = data as { sentBytes?: number; totalBytes?: number };
      progress.get(jobId)?.push({ atMs: performance.now(), sentBytes: Number(p.sentBytes), totalBytes: Number(p.totalBytes) });
    });
    queueEvents.on('completed', ({ jobId }) => waiters.get(jobId)?.resolve());
    queueEvents.on('failed', ({ jobId, failedReason }) => waiters.get(jobId)?.reject(new Error(`upload job ${jobId} failed: ${failedReason}`)));

    const throughQueue = async (i: number): Promise<QueueRun> => {
      const jobId = `bench-upload-${target.name.split(' ')[0]!.toLowerCase()}-${i}`;
      const key = `queue/${i}.mp4`;
      const localPath = join(root, `copy-${i}.mp4`);
      await copyFile(source, localPath); // the job deletes its file once uploaded
      const events: ProgressEvent[] = [];
      progress.set(jobId, events);
      const done = new Promise<void>((resolve, reject) => waiters.set(jobId, { resolve, reject }));
      const data: UploadJobData = { egressId: `EG_bench_${i}`, output: 'file', localPath, key, contentType: CONTENT_TYPE, storage: { kind: 'service' } };
      const t0 = performance.now();
      await queue.add('upload', data, { jobId });
      await done;
      const t1 = performance.now();
      const before = events.length;
      await sleep(TRAILING_EVENTS_MS);
      waiters.delete(jobId);
      progress.delete(jobId);
      const size = await target.storedSize(key);
      if (size !== SIZE_BYTES) throw new Error(`${target.name}: ${key} stored ${size} bytes, not ${SIZE_BYTES}`);
      return { seconds: (t1 - t0) / 1000, events, late: events.length - before };
    };
    const raw = async (i: number): Promise<number> => {
      const key = `raw/${i}.mp4`;
      const t0 = performance.now();
      await target.baseline(source, key);
      const seconds = (performance.now() - t0) / 1000;
      const size = await target.storedSize(key);
      if (size !== SIZE_BYTES) throw new Error(`${target.name}: ${key} stored ${size} bytes, not ${SIZE_BYTES}`);
      return seconds;
    };

    // Interleaved, so drift (page cache, the emulator's disk filling up) weighs on both alike.
    const rawSeconds: number[] = [];
    const queued: QueueRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      rawSeconds.push(await raw(i));
      queued.push(await throughQueue(i));
    }

    const rawMBps = summarize(rawSeconds.map((s) => SIZE_MB / s)).p50;
    const queueMBps = summarize(queued.map((r) => SIZE_MB / r.seconds)).p50;
    const counts = queued.map((r) => r.events.length);
    const perSecond = summarize(queued.map((r) => r.events.length / r.seconds)).p50;
    const per100MB = summarize(counts.map((n) => (n * 100) / SIZE_MB)).p50;
    const problems = queued.flatMap((r, i) => progressProblems(r.events).map((p) => `run ${i + 1}: ${p}`));
    const late = queued.map((r) => r.late);
    const pad = (s: string) => s.padEnd(44);
    return [
      `    ${target.name}`,
      `      ${pad(`raw SDK (${target.baselineLabel})`)}: ${fmt(rawMBps, 1)} MB/s   [${rawSeconds.map((s) => fmt(SIZE_MB / s, 1)).join(', ')}]`,
      `      ${pad('through the queue (add → completed)')}: ${fmt(queueMBps, 1)} MB/s   [${queued.map((r) => fmt(SIZE_MB / r.seconds, 1)).join(', ')}]`,
      `      ${pad('ratio (queue / raw)')}: ×${fmt(queueMBps / rawMBps)}`,
      `      ${pad('progress events')}: ${counts.join(', ')} per job; ${fmt(perSecond, 1)}/s, ${fmt(per100MB, 1)} per 100 MB; ` +
        (problems.length ? `PROBLEMS: ${problems.join('; ')}` : 'monotonic, end at total') +
        (late.some((n) => n > 0) ? `; after completed: ${late.join(', ')}` : ''),
    ];
  } finally {
    await queueEvents.close();
    await workers.close(0);
    await target.stop();
    await rm(root, { recursive: true, force: true });
  }
}

export async function benchUploadThroughput(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'egress-bench-upload-'));
  const redis = await startRedis();
  try {
    const source = join(dir, 'source.mp4');
    await writeTestFile(source, SIZE_BYTES);
    const lines = [`(e) Upload throughput, one ${SIZE_MB} MB file (MB = 2^20 bytes), median of ${RUNS}, raw SDK vs the upload queue, same emulator, same run`];
    const targets = { s3: s3Target, gcs: gcsTarget, azure: azureTarget };
    for (const [name, start] of Object.entries(targets)) if (ONLY.includes(name)) lines.push(...(await benchTarget(redis, dir, source, start)));
    return lines;
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
