/**
 * WebRTC in the recording browser, through the real service: UDP never goes through an HTTP proxy, so
 * url_policy cannot apply to it. With url_policy.webrtc_udp true (the default) a page's STUN binding request
 * reaches a UDP listener on 127.0.0.5 although url_policy.deny names that address; with false Chromium runs
 * with --webrtc-ip-handling-policy=disable_non_proxied_udp and sends no UDP at all. In both, WebRTC's TCP
 * (TURN over TCP) goes through the policy proxy as CONNECT: it reaches an allowed TURN host (127.0.0.7) and
 * never a denied one (127.0.0.3).
 */
import { EgressStatus, EncodedFileOutput } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { waitForStatus } from '../support/egress-waits.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService } from '../support/service.ts';
import { startSite, startUdpTrap, type Site, type UdpTrap } from './browser-sites.ts';

const ENDED = [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED];
const STUN_BINDING_REQUEST = 0x0001;
const STUN_MAGIC_COOKIE = 0x2112a442;

/** A TCP listener standing in for a TURN server: counts connections and hangs up, so ICE gathering ends soon. */
async function turnTrap(host: string): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.on('error', () => undefined);
    socket.once('data', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

describe('WebRTC and url_policy', { concurrency: false }, () => {
  let origin: Site;
  let stun: UdpTrap;
  let allowedTurn: Awaited<ReturnType<typeof turnTrap>>;
  let deniedTurn: Awaited<ReturnType<typeof turnTrap>>;

  before(async () => {
    origin = await startSite('127.0.0.2');
    stun = await startUdpTrap('127.0.0.5');
    allowedTurn = await turnTrap('127.0.0.7');
    deniedTurn = await turnTrap('127.0.0.3');
    origin.page(
      '/peer',
      `<!doctype html><body style="background:#426"><script>
        const pc = new RTCPeerConnection({ iceServers: [
          { urls: 'stun:127.0.0.5:${stun.port}' },
          { urls: 'turn:127.0.0.7:${allowedTurn.port}?transport=tcp', username: 'u', credential: 'p' },
          { urls: 'turn:127.0.0.3:${deniedTurn.port}?transport=tcp', username: 'u', credential: 'p' },
        ] });
        pc.createDataChannel('probe');
        pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') fetch('/gathered?' + new URLSearchParams(location.search)); };
        pc.createOffer().then((offer) => pc.setLocalDescription(offer));
      </script>`,
    );
  });
  after(async () => {
    await origin?.close();
    await stun?.close();
    allowedTurn?.server.close();
    deniedTurn?.server.close();
  });

  /** Records the page on a service with this webrtc_udp until ICE gathering is over (or, with UDP, a STUN request came). */
  async function recordPeer(webrtcUdp: boolean): Promise<void> {
    const service = await startService({ url_policy: { deny: ['127.0.0.3', '127.0.0.5'], webrtc_udp: webrtcUdp } });
    try {
      const client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
      const run = `udp=${webrtcUdp}`;
      const { egressId } = await client.startWebEgress(
        `${origin.origin}/peer?${run}`,
        new EncodedFileOutput({ filepath: `webrtc-${webrtcUdp}.mp4` }),
      );
      const active = await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 60_000);
      assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
      const deadline = Date.now() + 60_000;
      // UDP on: STUN goes out at once but gathering waits for its retransmissions to time out; the request is proof enough.
      while (!origin.hits.some((h) => h.url === `/gathered?${run}`) && !(webrtcUdp && stun.datagrams.length > 0)) {
        if (Date.now() > deadline) throw new Error(`ICE gathering did not end (udp ${webrtcUdp})`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await client.stopEgress(egressId);
      const done = await waitForStatus(client, egressId, ENDED, 60_000);
      assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    } finally {
      await service.stop();
    }
  }

  test('webrtc_udp false: no UDP at all (a STUN server on a loopback address gets nothing); TURN over TCP through the proxy', async () => {
    const turnBefore = allowedTurn.connections();
    await recordPeer(false);
    assert.equal(stun.datagrams.length, 0, 'no STUN request');
    assert.ok(allowedTurn.connections() > turnBefore, 'TURN over TCP reached the allowed host through the proxy');
    assert.equal(deniedTurn.connections(), 0, 'and not the denied one');
  });

  test('webrtc_udp true: a STUN binding request reaches a UDP listener although url_policy.deny names its address (UDP is not proxied)', async () => {
    await recordPeer(true);
    const request = stun.datagrams.find(
      (d) => d.length >= 20 && d.readUInt16BE(0) === STUN_BINDING_REQUEST && d.readUInt32BE(4) === STUN_MAGIC_COOKIE,
    );
    assert.ok(request, `a STUN binding request among ${stun.datagrams.length} datagrams`);
    assert.equal(deniedTurn.connections(), 0, 'WebRTC TCP to a denied host is still refused');
  });
});
