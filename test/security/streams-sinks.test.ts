/**
 * Stream outputs at connect time: every attempt (the first and each retry) resolves the host once, checks
 * every address against url_policy and connects only to a checked one; a refusal fails the stream at once
 * (StreamInfo FAILED with the reason) and the loopback listener standing in for the refused address hears
 * nothing. Names resolve through an injected resolver (what a DNS server would answer, rebinding included).
 * RTMP(S) leaves ffmpeg's command line without key or server (our publisher carries them), RTMPS is pinned
 * and still sends SNI and checks the certificate; SRT keeps only its documented options there.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { resolveStreamUrl } from '../../api/validate/stream-url.ts';
import type { Resolver, UrlPolicy } from '../../shared/url-policy.ts';
import { Supervisor, type SupervisedProcess } from '../../workers/process/processes.ts';
import { StreamFanout, type SinkProtocol, type StreamFanoutOptions, type StreamState } from '../../workers/streams/stream-fanout.ts';
import { freeUdpPort } from '../support/free-port.ts';
import { startRtmpServer, type RtmpServer } from '../support/rtmp-server.ts';
import { startSrtListener } from '../support/srt-listener.ts';
import { startStallProxy } from '../support/stall-proxy.ts';
import { startTlsTerminator } from '../support/tls-terminator.ts';
import { WebSocketServer } from 'ws';
import { EgressError } from '../../shared/errors.ts';
import { dialWebSocket } from '../../workers/track/websocket-dial.ts';
import { EgressInfo, EgressStatus, StreamInfo, StreamInfo_Status } from '@livekit/protocol';
import { sealStream } from '../../shared/egress-secrets.ts';
import { StreamsOutput } from '../../workers/outputs/streams-output.ts';
import { createApiDeps, type TestApiDeps } from '../support/api-deps.ts';
import { webPlan } from '../support/plans.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { startLiveSource } from '../support/live-source.ts';
import { waitFor } from '../support/wait-for.ts';

const DENIED = '127.0.0.3';
const DENY: UrlPolicy = { allow: [], deny: [DENIED], denyPrivate: false };
const logLines: string[] = [];
const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
const TAG = { EGRESS_ID: `EG_streams_sinks_${randomUUID()}` };
const supervisor = new Supervisor(log, TAG);
let sources: SupervisedProcess[] = [];

function startSource(seconds: number): SupervisedProcess {
  const source = startLiveSource(supervisor, seconds);
  sources.push(source);
  return source;
}

/** A resolver answering from a table, counting the questions, as a DNS server under test control would. */
function resolverOf(answers: (host: string, asked: number) => string[]): Resolver & { asked: number } {
  const resolver = Object.assign(
    async (host: string) => {
      resolver.asked += 1;
      const found = answers(host, resolver.asked);
      if (found.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return found;
    },
    { asked: 0 },
  );
  return resolver;
}

function newFanout(options: Partial<StreamFanoutOptions>): StreamFanout {
  return new StreamFanout({ ffmpegPath: 'ffmpeg', supervisor, log, urlPolicy: DENY, ...options });
}

/** Adds `url` (validated and rebuilt as the API does) and returns a reader of its state. */
function add(fanout: StreamFanout, url: string): () => StreamState {
  const protocol: SinkProtocol = url.startsWith('srt') ? 'srt' : 'rtmp';
  const target = resolveStreamUrl(url, protocol);
  const index = fanout.states().length;
  fanout.add({ id: target.id, url: target.url, redactedUrl: target.redacted, protocol });
  return () => fanout.states()[index]!;
}

const failed = (state: () => StreamState, timeoutMs = 10_000) =>
  waitFor(`${state().url} to fail`, timeoutMs, () => state().status === 'failed' && state());
const connected = (state: () => StreamState, timeoutMs = 10_000) =>
  waitFor(`${state().url} to connect`, timeoutMs, () => state().connected && state());

/** Command lines of this file's stream copies (ffmpeg reading the TS on stdin), NUL-separated args. */
async function copyCommandLines(): Promise<string[][]> {
  const found: string[][] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      if (!environ.includes(`EGRESS_ID=${TAG.EGRESS_ID}`)) continue;
      const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      if (args.includes('pipe:0')) found.push(args);
    } catch {
      // It ended while we looked.
    }
  }
  return found;
}

describe('stream outputs at connect time', { concurrency: false }, () => {
  let server: RtmpServer;
  let tcpListener: Server;
  let udpListener: UdpSocket;
  let heard = 0;
  let cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = <T extends { stop(): Promise<unknown> } | { close(): Promise<unknown> }>(thing: T): T => {
    cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
    return thing;
  };
  /** The listener standing in for DENIED takes TCP on `port` (RTMP) and UDP on `udpPort` (SRT). */
  let port: number;
  let udpPort: number;

  before(async () => {
    server = await startRtmpServer();
    // The refused address gets the RTMP server's own port: a stream that slipped through would land here.
    port = server.port;
    tcpListener = createServer((socket) => {
      heard += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => tcpListener.once('error', reject).listen(port, DENIED, resolve));
    udpPort = await freeUdpPort(DENIED);
    udpListener = createSocket('udp4');
    udpListener.on('message', () => (heard += 1));
    await new Promise<void>((resolve) => udpListener.bind(udpPort, DENIED, resolve));
  });
  afterEach(async () => {
    for (const done of cleanups.reverse()) await done();
    cleanups = [];
    await Promise.all(sources.map((source) => source.kill()));
    sources = [];
    await supervisor.killAll();
  });
  after(async () => {
    tcpListener?.close();
    udpListener?.close();
    await server?.stop();
  });

  test('a name that resolves to a refused address at connect time: FAILED with the reason, at once, nothing sent', async () => {
    const source = startSource(30);
    const resolve = resolverOf((host) => (host.endsWith('.ingest.test') ? [DENIED] : []));
    const fanout = cleanup(newFanout({ resolve }));
    const rtmp = add(fanout, `rtmp://a.ingest.test:${port}/live/good-rebind-1`);
    const rtmps = add(fanout, `rtmps://b.ingest.test:${port}/live/good-rebind-2`);
    const srt = add(fanout, `srt://c.ingest.test:${udpPort}?streamid=good&passphrase=hunter2hunter2`);
    fanout.attach(source.child.stdout!);
    for (const [state, host] of [
      [rtmp, 'a.ingest.test'],
      [rtmps, 'b.ingest.test'],
      [srt, 'c.ingest.test'],
    ] as const) {
      const done = await failed(state);
      assert.equal(done.retries, 0, 'a refusal is never retried');
      assert.match(
        done.error!,
        new RegExp(`stream url: ${host.replaceAll('.', '\\.')} is not allowed \\(it resolves to 127\\.0\\.0\\.3: in url_policy\\.deny\\)`),
      );
      assert.ok(done.error!.startsWith(`stream ${done.url} failed`), done.error);
    }
    assert.deepEqual(await fanout.allStopped.then((s) => s.reason), 'failed');
    assert.deepEqual(await copyCommandLines(), [], 'no copy process was started for a refused destination');
    assert.equal(heard, 0, 'the refused address heard nothing');
  });

  test("one refused address among a name's addresses refuses the name (no picking the good one)", async () => {
    const source = startSource(30);
    const resolve = resolverOf(() => ['127.0.0.1', DENIED]);
    const fanout = cleanup(newFanout({ resolve }));
    const state = add(fanout, `rtmp://mixed.ingest.test:${port}/live/good-mixed`);
    fanout.attach(source.child.stdout!);
    assert.match((await failed(state)).error!, /resolves to 127\.0\.0\.3/);
    assert.deepEqual(await server.recordings().then((files) => files.filter((f) => f.includes('good-mixed'))), []);
    assert.equal(heard, 0);
  });

  test('every retry checks again: a name that turns to a refused address between attempts fails the stream there', async () => {
    const source = startSource(60);
    const proxy = cleanup(await startStallProxy(server.port));
    // The refused address listens on the proxy's port too.
    const decoy = createServer((socket) => {
      heard += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => decoy.listen(proxy.port, DENIED, resolve));
    cleanups.push(() => new Promise((resolve) => decoy.close(resolve)));
    // First answer: the real server; every later one: the refused address (DNS rebinding).
    const resolve = resolverOf((_host, asked) => (asked === 1 ? ['127.0.0.1'] : [DENIED]));
    const fanout = cleanup(newFanout({ resolve }));
    const state = add(fanout, `rtmp://flip.ingest.test:${proxy.port}/live/good-flip`);
    fanout.attach(source.child.stdout!);
    await connected(state);
    proxy.drop();
    const done = await failed(state, 20_000);
    assert.equal(done.retries, 1, 'it was retried once, and that retry was refused');
    assert.match(done.error!, /flip\.ingest\.test is not allowed \(it resolves to 127\.0\.0\.3/);
    assert.equal(resolve.asked, 2, 'resolved at each attempt');
    assert.equal(heard, 0, 'the refused address heard nothing');
  });

  test('a name that does not resolve: the first attempt fails, saying so', async () => {
    const source = startSource(30);
    const fanout = cleanup(newFanout({ resolve: resolverOf(() => []) }));
    const state = add(fanout, `rtmp://nowhere.ingest.test:${port}/live/good-nowhere`);
    fanout.attach(source.child.stdout!);
    assert.match((await failed(state)).error!, /cannot resolve nowhere\.ingest\.test/);
  });

  test('RTMP: neither the stream key nor the server is on any command line; SRT keeps only its options there', async () => {
    const listener = cleanup(await startSrtListener());
    const source = startSource(30);
    const resolve = resolverOf((host) => (host === 'live.ingest.test' ? ['127.0.0.1'] : []));
    const fanout = cleanup(newFanout({ resolve }));
    const rtmpKey = 'good-cmdline-0f9e8d7c6b5a';
    const rtmp = add(fanout, `rtmp://live.ingest.test:${server.port}/live/${rtmpKey}`);
    const srtPort = new URL(listener.url).port;
    const srt = add(fanout, `srt://127.0.0.1:${srtPort}?streamid=good-sid-4d3c2b1a&latency=200`);
    fanout.attach(source.child.stdout!);
    await connected(rtmp);
    await connected(srt);
    const lines = await copyCommandLines();
    assert.equal(lines.length, 2, `two copies: ${JSON.stringify(lines)}`);
    const [srtArgs] = lines.filter((args) => args.some((a) => a.startsWith('srt://')));
    const [rtmpArgs] = lines.filter((args) => !args.some((a) => a.startsWith('srt://')));
    assert.ok(srtArgs && rtmpArgs);
    const rtmpLine = rtmpArgs.join(' ');
    for (const secret of [rtmpKey, 'live.ingest.test', String(server.port), 'rtmp'])
      assert.ok(!rtmpLine.includes(secret), `${secret} not in: ${rtmpLine}`);
    assert.equal(rtmpArgs.at(-1), 'pipe:1', 'FLV goes to our publisher');
    // SRT: the address (checked) as the URL, no query; the stream id and latency as options we built.
    assert.equal(srtArgs.at(-1), `srt://127.0.0.1:${srtPort}`);
    assert.deepEqual(srtArgs.slice(srtArgs.indexOf('-mode'), -1), ['-mode', 'caller', '-srt_streamid', 'good-sid-4d3c2b1a', '-latency', '200000']);
    assert.equal((await server.recordings()).filter((f) => f.includes(rtmpKey)).length, 1, 'the server took the stream under its key');
  });

  test('RTMPS: connected to the checked address, SNI and certificate check on the name', async () => {
    const source = startSource(30);
    const tls = cleanup(await startTlsTerminator(server.port, 'secure.ingest.test'));
    const other = cleanup(await startTlsTerminator(server.port, 'other.ingest.test'));
    const resolve = resolverOf((host) => (host.endsWith('.ingest.test') ? ['127.0.0.1'] : []));
    const trusting = cleanup(newFanout({ resolve, tlsCa: [tls.cert, other.cert] }));
    const good = add(trusting, `rtmps://secure.ingest.test:${tls.port}/live/good-tls-key`);
    // A certificate for another name than the URL's: refused even though it is trusted.
    const wrongName = add(trusting, `rtmps://secure.ingest.test:${other.port}/live/good-tls-wrong`);
    const distrusting = cleanup(newFanout({ resolve }));
    const untrusted = add(distrusting, `rtmps://secure.ingest.test:${tls.port}/live/good-tls-untrusted`);
    trusting.attach(source.child.stdout!);
    distrusting.attach(source.child.stdout!);
    await connected(good);
    assert.equal((await server.recordings()).filter((f) => f.includes('good-tls-key')).length, 1);
    assert.ok(tls.serverNames.includes('secure.ingest.test'), `SNI sent: ${JSON.stringify(tls.serverNames)}`);
    assert.match((await failed(wrongName)).error!, /altnames|Hostname\/IP does not match/i);
    assert.match((await failed(untrusted)).error!, /self[- ]signed|unable to verify|certificate/i);
    for (const key of ['good-tls-wrong', 'good-tls-untrusted'])
      assert.deepEqual(
        (await server.recordings()).filter((f) => f.includes(key)),
        [],
      );
  });

  test('no log line holds a stream key, a passphrase or a stream id', () => {
    assert.ok(logLines.length > 10);
    for (const secret of ['good-cmdline-0f9e8d7c6b5a', 'good-sid-4d3c2b1a', 'hunter2hunter2', 'good-rebind-1', 'good-flip', 'good-tls-key']) {
      assert.deepEqual(
        logLines.filter((line) => line.includes(secret)),
        [],
        secret,
      );
    }
  });
});

describe('WebSocket outputs at connect time', () => {
  let wss: WebSocketServer;
  let decoy: Server;
  let port: number;
  let heard = 0;
  const hosts: (string | undefined)[] = [];

  before(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    port = (wss.address() as { port: number }).port;
    wss.on('connection', (socket, request) => {
      hosts.push(request.headers.host);
      socket.close();
    });
    decoy = createServer((socket) => {
      heard += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => decoy.listen(port, DENIED, resolve));
  });
  after(async () => {
    decoy?.close();
    await new Promise((resolve) => wss?.close(resolve));
  });

  const refused = (err: unknown) =>
    err instanceof EgressError && err.code === 'EGR_ERR_PERMISSION_DENIED' && err.message.startsWith('websocket_url: ');

  test('a refused address, written any way or resolved from a name, is never connected to', async () => {
    for (const host of [DENIED, '2130706435', '0x7f.0.0.3', `[::ffff:${DENIED}]`, `${DENIED}.`]) {
      await assert.rejects(dialWebSocket(`ws://${host}:${port}/pcm?token=secret-token`, DENY), refused, host);
    }
    await assert.rejects(
      dialWebSocket(
        `ws://pcm.ingest.test:${port}/pcm`,
        DENY,
        resolverOf(() => [DENIED]),
      ),
      refused,
    );
    await assert.rejects(
      dialWebSocket(
        `wss://pcm.ingest.test:${port}/pcm`,
        DENY,
        resolverOf(() => ['127.0.0.1', DENIED]),
      ),
      refused,
    );
    assert.equal(heard, 0);
  });

  test('a name connects to the address it was checked as (pinned), with its own Host header', async () => {
    const socket = await dialWebSocket(
      `ws://pcm.ingest.test:${port}/pcm`,
      DENY,
      resolverOf((host) => (host === 'pcm.ingest.test' ? ['127.0.0.1'] : [])),
    );
    await new Promise((resolve) => socket.once('close', resolve));
    assert.deepEqual(hosts, [`pcm.ingest.test:${port}`]);
    assert.equal(heard, 0);
  });
});

describe('a worker picking up an egress reads the stream mapping from Redis', { concurrency: false }, () => {
  let redis: RedisServer;
  let deps: TestApiDeps;
  let server: RtmpServer;

  before(async () => {
    redis = await startRedis();
    deps = createApiDeps(redis.url);
    server = await startRtmpServer();
  });
  after(async () => {
    await supervisor.killAll();
    await server?.stop();
    await deps?.close();
    await redis?.stop();
  });

  test('sealed stream i is StreamInfo i: twins that redact alike start, a removed one stays stopped, a later one gets its entry', async () => {
    const plan = webPlan({ url: 'http://127.0.0.1:9/', file: false, stream: true });
    const { egressId } = plan;
    const [a, b, c] = ['good-resume-1111-end', 'good-resume-2222-end', 'good-resume-3333-end'].map((key) =>
      resolveStreamUrl(server.url(key), 'rtmp'),
    );
    assert.equal(a!.redacted, b!.redacted);
    assert.equal(a!.redacted, c!.redacted);
    // As the API left it: b removed (FINISHED) while no worker ran; c sealed, its entry not written yet.
    await deps.secrets.put(egressId, { streamProtocol: 'rtmp', streams: [a!, b!, c!].map(sealStream) });
    await deps.events.create(
      new EgressInfo({
        egressId,
        status: EgressStatus.EGRESS_ACTIVE,
        streamResults: [
          new StreamInfo({ url: a!.redacted, status: StreamInfo_Status.ACTIVE }),
          new StreamInfo({ url: b!.redacted, status: StreamInfo_Status.FINISHED }),
        ],
      }),
      [],
    );
    const source = startSource(60);
    const output = new StreamsOutput(deps, plan, supervisor, log);
    await output.start(source.child.stdout!);
    const byId = () => new Map(output.fanout.states().map((state) => [state.id, state]));
    assert.deepEqual([...byId().keys()].sort(), ['stream-0', 'stream-2'], 'a and c run; b stays removed');
    const results = async () => (await deps.events.store.get(egressId))!.streamResults;
    await waitFor('a and c to start', 15_000, async () => {
      const r = await results();
      return r.length === 3 && r[0]!.startedAt > 0n && r[2]!.startedAt > 0n && r;
    });
    assert.equal((await results())[1]!.status, StreamInfo_Status.FINISHED);
    const keysReceived = async () => (await server.recordings()).map((path) => path.split('/').pop()!);
    assert.ok((await keysReceived()).some((name) => name.startsWith('good-resume-1111-end')));
    assert.ok((await keysReceived()).some((name) => name.startsWith('good-resume-3333-end')));
    assert.ok(!(await keysReceived()).some((name) => name.startsWith('good-resume-2222-end')));

    // The API removes a (entry 0); the worker applies it: exactly a stops, c goes on.
    await deps.events.update(egressId, (info) => void (info.streamResults[0]!.status = StreamInfo_Status.FINISHED));
    await output.apply();
    assert.equal(byId().get('stream-0')!.status, 'finished');
    assert.equal(byId().get('stream-2')!.status, 'active');
    // A late report of a removed stream never makes it ACTIVE again.
    assert.equal((await results())[0]!.status, StreamInfo_Status.FINISHED);
    await output.stop();
    assert.deepEqual(
      (await results()).map((r) => r.status),
      [StreamInfo_Status.FINISHED, StreamInfo_Status.FINISHED, StreamInfo_Status.FINISHED],
    );
    await source.kill();
  });
});
