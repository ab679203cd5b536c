/**
 * Hostile input: 10,000 random and mutated bodies, JSON and protobuf, spread over every RPC of the Twirp
 * service. Not one may get a 5xx, the process must not crash, every answer is Twirp-shaped JSON, and the
 * service answers normally afterwards. Deterministic (seeded), so a failure replays.
 */
import { EgressStatus } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import type { FastifyInstance } from 'fastify';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildServer } from '../../api/server.ts';
import { createApiDeps, TEST_API_KEY, TEST_API_SECRET, type TestApiDeps } from '../support/api-deps.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

const BODIES = 10_000;
const METHODS = [
  'StartRoomCompositeEgress',
  'StartWebEgress',
  'StartParticipantEgress',
  'StartTrackCompositeEgress',
  'StartTrackEgress',
  'StartEgress',
  'UpdateLayout',
  'UpdateStream',
  'ListEgress',
  'StopEgress',
];

/** Valid-looking requests of every shape: the mutations start from these. */
const SEEDS: unknown[] = [
  {
    url: 'https://example.com',
    file_outputs: [{ filepath: 'a/{time}.mp4', s3: { access_key: 'k', secret: 's', bucket: 'b', endpoint: 'http://x' } }],
  },
  {
    room_name: 'r',
    layout: 'grid',
    segment_outputs: [{ filename_prefix: 'p', playlist_name: 'i.m3u8', segment_duration: 4 }],
    preset: 'H264_1080P_30',
  },
  {
    room_name: 'r',
    advanced: { width: 1280, height: 720, depth: 24, framerate: 30, audio_codec: 'OPUS', video_codec: 'H264_MAIN' },
    stream_outputs: [{ protocol: 'RTMP', urls: ['rtmp://h/app/key'] }],
  },
  {
    room_name: 'r',
    identity: 'alice',
    screen_share: true,
    file_outputs: [{ filepath: '' }],
    image_outputs: [{ capture_interval: 5, width: 320, height: 180 }],
  },
  { room_name: 'r', audio_track_id: 'TR_a', video_track_id: 'TR_v', file_outputs: [{ file_type: 'OGG' }] },
  { room_name: 'r', track_id: 'TR_x', file: { filepath: 'tracks/{track_id}', gcp: { credentials: '{}', bucket: 'g' } } },
  { room_name: 'r', track_id: 'TR_x', websocket_url: 'wss://sink.example.com/pcm' },
  {
    room_name: 'r',
    template: { layout: 'speaker', custom_base_url: 'https://templates.example.com/' },
    outputs: [{ file: { filepath: 'x.mp4' } }],
    storage: { azure: { account_name: 'a', account_key: 'k', container_name: 'c' } },
  },
  {
    room_name: 'r',
    media: { video_track_id: 'TR_v', audio: { routes: [{ track_id: 'TR_a' }] } },
    outputs: [{ stream: { urls: ['srt://h:9000'] } }],
    webhooks: [{ url: 'https://hooks.example.com', signing_key: 'k' }],
  },
  { egress_id: 'EG_abc', layout: 'single-speaker' },
  { egress_id: 'EG_abc', add_output_urls: ['rtmp://a/b/c'], remove_output_urls: ['rtmp://d/e/f'] },
  { room_name: 'r', egress_id: 'EG_abc', active: true },
];

describe('fuzz', () => {
  let redis: RedisServer;
  let deps: TestApiDeps;
  let app: FastifyInstance;
  let auth: string;

  before(async () => {
    redis = await startRedis();
    // No rate limit here: the limit has its own test, this one is about what any body does.
    deps = createApiDeps(redis.url, { EGRESS_CONFIG_BODY: 'rate_limits: { start_per_minute: 0 }' });
    app = await buildServer(deps);
    const at = new AccessToken(TEST_API_KEY, TEST_API_SECRET, { ttl: 3600, identity: 'fuzzer' });
    at.addGrant({ roomRecord: true });
    auth = `Bearer ${await at.toJwt()}`;
  });
  after(async () => {
    await app?.close();
    await deps?.close();
    await redis?.stop();
  });

  test(`${BODIES} random and mutated bodies over every RPC: no 5xx, no crash, Twirp errors only`, async () => {
    let seed = 20261202;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff;
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
    const junkString = () =>
      pick([
        '',
        ' ',
        'x'.repeat(Math.floor(rand() * 5000)),
        '../../../../etc/passwd',
        '{room_name}/{time}/{utc}/{track_id}/../..',
        '\u0000\u0001\ud800',
        'rtmp://',
        'http://169.254.169.254/',
        'EG_' + 'A'.repeat(Math.floor(rand() * 40)),
        '%00%2e%2e',
        '😀'.repeat(100),
      ]);
    const junkValue = (depth = 0): unknown => {
      const r = rand();
      if (r < 0.15) return null;
      if (r < 0.3) return junkString();
      if (r < 0.45) return pick([0, -1, 1.5, 2 ** 31, -(2 ** 63), 2 ** 64, Number.MAX_SAFE_INTEGER, 1e308]);
      if (r < 0.55) return rand() < 0.5;
      if (r < 0.7 && depth < 4) return Array.from({ length: Math.floor(rand() * 4) }, () => junkValue(depth + 1));
      if (depth < 4)
        return Object.fromEntries(
          Array.from({ length: Math.floor(rand() * 4) }, () => [
            pick(['room_name', 'url', 'outputs', 'file', 'preset', 'advanced', 'layout', 'x', '__proto__', 'constructor']),
            junkValue(depth + 1),
          ]),
        );
      return junkString();
    };
    const mutate = (value: unknown, depth = 0): unknown => {
      const r = rand();
      if (r < 0.08) return junkValue(depth);
      if (Array.isArray(value)) return rand() < 0.2 ? [...value, ...value] : value.map((v) => mutate(v, depth + 1));
      if (value && typeof value === 'object') {
        const entries = Object.entries(value)
          .filter(() => rand() > 0.1)
          .map(([k, v]) => [k, rand() < 0.5 ? mutate(v, depth + 1) : v] as const);
        if (rand() < 0.2)
          entries.push([pick(['preset', 'file_type', 'protocol', 'audio_mixing', 'encoding_options', 'unknown_field']), junkValue(depth + 1)]);
        return Object.fromEntries(entries);
      }
      return rand() < 0.3 ? junkValue(depth) : value;
    };
    const body = (i: number): { payload: string | Buffer; contentType: string } => {
      const kind = i % 10;
      if (kind === 0)
        return {
          payload: Buffer.from(Array.from({ length: Math.floor(rand() * 400) }, () => Math.floor(rand() * 256))),
          contentType: 'application/protobuf',
        };
      if (kind === 1) return { payload: JSON.stringify(junkValue()), contentType: 'application/json' };
      const json = JSON.stringify(mutate(pick(SEEDS)));
      if (kind === 2) return { payload: json.slice(0, Math.floor(rand() * json.length)), contentType: 'application/json' };
      return { payload: json, contentType: 'application/json' };
    };

    const statuses = new Map<number, number>();
    for (let i = 0; i < BODIES; i++) {
      const method = METHODS[i % METHODS.length]!;
      const { payload, contentType } = body(i);
      const res = await app.inject({
        method: 'POST',
        url: `/twirp/livekit.Egress/${method}`,
        headers: { authorization: auth, 'content-type': contentType },
        payload,
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      const shown = typeof payload === 'string' ? payload.slice(0, 300) : `<${payload.length} protobuf bytes>`;
      assert.ok(res.statusCode < 500, `${method} ${shown} → ${res.statusCode} ${res.body}`);
      if (res.statusCode !== 200) {
        const error = res.json<{ code?: unknown; msg?: unknown }>();
        assert.ok(typeof error.code === 'string' && typeof error.msg === 'string', `${method} → ${res.body}`);
      }
    }
    // Both accepted and refused requests were exercised.
    assert.ok((statuses.get(200) ?? 0) > 100, JSON.stringify([...statuses]));
    assert.ok((statuses.get(400) ?? 0) > 1000, JSON.stringify([...statuses]));
    // Still serving, and every egress it accepted is consistent.
    const list = await app.inject({
      method: 'POST',
      url: '/twirp/livekit.Egress/ListEgress',
      headers: { authorization: auth, 'content-type': 'application/json' },
      payload: '{}',
    });
    assert.equal(list.statusCode, 200);
    const items = list.json<{ items?: { status?: string }[] }>().items ?? [];
    for (const item of items) assert.ok(item.status === undefined || item.status in EgressStatus, JSON.stringify(item));
  });
});
