/**
 * The SDK path when its room connection is cut. The service reaches the LiveKit server through a TCP proxy
 * (test/support/stall-proxy.ts), so the recorder's signalling can be cut while the media (UDP, direct) and
 * the publisher are untouched.
 *  - A blip (every signalling connection cut once): rtc-node reconnects, the recording goes on, and it ends
 *    COMPLETE "Source closed" with the whole duration (LiveKit's egress fails on momentary disconnections:
 *    livekit/egress#210).
 *  - Lost for good (the LiveKit server killed: no leave, no room close): as LiveKit's egress does, FAILED
 *    "recording ended early: connection to room failed", and what was recorded until then is finalized and
 *    delivered: the file plays, with the participant's colour, for about as long as the server was up.
 * One LiveKit server for both (rtc-node cannot be set up again in a process after dispose()): the kill last.
 */
import { EgressStatus, EncodedFileOutput, EncodedFileType } from '@livekit/protocol';
import { dispose } from '@livekit/rtc-node';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { startLiveKitServer, type LiveKitServer } from '../support/livekit-server.ts';
import { startPublisher, type TestPublisher } from '../support/publisher.ts';
import { colourOver } from '../support/recording-checks.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { startStallProxy, type StallProxy } from '../support/stall-proxy.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('room connection cut', { concurrency: false }, () => {
  let livekit: LiveKitServer;
  let proxy: StallProxy;
  let service: TestService;
  let client: EgressClient;
  const publishers: TestPublisher[] = [];

  before(async () => {
    livekit = await startLiveKitServer({ apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET, departureTimeoutSec: 1, emptyTimeoutSec: 5 });
    proxy = await startStallProxy(Number(new URL(livekit.url).port));
    service = await startService({ ws_url: `ws://127.0.0.1:${proxy.port}` });
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  });
  after(async () => {
    await Promise.all(publishers.map((p) => p.leave().catch(() => undefined)));
    await dispose();
    await service?.stop();
    await proxy?.close();
    await livekit?.stop();
  });

  const publish = async (room: string, identity: string, colourIndex: number) => {
    const publisher = await startPublisher({ url: livekit.url, apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET, room, identity, colourIndex });
    publishers.push(publisher);
    return publisher;
  };

  test('participant egress: a signalling blip is ridden out, COMPLETE with the whole recording', async (t) => {
    const room = 'blip-main';
    const bea = await publish(room, 'bea', 3);
    const started = await client.startParticipantEgress(room, 'bea', {
      file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'cut/{room_name}.mp4' }),
    });
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 30_000);
    await sleep(4000);
    proxy.drop();
    await sleep(6000);
    assert.equal((await client.listEgress({ egressId: started.egressId }))[0]?.status, EgressStatus.EGRESS_ACTIVE, 'still recording after the blip');
    const leftAtMs = Date.now();
    await bea.leave();

    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 30_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(done.details, 'End reason: Source closed');
    const info = await probe(done.fileResults[0]!.location);
    const recordedSec = (leftAtMs - Number(active.startedAt / 1_000_000n)) / 1000;
    t.diagnostic(`${info.format.duration.toFixed(2)} s recorded of ${recordedSec.toFixed(2)} s, across the blip at 4 s`);
    assert.ok(Math.abs(info.format.duration - recordedSec) < 1.5, `${info.format.duration} s of ${recordedSec.toFixed(1)} s`);
    assert.equal(await colourOver(done.fileResults[0]!.location, recordedSec - 2), 'yellow', 'the participant after the blip');
  });

  test('participant egress: the LiveKit server killed → FAILED with the reason, the file recorded until then delivered', async (t) => {
    const room = 'lost-main';
    await publish(room, 'alice', 2);
    const started = await client.startParticipantEgress(room, 'alice', {
      file: new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath: 'cut/{room_name}.mp4' }),
    });
    const active = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 30_000);
    await sleep(6000);
    const killedAtMs = Date.now();
    livekit.kill();

    const done = await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 90_000);
    t.diagnostic(`ended ${EgressStatus[done.status]} ${((Date.now() - killedAtMs) / 1000).toFixed(1)} s after the kill: ${done.error}`);
    assert.equal(done.status, EgressStatus.EGRESS_FAILED);
    assert.match(done.error, /^recording ended early: connection to room failed/);
    assert.equal(done.errorCode, 503);

    const file = done.fileResults[0];
    assert.ok(file?.location, `the partial recording is delivered: ${JSON.stringify(done.fileResults)}`);
    const info = await probe(file.location);
    const recordedSec = (killedAtMs - Number(active.startedAt / 1_000_000n)) / 1000;
    assert.ok(
      info.format.duration >= recordedSec - 1.5,
      `plays ${info.format.duration} s of the ~${recordedSec.toFixed(1)} s recorded before the kill`,
    );
    assert.equal(info.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.equal(await colourOver(file.location, 3), 'blue', "alice's camera");
  });
});
