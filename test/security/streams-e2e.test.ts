/**
 * Streams through the whole service (web egress of a test page, real workers, nginx-rtmp): two URLs that
 * redact alike are two streams that both reach the server and are removed one by one; a look-alike is
 * not found; UpdateStream over the limit, or with 5,000 URLs, starts nothing; the copies' command lines
 * hold no stream key; and a worker whose url_policy refuses what the API let through (its config differs)
 * fails that stream at connect time while a loopback listener standing in for it hears nothing.
 */
import { EgressStatus, StreamInfo_Status, StreamOutput, StreamProtocol, type EgressInfo } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { redactStreamUrl } from '../../shared/redact.ts';
import { waitForStatus } from '../support/egress-waits.ts';
import { freePort } from '../support/free-port.ts';
import { startRtmpServer, type RtmpServer } from '../support/rtmp-server.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startTestPage } from '../support/test-page.ts';
import { waitFor } from '../support/wait-for.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const DENIED = '127.0.0.3';

/** The stream copies of an egress (ffmpeg reading the TS on stdin), with their command lines. */
async function streamCopies(egressId: string): Promise<string[][]> {
  const found: string[][] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      if (!environ.includes(`EGRESS_ID=${egressId}`)) continue;
      const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      if (args.includes('pipe:0') && args.includes('copy')) found.push(args);
    } catch {
      // It ended while we looked.
    }
  }
  return found;
}

const twirpError = async (promise: Promise<unknown>): Promise<{ code: string; message: string; field?: string }> => {
  try {
    await promise;
  } catch (err) {
    const e = err as { code?: string; message: string; metadata?: Record<string, string> };
    return { code: String(e.code), message: e.message, ...(e.metadata?.field ? { field: e.metadata.field } : {}) };
  }
  throw new Error('the call was expected to fail');
};

describe('streams through the service', { concurrency: false }, () => {
  let rtmp: RtmpServer;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let service: TestService;
  let client: EgressClient;

  before(async () => {
    rtmp = await startRtmpServer();
    page = await startTestPage();
    service = await startService({ limits: { max_stream_urls: 3 } });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await service?.stop();
    await page?.close();
    await rtmp?.stop();
  });

  const recordingsOf = async (key: string) => (await rtmp.recordings()).filter((path) => basename(path).startsWith(`${key}-`));
  const live = async (egressId: string): Promise<EgressInfo> => (await client.listEgress({ egressId }))[0]!;

  test('URLs that redact alike: both stream, each removed by its real URL; limits hold and start nothing; no key on a command line', async () => {
    const [a, b, c] = ['good-twin-1111-end', 'good-twin-2222-end', 'good-twin-3333-end'];
    assert.equal(redactStreamUrl(rtmp.url(a)), redactStreamUrl(rtmp.url(b)), 'the two URLs redact alike');
    const started = await client.startWebEgress(page.url, new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [rtmp.url(a), rtmp.url(b)] }));
    const { egressId } = started;
    await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE]);
    const both = await waitFor('both streams recorded', 30_000, async () => {
      const files = [...(await recordingsOf(a)), ...(await recordingsOf(b))];
      return files.length === 2 && files;
    });
    const info = await waitFor('both streams started', 10_000, async () => {
      const current = await live(egressId);
      return current.streamResults.every((s) => s.startedAt > 0n) && current;
    });
    assert.deepEqual(
      info.streamResults.map((s) => [s.url, s.status]),
      [
        [redactStreamUrl(rtmp.url(a)), StreamInfo_Status.ACTIVE],
        [redactStreamUrl(rtmp.url(b)), StreamInfo_Status.ACTIVE],
      ],
    );

    // What any local user could read: no key, no server.
    const copies = await streamCopies(egressId);
    assert.equal(copies.length, 2, JSON.stringify(copies));
    for (const args of copies)
      for (const secret of [a, b, 'twin', String(rtmp.port)]) assert.ok(!args.join(' ').includes(secret), `${secret} in ${args.join(' ')}`);

    // 5,000 URLs: refused at once, nothing started.
    const many = Array.from({ length: 5000 }, (_, i) => rtmp.url(`good-many-${i}`));
    const tooMany = await twirpError(client.updateStream(egressId, many));
    assert.equal(tooMany.code, 'invalid_argument');
    assert.match(tooMany.message, /add_output_urls/);
    // Over the limit (2 active + 2 > 3): refused, nothing changed.
    const over = await twirpError(client.updateStream(egressId, [rtmp.url('good-over-1'), rtmp.url('good-over-2')]));
    assert.equal(over.code, 'invalid_argument');
    assert.match(over.message, /add_output_urls/);
    assert.equal((await live(egressId)).streamResults.length, 2);
    // A look-alike of a running stream is not one of them.
    const lookAlike = await twirpError(client.updateStream(egressId, [], [rtmp.url(c)]));
    assert.equal(lookAlike.code, 'not_found');
    assert.ok(!lookAlike.message.includes('3333'), lookAlike.message);

    // An update that fits goes through; once its stream runs, the refused ones have had every chance to start.
    await client.updateStream(egressId, [rtmp.url('good-fits-1')]);
    await waitFor('the added stream recorded', 30_000, async () => (await recordingsOf('good-fits-1')).length === 1);
    assert.equal((await streamCopies(egressId)).length, 3, 'three copies: the refused updates started none');
    for (const key of ['good-over-1', 'good-over-2', 'good-many-0', 'good-many-4999'])
      assert.deepEqual(await recordingsOf(key), [], `${key} never reached the server`);

    // Removing b (by its real URL) stops exactly b.
    const afterRemove = await client.updateStream(egressId, [], [rtmp.url(b)]);
    assert.deepEqual(
      afterRemove.streamResults.map((s) => s.status),
      [StreamInfo_Status.ACTIVE, StreamInfo_Status.FINISHED, StreamInfo_Status.ACTIVE],
    );
    const [fileA, fileB] = [both.find((f) => basename(f).startsWith(a))!, both.find((f) => basename(f).startsWith(b))!];
    await waitFor('b to stop growing', 15_000, async () => (await streamCopies(egressId)).length === 2);
    const [sizeA, sizeB] = [(await stat(fileA)).size, (await stat(fileB)).size];
    await waitFor('a to keep growing', 10_000, async () => (await stat(fileA)).size > sizeA + 20_000);
    assert.equal((await stat(fileB)).size, sizeB, 'b is no longer sent');
    const now = await live(egressId);
    assert.deepEqual(
      now.streamResults.map((s) => s.status),
      [StreamInfo_Status.ACTIVE, StreamInfo_Status.FINISHED, StreamInfo_Status.ACTIVE],
    );

    await client.stopEgress(egressId);
    const done = await waitForStatus(client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.deepEqual(
      done.streamResults.map((s) => s.status),
      [StreamInfo_Status.FINISHED, StreamInfo_Status.FINISHED, StreamInfo_Status.FINISHED],
    );
  });
});

describe('a worker whose url_policy refuses what the API allowed', { concurrency: false }, () => {
  let rtmp: RtmpServer;
  let page: Awaited<ReturnType<typeof startTestPage>>;
  let service: TestService;
  let client: EgressClient;
  let worker: ChildProcess;
  let decoy: Server;
  let decoyPort: number;
  let heard = 0;

  before(async () => {
    rtmp = await startRtmpServer();
    page = await startTestPage();
    // The API (in this process) allows everything on loopback; the recording worker is a process of its own
    // whose config denies DENIED, as after an operator tightened the policy on the workers only.
    service = await startService({ pools: ['upload', 'webhook'] });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    // shutdown_grace 1: stopped at the end, the worker waits for nothing.
    const body = { ...(parse(service.env.EGRESS_CONFIG_BODY!) as Record<string, unknown>), url_policy: { deny: [DENIED] }, shutdown_grace: 1 };
    worker = spawn(process.execPath, ['workers/main.ts'], {
      cwd: REPO,
      env: { ...process.env, ...service.env, EGRESS_CONFIG_BODY: stringify(body), EGRESS_POOLS: 'room-composite' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    decoyPort = await freePort(DENIED);
    decoy = createServer((socket) => {
      heard += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => decoy.listen(decoyPort, DENIED, resolve));
  });
  after(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGTERM');
      // It drains (shutdown_grace 1 s); one that does not is not left behind.
      if (!(await Promise.race([exited.then(() => true), sleep(20_000, false)]))) {
        worker.kill('SIGKILL');
        await exited;
      }
    }
    decoy?.close();
    await service?.stop();
    await page?.close();
    await rtmp?.stop();
  });

  test('the stream to the refused address fails at connect time with the reason; the good one streams; nothing reaches the decoy', async () => {
    const refused = `rtmp://${DENIED}:${decoyPort}/live/good-late-refusal`;
    const started = await client.startWebEgress(
      page.url,
      new StreamOutput({ protocol: StreamProtocol.RTMP, urls: [refused, rtmp.url('good-late-ok')] }),
    );
    const { egressId } = started;
    await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
    const failed = await waitFor('the refused stream to fail', 30_000, async () => {
      const [info] = await client.listEgress({ egressId });
      const first = info?.streamResults[0];
      return first?.status === StreamInfo_Status.FAILED && info;
    });
    assert.match(failed.streamResults[0]!.error, /stream url: 127\.0\.0\.3 is not allowed \(in url_policy\.deny\)/);
    assert.equal(failed.streamResults[0]!.url, redactStreamUrl(refused));
    // Added later by UpdateStream: refused there too, by the same worker.
    await client.updateStream(egressId, [`rtmp://${DENIED}:${decoyPort}/live/good-late-added`]);
    await waitFor(
      'the added stream to fail',
      30_000,
      async () => (await client.listEgress({ egressId }))[0]?.streamResults[2]?.status === StreamInfo_Status.FAILED,
    );
    await waitFor('the good stream recorded', 30_000, async () => (await rtmp.recordings()).some((f) => basename(f).startsWith('good-late-ok-')));
    const [info] = await client.listEgress({ egressId });
    assert.equal(info!.status, EgressStatus.EGRESS_ACTIVE, 'the egress goes on with the good stream');
    assert.equal(info!.streamResults[1]!.status, StreamInfo_Status.ACTIVE);
    await client.stopEgress(egressId);
    await waitForStatus(client, egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
    assert.equal(heard, 0, 'the refused address heard nothing');
  });
});
