/**
 * The Twirp surface through Fastify's inject(), on a real Redis: auth, codecs, errors, never a 5xx,
 * ListEgress filters, Stop semantics and redaction. No workers run, so egresses stay queued.
 */
import {
  EgressInfo,
  EgressStatus,
  ListEgressResponse,
  S3Upload,
  EncodedFileOutput,
  WebEgressRequest,
  StreamOutput,
  StreamProtocol,
} from '@livekit/protocol';
import { AccessToken, EgressClient } from 'livekit-server-sdk';
import type { FastifyInstance } from 'fastify';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildServer } from '../../api/server.ts';
import { createApiDeps, TEST_API_KEY, TEST_API_SECRET, type TestApiDeps } from '../support/api-deps.ts';
import { dumpRedis } from '../support/redis-dump.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import type { RecordJobData } from '../../shared/queues.ts';

const PATH = '/twirp/livekit.Egress/';

async function token(grant: Record<string, unknown> = { roomRecord: true }, key = TEST_API_KEY, secret = TEST_API_SECRET): Promise<string> {
  const at = new AccessToken(key, secret, { ttl: 600, identity: 'test-client' });
  at.addGrant(grant);
  return at.toJwt();
}

describe('twirp livekit.Egress', () => {
  let redis: RedisServer;
  let deps: TestApiDeps;
  let app: FastifyInstance;
  let auth: string;

  const call = async (method: string, body: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: PATH + method,
      headers: { authorization: auth, 'content-type': 'application/json', ...headers },
      payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });

  before(async () => {
    redis = await startRedis();
    deps = createApiDeps(redis.url);
    app = await buildServer(deps);
    auth = `Bearer ${await token()}`;
  });
  after(async () => {
    await app?.close();
    await deps?.close();
    await redis?.stop();
  });

  test('Auth/Missing → 401 unauthenticated, content-type exactly application/json', async () => {
    const res = await call('ListEgress', {}, { authorization: '' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.json().code, 'unauthenticated');
  });

  test('Auth/WrongSecret, UnknownKey, Garbage → 401', async () => {
    for (const bad of [
      await token({ roomRecord: true }, TEST_API_KEY, 'x'.repeat(32)),
      await token({ roomRecord: true }, 'nokey', TEST_API_SECRET),
      'not.a.jwt',
    ]) {
      const res = await call('ListEgress', {}, { authorization: `Bearer ${bad}` });
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().code, 'unauthenticated');
    }
  });

  test('Auth/NoRoomRecordGrant → 403 permission_denied', async () => {
    const res = await call('ListEgress', {}, { authorization: `Bearer ${await token({ roomJoin: true, room: 'r' })}` });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'permission_denied');
  });

  test('Auth/AccessTokenQuery is accepted', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `${PATH}ListEgress?access_token=${await token()}`,
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    assert.equal(res.statusCode, 200);
  });

  test('Codec/Malformed bodies → 400 malformed', async () => {
    for (const body of ['{', '[1,2]', '"x"', '{"url": 5}', '{"file_outputs": "nope"}', '\u0000\u0001']) {
      const res = await call('StartWebEgress', body);
      assert.equal(res.statusCode, 400, body);
      assert.equal(res.json().code, 'malformed', body);
    }
  });

  test('Codec/Unknown method, GET, odd content-type → bad_route', async () => {
    assert.equal((await call('StartEverything', {})).json().code, 'bad_route');
    assert.equal((await app.inject({ method: 'GET', url: `${PATH}ListEgress` })).json().code, 'bad_route');
    const res = await call('ListEgress', '{}', { 'content-type': 'text/plain' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'bad_route');
  });

  test('Codec/snake_case and camelCase JSON, enum names and numbers', async () => {
    const snake = await call('StartWebEgress', {
      url: 'https://example.com',
      file_outputs: [{ filepath: 'a.mp4', file_type: 'MP4' }],
      preset: 'H264_1080P_30',
    });
    assert.equal(snake.statusCode, 200, snake.body);
    assert.equal(snake.headers['content-type'], 'application/json');
    const info = EgressInfo.fromJson(snake.json());
    assert.equal(info.status, EgressStatus.EGRESS_STARTING);
    assert.equal(snake.json().status, 'EGRESS_STARTING');
    assert.equal(typeof snake.json().started_at, 'string');
    const camel = await call('StartWebEgress', { url: 'https://example.com', fileOutputs: [{ filepath: 'b.mp4', fileType: 1 }], preset: 2 });
    assert.equal(camel.statusCode, 200, camel.body);
  });

  test('Codec/application/protobuf in and out', async () => {
    const request = new WebEgressRequest({ url: 'https://example.com', fileOutputs: [new EncodedFileOutput({ filepath: 'p.mp4' })] });
    const res = await call('StartWebEgress', Buffer.from(request.toBinary()), { 'content-type': 'application/protobuf' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/protobuf');
    const info = EgressInfo.fromBinary(res.rawPayload);
    assert.match(info.egressId, /^EG_/);
  });

  test('Validation/errors name the field (invalid_argument)', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['StartWebEgress', { url: 'ftp://x', file_outputs: [{ filepath: 'a.mp4' }] }, /web url/],
      ['StartWebEgress', { url: 'https://x' }, /output/],
      ['StartWebEgress', { url: 'https://x', audio_only: true, video_only: true, file_outputs: [{}] }, /audio_only and video_only/],
      ['StartParticipantEgress', { room_name: 'r', file_outputs: [{}] }, /identity/],
      ['StartTrackEgress', { room_name: 'r', file: {} }, /track_id/],
      ['StartWebEgress', { url: 'https://x', file_outputs: [{ filepath: '../../etc/passwd.mp4' }] }, /filepath/],
      [
        'StartWebEgress',
        { url: 'https://x', file_outputs: [{}], webhooks: [{ url: 'https://h', signing_key: 'nokey' }] },
        /webhooks\[0\]\.signing_key/,
      ],
    ];
    for (const [method, body, field] of cases) {
      const res = await call(method, body);
      assert.equal(res.statusCode, 400, `${method} ${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().code, 'invalid_argument');
      assert.match(res.json().msg, field);
    }
  });

  test('SDK/EgressClient sees Twirp errors with their code', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const client = new EgressClient(address, TEST_API_KEY, TEST_API_SECRET);
    await assert.rejects(
      client.stopEgress('EG_doesnotexist'),
      (err: { code?: string; status?: number }) => err.code === 'not_found' && err.status === 404,
    );
    await assert.rejects(
      client.startWebEgress('ftp://nope', new EncodedFileOutput({ filepath: 'x.mp4' })),
      (err: { code?: string }) => err.code === 'invalid_argument',
    );
  });

  test('ListEgress by egress_id, room_name, active; Stop semantics', async () => {
    const a = EgressInfo.fromJson((await call('StartRoomCompositeEgress', { room_name: 'room-a', file_outputs: [{}] })).json());
    const b = EgressInfo.fromJson((await call('StartRoomCompositeEgress', { room_name: 'room-b', file_outputs: [{}] })).json());
    const list = async (body: unknown) => ListEgressResponse.fromJson((await call('ListEgress', body)).json()).items.map((i) => i.egressId);
    assert.deepEqual(await list({ egress_id: a.egressId }), [a.egressId]);
    assert.deepEqual(await list({ room_name: 'room-b' }), [b.egressId]);
    assert.ok((await list({ active: true })).includes(a.egressId));
    // Stopped while queued (no workers here) → ABORTED, gone from the active list, a second stop refused.
    const stopped = EgressInfo.fromJson((await call('StopEgress', { egress_id: a.egressId })).json());
    assert.equal(stopped.status, EgressStatus.EGRESS_ABORTED);
    assert.ok(!(await list({ active: true })).includes(a.egressId));
    assert.ok((await list({ room_name: 'room-a' })).includes(a.egressId));
    const again = await call('StopEgress', { egress_id: a.egressId });
    assert.equal(again.statusCode, 412);
    assert.equal(again.json().code, 'failed_precondition');
    assert.equal((await call('UpdateStream', { egress_id: a.egressId, add_output_urls: ['rtmp://h/a/k'] })).json().code, 'failed_precondition');
    assert.equal((await call('StopEgress', { egress_id: 'EG_unknown' })).json().code, 'not_found');
  });

  test('X-Egress-Max-Duration is read by Start RPCs only: a bad one fails a Start, never ListEgress, StopEgress or UpdateLayout', async () => {
    const bad = { 'x-egress-max-duration': 'soon' };
    const refused = await call('StartWebEgress', { url: 'https://example.com', file_outputs: [{ filepath: 'd.mp4' }] }, bad);
    assert.equal(refused.statusCode, 400, refused.body);
    assert.equal(refused.json().code, 'invalid_argument');
    assert.match(refused.json().msg, /x-egress-max-duration/);
    const queued = EgressInfo.fromJson((await call('StartRoomCompositeEgress', { room_name: 'room-header', file_outputs: [{}] })).json());
    const list = await call('ListEgress', { egress_id: queued.egressId }, bad);
    assert.equal(list.statusCode, 200, list.body);
    assert.deepEqual(
      ListEgressResponse.fromJson(list.json()).items.map((i) => i.egressId),
      [queued.egressId],
    );
    assert.equal((await call('UpdateLayout', { egress_id: queued.egressId, layout: 'speaker' }, bad)).statusCode, 200);
    const stopped = await call('StopEgress', { egress_id: queued.egressId }, bad);
    assert.equal(stopped.statusCode, 200, stopped.body);
    assert.equal(EgressInfo.fromJson(stopped.json()).status, EgressStatus.EGRESS_ABORTED);
  });

  test('UpdateLayout on queued room composite and StartEgress (v2) template egresses: stored for the recorder; other kinds refused', async () => {
    const layoutOf = (info: EgressInfo) =>
      info.request.case === 'roomComposite'
        ? info.request.value.layout
        : info.request.case === 'egress' && info.request.value.source.case === 'template'
          ? info.request.value.source.value.layout
          : undefined;
    const room = EgressInfo.fromJson(
      (await call('StartRoomCompositeEgress', { room_name: 'room-layout', layout: 'grid', file_outputs: [{}] })).json(),
    );
    const v2 = EgressInfo.fromJson(
      (await call('StartEgress', { room_name: 'room-layout', template: { layout: 'grid' }, outputs: [{ file: { filepath: 'v2.mp4' } }] })).json(),
    );
    for (const queued of [room, v2]) {
      const res = await call('UpdateLayout', { egress_id: queued.egressId, layout: 'single-speaker' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(layoutOf(EgressInfo.fromJson(res.json())), 'single-speaker');
      // What the worker reads when it takes the job (workers/room/late-layout.ts).
      const stored = ListEgressResponse.fromJson((await call('ListEgress', { egress_id: queued.egressId })).json()).items[0]!;
      assert.equal(stored.status, EgressStatus.EGRESS_STARTING);
      assert.equal(layoutOf(stored), 'single-speaker');
    }
    for (const [method, body] of [
      ['StartWebEgress', { url: 'https://example.com', file_outputs: [{ filepath: 'w.mp4' }] }],
      ['StartEgress', { web: { url: 'https://example.com' }, outputs: [{ file: { filepath: 'w2.mp4' } }] }],
    ] as const) {
      const other = EgressInfo.fromJson((await call(method, body)).json());
      const res = await call('UpdateLayout', { egress_id: other.egressId, layout: 'grid' });
      assert.equal(res.statusCode, 400, `${method}: ${res.body}`);
      assert.equal(res.json().code, 'invalid_argument');
    }
  });

  test('Hostile/metadata URLs and custom_base_url are refused: permission_denied naming the field, nothing queued', async () => {
    for (const [method, body, field] of [
      ['StartWebEgress', { url: 'http://169.254.169.254/latest/meta-data/iam/', file_outputs: [{ filepath: 'x.mp4' }] }, 'url'],
      ['StartWebEgress', { url: 'http://metadata.google.internal/computeMetadata/v1/', file_outputs: [{ filepath: 'x.mp4' }] }, 'url'],
      [
        'StartRoomCompositeEgress',
        { room_name: 'r', custom_base_url: 'http://[fd00:ec2::254]/', file_outputs: [{ filepath: 'x.mp4' }] },
        'custom_base_url',
      ],
    ] as const) {
      const waitingBefore = await deps.queues.get('room-composite').getWaitingCount();
      const res = await call(method, body);
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().code, 'permission_denied');
      assert.match(res.json().msg, new RegExp(`^${field}: `));
      assert.equal(await deps.queues.get('room-composite').getWaitingCount(), waitingBefore);
    }
  });

  test('Hostile/Start RPCs are rate limited per API key: resource_exhausted with retry_after', async () => {
    const limited = createApiDeps(redis.url, { EGRESS_CONFIG_BODY: 'rate_limits: { start_per_minute: 3 }\nredis: { prefix: limited }' });
    const limitedApp = await buildServer(limited);
    try {
      const start = () =>
        limitedApp.inject({
          method: 'POST',
          url: `${PATH}StartWebEgress`,
          headers: { authorization: auth, 'content-type': 'application/json' },
          payload: JSON.stringify({ url: 'https://example.com', file_outputs: [{ filepath: 'x.mp4' }] }),
        });
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await start()).statusCode);
      // Near a minute boundary the window may turn over once; then at most one more gets through.
      assert.deepEqual(codes.slice(0, 3), [200, 200, 200]);
      const refused = await start();
      if (refused.statusCode !== 429) assert.equal((await start()).statusCode, 429);
      const last = await start();
      assert.equal(last.statusCode, 429);
      assert.equal(last.json().code, 'resource_exhausted');
      assert.ok(Number(last.json().meta.retry_after) > 0);
      // ListEgress is not limited.
      const list = await limitedApp.inject({
        method: 'POST',
        url: `${PATH}ListEgress`,
        headers: { authorization: auth, 'content-type': 'application/json' },
        payload: '{}',
      });
      assert.equal(list.statusCode, 200);
    } finally {
      await limitedApp.close();
      await limited.close();
    }
  });

  test('Secrets never reach ListEgress or job data', async () => {
    const secret = 'S3-SECRET-canary-123456';
    const streamKey = 'live_canary_streamkey_987';
    const request = new WebEgressRequest({
      url: 'https://example.com',
      fileOutputs: [
        new EncodedFileOutput({ filepath: 'x.mp4', output: { case: 's3', value: new S3Upload({ accessKey: 'AKIA-canary', secret, bucket: 'b' }) } }),
      ],
      streamOutputs: [new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [`rtmp://live.example.com/app/${streamKey}`] })],
    });
    const res = await call('StartWebEgress', request.toJsonString());
    assert.equal(res.statusCode, 200, res.body);
    const info = EgressInfo.fromJson(res.json());
    const listed = (await call('ListEgress', { egress_id: info.egressId })).body;
    const job = await deps.queues.get('room-composite').getJob(info.egressId);
    const everything = await dumpRedis(deps.redis);
    assert.ok(
      everything.some((v) => v.includes('v1.')),
      'the sealed stream URLs are stored',
    );
    // …and the worker can open them: the credentials are there, by the ref the plan names.
    const storage = (job?.data as RecordJobData).plan.file!.storage;
    assert.ok(storage.kind === 's3');
    const sealed = (await deps.secrets.get(info.egressId)).uploads?.[storage.ref];
    assert.equal(sealed && S3Upload.fromJsonString(sealed.json).secret, secret);
    for (const text of [res.body, listed, JSON.stringify(job?.data), ...everything]) {
      for (const canary of [secret, streamKey, 'AKIA-canary']) assert.ok(!text.includes(canary), `${canary} leaked`);
    }
  });
});
