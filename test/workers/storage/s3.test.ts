/**
 * The S3 back-end against a real S3 server (versitygw, see test/support/s3-server.ts): what lands, where,
 * with which headers; a 200 MB multipart upload that survives the server freezing for 20 s; and a bounded
 * failure when the server is gone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { Readable } from 'node:stream';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { EgressError } from '../../../shared/errors.ts';
import { createS3Backend, partSizeFor, s3Location, MAX_PARTS, MIN_PART_BYTES, type S3Options } from '../../../workers/storage/s3.ts';
import { startS3Server, type S3Server } from '../../support/s3-server.ts';
import { sha256Of, writeTestFile } from '../../support/test-files.ts';

const MiB = 1024 * 1024;

let server: S3Server;
let dir: string;

before(async () => {
  [server, dir] = await Promise.all([startS3Server(), mkdtemp(join(tmpdir(), 'egress-s3-test-'))]);
});

after(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function optionsFor(s: S3Server, extra: Partial<S3Options> = {}): S3Options {
  return { endpoint: s.endpoint, accessKey: s.accessKey, secret: s.secret, region: s.region, bucket: s.bucket, forcePathStyle: true, ...extra };
}

async function downloadSha256(s: S3Server, key: string): Promise<string> {
  const object = await s.client.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
  return sha256Of(object.Body as Readable);
}

describe('S3 locations and part sizes', () => {
  test('location is virtual-hosted by default and path-style when forced, as LiveKit', () => {
    assert.equal(s3Location({ bucket: 'rec' }, 'a/b.mp4'), 'https://rec.s3.amazonaws.com/a/b.mp4');
    assert.equal(s3Location({ bucket: 'rec', endpoint: 'https://minio.example.com:9000/' }, 'a/b.mp4'), 'https://rec.minio.example.com:9000/a/b.mp4');
    assert.equal(
      s3Location({ bucket: 'rec', endpoint: 'http://10.0.0.1:9000', forcePathStyle: true }, 'a/b.mp4'),
      'http://10.0.0.1:9000/rec/a/b.mp4',
    );
  });

  test('part size: at least 5 MiB, and the largest recording fits in 10 000 parts', () => {
    assert.equal(partSizeFor(0), MIN_PART_BYTES);
    assert.equal(partSizeFor(200 * MiB), MIN_PART_BYTES);
    for (const size of [50 * 1024 * MiB, 200 * 1024 * MiB, 2 * 1024 * 1024 * MiB]) {
      const part = partSizeFor(size);
      assert.ok(Math.ceil(size / part) <= MAX_PARTS, `${size} in ${part}-byte parts`);
      assert.equal(part % MiB, 0);
    }
  });
});

describe('S3 uploads against a real S3 server', () => {
  test('an MP4-sized file lands under its key with its content type, size, disposition, metadata and tags', async () => {
    const path = join(dir, 'room.mp4');
    const size = 3 * MiB + 12345;
    const sha = await writeTestFile(path, size);
    const backend = createS3Backend(optionsFor(server, { metadata: { room: 'lobby' }, tagging: 'egress=EG_1&kind=file' }));
    const progress: Array<[number, number]> = [];
    const { location } = await backend.uploadFile(path, 'rooms/lobby/room.mp4', {
      contentType: 'video/mp4',
      sizeBytes: size,
      onProgress: (s, t) => progress.push([s, t]),
    });
    assert.equal(location, `${server.endpoint}/${server.bucket}/rooms/lobby/room.mp4`);
    const head = await server.client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'rooms/lobby/room.mp4' }));
    assert.equal(head.ContentType, 'video/mp4');
    assert.equal(head.ContentLength, size);
    assert.equal(head.ContentDisposition, 'inline');
    assert.deepEqual(head.Metadata, { room: 'lobby' });
    const tags = await server.client.send(new GetObjectTaggingCommand({ Bucket: server.bucket, Key: 'rooms/lobby/room.mp4' }));
    assert.deepEqual((tags.TagSet ?? []).map((t) => `${t.Key}=${t.Value}`).sort(), ['egress=EG_1', 'kind=file']);
    assert.deepEqual(progress.at(-1), [size, size]);
    assert.equal(await downloadSha256(server, 'rooms/lobby/room.mp4'), sha);
  });

  test('a text (manifest) lands with its content type; custom content disposition', async () => {
    const backend = createS3Backend(optionsFor(server, { contentDisposition: 'attachment' }));
    const { location } = await backend.uploadText('{"egress_id":"EG_1"}', 'rooms/EG_1.json', 'application/json');
    assert.equal(location, `${server.endpoint}/${server.bucket}/rooms/EG_1.json`);
    const head = await server.client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'rooms/EG_1.json' }));
    assert.equal(head.ContentType, 'application/json');
    assert.equal(head.ContentDisposition, 'attachment');
    assert.equal(head.ContentLength, 20);
  });

  test('200 MB goes up in parts, survives the server frozen for 20 s, and arrives byte-identical', { timeout: 120_000 }, async (t) => {
    const path = join(dir, 'big.mp4');
    const size = 200 * MiB;
    const sha = await writeTestFile(path, size);
    // Idle requests time out after 3 s and are retried (backoff ≤ 2 s): 20 s frozen needs ≤ ~5 retries per part.
    let retries = 0;
    const backend = createS3Backend(
      optionsFor(server, { maxRetries: 12, maxRetryDelayMs: 2000, idleTimeoutMs: 3000, connectionTimeoutMs: 3000, onRetry: () => retries++ }),
    );
    const progress: Array<[number, number]> = [];
    let paused: Promise<void> | undefined;
    let resumedAt = 0;
    const started = Date.now();
    const uploaded = backend.uploadFile(path, 'big/big.mp4', {
      contentType: 'video/mp4',
      sizeBytes: size,
      onProgress: (sent, total) => {
        progress.push([sent, total]);
        if (paused === undefined && sent >= 20 * MiB) {
          paused = (async () => {
            await server.pause();
            await sleep(20_000);
            await server.resume();
            resumedAt = Date.now();
          })();
        }
      },
    });
    const { location } = await uploaded;
    const doneAt = Date.now();
    assert.ok(paused, 'the server was paused mid-upload');
    await paused;
    assert.ok(doneAt >= resumedAt, 'the upload finished only after the server came back');
    assert.ok(doneAt - started >= 20_000);
    assert.ok(retries > 0, 'stalled requests were retried');
    t.diagnostic(`${progress.length} progress events, ${retries} retries, ${doneAt - started} ms`);
    assert.equal(location, `${server.endpoint}/${server.bucket}/big/big.mp4`);

    assert.ok(progress.length >= 10, `progress in parts (${progress.length} events)`);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]![0] > progress[i - 1]![0], `progress increases at ${i}`);
    for (const [sent, total] of progress) assert.ok(sent <= total && total === size);
    assert.deepEqual(progress.at(-1), [size, size]);

    const head = await server.client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'big/big.mp4' }));
    assert.equal(head.ContentLength, size);
    assert.match(head.ETag ?? '', /-\d+"$/, 'a multipart ETag');
    assert.equal(await downloadSha256(server, 'big/big.mp4'), sha);
    await rm(path, { force: true });
  });

  test(
    'the server gone for good: rejects with EGR_ERR_UPLOAD_FAILED in bounded time, no credentials in the message',
    { timeout: 90_000 },
    async (t) => {
      const doomed = await startS3Server('doomed');
      try {
        const path = join(dir, 'doomed.mp4');
        await writeTestFile(path, 30 * MiB);
        const backend = createS3Backend(optionsFor(doomed, { maxRetries: 3, maxRetryDelayMs: 500, idleTimeoutMs: 2000, connectionTimeoutMs: 2000 }));
        let killed: Promise<void> | undefined;
        const started = Date.now();
        const error = await backend
          .uploadFile(path, 'doomed.mp4', {
            contentType: 'video/mp4',
            sizeBytes: 30 * MiB,
            onProgress: () => {
              killed ??= doomed.pause().then(() => doomed.stop());
            },
          })
          .then(
            () => assert.fail('the upload should fail'),
            (err: unknown) => err,
          );
        await killed;
        const elapsed = Date.now() - started;
        assert.ok(killed, 'the server was killed mid-upload');
        assert.ok(error instanceof EgressError, String(error));
        assert.equal(error.code, 'EGR_ERR_UPLOAD_FAILED');
        assert.match(error.message, /^S3 upload failed: /);
        assert.ok(!error.message.includes(doomed.secret) && !error.message.includes(doomed.accessKey), error.message);
        assert.ok(elapsed < 60_000, `failed after ${elapsed} ms`);
        t.diagnostic(`failed after ${elapsed} ms: ${error.message}`);
      } finally {
        await doomed.stop();
      }
    },
  );

  test('a stopped server with text: rejects with EGR_ERR_UPLOAD_FAILED', async () => {
    const doomed = await startS3Server('gone');
    await doomed.stop();
    const backend = createS3Backend(optionsFor(doomed, { maxRetries: 2, maxRetryDelayMs: 100 }));
    await assert.rejects(
      backend.uploadText('x', 'x.json', 'application/json'),
      (err: unknown) => err instanceof EgressError && err.code === 'EGR_ERR_UPLOAD_FAILED',
    );
  });

  test('through an HTTP proxy with credentials, on every Node the engines allow: text, and a multipart file (Expect: 100-continue parts)', async () => {
    const seen: string[] = [];
    const proxy: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers['proxy-authorization'] ?? ''} ${req.headers.expect ?? ''}`);
      if (req.headers['proxy-authorization'] !== `Basic ${Buffer.from('pu:pp').toString('base64')}`) {
        res.writeHead(407).end();
        return;
      }
      const upstream = httpRequest(req.url!, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    try {
      const port = (proxy.address() as AddressInfo).port;
      const backend = createS3Backend(
        optionsFor(server, { proxy: { url: `http://127.0.0.1:${port}`, username: 'pu', password: 'pp' }, maxRetries: 1 }),
      );
      await backend.uploadText('via proxy', 'proxied.txt', 'text/plain');
      assert.ok(
        seen.some((line) => line.startsWith(`PUT ${server.endpoint}/${server.bucket}/proxied.txt`)),
        seen.join('\n'),
      );
      const head = await server.client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'proxied.txt' }));
      assert.equal(head.ContentLength, 9);
      // Two parts: their head is stored before the agent sees the request (Expect), and is still rewritten.
      const path = join(dir, 'proxied.mp4');
      const size = MIN_PART_BYTES + MiB;
      const sha = await writeTestFile(path, size);
      seen.length = 0;
      await backend.uploadFile(path, 'proxied.mp4', { contentType: 'video/mp4', sizeBytes: size });
      const parts = seen.filter((line) => line.startsWith(`PUT ${server.endpoint}/${server.bucket}/proxied.mp4?`) && line.includes('partNumber='));
      assert.equal(parts.length, 2, seen.join('\n'));
      const auth = `Basic ${Buffer.from('pu:pp').toString('base64')}`;
      assert.ok(
        seen.every((line) => line.includes(` ${auth} `)),
        seen.join('\n'),
      );
      assert.ok(
        parts.some((line) => line.endsWith(' 100-continue')),
        'a part sent with Expect: 100-continue',
      );
      assert.equal(await downloadSha256(server, 'proxied.mp4'), sha);
    } finally {
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  test('an aborted signal cancels the upload', async () => {
    const path = join(dir, 'aborted.mp4');
    await writeFile(path, randomBytes(MiB));
    const controller = new AbortController();
    controller.abort();
    const backend = createS3Backend(optionsFor(server));
    await assert.rejects(backend.uploadFile(path, 'aborted.mp4', { contentType: 'video/mp4', sizeBytes: MiB, signal: controller.signal }));
  });
});
