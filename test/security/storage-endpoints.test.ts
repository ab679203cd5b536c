/**
 * Storage destinations named in a request's own upload config: an S3 `endpoint`, the S3 and GCP
 * `proxy.url`, GCP credentials that would make the client fetch URLs or read files, an Azure account name
 * that would rewrite the blob URL. Refused at the RPC (url_policy: permission_denied naming the field;
 * malformed: invalid_argument) with nothing stored, and checked again by the upload worker on every
 * connection it makes for a request's config: a policy that changed between the API and the worker refuses
 * the upload, and a loopback listener standing in for the denied destination receives nothing. Allowed
 * destinations still work, through a proxy too. Real servers: versitygw (S3), fake-gcs-server (GCS).
 */
import { AzureBlobUpload, GCPUpload, S3Upload } from '@livekit/protocol';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig, type LoadedConfig } from '../../shared/config/load.ts';
import { createServiceContext, type ServiceContext } from '../../shared/context.ts';
import type { StorageTarget } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import { policyRefusal } from '../../shared/guarded-agents.ts';
import { uploadJobId, type UploadJobData } from '../../shared/queues.ts';
import { uploadJobOptions } from '../../workers/upload/upload-options.ts';
import { StorageBackends } from '../../workers/storage/backends.ts';
import { Delivery } from '../../workers/storage/delivery.ts';
import { gcsView } from '../support/object-stores.ts';
import { startGcsServer, type GcsServer } from '../support/gcs-server.ts';
import { startHttpProxy, type HttpProxy } from '../support/http-proxy.ts';
import { startHttpTrap, type HttpTrap } from '../support/http-trap.ts';
import { startS3Server, type S3Server } from '../support/s3-server.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { twirpCall, until, type TwirpAnswer } from '../support/twirp-call.ts';

const ME = { apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET };
const PAGE = 'http://127.0.0.1:9/page';
const DENY_3 = { deny: ['127.0.0.3'] };

/** Refused with `code`, naming `field` (a pattern: the request validation may name the full path). */
function assertRefused(answer: TwirpAnswer, code: string, field: string | RegExp, what: string): void {
  assert.equal(answer.json.code, code, `${what}: ${JSON.stringify(answer.json)}`);
  if (typeof field === 'string') assert.equal(answer.json.meta?.field, field, `${what}: ${JSON.stringify(answer.json)}`);
  else assert.match(answer.json.meta?.field ?? '', field, `${what}: ${JSON.stringify(answer.json)}`);
}

describe('at the RPC', { concurrency: false }, () => {
  let service: TestService;
  let denied: HttpTrap;
  let allowed: HttpTrap;

  before(async () => {
    [denied, allowed] = await Promise.all([startHttpTrap('127.0.0.3'), startHttpTrap('127.0.0.2')]);
    service = await startService({ pools: ['webhook'], url_policy: DENY_3 });
  });
  after(async () => {
    await service?.stop();
    await Promise.all([denied?.close(), allowed?.close()]);
  });

  const web = (body: Record<string, unknown>) => twirpCall(service.url, 'StartWebEgress', { url: PAGE, ...body }, ME);
  const s3File = (s3: Record<string, unknown>) => web({ file_outputs: [{ filepath: 'x.mp4', s3: { bucket: 'b', ...s3 } }] });

  test('S3 endpoints and proxies to denied or metadata hosts: permission_denied naming the field; nothing stored or reached', async () => {
    const p = denied.port;
    const endpoints = [
      `http://127.0.0.3:${p}`,
      `127.0.0.3:${p}`, // no scheme: https, as the client reads it
      `http://[::ffff:127.0.0.3]:${p}`,
      `http://2130706435:${p}`,
      'http://169.254.169.254',
      'http://[fd00:ec2::254]',
      'http://metadata.google.internal',
      'http://[::]:9000',
    ];
    for (const endpoint of endpoints) assertRefused(await s3File({ endpoint, force_path_style: true }), 'permission_denied', 's3.endpoint', endpoint);
    assertRefused(
      await s3File({ endpoint: allowed.origin, proxy: { url: `http://127.0.0.3:${p}` } }),
      'permission_denied',
      's3.proxy.url',
      's3 proxy',
    );
    assertRefused(
      await s3File({ proxy: { url: 'http://169.254.169.254:3128', username: 'u', password: 'p' } }),
      'permission_denied',
      's3.proxy.url',
      's3 proxy, no endpoint',
    );
    assertRefused(
      await web({ segment_outputs: [{ filename_prefix: 's/seg', gcp: { bucket: 'egress-gcs-sec', proxy: { url: `http://127.0.0.3:${p}` } } }] }),
      'permission_denied',
      'gcp.proxy.url',
      'gcp proxy',
    );
    assertRefused(
      await web({ image_outputs: [{ capture_interval: 10, filename_prefix: 'i/img', s3: { bucket: 'b', endpoint: `http://127.0.0.3:${p}` } }] }),
      'permission_denied',
      's3.endpoint',
      'an image output',
    );
    // v2: request-level and output-level storage.
    const v2 = (body: Record<string, unknown>) => twirpCall(service.url, 'StartEgress', { web: { url: PAGE }, ...body }, ME);
    assertRefused(
      await v2({ outputs: [{ file: { filepath: 'x.mp4' } }], storage: { s3: { bucket: 'b', endpoint: `http://127.0.0.3:${p}` } } }),
      'permission_denied',
      's3.endpoint',
      'v2 request storage',
    );
    assertRefused(
      await v2({ outputs: [{ file: { filepath: 'x.mp4' }, storage: { s3: { bucket: 'b', endpoint: 'http://169.254.169.254' } } }] }),
      'permission_denied',
      's3.endpoint',
      'v2 output storage',
    );

    const listed = await twirpCall(service.url, 'ListEgress', {}, ME);
    assert.deepEqual(listed.json.items ?? [], [], 'nothing was stored');
    assert.equal(denied.connections, 0, 'the denied address received nothing');
    assert.equal(allowed.connections, 0, 'and the RPC connected to nothing');
  });

  test('malformed: not http(s), too long, external-account GCP credentials, a bogus Azure account name', async () => {
    assertRefused(await s3File({ endpoint: 'ftp://127.0.0.2/' }), 'invalid_argument', 's3.endpoint', 'ftp endpoint');
    // Request validation bounds every string first and names the full path; either way it is the endpoint.
    assertRefused(await s3File({ endpoint: `http://127.0.0.2/${'a'.repeat(5000)}` }), 'invalid_argument', /(^|\.)s3\.endpoint$/, 'long endpoint');
    assertRefused(await s3File({ proxy: { url: 'socks5://127.0.0.2:1080' } }), 'invalid_argument', 's3.proxy.url', 'socks proxy');
    const external = JSON.stringify({
      type: 'external_account',
      audience: '//iam.googleapis.com/x',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `http://127.0.0.3:${denied.port}/token`,
      credential_source: { file: '/etc/passwd' },
    });
    for (const credentials of [
      external,
      JSON.stringify({ type: 'impersonated_service_account', service_account_impersonation_url: 'http://169.254.169.254/' }),
      'not json',
      '[1]',
    ]) {
      assertRefused(
        await web({ file_outputs: [{ filepath: 'x.mp4', gcp: { bucket: 'egress-gcs-sec', credentials } }] }),
        'invalid_argument',
        'gcp.credentials',
        credentials,
      );
    }
    for (const accountName of ['evil.example/x#', 'UPPER', 'ab', '169.254.169.254']) {
      assertRefused(
        await web({ file_outputs: [{ filepath: 'x.mp4', azure: { account_name: accountName, account_key: 'a2V5', container_name: 'c' } }] }),
        'invalid_argument',
        'azure.account_name',
        accountName,
      );
    }
    assert.equal(denied.connections, 0);
  });

  test('allowed destinations are accepted', async () => {
    const answer = await s3File({ endpoint: allowed.origin, force_path_style: true, proxy: { url: allowed.origin } });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    const gcp = await web({
      file_outputs: [
        { filepath: 'x.mp4', gcp: { bucket: 'egress-gcs-sec', credentials: JSON.stringify({ type: 'service_account', project_id: 'p' }) } },
      ],
    });
    assert.equal(gcp.status, 200, JSON.stringify(gcp.json));
  });
});

/** A worker-side context whose policy is its own: deny 127.0.0.3 (the API would have let it through). */
function workerConfig(redisUrl: string, yaml: Record<string, unknown> = {}): LoadedConfig {
  return loadConfig({
    env: {
      REDIS_URL: redisUrl,
      LIVEKIT_API_KEY: E2E_API_KEY,
      LIVEKIT_API_SECRET: E2E_API_SECRET,
      EGRESS_CONFIG_BODY: stringify({ url_policy: DENY_3, ...yaml }),
    },
  });
}

type Sealable = S3Upload | GCPUpload | AzureBlobUpload;

/** Seals `upload` as the API would for egress `egressId`; the target its outputs carry. */
async function seal(
  ctx: ServiceContext,
  egressId: string,
  kind: 's3' | 'gcp' | 'azure',
  upload: Sealable,
  ref = `${kind}-${egressId}`,
): Promise<StorageTarget> {
  await ctx.secrets.put(egressId, { streamUrls: {}, uploads: { [ref]: { kind, json: upload.toJsonString() } } });
  if (kind === 's3') return { kind, bucket: (upload as S3Upload).bucket, ref };
  if (kind === 'gcp') return { kind, bucket: (upload as GCPUpload).bucket, ref };
  return { kind, container: (upload as AzureBlobUpload).containerName, ref };
}

const refusedAs = (field: string) => (err: unknown) =>
  err instanceof EgressError &&
  err.code === 'EGR_ERR_UPLOAD_FAILED' &&
  policyRefusal(err) !== undefined &&
  err.message.includes(`refused by url_policy: ${field}: 127.0.0.3 is not allowed`);

describe('in the upload worker', { concurrency: false }, () => {
  let service: TestService;
  let ctx: ServiceContext;
  let s3: S3Server;
  let gcs: GcsServer;
  let denied: HttpTrap;
  let proxy: HttpProxy;
  let scratch: string;

  before(async () => {
    [s3, gcs, denied, proxy, scratch] = await Promise.all([
      startS3Server(),
      startGcsServer(),
      startHttpTrap('127.0.0.3'),
      startHttpProxy('127.0.0.2'),
      mkdtemp(join(tmpdir(), 'storage-endpoints-')),
    ]);
    await gcs.createBucket('egress-gcs-sec');
    // The service (API and upload workers) for the queue test below; its Redis for the unit-level ones.
    service = await startService({ pools: ['upload'], url_policy: DENY_3, upload: { attempts: 2, backoff: 50 } });
    ctx = createServiceContext(workerConfig(service.redis.url, { storage: { gcp: { endpoint: gcs.endpoint } } }), pino({ level: 'silent' }), 'test');
  });
  after(async () => {
    await ctx?.close();
    await service?.stop();
    await Promise.all([s3?.stop(), gcs?.stop(), denied?.close(), proxy?.close()]);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test('an S3 endpoint the worker denies: refused on connecting, the listener receives nothing', async () => {
    const backends = new StorageBackends(ctx.config, ctx.secrets);
    const target = await seal(
      ctx,
      'EG_s3denied0001',
      's3',
      new S3Upload({ bucket: 'b', accessKey: 'k', secret: 's', endpoint: denied.origin, forcePathStyle: true }),
    );
    await assert.rejects((await backends.primary('EG_s3denied0001', target)).uploadText('x', 'x.txt', 'text/plain'), refusedAs('s3.endpoint'));
    assert.equal(denied.connections, 0);
  });

  test('an S3 or GCP proxy the worker denies: refused; neither the proxy nor the endpoint is reached', async () => {
    const backends = new StorageBackends(ctx.config, ctx.secrets);
    const viaProxy = await seal(
      ctx,
      'EG_s3proxy00001',
      's3',
      new S3Upload({
        bucket: s3.bucket,
        accessKey: s3.accessKey,
        secret: s3.secret,
        region: s3.region,
        endpoint: s3.endpoint,
        forcePathStyle: true,
        proxy: { url: denied.origin },
      }),
    );
    await assert.rejects(
      (await backends.primary('EG_s3proxy00001', viaProxy)).uploadText('x', 'proxied-denied.txt', 'text/plain'),
      refusedAs('s3.proxy.url'),
    );
    await assert.rejects(s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'proxied-denied.txt' })));
    const gcp = await seal(ctx, 'EG_gcpproxy0001', 'gcp', new GCPUpload({ bucket: 'egress-gcs-sec', proxy: { url: denied.origin } }));
    await assert.rejects(
      (await backends.primary('EG_gcpproxy0001', gcp)).uploadText('x', 'gcp-denied.txt', 'text/plain'),
      refusedAs('gcp.proxy.url'),
    );
    assert.equal(await gcsView(gcs.endpoint, 'egress-gcs-sec').get('gcp-denied.txt'), undefined);
    assert.equal(denied.connections, 0);
  });

  test('allowed proxies carry the upload (S3 and GCS, with proxy credentials)', async () => {
    const backends = new StorageBackends(ctx.config, ctx.secrets);
    const viaProxy = await seal(
      ctx,
      'EG_s3proxy00002',
      's3',
      new S3Upload({
        bucket: s3.bucket,
        accessKey: s3.accessKey,
        secret: s3.secret,
        region: s3.region,
        endpoint: s3.endpoint,
        forcePathStyle: true,
        proxy: { url: proxy.url, username: 'pu', password: 'pp' },
      }),
    );
    await (await backends.primary('EG_s3proxy00002', viaProxy)).uploadText('via proxy', 'proxied.txt', 'text/plain');
    assert.equal((await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'proxied.txt' }))).ContentLength, 9);
    const basic = `Basic ${Buffer.from('pu:pp').toString('base64')}`;
    assert.ok(
      proxy.seen.some((line) => line.startsWith(`PUT ${s3.endpoint}/${s3.bucket}/proxied.txt`) && line.endsWith(` ${basic}`)),
      proxy.seen.join('\n'),
    );
    const gcp = await seal(ctx, 'EG_gcpproxy0002', 'gcp', new GCPUpload({ bucket: 'egress-gcs-sec', proxy: { url: proxy.url } }));
    await (await backends.primary('EG_gcpproxy0002', gcp)).uploadText('gcs via proxy', 'gcs-proxied.txt', 'text/plain');
    assert.equal((await gcsView(gcs.endpoint, 'egress-gcs-sec').get('gcs-proxied.txt'))?.bytes.toString(), 'gcs via proxy');
    assert.ok(
      proxy.seen.some((line) => line.startsWith(`POST ${gcs.endpoint}/`) || line.startsWith(`PUT ${gcs.endpoint}/`)),
      proxy.seen.join('\n'),
    );
  });

  test('the rules on credentials hold in the worker too (a config sealed by an older API)', async () => {
    const backends = new StorageBackends(ctx.config, ctx.secrets);
    const external = await seal(
      ctx,
      'EG_gcpexternal1',
      'gcp',
      new GCPUpload({
        bucket: 'egress-gcs-sec',
        credentials: JSON.stringify({ type: 'external_account', credential_source: { url: denied.origin } }),
      }),
    );
    await assert.rejects(backends.primary('EG_gcpexternal1', external), /GCP upload failed: gcp\.credentials: only service_account/);
    const azure = await seal(
      ctx,
      'EG_azurebogus01',
      'azure',
      new AzureBlobUpload({ accountName: `127.0.0.3:${denied.port}/x?`, accountKey: 'a2V5', containerName: 'c' }),
    );
    await assert.rejects(backends.primary('EG_azurebogus01', azure), /Azure upload failed: azure\.account_name/);
    assert.equal(denied.connections, 0);
  });

  test('with a backup storage, a refused upload goes there at once (no retries that cannot help)', async () => {
    const config = workerConfig(service.redis.url, {
      backup: {
        s3: { access_key: s3.accessKey, secret: s3.secret, region: s3.region, endpoint: s3.endpoint, bucket: s3.bucket, force_path_style: true },
        prefix: 'bk',
      },
    });
    const delivery = new Delivery({ config, secrets: ctx.secrets, events: ctx.events, log: pino({ level: 'silent' }) });
    const target = await seal(
      ctx,
      'EG_backup000001',
      's3',
      new S3Upload({ bucket: 'b', accessKey: 'k', secret: 's', endpoint: denied.origin, forcePathStyle: true }),
    );
    const path = join(scratch, 'to-backup.txt');
    await writeFile(path, 'backed up');
    const delivered = await delivery.deliver({
      egressId: 'EG_backup000001',
      storage: target,
      key: 'refused/file.txt',
      payload: { path },
      contentType: 'text/plain',
      lastAttempt: false,
    });
    assert.equal(delivered.backup, true);
    assert.equal((await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'bk/refused/file.txt' }))).ContentLength, 9);
    assert.equal(denied.connections, 0);
  });

  test('through the upload queue: the job fails with the refusal, the file stays on disk, the listener receives nothing', async () => {
    // The API accepted this (its policy allows loopback); the upload worker's policy denies 127.0.0.3.
    const egressId = 'EG_queuedenied1';
    const target = await seal(
      service.workers.ctx,
      egressId,
      's3',
      new S3Upload({ bucket: 'b', accessKey: 'k', secret: 's', endpoint: denied.origin, forcePathStyle: true }),
    );
    const localPath = join(scratch, 'queued.mp4');
    await writeFile(localPath, 'not really a movie');
    const data: UploadJobData = { egressId, output: 'file', localPath, key: 'q/queued.mp4', contentType: 'video/mp4', storage: target };
    const queue = service.workers.ctx.queues.get('upload');
    const job = await queue.add('upload', data, { ...uploadJobOptions(service.config), jobId: uploadJobId.file(egressId) });
    await until(async () => (await job.getState()) === 'failed', 'the upload job to fail');
    const failed = (await queue.getJob(job.id!))!;
    assert.match(failed.failedReason, /S3 upload failed: refused by url_policy: s3\.endpoint: 127\.0\.0\.3 is not allowed \(in url_policy\.deny\)/);
    assert.ok((await stat(localPath)).size > 0, 'the file is kept for a retry');
    assert.equal(denied.connections, 0);
  });
});
