/**
 * Stream and WebSocket URLs under url_policy, at the RPC: every way to write a refused host (metadata,
 * link-local, unspecified, a `deny` entry, and with deny_private this host and private networks) is refused
 * at Start and at UpdateStream, naming the field; SRT URLs carry only a sender's options; UpdateStream
 * finds streams by their real URL (two URLs that redact alike are two streams) and never leaves an egress
 * with more than `max_stream_urls`. Loopback listeners stand in for the refused hosts and must hear nothing.
 * The worker side (connect-time checks, what ffmpeg is given) is in streams-sinks.test.ts and
 * streams-e2e.test.ts.
 */
import { StreamInfo, StreamInfo_Status } from '@livekit/protocol';
import type { FastifyInstance } from 'fastify';
import { AccessToken } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { buildServer } from '../../api/server.ts';
import { planStreamUpdate } from '../../api/validate/update-stream.ts';
import { protocolOfUrl, resolveStreamUrl, type StreamProtocolName } from '../../api/validate/stream-url.ts';
import { redactStreamUrl } from '../../shared/redact.ts';
import type { SealedStream } from '../../shared/egress-secrets.ts';
import { EgressError } from '../../shared/errors.ts';
import { ffmpegSrtArgs, parseSrtQuery } from '../../shared/srt-options.ts';
import { normalizeHost } from '../../shared/address-forms.ts';
import { createApiDeps, TEST_API_KEY, TEST_API_SECRET, type TestApiDeps } from '../support/api-deps.ts';
import { freePort, freeUdpPort } from '../support/free-port.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';

/** The address a `deny` entry refuses; a loopback listener stands in for it. */
const DENIED = '127.0.0.3';

/** Every way to write DENIED that ffmpeg, getaddrinfo or a WHATWG parser would take for it. */
const DENIED_FORMS = [
  '127.0.0.3',
  '127.0.0.3.',
  '127.3',
  '2130706435',
  '0x7f000003',
  '0X7F000003',
  '0x7f.0.0.3',
  '0177.0.0.3',
  '[::ffff:127.0.0.3]',
  '[::ffff:7f00:3]',
  '[0:0:0:0:0:ffff:7f00:3]',
  '[::ffff:0:127.0.0.3]',
  '[::127.0.0.3]',
  '[64:ff9b::7f00:3]',
  '[2002:7f00:3::1]',
];

/** Refused whatever the policy: metadata services, link-local, "this host, any interface". */
const ALWAYS_DENIED_FORMS = [
  '169.254.169.254',
  '2852039166',
  '0xa9fea9fe',
  '0251.0376.0251.0376',
  '[::ffff:169.254.169.254]',
  '[::ffff:a9fe:a9fe]',
  '[fe80::1]',
  '[fd00:ec2::254]',
  '100.100.100.200',
  'metadata.google.internal',
  'METADATA.GOOGLE.INTERNAL.',
  '0.0.0.0',
  '0',
  '[::]',
  '[::ffff:0.0.0.0]',
];

/** Refused with deny_private only. */
const PRIVATE_FORMS = [
  '127.0.0.1',
  '127.1',
  '2130706433',
  '0x7f.1',
  '[::1]',
  '[::ffff:127.0.0.1]',
  '[::127.0.0.1]',
  'localhost',
  'LocalHost.',
  'x.localhost',
  '10.0.0.1',
  '192.168.1.1',
  '172.16.0.1',
  '[fc00::1]',
  '100.64.0.1',
];

/** Written so that a careless parser finds another host than ffmpeg does: refused as invalid. */
const TRICKS = [
  'rtmp://a@b@HOST/live/key',
  'rtmp://user:pass@HOST/live/key',
  'rtmp://example.com@HOST/live/key',
  'rtmp://HOST\\@example.com/live/key',
  'rtmp://HOST:1935:80/live/key',
  'rtmp://HOST#@example.com/live/key',
  'rtmp://HOST%2e/live/key',
  'rtmp:// HOST/live/key',
  'rtmp://HOST\t/live/key',
  'srt://a@HOST:9000',
  'ws://user@HOST:80/pcm',
];

const hostPart = (form: string, port: number) => `${form}:${port}`;

// ---- parsing, without the service ----

describe('stream URLs are taken apart and rebuilt', () => {
  const resolved = (url: string, protocol: StreamProtocolName = protocolOfUrl(url)) => resolveStreamUrl(url, protocol);
  const refusal = (url: string, protocol: StreamProtocolName, reason: RegExp) =>
    assert.throws(
      () => resolveStreamUrl(url, protocol),
      (err: EgressError) => err.code === 'EGR_ERR_INVALID_ARGUMENT' && err.meta.field === 'url' && reason.test(err.message),
      url,
    );

  test('what is sealed is the canonical form; the host is what ffmpeg would connect to', () => {
    assert.equal(resolved('RTMP://Live.Example.COM./app/key live=1').url, 'rtmp://live.example.com/app/key');
    assert.equal(resolved('rtmp://0x7f.1:1935/live/key').host, '127.0.0.1');
    assert.equal(resolved('rtmp://[::ffff:127.0.0.3]/live/key').host, '::ffff:7f00:3');
    assert.equal(resolved('mux://abc-123').url, 'rtmps://global-live.mux.com:443/app/abc-123');
    assert.equal(resolved('wss://H.example.com?token=t0k3n').url, 'wss://h.example.com/?token=t0k3n');
    // SRT: only our options, in one order, values encoded; `mode=caller` is the default and dropped.
    assert.equal(
      resolved('srt://h:9000?mode=caller&passphrase=abcdefghijk&streamid=#!::r=live/x,m=publish&latency=120').url,
      'srt://h:9000?streamid=%23!%3A%3Ar%3Dlive%2Fx%2Cm%3Dpublish&passphrase=abcdefghijk&latency=120',
    );
  });

  test('a stream is its real URL: the same URL written differently is one stream, URLs that redact alike are two', () => {
    assert.equal(resolved('rtmp://h/app/key').id, resolved('RTMP://H.:1935/app/key').id);
    const [a, b] = [resolved('rtmp://h/app/good-twin-1111-end'), resolved('rtmp://h/app/good-twin-2222-end')];
    assert.equal(a.redacted, b.redacted, 'they redact alike');
    assert.notEqual(a.id, b.id);
    assert.ok(!a.id.includes('twin') && /^[0-9a-f]{64}$/.test(a.id));
  });

  test('a scheme from the caller never reaches Object.prototype', () => {
    for (const scheme of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.throws(
        () => protocolOfUrl(`${scheme}://x/app/key`),
        (err: EgressError) => err.code === 'EGR_ERR_INVALID_ARGUMENT' && /invalid protocol/.test(err.message),
      );
      assert.throws(
        () => resolveStreamUrl(`${scheme}://x/app/key`, 'rtmp'),
        (err: EgressError) => err.code === 'EGR_ERR_INVALID_ARGUMENT',
      );
    }
  });

  test('URLs two parsers could read differently are refused', () => {
    for (const trick of TRICKS) {
      const url = trick.replace('HOST', '127.0.0.3');
      refusal(url, protocolOfUrl(url), /invalid url/);
    }
    refusal('rtmp://h/app/k\u00e9y', 'rtmp', /non-ASCII/);
    refusal('rtmp://h/app/key#frag', 'rtmp', /fragment/);
    refusal('rtmp://h/app/key?next=/other', 'rtmp', /stream key/);
    refusal('rtmp://h/key', 'rtmp', /rtmp urls must be of format/);
    refusal('rtmp://h:0/app/key', 'rtmp', /invalid port/);
    refusal('rtmp://h:65536/app/key', 'rtmp', /invalid port/);
    refusal('rtmp://[fe80::1%25eth0]/app/key', 'rtmp', /IPv6/);
  });

  test("SRT: caller mode only, and only a sender's options", () => {
    refusal('srt://h:9000?mode=listener', 'srt', /mode listener is not supported/);
    refusal('srt://h:9000?mode=LISTENER', 'srt', /mode listener is not supported/);
    refusal('srt://h:9000?mode=rendezvous', 'srt', /mode rendezvous is not supported/);
    refusal('srt://h:9000?mode=1', 'srt', /only caller/);
    for (const option of [
      'localport=5000',
      'localaddress=0.0.0.0',
      'transtype=file',
      'listen_timeout=1',
      'constructor=1',
      '__proto__=x',
      'hasOwnProperty=1',
    ]) {
      refusal(`srt://h:9000?${option}`, 'srt', /is not supported/);
    }
    refusal('srt://h:9000?streamid=a&streamid=b', 'srt', /twice/);
    refusal('srt://h:9000?passphrase=short', 'srt', /passphrase/);
    refusal('srt://h:9000?pbkeylen=20', 'srt', /pbkeylen/);
    refusal('srt://h:9000?latency=-1', 'srt', /latency/);
    refusal('srt://h:9000?streamid=%E0%A4%A', 'srt', /percent-encoding/);
    refusal('srt://h?streamid=x', 'srt', /needs a port/);
    refusal('srt://h:9000/path', 'srt', /no path/);
    // The refusal never shows a value.
    assert.throws(
      () => resolveStreamUrl('srt://h:9000?passphrase=hunter2hunter2&mode=listener', 'srt'),
      (err: Error) => !err.message.includes('hunter2'),
    );
  });

  test('any string: refused with invalid_argument or accepted; an accepted URL rebuilt is the same stream, same host', () => {
    const seeds = [
      'rtmp://h.example.com:1935/live/key',
      'rtmps://[::1]/a/b/key?x=1',
      'srt://1.2.3.4:9000?streamid=a&passphrase=abcdefghijk',
      'wss://h/p?t=1',
      'mux://k',
      ...TRICKS,
    ];
    const alphabet = 'abc:/?#@[]%.\\ 0123456789xX-_=&\t\u00e9';
    let seed = 42;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 20_000; i++) {
      let url = seeds[random(seeds.length)]!.replace('HOST', '127.0.0.3');
      for (let edits = random(4); edits >= 0; edits--) {
        const at = random(url.length + 1);
        url = random(2) ? url.slice(0, at) + alphabet[random(alphabet.length)]! + url.slice(at) : url.slice(0, at) + url.slice(at + 1);
      }
      for (const protocol of ['rtmp', 'srt', 'websocket'] as const) {
        let target;
        try {
          target = resolveStreamUrl(url, protocol);
        } catch (err) {
          assert.ok(err instanceof EgressError && err.code === 'EGR_ERR_INVALID_ARGUMENT', `${JSON.stringify(url)}: ${String(err)}`);
          continue;
        }
        const again = resolveStreamUrl(target.url, protocol);
        assert.deepEqual([again.url, again.id, again.host], [target.url, target.id, target.host], JSON.stringify(url));
        // What a WHATWG parser (ws, our checks) reads as the host is the host that was checked.
        assert.equal(normalizeHost(new URL(target.url).hostname), target.host, JSON.stringify(url));
      }
    }
  });

  test("SRT options reach ffmpeg as options we build: latency in ms becomes µs; -srt_streamid, not ffmpeg's own -streamid", () => {
    const options = parseSrtQuery('streamid=%23!%3A%3Ar%3Dx&passphrase=abcdefghijk&pbkeylen=32&latency=250');
    assert.deepEqual(ffmpegSrtArgs(options), [
      '-mode',
      'caller',
      '-srt_streamid',
      '#!::r=x',
      '-passphrase',
      'abcdefghijk',
      '-pbkeylen',
      '32',
      '-latency',
      '250000',
    ]);
  });
});

describe('UpdateStream arithmetic', () => {
  const target = (key: string) => resolveStreamUrl(`rtmp://h/app/${key}`, 'rtmp');
  const sealed = (key: string): SealedStream => {
    const t = target(key);
    return { id: t.id, url: t.url, redacted: t.redacted };
  };
  const info = (...statuses: StreamInfo_Status[]) => statuses.map((status) => new StreamInfo({ status }));
  const { ACTIVE, FINISHED, FAILED } = StreamInfo_Status;

  test('removal by real URL: exactly the stream named; a look-alike is not found', () => {
    const streams = [sealed('good-twin-1111-end'), sealed('good-twin-2222-end')];
    assert.deepEqual(planStreamUpdate(streams, info(ACTIVE, ACTIVE), [], [target('good-twin-2222-end')], 10), { added: [], removed: [1] });
    assert.throws(
      () => planStreamUpdate(streams, info(ACTIVE, ACTIVE), [], [target('good-twin-3333-end')], 10),
      (err: EgressError) => err.code === 'EGR_ERR_NOT_FOUND',
    );
    // Already removed: not found either.
    assert.throws(
      () => planStreamUpdate(streams, info(FINISHED, ACTIVE), [], [target('good-twin-1111-end')], 10),
      (err: EgressError) => err.code === 'EGR_ERR_NOT_FOUND',
    );
  });

  test('adding an active URL is a no-op; a finished one comes back as a new entry', () => {
    const streams = [sealed('k1'), sealed('k2')];
    assert.deepEqual(planStreamUpdate(streams, info(ACTIVE, ACTIVE), [target('k1'), target('k1')], [], 10).added, []);
    assert.deepEqual(
      planStreamUpdate(streams, info(FINISHED, ACTIVE), [target('k1')], [], 10).added.map((s) => s.id),
      [target('k1').id],
    );
  });

  test('the limit counts active streams (and ones not started yet) after adds and removals', () => {
    const streams = [sealed('k1'), sealed('k2'), sealed('k3')];
    // k3 has no StreamInfo entry yet: it counts as active.
    assert.throws(
      () => planStreamUpdate(streams, info(ACTIVE, ACTIVE), [target('k4')], [], 3),
      (err: EgressError) => err.code === 'EGR_ERR_INVALID_ARGUMENT' && err.meta.field === 'add_output_urls',
    );
    assert.equal(planStreamUpdate(streams, info(ACTIVE, FAILED, ACTIVE), [target('k4')], [], 3).added.length, 1);
    assert.equal(planStreamUpdate(streams, info(ACTIVE, ACTIVE, ACTIVE), [target('k4')], [target('k1')], 3).added.length, 1);
  });
});

// ---- through the API ----

interface Api {
  deps: TestApiDeps;
  app: FastifyInstance;
}

describe('stream URLs through the API', { concurrency: false }, () => {
  let redis: RedisServer;
  /** deny: [127.0.0.3], max_stream_urls: 3 */
  let denying: Api;
  /** deny_private */
  let privateDenied: Api;
  let auth: string;
  let tcpPort: number;
  let udpPort: number;
  const tcpListeners: Server[] = [];
  const udpListeners: UdpSocket[] = [];
  let heard = 0;

  const open = async (yaml: Record<string, unknown>): Promise<Api> => {
    const deps = createApiDeps(redis.url, {
      EGRESS_CONFIG_BODY: stringify({ rate_limits: { start_per_minute: 0 }, ...yaml }),
      LIVEKIT_URL: 'ws://127.0.0.1:7880',
    });
    return { deps, app: await buildServer(deps) };
  };

  before(async () => {
    redis = await startRedis();
    denying = await open({ url_policy: { deny: [DENIED] }, limits: { max_stream_urls: 3 } });
    privateDenied = await open({ url_policy: { deny_private: true } });
    const at = new AccessToken(TEST_API_KEY, TEST_API_SECRET, { ttl: 600 });
    at.addGrant({ roomRecord: true });
    auth = `Bearer ${await at.toJwt()}`;
    // Stand-ins for the refused hosts: an RTMP (TCP) and an SRT (UDP) port on DENIED and on this host.
    tcpPort = await freePort(DENIED);
    udpPort = await freeUdpPort(DENIED);
    for (const host of [DENIED, '127.0.0.1', '::1']) {
      const server = createServer((socket) => {
        heard += 1;
        socket.destroy();
      });
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(tcpPort, host, resolve));
      tcpListeners.push(server);
      const udp = createSocket(host === '::1' ? 'udp6' : 'udp4');
      udp.on('message', () => (heard += 1));
      await new Promise<void>((resolve, reject) => udp.once('error', reject).bind(udpPort, host, resolve));
      udpListeners.push(udp);
    }
  });
  after(async () => {
    for (const server of tcpListeners) server.close();
    for (const udp of udpListeners) udp.close();
    for (const api of [denying, privateDenied]) {
      await api?.app.close();
      await api?.deps.close();
    }
    await redis?.stop();
  });

  const call = (api: Api, method: string, body: unknown) =>
    api.app.inject({
      method: 'POST',
      url: `/twirp/livekit.Egress/${method}`,
      headers: { authorization: auth, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  /** Start requests carrying `url` in each place a stream or WebSocket URL goes, with the field each must name. */
  const startCases = (url: string, withPage: boolean): (readonly [string, unknown, string])[] => {
    const file = { filepath: 'out.mp4' };
    if (url.startsWith('ws')) {
      return [
        ['StartTrackEgress', { roomName: 'r', trackId: 'TR_x', websocketUrl: url }, 'websocket_url'],
        ['StartEgress', { roomName: 'r', media: { audio: { routes: [{ trackId: 'TR_x' }] } }, outputs: [{ stream: { urls: [url] } }] }, 'stream url'],
      ];
    }
    return [
      ['StartRoomCompositeEgress', { roomName: 'r', streamOutputs: [{ urls: [url] }] }, 'stream url'],
      // A page the policy allows (checked first) on a port nothing listens on; only without deny_private.
      ...(withPage
        ? ([['StartWebEgress', { url: 'http://127.0.0.1:9/', fileOutputs: [file], streamOutputs: [{ urls: [url] }] }, 'stream url']] as const)
        : []),
      ['StartEgress', { roomName: 'r', template: {}, outputs: [{ stream: { urls: [url] } }] }, 'stream url'],
    ];
  };

  const urlsAt = (host: string) => [
    `rtmp://${hostPart(host, tcpPort)}/live/good-key-1`,
    `rtmps://${hostPart(host, tcpPort)}/live/good-key-2`,
    `RTMP://${host}/live/good-key-3 live=1`,
    `srt://${hostPart(host, udpPort)}?streamid=good&passphrase=hunter2hunter2`,
    `ws://${hostPart(host, tcpPort)}/pcm?token=t`,
    `wss://${host}/pcm`,
  ];

  async function assertRefusedAtStart(api: Api, url: string, code: string): Promise<void> {
    for (const [method, body, field] of startCases(url, api === denying)) {
      const res = await call(api, method, body);
      const answer = res.json<{ code: string; msg: string; meta?: Record<string, string> }>();
      assert.equal(answer.code, code, `${method} ${url}: ${res.body}`);
      if (code === 'permission_denied') assert.ok(answer.msg.startsWith(`${field}: `), `${method} ${url} names ${field}: ${answer.msg}`);
      else assert.equal(answer.meta?.field, 'url', `${method} ${url}: ${res.body}`);
      assert.ok(!res.body.includes('hunter2'), 'the refusal shows no secret');
    }
  }

  /** A queued egress (no worker here) with an empty stream output of `protocol`, for UpdateStream. */
  async function streamingEgress(api: Api, protocol: 'RTMP' | 'SRT'): Promise<string> {
    const res = await call(api, 'StartRoomCompositeEgress', { roomName: 'r', fileOutputs: [{ filepath: 'out.mp4' }], streamOutputs: [{ protocol }] });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ egress_id: string }>().egress_id;
  }

  async function assertRefusedAtUpdate(api: Api, egressId: string, url: string, code: string): Promise<void> {
    const res = await call(api, 'UpdateStream', { egressId, addOutputUrls: [url] });
    const answer = res.json<{ code: string; msg: string; meta?: Record<string, string> }>();
    assert.equal(answer.code, code, `UpdateStream ${url}: ${res.body}`);
    if (code === 'permission_denied') assert.ok(answer.msg.startsWith('stream url: '), answer.msg);
    else assert.equal(answer.meta?.field, 'url');
  }

  const streamResults = async (api: Api, egressId: string) => (await api.deps.events.store.get(egressId))!.streamResults;

  test('refused hosts, in every form, at Start: permission_denied naming the field; nothing queued', async () => {
    for (const host of [...DENIED_FORMS, ...ALWAYS_DENIED_FORMS]) {
      for (const url of urlsAt(host)) await assertRefusedAtStart(denying, url, 'permission_denied');
    }
    for (const host of [...PRIVATE_FORMS, ...ALWAYS_DENIED_FORMS]) {
      for (const url of urlsAt(host)) await assertRefusedAtStart(privateDenied, url, 'permission_denied');
    }
    for (const trick of TRICKS) await assertRefusedAtStart(denying, trick.replace('HOST', `${DENIED}:${tcpPort}`), 'invalid_argument');
    for (const api of [denying, privateDenied]) assert.deepEqual((await call(api, 'ListEgress', {})).json().items ?? [], []);
    assert.equal(heard, 0, 'no listener standing in for a refused host heard anything');
  });

  test("the same hosts are fine where the policy allows them (the refusals are the policy's)", async () => {
    const res = await call(denying, 'StartRoomCompositeEgress', {
      roomName: 'r',
      streamOutputs: [{ urls: [`rtmp://127.0.0.1:${tcpPort}/live/good-key`] }],
    });
    assert.equal(res.statusCode, 200, res.body);
    await call(denying, 'StopEgress', { egressId: res.json().egress_id });
  });

  test('refused hosts, in every form, at UpdateStream: refused naming the field, the egress unchanged', async () => {
    const rtmpEgress = await streamingEgress(denying, 'RTMP');
    const srtEgress = await streamingEgress(denying, 'SRT');
    const privateRtmp = await streamingEgress(privateDenied, 'RTMP');
    const privateSrt = await streamingEgress(privateDenied, 'SRT');
    const pick = (urls: string[], scheme: string) => urls.filter((u) => u.toLowerCase().startsWith(scheme));
    for (const host of [...DENIED_FORMS, ...ALWAYS_DENIED_FORMS]) {
      for (const url of pick(urlsAt(host), 'rtmp')) await assertRefusedAtUpdate(denying, rtmpEgress, url, 'permission_denied');
      for (const url of pick(urlsAt(host), 'srt')) await assertRefusedAtUpdate(denying, srtEgress, url, 'permission_denied');
    }
    for (const host of PRIVATE_FORMS) {
      for (const url of pick(urlsAt(host), 'rtmp')) await assertRefusedAtUpdate(privateDenied, privateRtmp, url, 'permission_denied');
      for (const url of pick(urlsAt(host), 'srt')) await assertRefusedAtUpdate(privateDenied, privateSrt, url, 'permission_denied');
    }
    for (const trick of TRICKS.filter((t) => t.startsWith('rtmp')))
      await assertRefusedAtUpdate(denying, rtmpEgress, trick.replace('HOST', DENIED), 'invalid_argument');
    for (const [egressId, api] of [
      [rtmpEgress, denying],
      [srtEgress, denying],
      [privateRtmp, privateDenied],
      [privateSrt, privateDenied],
    ] as const) {
      assert.deepEqual(await streamResults(api, egressId), [], 'no stream was added');
      assert.deepEqual((await api.deps.secrets.get(egressId)).streams, [], 'no URL was sealed');
    }
    assert.equal(heard, 0);
  });

  test('SRT listener and rendezvous modes and unknown options are refused at Start and UpdateStream, naming url', async () => {
    const egressId = await streamingEgress(denying, 'SRT');
    for (const query of ['mode=listener', 'mode=rendezvous', 'mode=listener&passphrase=hunter2hunter2', 'localport=9000', 'smoother=live']) {
      const url = `srt://127.0.0.1:${udpPort}?${query}`;
      await assertRefusedAtStart(denying, url, 'invalid_argument');
      await assertRefusedAtUpdate(denying, egressId, url, 'invalid_argument');
    }
    assert.deepEqual(await streamResults(denying, egressId), []);
    assert.equal(heard, 0);
  });

  test('two URLs that redact alike are two streams; removing one removes exactly it; a look-alike is not found', async () => {
    const egressId = await streamingEgress(denying, 'RTMP');
    const url = (key: string) => `rtmp://127.0.0.1:${tcpPort}/live/${key}`;
    const [a, b, c] = [url('good-twin-1111-end'), url('good-twin-2222-end'), url('good-twin-3333-end')];
    assert.equal(redactStreamUrl(a), redactStreamUrl(b));
    const added = await call(denying, 'UpdateStream', { egressId, addOutputUrls: [a, b] });
    assert.equal(added.statusCode, 200, added.body);
    assert.deepEqual(
      (await streamResults(denying, egressId)).map((s) => [s.url, s.status]),
      [
        [redactStreamUrl(a), StreamInfo_Status.ACTIVE],
        [redactStreamUrl(b), StreamInfo_Status.ACTIVE],
      ],
    );
    const lookAlike = await call(denying, 'UpdateStream', { egressId, removeOutputUrls: [c] });
    assert.equal(lookAlike.json().code, 'not_found', lookAlike.body);
    assert.ok(!lookAlike.body.includes('3333'), 'the answer shows the key redacted');
    const removed = await call(denying, 'UpdateStream', { egressId, removeOutputUrls: [b] });
    assert.equal(removed.statusCode, 200, removed.body);
    assert.deepEqual(
      (await streamResults(denying, egressId)).map((s) => s.status),
      [StreamInfo_Status.ACTIVE, StreamInfo_Status.FINISHED],
    );
    // Removed once: a second removal finds nothing; the same URL written differently is the same stream.
    assert.equal((await call(denying, 'UpdateStream', { egressId, removeOutputUrls: [b] })).json().code, 'not_found');
    const sameA = `RTMP://127.0.0.1.:${tcpPort}/live/good-twin-1111-end live=1`;
    assert.equal((await call(denying, 'UpdateStream', { egressId, removeOutputUrls: [sameA] })).statusCode, 200);
    assert.deepEqual(
      (await streamResults(denying, egressId)).map((s) => s.status),
      [StreamInfo_Status.FINISHED, StreamInfo_Status.FINISHED],
    );
    // The sealed list and StreamInfo line up, entry by entry.
    const sealed = (await denying.deps.secrets.get(egressId)).streams;
    assert.deepEqual(
      sealed.map((s) => s.url),
      [a, b],
    );
    await call(denying, 'StopEgress', { egressId });
  });

  test('UpdateStream over max_stream_urls is refused naming add_output_urls, and changes nothing', async () => {
    const egressId = await streamingEgress(denying, 'RTMP');
    const url = (n: number) => `rtmp://127.0.0.1:${tcpPort}/live/good-${n}`;
    assert.equal((await call(denying, 'UpdateStream', { egressId, addOutputUrls: [url(1), url(2)] })).statusCode, 200);
    const over = await call(denying, 'UpdateStream', { egressId, addOutputUrls: [url(3), url(4)] });
    assert.equal(over.json().code, 'invalid_argument', over.body);
    assert.equal(over.json().meta?.field, 'add_output_urls');
    assert.equal((await streamResults(denying, egressId)).length, 2);
    assert.equal((await denying.deps.secrets.get(egressId)).streams.length, 2);
    // Swapping within the limit is fine: adds first, then removals, then the count.
    const swapped = await call(denying, 'UpdateStream', { egressId, addOutputUrls: [url(3), url(4)], removeOutputUrls: [url(1)] });
    assert.equal(swapped.statusCode, 200, swapped.body);
    assert.deepEqual(
      (await streamResults(denying, egressId)).map((s) => s.status),
      [StreamInfo_Status.FINISHED, StreamInfo_Status.ACTIVE, StreamInfo_Status.ACTIVE, StreamInfo_Status.ACTIVE],
    );
    await call(denying, 'StopEgress', { egressId });
  });

  test('lists longer than max_stream_urls are refused at once, before any URL is parsed or resolved', async () => {
    const egressId = await streamingEgress(denying, 'RTMP');
    // Names that would take a DNS lookup each if they were looked at.
    const many = Array.from({ length: 5000 }, (_, i) => `rtmp://stream-${i}.invalid/live/good-${i}`);
    for (const field of ['addOutputUrls', 'removeOutputUrls'] as const) {
      const res = await call(denying, 'UpdateStream', { egressId, [field]: many });
      assert.equal(res.json().code, 'invalid_argument', res.body);
      assert.equal(res.json().meta?.field, field === 'addOutputUrls' ? 'add_output_urls' : 'remove_output_urls');
    }
    const long = await call(denying, 'UpdateStream', { egressId, addOutputUrls: [`rtmp://127.0.0.1/live/${'k'.repeat(5000)}`] });
    assert.equal(long.json().meta?.field, 'add_output_urls[0]');
    assert.deepEqual(await streamResults(denying, egressId), []);
    await call(denying, 'StopEgress', { egressId });
  });

  test('concurrent UpdateStreams: every stream counted once, sealed list and StreamInfo in one order', async () => {
    const egressId = await streamingEgress(denying, 'RTMP');
    const url = (n: number) => `rtmp://127.0.0.1:${tcpPort}/live/good-race-${n}`;
    const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => call(denying, 'UpdateStream', { egressId, addOutputUrls: [url(n)] })));
    assert.equal(answers.filter((a) => a.statusCode === 200).length, 3, 'three fit, the others are refused');
    const sealed = (await denying.deps.secrets.get(egressId)).streams;
    const results = await streamResults(denying, egressId);
    assert.equal(sealed.length, 3);
    assert.deepEqual(
      results.map((s) => s.url),
      sealed.map((s) => s.redacted),
    );
    await call(denying, 'StopEgress', { egressId });
  });
});
