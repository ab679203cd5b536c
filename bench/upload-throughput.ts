/**
 * (e) Upload throughput: one large file to each storage emulator (S3: versitygw, GCS: fake-gcs-server,
 * Azure: Azurite), through the service's upload queue (BullMQ add of an `upload` job → the upload pool's
 * worker → Delivery → the back-end; timed from the add to the QueueEvents `completed`) against the baseline
 * of the SDK's own upload of the same file to the same emulator, in the same run. Between the two, the
 * service's back-end called directly (no queue), which splits the gap into the back-end's share and the
 * queue's. Also the `progress` events the job published: how many, how often, monotonic up to the total.
 * BENCH_UPLOAD_MB sets the file size (default 200), BENCH_UPLOAD_STORAGES picks emulators (`s3,gcs,azure`).
 */
import { copyFile, mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
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
import { startWorkers, type RunningWorkers } from '../workers/main.ts';
import { configuredBackend } from '../workers/storage/backends.ts';
import { partSizeFor, S3_DEFAULTS } from '../workers/storage/s3.ts';
import { fmt, summarize } from './stats.ts';

const MiB = 1024 * 1024;
const SIZE_MB = Number(process.env.BENCH_UPLOAD_MB ?? 200);
const SIZE_BYTES = Math.round(SIZE_MB * MiB);
const RUNS = 3;
/** Progress events may trail the `completed` event (they are published without being awaited): wait this long for them. */
const TRAILING_EVENTS_MS = 1000;
const CONTENT_TYPE = 'video/mp4';
/** workers/storage/gcs.ts's default chunk. */
const GCS_CHUNK_BYTES = 16 * MiB;
/** A job that has not completed by then fails the bench instead of hanging it. */
const JOB_TIMEOUT_MS = 10 * 60_000;
/** Which emulators, e.g. `s3,azure` (default all three). */
const ONLY = (process.env.BENCH_UPLOAD_STORAGES ?? 's3,gcs,azure').split(',').map((s) => s.trim());

/** The SDK's own upload of a file, as the SDK's documentation has it. */
interface Baseline {
  label: string;
  upload(path: string, key: string): Promise<void>;
}

/** One emulator, started: its service `storage` config section, the SDK's own upload, and a size check of what landed. */
interface Target {
  name: string;
  storage: Record<string, unknown>;
  /** The reference for the ratio: the SDK configured as the back-end is (part or block size, parallelism). */
  baseline: Baseline;
  /** Other SDK settings worth seeing beside it (reported, not used in the ratio). */
  extra?: Baseline;
  storedSize(key: string): Promise<number>;
  stop(): Promise<void>;
}

async function s3Target(): Promise<Target> {
  const s3 = await startS3Server('bench-upload');
  const partSize = partSizeFor(SIZE_BYTES);
  // As the back-end's client: no CRC32 of every part (sent only when the operation requires one). The SDK's
  // default client, which computes them, is the extra line.
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secret },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const upload = async (s3Client: S3Client, path: string, key: string) => {
    const body = createReadStream(path);
    try {
      await new Upload({
        client: s3Client,
        params: { Bucket: s3.bucket, Key: key, Body: body, ContentType: CONTENT_TYPE },
        partSize,
        queueSize: S3_DEFAULTS.queueSize,
      }).done();
    } finally {
      body.destroy();
    }
  };
  return {
    name: 'S3 (versitygw)',
    storage: {
      s3: { access_key: s3.accessKey, secret: s3.secret, region: s3.region, endpoint: s3.endpoint, bucket: s3.bucket, force_path_style: true },
    },
    baseline: {
      label: `lib-storage Upload, ${partSize / MiB} MiB parts, ${S3_DEFAULTS.queueSize} in flight, checksums when required`,
      upload: (path, key) => upload(client, path, key),
    },
    extra: {
      label: 'the same with the SDK default client (CRC32 of every part)',
      upload: (path, key) => upload(s3.client, path, key),
    },
    storedSize: async (key) => (await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))).ContentLength ?? -1,
    stop: async () => {
      client.destroy();
      await s3.stop();
    },
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
    storage: { gcp: { credentials_json: '', bucket: bucketName, endpoint: gcs.endpoint } },
    // The SDK's default (no chunkSize: the whole file in one streamed request), without the MD5/CRC32C check
    // that the back-end also turns off, so both move the same bytes and neither hashes them.
    baseline: {
      label: 'createWriteStream, resumable, one streamed request, no validation',
      upload: (path, key) =>
        pipeline(createReadStream(path), bucket.file(key).createWriteStream({ resumable: true, contentType: CONTENT_TYPE, validation: false })),
    },
    // As the back-end does it: one request per 16 MiB chunk, each acknowledged before the next.
    extra: {
      label: `the same in ${GCS_CHUNK_BYTES / MiB} MiB chunks, as the back-end`,
      upload: (path, key) =>
        pipeline(
          createReadStream(path),
          bucket.file(key).createWriteStream({ resumable: true, contentType: CONTENT_TYPE, validation: false, chunkSize: GCS_CHUNK_BYTES }),
        ),
    },
    storedSize: async (key) => Number((await bucket.file(key).getMetadata())[0].size ?? -1),
    stop: () => gcs.stop(),
  };
}

async function azureTarget(): Promise<Target> {
  const azurite = await startAzurite();
  const containerName = 'bench-upload';
  const container = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient(
    containerName,
  );
  try {
    await container.createIfNotExists();
  } catch (err) {
    await azurite.stop();
    throw err;
  }
  return {
    name: 'Azure (Azurite)',
    storage: { azure: { account_name: AZURITE_ACCOUNT, account_key: AZURITE_KEY, container_name: containerName, endpoint: azurite.endpoint } },
    // maxSingleShotSize too: without it the SDK sends any file up to 256 MiB as one Put Blob and blockSize
    // is never used.
    baseline: {
      label: 'BlockBlobClient.uploadFile, 4 MiB blocks, 16 in flight',
      upload: async (path, key) =>
        void (await container
          .getBlockBlobClient(key)
          .uploadFile(path, { blockSize: 4 * MiB, maxSingleShotSize: 4 * MiB, concurrency: 16, blobHTTPHeaders: { blobContentType: CONTENT_TYPE } })),
    },
    extra: {
      label: 'the same with the SDK default maxSingleShotSize (one Put Blob up to 256 MiB)',
      upload: async (path, key) =>
        void (await container
          .getBlockBlobClient(key)
          .uploadFile(path, { blockSize: 4 * MiB, concurrency: 16, blobHTTPHeaders: { blobContentType: CONTENT_TYPE } })),
    },
    storedSize: async (key) => (await container.getBlockBlobClient(key).getProperties()).contentLength ?? -1,
    stop: () => azurite.stop(),
  };
}

/** Written back to disk before any clock starts, so that writeback does not compete with an upload. */
async function datasync(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  await handle.datasync().finally(() => handle.close());
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
  const root = join(dir, 'service');
  let workers: RunningWorkers | undefined;
  let queueEvents: QueueEvents | undefined;
  try {
    await mkdir(root);
    const config = loadConfig({
      env: {
        REDIS_URL: redis.url,
        LIVEKIT_API_KEY: 'bench-key',
        LIVEKIT_API_SECRET: 'bench-secret-0123456789abcdef0123456789',
        EGRESS_CONFIG_BODY: stringify({ tmp_dir: join(root, 'tmp'), pools: ['upload'], storage: target.storage, logging: { level: 'error' } }),
      },
    });
    workers = await startWorkers(config, pino({ level: 'error' }));
    queueEvents = new QueueEvents('upload', { connection: bullConnection(config), prefix: bullPrefix(config) });
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

    const verifySize = async (key: string) => {
      const size = await target.storedSize(key);
      if (size !== SIZE_BYTES) throw new Error(`${target.name}: ${key} stored ${size} bytes, not ${SIZE_BYTES}`);
    };
    const throughQueue = async (i: number): Promise<QueueRun> => {
      const jobId = `bench-upload-${target.name.split(' ')[0]!.toLowerCase()}-${i}`;
      const key = `queue/${i}.mp4`;
      const localPath = join(root, `copy-${i}.mp4`);
      await copyFile(source, localPath); // the job deletes its file once uploaded
      await datasync(localPath);
      const events: ProgressEvent[] = [];
      progress.set(jobId, events);
      const done = new Promise<void>((resolve, reject) => waiters.set(jobId, { resolve, reject }));
      const data: UploadJobData = {
        egressId: `EG_bench_${i}`,
        output: 'file',
        localPath,
        key,
        contentType: CONTENT_TYPE,
        storage: { kind: 'service' },
      };
      const t0 = performance.now();
      await queue.add('upload', data, { jobId });
      await Promise.race([
        done,
        sleep(JOB_TIMEOUT_MS, undefined, { ref: false }).then(() =>
          Promise.reject(new Error(`upload job ${jobId}: not completed within ${JOB_TIMEOUT_MS / 1000} s`)),
        ),
      ]);
      const t1 = performance.now();
      const before = events.length;
      await sleep(TRAILING_EVENTS_MS);
      waiters.delete(jobId);
      progress.delete(jobId);
      await verifySize(key);
      return { seconds: (t1 - t0) / 1000, events, late: events.length - before };
    };
    const raw = async (baseline: Baseline, key: string): Promise<number> => {
      const t0 = performance.now();
      await baseline.upload(source, key);
      const seconds = (performance.now() - t0) / 1000;
      await verifySize(key);
      return seconds;
    };
    // The service's own back-end, built from the same config, called directly: separates the back-end's cost
    // (its chunking, retries, progress) from the queue's (job hand-off, Redis progress events).
    const backend = configuredBackend(config.storage)!;
    const direct = async (i: number): Promise<{ seconds: number; callbacks: number }> => {
      const key = `direct/${i}.mp4`;
      let callbacks = 0;
      const t0 = performance.now();
      await backend.uploadFile(source, key, { contentType: CONTENT_TYPE, sizeBytes: SIZE_BYTES, onProgress: () => void callbacks++ });
      const seconds = (performance.now() - t0) / 1000;
      await verifySize(key);
      return { seconds, callbacks };
    };

    // Interleaved, so drift (page cache, the emulator's disk filling up, other load) weighs on each alike.
    const rawSeconds: number[] = [];
    const extraSeconds: number[] = [];
    const directRuns: { seconds: number; callbacks: number }[] = [];
    const queued: QueueRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      rawSeconds.push(await raw(target.baseline, `raw/${i}.mp4`));
      if (target.extra) extraSeconds.push(await raw(target.extra, `extra/${i}.mp4`));
      directRuns.push(await direct(i));
      queued.push(await throughQueue(i));
    }

    const mbps = (seconds: number[]) => ({
      median: summarize(seconds.map((s) => SIZE_MB / s)).p50,
      all: seconds.map((s) => fmt(SIZE_MB / s, 1)).join(', '),
    });
    const rawMBps = mbps(rawSeconds);
    const directMBps = mbps(directRuns.map((r) => r.seconds));
    const queueMBps = mbps(queued.map((r) => r.seconds));
    const counts = queued.map((r) => r.events.length);
    const perSecond = summarize(queued.map((r) => r.events.length / r.seconds)).p50;
    const per100MB = summarize(counts.map((n) => (n * 100) / SIZE_MB)).p50;
    const problems = queued.flatMap((r, i) => progressProblems(r.events).map((p) => `run ${i + 1}: ${p}`));
    const late = queued.map((r) => r.late);
    const rows: [string, string][] = [
      [`raw SDK (${target.baseline.label})`, `${fmt(rawMBps.median, 1)} MB/s   [${rawMBps.all}]`],
      ...(target.extra
        ? [
            [
              `raw SDK, ${target.extra.label}`,
              `${fmt(mbps(extraSeconds).median, 1)} MB/s   [${mbps(extraSeconds).all}]   ×${fmt(mbps(extraSeconds).median / rawMBps.median)} of raw`,
            ] as [string, string],
          ]
        : []),
      [
        'service back-end called directly, no queue',
        `${fmt(directMBps.median, 1)} MB/s   [${directMBps.all}]   ×${fmt(directMBps.median / rawMBps.median)} of raw`,
      ],
      ['through the queue (add → completed)', `${fmt(queueMBps.median, 1)} MB/s   [${queueMBps.all}]`],
      ['ratio (queue / raw)', `×${fmt(queueMBps.median / rawMBps.median)}   (queue / direct back-end ×${fmt(queueMBps.median / directMBps.median)})`],
      [
        'progress events (QueueEvents)',
        `${counts.join(', ')} per job; ${fmt(perSecond, 1)}/s, ${fmt(per100MB, 1)} per 100 MB; ` +
          (problems.length ? `PROBLEMS: ${problems.join('; ')}` : 'monotonic, end at total') +
          (late.some((n) => n > 0) ? `; arrived after completed: ${late.join(', ')}` : '') +
          ` (back-end callbacks: ${directRuns.map((r) => r.callbacks).join(', ')})`,
      ],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    return [`    ${target.name}`, ...rows.map(([label, value]) => `      ${label.padEnd(width)} : ${value}`)];
  } finally {
    await queueEvents?.close();
    await workers?.close(0);
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
    await datasync(source);
    const lines = [
      `(e) Upload throughput, one ${SIZE_MB} MB file (MB = 2^20 bytes), median of ${RUNS}, raw SDK vs the upload queue, same emulator, same run`,
    ];
    const targets = { s3: s3Target, gcs: gcsTarget, azure: azureTarget };
    for (const [name, start] of Object.entries(targets)) if (ONLY.includes(name)) lines.push(...(await benchTarget(redis, dir, source, start)));
    return lines;
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
