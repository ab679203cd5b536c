/**
 * Bounds at the RPC, through the real API over HTTP (Twirp JSON and protobuf, a signed token) on a real
 * Redis: every number a worker could not honour, every URL and name a request carries, and the counts of
 * outputs, stream URLs and webhooks. Just over a limit: 400 `invalid_argument` naming the field, and
 * nothing stored or queued. Just at it: accepted, and the job carries the value. Huge, negative and
 * NaN-ish values: 400, never a 5xx. Limits set in the config are honoured. Loopback addresses only.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf';
import { EncodingOptions, RoomCompositeEgressRequest, EncodedFileOutput } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import type { FastifyInstance } from 'fastify';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildServer } from '../../api/server.ts';
import type { RecordJobData } from '../../shared/queues.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { createApiDeps, TEST_API_KEY, TEST_API_SECRET, type TestApiDeps } from '../support/api-deps.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

/** A URL of exactly `length` characters. */
const urlOf = (length: number, base = 'http://127.0.0.1:9/'): string => base + 'a'.repeat(length - base.length);
const rtmpOf = (length: number): string => urlOf(length, 'rtmp://127.0.0.1/app/');
const text = (length: number, c = 'n'): string => c.repeat(length);

const FILE = [{ filepath: 'bounds/x.mp4' }];
const room = (fields: Record<string, unknown>) => ['StartRoomCompositeEgress', { room_name: 'r', file_outputs: FILE, ...fields }] as const;
const advanced = (fields: Record<string, unknown>) => room({ advanced: fields });
const web = (fields: Record<string, unknown>) => ['StartWebEgress', { url: 'http://127.0.0.1:9/page', file_outputs: FILE, ...fields }] as const;
const v2 = (fields: Record<string, unknown>) =>
  ['StartEgress', { room_name: 'r', template: { layout: 'grid' }, outputs: [{ file: { filepath: 'bounds/v2.mp4' } }], ...fields }] as const;
const images = (...list: Record<string, unknown>[]) => room({ file_outputs: [], image_outputs: list });
const segments = (fields: Record<string, unknown>) => room({ file_outputs: [], segment_outputs: [{ filename_prefix: 'bounds/seg', ...fields }] });
const streamUrls = (n: number) => Array.from({ length: n }, (_, i) => `rtmp://127.0.0.1/app/key${i}`);
const webhooks = (n: number) => Array.from({ length: n }, (_, i) => ({ url: `http://127.0.0.1:9/hook${i}` }));

type Case = readonly [name: string, call: readonly [method: string, body: unknown], field: string];

/** Just over the default limits, and far over: each refused naming its field. */
const OVER: Case[] = [
  // Screen size, frame rate, bitrates, audio, key frames (v1 advanced).
  ['width just over max_width', advanced({ width: 3842, height: 720 }), 'width'],
  ['height just over max_height', advanced({ width: 1280, height: 3842 }), 'height'],
  ['width x height just over max_pixels', advanced({ width: 3840, height: 2162 }), 'width and height'],
  ['8192x8192 screen', advanced({ width: 8192, height: 8192 }), 'width'],
  ['100000x100000 screen', advanced({ width: 100000, height: 100000 }), 'width'],
  ['width int32 max', advanced({ width: INT32_MAX }), 'width'],
  ['width int32 max - 1 (even)', advanced({ width: INT32_MAX - 1 }), 'width'],
  ['width below 16', advanced({ width: 14 }), 'width'],
  ['odd width', advanced({ width: 641 }), 'width'],
  ['negative height', advanced({ height: -720 }), 'height'],
  ['depth 32', advanced({ depth: 32 }), 'depth'],
  ['framerate just over', advanced({ framerate: 61 }), 'framerate'],
  ['framerate 100000', advanced({ framerate: 100000 }), 'framerate'],
  ['framerate int32 max', advanced({ framerate: INT32_MAX }), 'framerate'],
  ['negative framerate', advanced({ framerate: -30 }), 'framerate'],
  ['video bitrate just over', advanced({ video_bitrate: 20001 }), 'video_bitrate'],
  ['video bitrate int32 max', advanced({ video_bitrate: INT32_MAX }), 'video_bitrate'],
  ['negative video bitrate', advanced({ video_bitrate: -1 }), 'video_bitrate'],
  ['audio bitrate just over', advanced({ audio_bitrate: 513 }), 'audio_bitrate'],
  ['audio bitrate int32 max', advanced({ audio_bitrate: INT32_MAX }), 'audio_bitrate'],
  ['audio frequency not a rate', advanced({ audio_frequency: 44101 }), 'audio_frequency'],
  ['audio frequency above 96 kHz', advanced({ audio_frequency: 192000 }), 'audio_frequency'],
  ['audio frequency 7350', advanced({ audio_frequency: 7350 }), 'audio_frequency'],
  ['audio frequency int32 max', advanced({ audio_frequency: INT32_MAX }), 'audio_frequency'],
  ['negative audio frequency', advanced({ audio_frequency: -44100 }), 'audio_frequency'],
  [
    'MP3 at 96 kHz',
    room({ audio_only: true, file_outputs: [{ filepath: 'a', file_type: 'MP3' }], advanced: { audio_frequency: 96000 } }),
    'audio_frequency',
  ],
  ['key frame interval just over', advanced({ key_frame_interval: 60.001 }), 'key_frame_interval'],
  ['key frame interval 1e308', advanced({ key_frame_interval: 1e308 }), 'key_frame_interval'],
  ['key frame interval uint32 max', advanced({ key_frame_interval: UINT32_MAX }), 'key_frame_interval'],
  ['key frame interval Infinity', advanced({ key_frame_interval: 'Infinity' }), 'key_frame_interval'],
  ['key frame interval NaN', advanced({ key_frame_interval: 'NaN' }), 'key_frame_interval'],
  ['negative key frame interval', advanced({ key_frame_interval: -2 }), 'key_frame_interval'],

  // Segments and images.
  ['segment duration just over', segments({ segment_duration: 601 }), 'segment_duration'],
  ['segment duration uint32 max', segments({ segment_duration: UINT32_MAX }), 'segment_duration'],
  ['capture interval just over', images({ capture_interval: 3601 }), 'capture_interval'],
  ['capture interval uint32 max', images({ capture_interval: UINT32_MAX }), 'capture_interval'],
  ['image width just over', images({ width: 3842, height: 180 }), 'image width'],
  ['image height just over (odd)', images({ width: 320, height: 3841 }), 'image height'],
  ['image just over max_pixels', images({ width: 3840, height: 2161 }), 'image width and height'],
  ['image width int32 max', images({ width: INT32_MAX, height: 180 }), 'image width'],
  ['image width below 16', images({ width: 8, height: 8 }), 'image width'],
  ['negative image width', images({ width: -320 }), 'image width'],
  ['one image output too many', images({}, {}, {}, {}, {}), 'image outputs'],

  // Counts.
  ['one stream URL too many', room({ file_outputs: [], stream_outputs: [{ protocol: 'RTMP', urls: streamUrls(11) }] }), 'stream urls'],
  ['one webhook too many', room({ webhooks: webhooks(6) }), 'webhooks'],

  // URLs, one character over max_url_length.
  ['web url', web({ url: urlOf(4097) }), 'url'],
  ['custom_base_url', room({ custom_base_url: urlOf(4097) }), 'custom_base_url'],
  ['stream url', room({ stream_outputs: [{ protocol: 'RTMP', urls: ['rtmp://127.0.0.1/app/k', rtmpOf(4097)] }] }), 'stream_outputs[0].urls[1]'],
  ['legacy stream url', web({ file_outputs: [], stream: { urls: [rtmpOf(4097)] } }), 'stream.urls[0]'],
  ['websocket_url', ['StartTrackEgress', { room_name: 'r', track_id: 'TR_a', websocket_url: urlOf(4097, 'ws://127.0.0.1:9/') }], 'websocket_url'],
  ['s3 endpoint', room({ file_outputs: [{ filepath: 'x.mp4', s3: { bucket: 'b', endpoint: urlOf(4097) } }] }), 'file_outputs[0].s3.endpoint'],
  ['s3 proxy url', room({ file_outputs: [{ filepath: 'x.mp4', s3: { bucket: 'b', proxy: { url: urlOf(4097) } } }] }), 'file_outputs[0].s3.proxy.url'],
  [
    'gcp proxy url',
    room({ file_outputs: [], segment_outputs: [{ gcp: { bucket: 'b', proxy: { url: urlOf(4097) } } }] }),
    'segment_outputs[0].gcp.proxy.url',
  ],
  ['image upload endpoint', images({ s3: { bucket: 'b', endpoint: urlOf(4097) } }), 'image_outputs[0].s3.endpoint'],
  ['webhook url', room({ webhooks: [{ url: urlOf(4097) }] }), 'webhooks[0].url'],
  ['v2 web url', v2({ template: undefined, room_name: '', web: { url: urlOf(4097) } }), 'web.url'],
  ['v2 template custom_base_url', v2({ template: { custom_base_url: urlOf(4097) } }), 'template.custom_base_url'],
  ['v2 stream url', v2({ outputs: [{ stream: { urls: [rtmpOf(4097)] } }] }), 'outputs[0].stream.urls[0]'],
  ['v2 request storage endpoint', v2({ storage: { s3: { bucket: 'b', endpoint: urlOf(4097) } } }), 'storage.s3.endpoint'],
  [
    'v2 output storage proxy',
    v2({ outputs: [{ file: {}, storage: { gcp: { bucket: 'b', proxy: { url: urlOf(4097) } } } }] }),
    'outputs[0].storage.gcp.proxy.url',
  ],

  // Names, one character over max_name_length.
  ['room_name', room({ room_name: text(1025) }), 'room_name'],
  ['layout', room({ layout: text(1025) }), 'layout'],
  ['participant identity', ['StartParticipantEgress', { room_name: 'r', identity: text(1025), file_outputs: FILE }], 'identity'],
  ['track_id', ['StartTrackEgress', { room_name: 'r', track_id: text(1025), file: { filepath: 'x' } }], 'track_id'],
  ['audio_track_id', ['StartTrackCompositeEgress', { room_name: 'r', audio_track_id: text(1025), file_outputs: FILE }], 'audio_track_id'],
  ['video_track_id', ['StartTrackCompositeEgress', { room_name: 'r', video_track_id: text(1025), file_outputs: FILE }], 'video_track_id'],
  ['filepath', room({ file_outputs: [{ filepath: text(1025) }] }), 'file_outputs[0].filepath'],
  ['track filepath', ['StartTrackEgress', { room_name: 'r', track_id: 'TR_a', file: { filepath: text(1025) } }], 'file.filepath'],
  ['segments filename_prefix', segments({ filename_prefix: text(1025) }), 'segment_outputs[0].filename_prefix'],
  ['playlist_name', segments({ playlist_name: text(1025) }), 'segment_outputs[0].playlist_name'],
  ['live_playlist_name', segments({ live_playlist_name: text(1025) }), 'segment_outputs[0].live_playlist_name'],
  ['images filename_prefix', images({ filename_prefix: text(1025) }), 'image_outputs[0].filename_prefix'],
  ['s3 bucket', room({ file_outputs: [{ filepath: 'x.mp4', s3: { bucket: text(1025) } }] }), 'file_outputs[0].s3.bucket'],
  ['v2 room_name', v2({ room_name: text(1025) }), 'room_name'],
  ['v2 media video_track_id', v2({ template: undefined, media: { video_track_id: text(1025) } }), 'media.video_track_id'],
  [
    'v2 media participant identity',
    v2({ template: undefined, media: { participant_video: { identity: text(1025) } } }),
    'media.participant_video.identity',
  ],
  ['v2 media audio route', v2({ template: undefined, media: { audio: { routes: [{ track_id: text(1025) }] } } }), 'media.audio.routes[0].track_id'],
  ['v2 file filepath', v2({ outputs: [{ file: { filepath: text(1025) } }] }), 'outputs[0].file.filepath'],

  // Names within max_name_length that resolve to keys no store takes.
  [
    '{room_name} as a 300-byte file name on the service storage',
    room({ room_name: text(300), file_outputs: [{ filepath: 'x/{room_name}.mp4' }] }),
    'filepath',
  ],
  ['a generated 300-byte file name on the service storage', room({ room_name: text(300), file_outputs: [{}] }), 'filepath'],
  [
    'a 1200-byte S3 key',
    room({ room_name: text(600), file_outputs: [{ filepath: '{room_name}/{room_name}.mp4', s3: { bucket: 'b' } }] }),
    'filepath',
  ],
  ['a 240-byte segment prefix (with its suffix over 255)', segments({ filename_prefix: `seg/${text(240)}` }), 'filename_prefix'],
  ['a 240-byte image prefix (with its suffix over 255)', images({ filename_prefix: `img/${text(240)}` }), 'filename_prefix'],
  [
    'a 252-byte track file name (with its extension over 255)',
    ['StartTrackEgress', { room_name: 'r', track_id: 'TR_a', file: { filepath: text(252) } }],
    'filepath',
  ],
];

/** Exactly at the default limits: accepted, and the plan a worker gets carries the values asked. */
const AT: [name: string, call: readonly [string, unknown], plan: Record<string, unknown>][] = [
  [
    'the largest screen and every encoding number at its limit',
    advanced({
      width: 3840,
      height: 2160,
      framerate: 60,
      video_bitrate: 20000,
      audio_bitrate: 512,
      audio_frequency: 96000,
      key_frame_interval: 60,
      depth: 24,
    }),
    {
      encoding: {
        width: 3840,
        height: 2160,
        framerate: 60,
        videoBitrateKbps: 20000,
        audioBitrateKbps: 512,
        audioFrequency: 96000,
        keyFrameIntervalSec: 60,
      },
    },
  ],
  ['portrait 4K', advanced({ width: 2160, height: 3840 }), { encoding: { width: 2160, height: 3840 } }],
  ['depth 8 on a portrait 4K screen', advanced({ width: 2160, height: 3840, depth: 8 }), { encoding: { width: 2160, height: 3840, depth: 8 } }],
  ['the smallest screen', advanced({ width: 16, height: 16 }), { encoding: { width: 16, height: 16 } }],
  [
    'preset 1080p60 at 6000 kbps',
    room({ preset: 'H264_1080P_60' }),
    { encoding: { width: 1920, height: 1080, framerate: 60, videoBitrateKbps: 6000 } },
  ],
  ['portrait preset 1080p60', room({ preset: 'PORTRAIT_H264_1080P_60' }), { encoding: { width: 1080, height: 1920, framerate: 60 } }],
  [
    'MP3 at 48 kHz',
    room({ audio_only: true, file_outputs: [{ filepath: 'a', file_type: 'MP3' }], advanced: { audio_frequency: 48000 } }),
    { encoding: { audioCodec: 'mp3', audioFrequency: 48000 } },
  ],
  ['AAC at 8 kHz', advanced({ audio_frequency: 8000 }), { encoding: { audioCodec: 'aac', audioFrequency: 8000 } }],
  [
    'Opus runs at 48 kHz whatever is asked',
    room({ audio_only: true, file_outputs: [{ filepath: 'a', file_type: 'OGG' }], advanced: { audio_frequency: 22050 } }),
    { encoding: { audioCodec: 'opus', audioFrequency: 48000 } },
  ],
  ['segment duration at its limit', segments({ segment_duration: 600 }), { segments: { segmentDurationSec: 600 } }],
  [
    'four images at the limits, one with odd sides',
    images(
      { capture_interval: 3600, width: 3840, height: 2160 },
      { width: 321, height: 181 },
      { width: 16, height: 16 },
      { width: 2160, height: 3840 },
    ),
    {
      images: [
        { captureIntervalSec: 3600, width: 3840, height: 2160 },
        { width: 321, height: 181 },
        { width: 16, height: 16 },
        { width: 2160, height: 3840 },
      ],
    },
  ],
  ['ten stream URLs', room({ file_outputs: [], stream_outputs: [{ protocol: 'RTMP', urls: streamUrls(10) }] }), { stream: { protocol: 'rtmp' } }],
  ['five webhooks', room({ webhooks: webhooks(5) }), {}],
  ['a web url of max_url_length', web({ url: urlOf(4096) }), { source: { kind: 'web', url: urlOf(4096) } }],
  ['a stream url of max_url_length', room({ stream_outputs: [{ protocol: 'RTMP', urls: [rtmpOf(4096)] }] }), { stream: { protocol: 'rtmp' } }],
  [
    'an s3 endpoint of max_url_length',
    room({ file_outputs: [{ filepath: 'x.mp4', s3: { bucket: 'b', endpoint: urlOf(4096) } }] }),
    { file: { storage: { kind: 's3' } } },
  ],
  ['names of max_name_length', room({ room_name: text(1024), layout: text(1024), file_outputs: [{ filepath: 'x.mp4' }] }), { roomName: text(1024) }],
  [
    'a 251-byte file name on the service storage',
    room({ file_outputs: [{ filepath: `${text(251)}.mp4` }] }),
    { file: { filepath: `${text(251)}.mp4` } },
  ],
  [
    '{room_name} of 300 bytes on S3 (no per-part limit there)',
    room({ room_name: text(300), file_outputs: [{ filepath: '{room_name}.mp4', s3: { bucket: 'b' } }] }),
    { file: { storage: { kind: 's3' } } },
  ],
  [
    'v2 at the limits',
    v2({
      advanced: { width: 3840, height: 2160, framerate: 60 },
      outputs: [{ file: {} }, { segments: { segment_duration: 600 } }, { images: { capture_interval: 3600 } }],
    }),
    {
      encoding: { width: 3840, height: 2160 },
      segments: { segmentDurationSec: 600 },
      images: [{ captureIntervalSec: 3600, width: 3840, height: 2160 }],
    },
  ],
];

interface Api {
  deps: TestApiDeps;
  app: FastifyInstance;
  url: string;
}

async function startApi(redisUrl: string, configBody: string): Promise<Api> {
  const deps = createApiDeps(redisUrl, { EGRESS_CONFIG_BODY: configBody });
  const app = await buildServer(deps);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { deps, app, url };
}

async function bearer(): Promise<string> {
  const at = new AccessToken(TEST_API_KEY, TEST_API_SECRET, { ttl: 3600, identity: 'bounds' });
  at.addGrant({ roomRecord: true });
  return `Bearer ${await at.toJwt()}`;
}

describe('bounds at the RPC', () => {
  let redis: RedisServer;
  let api: Api;
  let tight: Api;
  let auth: string;

  const call = async (target: Api, method: string, body: unknown, contentType = 'application/json') => {
    const res = await fetch(`${target.url}/twirp/livekit.Egress/${method}`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': contentType },
      body: body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as { code?: string; msg?: string; items?: unknown[]; egress_id?: string } };
  };

  /** Nothing of a refused request may remain: no EgressInfo (ListEgress, the store's keys) and no job in any queue. */
  const assertNothingStored = async (target: Api, context: string) => {
    const listed = await call(target, 'ListEgress', {});
    assert.deepEqual(listed.json.items, [], `${context}: ListEgress`);
    assert.deepEqual(await target.deps.redis.keys(`${target.deps.config.redis.prefix}:store:*`), [], `${context}: store keys`);
    for (const queue of target.deps.queues.all()) {
      const counts = await queue.getJobCounts();
      assert.equal(
        Object.values(counts).reduce((a, b) => a + b, 0),
        0,
        `${context}: jobs in ${queue.name}`,
      );
    }
  };

  const assertRefused = async (target: Api, method: string, body: unknown, field: string, context: string) => {
    const { status, json } = await call(target, method, body);
    assert.equal(status, 400, `${context}: ${JSON.stringify(json).slice(0, 300)}`);
    assert.equal(json.code, 'invalid_argument', context);
    const expected = `request has missing or invalid field: ${field}`;
    assert.ok(json.msg === expected || json.msg?.startsWith(`${expected} (`), `${context}: ${json.msg}`);
  };

  const planOf = async (target: Api, egressId: string): Promise<EgressPlan> => {
    for (const queue of target.deps.queues.all()) {
      const job = await queue.getJob(egressId);
      if (job) return (job.data as RecordJobData).plan;
    }
    assert.fail(`no job for ${egressId}`);
  };

  before(async () => {
    redis = await startRedis();
    // Many Start RPCs in a row: the rate limit has its own test.
    api = await startApi(redis.url, 'rate_limits: { start_per_minute: 0 }');
    tight = await startApi(
      redis.url,
      [
        'rate_limits: { start_per_minute: 0 }',
        'redis: { prefix: tight }',
        'limits: { max_framerate: 30, max_width: 1280, max_height: 1280, max_pixels: 921600, max_video_bitrate: 3000, max_audio_bitrate: 128, max_key_frame_interval: 4, max_segment_duration: 10, max_capture_interval: 60, max_image_outputs: 1, max_stream_urls: 2, max_webhooks: 1, max_url_length: 100, max_name_length: 64 }',
      ].join('\n'),
    );
    auth = await bearer();
  });
  after(async () => {
    for (const target of [api, tight]) {
      await target?.app.close();
      await target?.deps.close();
    }
    await redis?.stop();
  });

  test(`${OVER.length} requests over a limit: 400 invalid_argument naming the field, nothing stored or queued`, async () => {
    for (const [name, [method, body], field] of OVER) {
      await assertRefused(api, method, body, field, name);
      await assertNothingStored(api, name);
    }
  });

  test('huge values a field cannot even hold: 400 malformed naming the field, never a 5xx', async () => {
    for (const [name, body, field] of [
      ['width 2^32-1', { advanced: { width: UINT32_MAX } }, 'width'],
      ['framerate 2^53', { advanced: { framerate: 2 ** 53 } }, 'framerate'],
      ['video bitrate 1e300', { advanced: { video_bitrate: 1e300 } }, 'video_bitrate'],
      ['fractional height', { advanced: { height: 720.5 } }, 'height'],
      ['segment duration -1', { segment_outputs: [{ segment_duration: -1 }] }, 'segment_duration'],
      ['capture interval 2^32', { image_outputs: [{ capture_interval: 2 ** 32 }] }, 'capture_interval'],
      ['width "NaN"', { advanced: { width: 'NaN' } }, 'width'],
    ] as const) {
      const { status, json } = await call(api, 'StartRoomCompositeEgress', { room_name: 'r', file_outputs: FILE, ...body });
      assert.equal(status, 400, name);
      assert.equal(json.code, 'malformed', name);
      assert.match(json.msg ?? '', new RegExp(`\\.${field} from JSON`), name);
    }
    await assertNothingStored(api, 'malformed');
  });

  test('protobuf bodies are held to the same bounds (int32 max width, a wrapped uint32 as -1)', async () => {
    const request = new RoomCompositeEgressRequest({
      roomName: 'r',
      fileOutputs: [new EncodedFileOutput({ filepath: 'x.mp4' })],
      options: { case: 'advanced', value: new EncodingOptions({ width: INT32_MAX, height: 720 }) },
    });
    const binary = await call(api, 'StartRoomCompositeEgress', request.toBinary(), 'application/protobuf');
    assert.equal(binary.status, 400);
    assert.equal(binary.json.code, 'invalid_argument');
    assert.match(binary.json.msg ?? '', /field: width \(/);
    // A varint of 2^32-1 in an int32 field (framerate) reads as -1: the bytes a client could send.
    const encoding = new BinaryWriter().tag(EncodingOptions.fields.findJsonName('framerate')!.no, WireType.Varint).uint32(UINT32_MAX).finish();
    const base = new RoomCompositeEgressRequest({ roomName: 'r', fileOutputs: [new EncodedFileOutput({ filepath: 'x.mp4' })] }).toBinary();
    const advancedField = new BinaryWriter()
      .tag(RoomCompositeEgressRequest.fields.findJsonName('advanced')!.no, WireType.LengthDelimited)
      .bytes(encoding)
      .finish();
    const wrapped = new Uint8Array([...base, ...advancedField]);
    assert.equal((RoomCompositeEgressRequest.fromBinary(wrapped).options.value as EncodingOptions).framerate, -1);
    const minusOne = await call(api, 'StartRoomCompositeEgress', wrapped, 'application/protobuf');
    assert.equal(minusOne.status, 400);
    assert.equal(minusOne.json.code, 'invalid_argument');
    assert.match(minusOne.json.msg ?? '', /field: framerate \(/);
    await assertNothingStored(api, 'protobuf');
  });

  test(`${AT.length} requests exactly at the limits are accepted, and the job carries the values`, async () => {
    for (const [name, [method, body], plan] of AT) {
      const { status, json } = await call(api, method, body);
      assert.equal(status, 200, `${name}: ${JSON.stringify(json).slice(0, 300)}`);
      assert.partialDeepStrictEqual(await planOf(api, json.egress_id!), plan, name);
    }
  });

  test('limits from the config are honoured: one over each is refused, each at it accepted', async () => {
    const over: Case[] = [
      ['framerate 60 over max_framerate 30', advanced({ framerate: 60 }), 'framerate'],
      ['a 60 fps preset', room({ preset: 'H264_720P_60' }), 'preset'],
      ['a 1080p preset over max_width', room({ preset: 'H264_1080P_30' }), 'preset'],
      ['720x1282 over max_height', advanced({ width: 720, height: 1282 }), 'height'],
      ['1280x722 over max_pixels', advanced({ width: 1280, height: 722 }), 'width and height'],
      ['video bitrate', advanced({ video_bitrate: 3001 }), 'video_bitrate'],
      ['audio bitrate', advanced({ audio_bitrate: 129 }), 'audio_bitrate'],
      ['key frame interval', advanced({ key_frame_interval: 4.5 }), 'key_frame_interval'],
      ['segment duration', segments({ segment_duration: 11 }), 'segment_duration'],
      ['capture interval', images({ capture_interval: 61, width: 320, height: 180 }), 'capture_interval'],
      ['two image outputs', images({ width: 320, height: 180 }, { width: 320, height: 180 }), 'image outputs'],
      ['an image over max_width', images({ width: 1282, height: 180 }), 'image width'],
      ['three stream URLs', room({ file_outputs: [], stream_outputs: [{ protocol: 'RTMP', urls: streamUrls(3) }] }), 'stream urls'],
      ['two webhooks', room({ webhooks: webhooks(2) }), 'webhooks'],
      ['a 101-character web url', web({ url: urlOf(101) }), 'url'],
      ['a 65-character room name', room({ room_name: text(65) }), 'room_name'],
    ];
    for (const [name, [method, body], field] of over) {
      await assertRefused(tight, method, body, field, name);
      await assertNothingStored(tight, name);
    }
    const at: [string, readonly [string, unknown]][] = [
      [
        '30 fps, 1280x720, 3000 kbps, 128 kbps, 4 s key frames',
        advanced({ framerate: 30, width: 1280, height: 720, video_bitrate: 3000, audio_bitrate: 128, key_frame_interval: 4 }),
      ],
      ['the default encoding (720p30) fits', room({})],
      ['a 720p30 preset', room({ preset: 'H264_720P_30' })],
      ['segments of 10 s', segments({ segment_duration: 10 })],
      ['one image every 60 s', images({ capture_interval: 60, width: 1280, height: 720 })],
      ['two stream URLs', room({ file_outputs: [], stream_outputs: [{ protocol: 'RTMP', urls: streamUrls(2) }] })],
      ['one webhook', room({ webhooks: webhooks(1) })],
      ['a 100-character web url', web({ url: urlOf(100) })],
      ['a 64-character room name', room({ room_name: text(64) })],
    ];
    for (const [name, [method, body]] of at) {
      const { status, json } = await call(tight, method, body);
      assert.equal(status, 200, `${name}: ${JSON.stringify(json).slice(0, 300)}`);
    }
    // The default service, next to it, still takes 60 fps.
    assert.equal((await call(api, ...advanced({ framerate: 60 }))).status, 200);
  });
  test('every RPC, not only Start: its strings are bounded before a handler looks anything up', async () => {
    const long = 'E'.repeat(1025);
    for (const [method, body, field] of [
      ['StopEgress', { egress_id: long }, 'egress_id'],
      ['ListEgress', { room_name: long }, 'room_name'],
      ['ListEgress', { egress_id: long }, 'egress_id'],
      ['UpdateLayout', { egress_id: 'EG_x', layout: long }, 'layout'],
      ['UpdateStream', { egress_id: long, add_output_urls: [] }, 'egress_id'],
      ['UpdateStream', { egress_id: 'EG_x', add_output_urls: [`rtmp://127.0.0.1/live/${'k'.repeat(4096)}`] }, 'add_output_urls[0]'],
    ] as const) {
      await assertRefused(api, method, body, field, `${method} ${field}`);
    }
    // At the bound the handler answers as usual: not_found, no such egress.
    const { status, json } = await call(api, 'UpdateLayout', { egress_id: 'E'.repeat(1024), layout: 'L'.repeat(1024) });
    assert.equal(status, 404, JSON.stringify(json));
  });
});
