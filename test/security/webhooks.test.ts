/**
 * A request's own webhooks (`webhooks: [{url, signing_key, filter_params}]`) as an attacker would use them,
 * against the real service (API + webhook workers on a real Redis) and real loopback listeners:
 *
 * - URLs that point at cloud metadata, link-local, "this host", or a denied / private address in any of its
 *   written forms are refused at the RPC (permission_denied naming `webhooks[i].url`), and nothing is stored
 *   or sent: a listener on the denied address receives nothing;
 * - at delivery each attempt is checked again on the address connected to: a policy that changed (the worker's
 *   own config) or a name that answers differently refuses the delivery for good (UnrecoverableError), and
 *   the listener receives nothing; redirects are not followed;
 * - `signing_key` is the caller's own key unless `webhook.allow_other_signing_keys`, and must be configured;
 * - too many webhooks, too long URLs and unknown filter events are refused; filters are deduplicated;
 * - a webhook URL's query token and userinfo appear in no ListEgress answer, Redis key or value, Bull Board
 *   job data, log line (debug) or webhook body, while the receiver gets the request at its real URL.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../shared/config/load.ts';
import { EgressError } from '../../shared/errors.ts';
import { policyRefusal } from '../../shared/guarded-agents.ts';
import type { WebhookJobData } from '../../shared/queues.ts';
import { redactRequest, redactUrlCredentials } from '../../shared/redact.ts';
import { checkUrl, type UrlPolicy } from '../../shared/url-policy.ts';
import { startWorkers, type RunningWorkers } from '../../workers/main.ts';
import { postWebhook } from '../../workers/webhook/webhook-post.ts';
import { WebEgressRequest } from '@livekit/protocol';
import { startHttpTrap, type HttpTrap } from '../support/http-trap.ts';
import { dumpRedis } from '../support/redis-dump.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { twirpCall, until, type TwirpAnswer } from '../support/twirp-call.ts';

const OTHER_KEY = 'other-key';
const OTHER_SECRET = 'other-secret-0123456789abcdef0123';
const ME = { apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET };
/** A page on loopback (allowed by these policies); no recorder runs in these tests, so nothing opens it. */
const PAGE = 'http://127.0.0.1:9/page';
const TOKEN = 'hooktoken-canary-51Zx';
const PASSWORD = 'hookpass-canary-77Qv';

const start = (service: TestService, webhooks: unknown[], key = ME): Promise<TwirpAnswer> =>
  twirpCall(service.url, 'StartWebEgress', { url: PAGE, file_outputs: [{ filepath: 'x.mp4' }], webhooks }, key);

const listed = async (service: TestService): Promise<unknown[]> =>
  ((await twirpCall(service.url, 'ListEgress', {}, ME)).json.items as unknown[] | undefined) ?? [];

function assertRefused(answer: TwirpAnswer, code: string, field: string, what: string): void {
  assert.equal(answer.json.code, code, `${what}: ${JSON.stringify(answer.json)}`);
  assert.equal(answer.json.meta?.field, field, `${what}: ${JSON.stringify(answer.json)}`);
  assert.match(answer.json.msg ?? '', new RegExp(field.replace(/[[\]().]/g, '\\$&')), what);
}

async function webhookJobs(service: TestService, egressId: string) {
  const jobs = await service.workers.ctx.queues.get('webhook').getJobs(['completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized']);
  return jobs.filter((job) => (job.data as WebhookJobData).egressId === egressId);
}

describe('the RPC', { concurrency: false }, () => {
  let service: TestService;
  let good: HttpTrap;
  let denied: HttpTrap;
  let redirecting: HttpTrap;
  let elsewhere: HttpTrap;
  let logs = '';

  before(async () => {
    [good, denied, elsewhere] = await Promise.all([
      startHttpTrap('127.0.0.2', { receiver: ME }),
      startHttpTrap('127.0.0.3'),
      startHttpTrap('127.0.0.4'),
    ]);
    redirecting = await startHttpTrap('127.0.0.2', {
      respond: (req, res) =>
        res.writeHead(307, { location: req.url.startsWith('/to-allowed') ? `${elsewhere.origin}/followed` : `${denied.origin}/followed` }).end(),
    });
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    service = await startService(
      {
        pools: ['webhook'],
        keys: { [OTHER_KEY]: OTHER_SECRET },
        url_policy: { deny: ['127.0.0.3'] },
        webhook: { attempts: 2, backoff: 50 },
        logging: { level: 'debug' },
      },
      { logDestination: destination },
    );
  });
  after(async () => {
    await service?.stop();
    await Promise.all([good, denied, redirecting, elsewhere].map((t) => t?.close()));
  });

  test('URLs to metadata, link-local, "this host" and denied addresses, in every form, are refused naming the field', async () => {
    const p = denied.port;
    const cases = [
      'http://169.254.169.254/latest/meta-data/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://METADATA.google.internal./computeMetadata/v1/',
      'http://100.100.100.200/latest/meta-data/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://[fe80::1]/',
      'http://[::ffff:169.254.169.254]/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://2852039166/', // 169.254.169.254 as one number
      'http://0xa9.0xfe.0xa9.0xfe/',
      `http://0.0.0.0:${p}/`,
      `http://[::]:${p}/`,
      `http://127.0.0.3:${p}/hook`,
      `http://[::ffff:127.0.0.3]:${p}/hook`,
      `http://[::ffff:7f00:3]:${p}/hook`,
      `http://[64:ff9b::7f00:3]:${p}/hook`,
      `http://2130706435:${p}/hook`,
      `http://0x7f.0.0.3:${p}/hook`,
      `http://0177.0.0.3:${p}/hook`,
    ];
    for (const url of cases) {
      // The first webhook is fine: the refusal names the one at fault.
      const answer = await start(service, [{ url: `${good.origin}/ok` }, { url }]);
      assert.equal(answer.status, 403, `${url}: ${JSON.stringify(answer.json)}`);
      assertRefused(answer, 'permission_denied', 'webhooks[1].url', url);
    }
    assert.deepEqual(await listed(service), [], 'nothing was stored');
    assert.equal(await service.workers.ctx.queues.get('webhook').count(), 0, 'nothing was queued');
    assert.equal(denied.connections, 0, 'the denied address received nothing');
    assert.equal(good.connections, 0, 'a refused request sends nothing anywhere');
  });

  test('with deny_private, this host and private networks are refused too (names, IPv4, IPv6)', async () => {
    // A policy of its own, as the RPC applies it (the service above allows loopback but 127.0.0.3).
    const policy: UrlPolicy = { allow: [], deny: [], denyPrivate: true };
    for (const url of [
      `${good.origin}/x`,
      `http://localhost:${good.port}/x`,
      `http://[::1]:${good.port}/x`,
      `http://[::ffff:127.0.0.2]:${good.port}/x`,
      'http://10.1.2.3/',
      'http://[fd12::1]/',
      'http://192.168.1.1/',
    ]) {
      await assert.rejects(
        checkUrl(url, 'webhooks[0].url', policy),
        (err) => err instanceof EgressError && err.twirp === 'permission_denied' && err.meta.field === 'webhooks[0].url',
        url,
      );
    }
    assert.equal(good.connections, 0);
  });

  test('too many webhooks: invalid_argument naming `webhooks`, nothing stored', async () => {
    const six = Array.from({ length: 6 }, (_, i) => ({ url: `${good.origin}/many/${i}` }));
    const answer = await start(service, six);
    assert.equal(answer.status, 400);
    assertRefused(answer, 'invalid_argument', 'webhooks', 'six webhooks');
    assert.ok((await start(service, six.slice(0, 5))).status === 200, 'five are fine');
    const redisKeys = await service.workers.ctx.redis.keys('*store:webhooks:*');
    assert.equal(redisKeys.length, 1, 'only the accepted request stored targets');
  });

  test('bounds: a URL over max_url_length, a scheme other than http(s), unknown filter events', async () => {
    const long = await start(service, [{ url: `${good.origin}/?pad=${'a'.repeat(5000)}` }]);
    assertRefused(long, 'invalid_argument', 'webhooks[0].url', 'long');
    assert.match(long.json.msg!, /longer than 4096/);
    assertRefused(await start(service, [{ url: `ftp://127.0.0.2:${good.port}/` }]), 'invalid_argument', 'webhooks[0].url', 'ftp');
    assertRefused(await start(service, [{ url: 'not a url' }]), 'invalid_argument', 'webhooks[0].url', 'garbage');
    assertRefused(
      await start(service, [{ url: `${good.origin}/f`, filter_params: { include_events: ['egress_ended', 'room_finished'] } }]),
      'invalid_argument',
      'webhooks[0].filter_params.include_events',
      'unknown include',
    );
    assertRefused(
      await start(service, [{ url: `${good.origin}/f`, filter_params: { exclude_events: ['EGRESS_ENDED'] } }]),
      'invalid_argument',
      'webhooks[0].filter_params.exclude_events',
      'unknown exclude',
    );
  });

  test('filters are deduplicated', async () => {
    const answer = await start(service, [
      { url: `${good.origin}/dedup`, filter_params: { include_events: ['egress_ended', 'egress_ended', 'egress_started', 'egress_ended'] } },
    ]);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    const [target] = await service.workers.ctx.events.webhooks.get(answer.json.egress_id as string);
    assert.deepEqual(target?.includeEvents, ['egress_ended', 'egress_started']);
  });

  test("signing_key: another key's is refused, with the same answer as a key that does not exist", async () => {
    const other = await start(service, [{ url: `${good.origin}/k`, signing_key: OTHER_KEY }]);
    const none = await start(service, [{ url: `${good.origin}/k`, signing_key: 'no-such-key' }]);
    assertRefused(other, 'invalid_argument', 'webhooks[0].signing_key', 'other key');
    assert.deepEqual(none.json, other.json, 'the answer does not tell which keys exist');
    // The caller's own key, named, is fine; the webhook verifies with it.
    const own = await start(service, [{ url: `${good.origin}/own`, signing_key: E2E_API_KEY }]);
    assert.equal(own.status, 200);
    await until(() => good.events.some((e) => e.egressInfo?.egressId === own.json.egress_id), 'the egress_started webhook');
    assert.deepEqual(good.rejected, []);
  });

  test('a redirect is not followed, to a denied address or any other', async () => {
    const toDenied = await start(service, [{ url: `${redirecting.origin}/to-denied` }]);
    const toAllowed = await start(service, [{ url: `${redirecting.origin}/to-allowed` }]);
    for (const answer of [toDenied, toAllowed]) {
      const egressId = answer.json.egress_id as string;
      await until(async () => (await webhookJobs(service, egressId)).some((job) => job.finishedOn && job.failedReason), 'the webhook to fail');
      const [job] = await webhookJobs(service, egressId);
      assert.equal(job!.attemptsMade, 2, 'retried like any failed delivery');
      assert.match(job!.failedReason, /answered HTTP 307: redirects are not followed/);
    }
    assert.equal(redirecting.requests.length, 4, 'both attempts of both webhooks reached the receiver');
    assert.equal(denied.connections, 0, 'the denied redirect target received nothing');
    assert.equal(elsewhere.connections, 0, 'nor did an allowed one');
  });

  test("a webhook URL's query token and userinfo: delivered for real, shown nowhere", async () => {
    const url = `http://hookuser:${PASSWORD}@127.0.0.2:${good.port}/hooks?token=${TOKEN}&v=1`;
    const answer = await start(service, [{ url }]);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    const egressId = answer.json.egress_id as string;
    await twirpCall(service.url, 'StopEgress', { egress_id: egressId }, ME);
    await until(() => good.events.some((e) => e.egressInfo?.egressId === egressId && e.event === 'egress_ended'), 'the egress_ended webhook');
    const mine = good.requests.filter((r) => r.body.includes(egressId));
    assert.ok(
      mine.length >= 2 && mine.every((r) => r.url === `/hooks?token=${TOKEN}&v=1`),
      'the receiver got every request at the real URL, token included',
    );

    const shown = `http://{...}@127.0.0.2:${good.port}/hooks?token={...}&v={...}`;
    const list = JSON.stringify((await twirpCall(service.url, 'ListEgress', { egress_id: egressId }, ME)).json);
    assert.ok(list.includes(JSON.stringify(shown).slice(1, -1)), `ListEgress shows the redacted URL: ${list}`);
    const basic = `Basic ${Buffer.from(`${E2E_API_KEY}:${E2E_API_SECRET}`).toString('base64')}`;
    const bullBoard: string[] = [];
    for (const status of ['latest', 'completed', 'failed', 'waiting', 'delayed']) {
      const res = await fetch(`${service.url}/admin/queues/api/queues?activeQueue=webhook&status=${status}&page=1&jobsPerPage=100`, {
        headers: { authorization: basic },
      });
      assert.equal(res.status, 200);
      bullBoard.push(await res.text());
    }
    assert.ok(bullBoard.join('').includes(egressId), 'Bull Board shows the webhook jobs');
    assert.ok(bullBoard.join('').includes('?token={...}'), 'Bull Board shows the redacted URL');
    const places: Record<string, string> = {
      listEgress: list,
      redis: (await dumpRedis(service.workers.ctx.redis)).join('\n'),
      bullBoard: bullBoard.join('\n'),
      logs,
      webhookBodies: mine.map((r) => r.body).join('\n'),
    };
    assert.ok(logs.includes(egressId) && logs.includes('webhook delivered'), 'debug logs were captured');
    for (const [place, text] of Object.entries(places)) {
      for (const secret of [TOKEN, PASSWORD, 'hookuser']) assert.ok(!text.includes(secret), `${secret} leaked into ${place}`);
    }
  });
});

describe('signing with another key, when the config allows it', { concurrency: false }, () => {
  let service: TestService;
  let byOther: HttpTrap;
  let byMine: HttpTrap;

  before(async () => {
    [byOther, byMine] = await Promise.all([
      startHttpTrap('127.0.0.2', { receiver: { apiKey: OTHER_KEY, apiSecret: OTHER_SECRET } }),
      startHttpTrap('127.0.0.2', { receiver: ME }),
    ]);
    service = await startService({
      pools: ['webhook'],
      keys: { [OTHER_KEY]: OTHER_SECRET },
      webhook: { allow_other_signing_keys: true, attempts: 1 },
    });
  });
  after(async () => {
    await service?.stop();
    await Promise.all([byOther?.close(), byMine?.close()]);
  });

  test("the named key signs, and WebhookReceiver verifies with that key's secret only", async () => {
    const answer = await start(service, [
      { url: `${byOther.origin}/hook`, signing_key: OTHER_KEY },
      { url: `${byMine.origin}/hook`, signing_key: OTHER_KEY },
    ]);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    await until(() => byOther.events.length === 1 && byMine.rejected.length === 1, 'both deliveries');
    assert.equal(byOther.events[0]!.egressInfo?.egressId, answer.json.egress_id);
    assert.deepEqual(byOther.rejected, []);
    assert.deepEqual(byMine.events, [], "the caller's key does not verify it: another key signed");
  });

  test('it must still name a configured key', async () => {
    assertRefused(
      await start(service, [{ url: `${byOther.origin}/hook`, signing_key: 'no-such-key' }]),
      'invalid_argument',
      'webhooks[0].signing_key',
      'unknown key',
    );
  });
});

describe('at delivery: a policy that changed between the API and the worker', { concurrency: false }, () => {
  let service: TestService;
  let workers: RunningWorkers;
  let denied: HttpTrap;
  let operator: HttpTrap;
  let logs = '';

  before(async () => {
    [denied, operator] = await Promise.all([startHttpTrap('127.0.0.3'), startHttpTrap('127.0.0.3', { receiver: ME })]);
    // The operator's own webhooks: one on the host the worker denies (exempt: it is the operator's), one at
    // the metadata address (refused whatever the config says).
    const webhook = { urls: [`${operator.origin}/operator`, 'http://169.254.169.254/operator'], attempts: 3, backoff: 50 };
    // The API (default policy: loopback allowed) accepts what the webhook worker (deny 127.0.0.3) refuses.
    service = await startService({ pools: ['upload'], webhook });
    const body = {
      ...(parse(service.env.EGRESS_CONFIG_BODY!) as Record<string, unknown>),
      pools: ['webhook'],
      url_policy: { deny: ['127.0.0.3'] },
      logging: { level: 'debug' },
    };
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    workers = await startWorkers(loadConfig({ env: { ...service.env, EGRESS_CONFIG_BODY: stringify(body) } }), pino({ level: 'debug' }, destination));
  });
  after(async () => {
    await workers?.close(0);
    await service?.stop();
    await Promise.all([denied?.close(), operator?.close()]);
  });

  test('refused on the address connected to, not retried, logged with the egress id; the listener receives nothing', async () => {
    const answer = await start(service, [{ url: `http://127.0.0.3:${denied.port}/hook?token=${TOKEN}` }]);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    const egressId = answer.json.egress_id as string;
    await until(async () => (await webhookJobs(service, egressId)).every((job) => job.finishedOn), 'every webhook of the egress to finish');
    const jobs = await webhookJobs(service, egressId);
    const bySource = (source: string, index: number) =>
      jobs.find((job) => (job.data as WebhookJobData).target.source === source && (job.data as WebhookJobData).target.index === index)!;

    const request = bySource('request', 0);
    assert.equal(request.attemptsMade, 1, 'an unrecoverable failure: not retried');
    assert.match(request.failedReason, /refused by url_policy: webhooks\[0\]\.url: 127\.0\.0\.3 is not allowed \(in url_policy\.deny\)/);
    assert.equal(denied.connections, 0, 'the denied listener received nothing');

    const metadata = bySource('config', 1);
    assert.equal(metadata.attemptsMade, 1);
    assert.match(metadata.failedReason, /refused by url_policy: webhook\.urls\[1\]: 169\.254\.169\.254 is not allowed \(link-local/);

    assert.ok(bySource('config', 0).returnvalue, "the operator's own URL on the denied host was delivered");
    assert.equal(operator.events.filter((e) => e.egressInfo?.egressId === egressId).length, 1);

    const refusedLine = logs.split('\n').find((line) => line.includes('webhook refused by url_policy') && line.includes(egressId));
    assert.ok(refusedLine, 'the refusal is logged with the egress id');
    for (const text of [logs, JSON.stringify(jobs.map((job) => job.data)), request.failedReason])
      assert.ok(!text.includes(TOKEN), 'the token is in no log line or job');
  });
});

describe('at delivery: a name that answers differently than it did at the RPC', () => {
  let allowed: HttpTrap;
  let denied: HttpTrap;
  const policy: UrlPolicy = { allow: [], deny: ['127.0.0.3'], denyPrivate: false };

  before(async () => {
    [allowed, denied] = await Promise.all([startHttpTrap('127.0.0.2'), startHttpTrap('127.0.0.3')]);
  });
  after(async () => Promise.all([allowed?.close(), denied?.close()]));

  test('the RPC saw an allowed address; the delivery connects to the one it checks, and refuses the denied one', async () => {
    let answers = ['127.0.0.2'];
    const resolve = async () => answers;
    const url = `http://hooks.rebind.test:${denied.port}/hook`;
    await checkUrl(url, 'webhooks[0].url', policy, resolve);
    answers = ['127.0.0.3'];
    const post = { url, headers: {}, body: '{}', timeoutMs: 5000 };
    const refused = await postWebhook(post, { field: 'webhooks[0].url', policy, options: { resolve } }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(policyRefusal(refused), `refused: ${String(refused)}`);
    assert.equal(denied.connections, 0);
    // And when it answers an allowed address, that address is the one connected to (the name itself does
    // not resolve outside this test).
    answers = ['127.0.0.2'];
    assert.equal(
      await postWebhook(
        { ...post, url: `http://hooks.rebind.test:${allowed.port}/hook` },
        { field: 'webhooks[0].url', policy, options: { resolve } },
      ),
      200,
    );
    assert.equal(allowed.requests[0]?.headers.host, `hooks.rebind.test:${allowed.port}`);
  });
});

describe('redaction of webhook URLs', () => {
  test('userinfo, query values and fragments are hidden; host and path stay', () => {
    const cases: [string, string][] = [
      ['https://u:p@hooks.example.com/in?token=abc&v=1', 'https://{...}@hooks.example.com/in?token={...}&v={...}'],
      ['https://hooks.example.com/in?abc123', 'https://hooks.example.com/in?{...}'],
      ['https://hooks.example.com/in#secret', 'https://hooks.example.com/in#{...}'],
      ['https://user@[::1]:8443/x?a=&b=2', 'https://{...}@[::1]:8443/x?a=&b={...}'],
      ['https://hooks.example.com/plain', 'https://hooks.example.com/plain'],
    ];
    for (const [url, shown] of cases) assert.equal(redactUrlCredentials(url), shown);
  });

  test('in a stored request: webhook URLs, S3 endpoints and proxy URLs', () => {
    const request = WebEgressRequest.fromJson({
      url: 'https://example.com',
      file_outputs: [
        { s3: { bucket: 'b', endpoint: 'https://k:s@s3.example.com/?sig=1', proxy: { url: 'http://pu:pp@proxy:3128', password: 'pp' } } },
      ],
      webhooks: [{ url: 'https://u:p@hooks.example.com/in?token=abc', signing_key: 'k' }],
    });
    const json = JSON.stringify(redactRequest(request).toJson());
    assert.ok(json.includes('https://{...}@hooks.example.com/in?token={...}'), json);
    assert.ok(json.includes('https://{...}@s3.example.com/?sig={...}'), json);
    assert.ok(json.includes('http://{...}@proxy:3128'), json);
    assert.doesNotMatch(json, /token=abc|u:p@|k:s@|pu:pp|sig=1/);
  });
});
