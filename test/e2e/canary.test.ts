/**
 * Canary: known secrets planted in real requests (S3 keys and session token, an Azure account key, GCP
 * service-account credentials, proxy passwords, RTMP stream keys, a webhook URL's query token and userinfo,
 * the API secret), every output made to fail
 * so that error paths log and report as much as they can; then none of the secrets may appear in the logs
 * (at debug level), anywhere in Redis, in Bull Board's API, in ListEgress or in the webhooks.
 */
import {
  AzureBlobUpload,
  EgressStatus,
  EncodedFileOutput,
  GCPUpload,
  ImageOutput,
  ProxyConfig,
  S3Upload,
  SegmentedFileOutput,
  StreamOutput,
  StreamProtocol,
  WebhookConfig,
} from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { waitForStatus } from '../support/egress-waits.ts';
import { freePort } from '../support/free-port.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { dumpRedis } from '../support/redis-dump.ts';
import { startTestPage } from '../support/test-page.ts';
import { startWebhookSink, type WebhookSink } from '../support/webhook-sink.ts';
import { startHttpTrap, type HttpTrap } from '../support/http-trap.ts';

const CANARIES = {
  s3Access: 'AKIACANARY0ACCESS0KEY',
  s3Secret: 'canary-s3-secret-7Zq8wPl2',
  s3Session: 'canary-session-token-Hh41',
  proxyPassword: 'canary-proxy-pass-93kd',
  azureKey: 'Y2FuYXJ5LWF6dXJlLWFjY291bnQta2V5LTQ0MQ==',
  gcpKey: 'canary-gcp-private-key-body-5Tq',
  streamKey: 'canary-stream-key-aa71',
  addedStreamKey: 'canary-added-key-bb82',
  webhookToken: 'canary-webhook-token-cc93',
  webhookPassword: 'canary-webhook-pass-dd04',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('canary', { concurrency: false }, () => {
  let service: TestService;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let sink: WebhookSink;
  /** The request's own webhook, whose URL carries a token and userinfo. */
  let hook: HttpTrap;
  let client: EgressClient;
  let logs = '';
  let dead: number;

  before(async () => {
    [page, sink, dead, hook] = await Promise.all([
      startTestPage(),
      startWebhookSink(E2E_API_KEY, E2E_API_SECRET),
      freePort(),
      startHttpTrap('127.0.0.2', { receiver: { apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET } }),
    ]);
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    service = await startService(
      {
        logging: { level: 'debug' },
        webhook: { urls: [sink.url] },
        upload: { attempts: 1, backoff: 100 },
        storage: {
          s3: { max_retries: 1 },
          gcp: { endpoint: `http://127.0.0.1:${dead}` },
          azure: { endpoint: `http://127.0.0.1:${dead}/canaryacct` },
        },
      },
      { logDestination: destination },
    );
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await service?.stop();
    await Promise.all([page?.close(), sink?.close(), hook?.close()]);
  });

  test('planted secrets appear nowhere: logs, Redis, Bull Board, ListEgress, webhooks', async () => {
    const gcpCredentials = JSON.stringify({
      type: 'service_account',
      project_id: 'canary',
      client_email: 'canary@canary.iam.gserviceaccount.com',
      private_key: `-----BEGIN PRIVATE KEY-----\n${CANARIES.gcpKey}\n-----END PRIVATE KEY-----\n`,
    });
    const started = await client.startWebEgress(
      page.url,
      {
        file: new EncodedFileOutput({
          filepath: 'canary.mp4',
          output: {
            case: 's3',
            value: new S3Upload({
              accessKey: CANARIES.s3Access,
              secret: CANARIES.s3Secret,
              sessionToken: CANARIES.s3Session,
              endpoint: `http://127.0.0.1:${dead}`,
              bucket: 'b',
              forcePathStyle: true,
              proxy: new ProxyConfig({ url: `http://127.0.0.1:${dead}`, username: 'u', password: CANARIES.proxyPassword }),
            }),
          },
        }),
        // Azure retries slowest (5 tries, 4 s apart): it gets the one image; GCS the segments.
        segments: new SegmentedFileOutput({
          filenamePrefix: 'canary/seg',
          segmentDuration: 2,
          output: { case: 'gcp', value: new GCPUpload({ credentials: gcpCredentials, bucket: 'g' }) },
        }),
        images: new ImageOutput({
          captureInterval: 10,
          width: 160,
          height: 90,
          filenamePrefix: 'canary/img',
          output: { case: 'azure', value: new AzureBlobUpload({ accountName: 'canaryacct', accountKey: CANARIES.azureKey, containerName: 'c' }) },
        }),
        stream: new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [`rtmp://127.0.0.1:${dead}/live/${CANARIES.streamKey}`] }),
      },
      {
        webhooks: [
          new WebhookConfig({ url: `http://hookuser:${CANARIES.webhookPassword}@127.0.0.2:${hook.port}/hooks?token=${CANARIES.webhookToken}` }),
        ],
      },
    );
    await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE, EgressStatus.EGRESS_FAILED], 60_000);
    await client.updateStream(started.egressId, [`rtmp://127.0.0.1:${dead}/live/${CANARIES.addedStreamKey}`]).catch(() => undefined);
    await sleep(5000);
    await client.stopEgress(started.egressId).catch(() => undefined);
    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_COMPLETE], 240_000);
    assert.equal(done.status, EgressStatus.EGRESS_FAILED, 'the uploads failed, as planned');
    await sleep(1500); // the egress_ended webhook

    // Everything an operator or a client could read.
    const redisDump = await dumpRedis(service.workers.ctx.redis);
    const basic = `Basic ${Buffer.from(`${E2E_API_KEY}:${E2E_API_SECRET}`).toString('base64')}`;
    const bullBoard: string[] = [];
    for (const queue of ['upload', 'webhook']) {
      for (const status of ['latest', 'active', 'waiting', 'completed', 'failed', 'delayed']) {
        const res = await fetch(`${service.url}/admin/queues/api/queues?activeQueue=${queue}&status=${status}&page=1&jobsPerPage=100`, {
          headers: { authorization: basic },
        });
        assert.equal(res.status, 200);
        bullBoard.push(await res.text());
      }
    }
    const listed = JSON.stringify((await client.listEgress({})).map((info) => info.toJson()));
    const webhooks = JSON.stringify([...sink.events, ...hook.events].map((event) => event.toJson()));
    // The request's webhook reached its receiver at the real URL, token and all (the userinfo cannot travel:
    // the signature takes the Authorization header, as in livekit-server).
    assert.ok(
      hook.events.some((event) => event.egressInfo?.egressId === started.egressId && event.event === 'egress_ended'),
      "the request's webhook was delivered",
    );
    assert.ok(
      hook.requests.every((r) => r.url === `/hooks?token=${CANARIES.webhookToken}`),
      'at its real URL',
    );
    assert.ok(
      sink.events.some((event) => event.event === 'egress_ended'),
      'webhooks were delivered',
    );
    assert.ok(logs.includes(started.egressId) && logs.length > 10_000, 'the logs were captured');
    assert.ok(
      bullBoard.some((text) => text.includes(started.egressId)),
      "Bull Board shows the egress's jobs",
    );

    const places: Record<string, string> = { logs, redis: redisDump.join('\n'), bullBoard: bullBoard.join('\n'), listEgress: listed, webhooks };
    const secrets = { ...CANARIES, apiSecret: E2E_API_SECRET };
    for (const [place, text] of Object.entries(places)) {
      for (const [name, secret] of Object.entries(secrets)) {
        assert.ok(
          !text.includes(secret),
          `${name} leaked into ${place}: …${text.slice(Math.max(0, text.indexOf(secret) - 200), text.indexOf(secret) + 50)}…`,
        );
      }
    }
  });
});
