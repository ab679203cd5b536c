/**
 * url_policy on every connection of the recording browser, through the real service and real Chromium:
 * pages on 127.0.0.2, an allowed host on 127.0.0.4, a denied one on 127.0.0.3 (url_policy.deny) and the
 * operator's LiveKit server (ws_url) on 127.0.0.6, also in url_policy.deny, which only templates may reach.
 *
 * - A main document that lands on a denied host (redirect chains of every status, https, meta refresh; and
 *   after the recording started: location.href, location.replace, meta refresh, a form submission) ends the
 *   egress FAILED, 403, naming the field and the host.
 * - Whatever else the page loads from a denied host (frames, images, scripts, CSS, fetch, XHR, WebSocket,
 *   beacons, EventSource, service workers, prefetch, WebTransport, popups) is refused and logged with the
 *   egress id, while the recording goes on to COMPLETE; each kind is loaded from the allowed host too, after
 *   the denied attempt where the page can tell, and must arrive there (so the test can fail).
 * - A custom template: redirected to a denied host → FAILED naming custom_base_url; it may reach the
 *   LiveKit host (an exemption a web egress does not get) but not other denied hosts.
 * The denied listeners must have received nothing, checked once Chromium is gone.
 */
import { EgressStatus, EncodedFileOutput, type EgressInfo } from '@livekit/protocol';
import { EgressClient } from 'livekit-server-sdk';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { waitForStatus } from '../support/egress-waits.ts';
import { probe } from '../support/ffprobe.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from '../support/service.ts';
import { LogLines, startSite, startUdpTrap, type Site, type UdpTrap } from './browser-sites.ts';

const ENDED = [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED, EgressStatus.EGRESS_LIMIT_REACHED];

describe('url_policy in the recording browser', { concurrency: false }, () => {
  let service: TestService;
  let client: EgressClient;
  let origin: Site;
  let allowed: Site;
  let denied: Site;
  let deniedUdp: UdpTrap;
  let livekitHost: Site;
  const logs = new LogLines();
  /** Long polls of pages that navigate later, by case: answered with the URL to go to. */
  const held = new Map<string, ServerResponse>();

  before(async () => {
    origin = await startSite('127.0.0.2');
    allowed = await startSite('127.0.0.4');
    denied = await startSite('127.0.0.3');
    // WebTransport is QUIC (UDP) to the same host and port.
    deniedUdp = await startUdpTrap('127.0.0.3', denied.port);
    livekitHost = await startSite('127.0.0.6');
    service = await startService(
      { ws_url: `ws://127.0.0.6:${livekitHost.port}`, url_policy: { deny: ['127.0.0.3', '127.0.0.6'] }, start_signal_timeout: 20 },
      { logDestination: logs },
    );
    client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
    servePages();
  });
  after(async () => {
    for (const res of held.values()) res.destroy();
    await service?.stop();
    await Promise.all([origin, allowed, denied, livekitHost].map((site) => site?.close()));
    await deniedUdp?.close();
  });

  function servePages(): void {
    const D = denied.origin;
    const redirect = (path: string, status: number, location: string) =>
      origin.route(path, (_req, res) => {
        res.writeHead(status, { location });
        res.end();
      });
    redirect('/r/302', 302, `${D}/302`);
    redirect('/r/302-302', 302, '/r/302');
    redirect('/r/301', 301, '/r/303');
    redirect('/r/303', 303, '/r/307');
    redirect('/r/307', 307, '/r/308');
    redirect('/r/308', 308, `${D}/308`);
    redirect('/r/https', 302, `https://${denied.host}:${denied.port}/https`);
    origin.page('/meta', `<!doctype html><meta http-equiv="refresh" content="0;url=${D}/meta"><p>moving on`);
    // Navigates once the test answers /go (after ACTIVE), the way it is told.
    origin.page(
      '/later',
      `<!doctype html><body style="background:#246"><script>
        const how = new URLSearchParams(location.search).get('how');
        fetch('/go?how=' + how).then((r) => r.text()).then((to) => {
          if (how === 'href') location.href = to;
          if (how === 'replace') location.replace(to);
          if (how === 'meta') { const m = document.createElement('meta'); m.httpEquiv = 'refresh'; m.content = '0;url=' + to; document.head.append(m); }
          if (how === 'form') { const f = document.createElement('form'); f.method = 'POST'; f.action = to; document.body.append(f); f.submit(); }
        });
      </script>`,
    );
    origin.route('/go', (req, res) => void held.set(new URL(req.url!, 'http://x').searchParams.get('how')!, res));
    origin.page('/subresources', subresourcesPage());
    origin.route('/sw.js', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
      res.end(
        `self.addEventListener('install', (e) => e.waitUntil(fetch('${D}/sw', { mode: 'no-cors' }).catch(() => undefined).then(() => fetch('${allowed.origin}/sw', { mode: 'no-cors' }))));`,
      );
    });
    origin.page('/self-navigating-frame', `<!doctype html><script>location.href = '${D}/frame-navigation';</script>`);
    origin.page(
      '/template',
      `<!doctype html><body style="background:#462"><script>
        fetch('${livekitHost.origin}/from-template', { mode: 'no-cors' })
          .then(() => fetch('${D}/from-template', { mode: 'no-cors' })).catch(() => undefined)
          .then(() => fetch('${allowed.origin}/template-done', { mode: 'no-cors' }))
          .then(() => console.log('START_RECORDING'));
      </script>`,
    );
  }

  /** Every kind of subresource, from the denied host first and then (where the page can tell the first is over) the allowed one. */
  function subresourcesPage(): string {
    const D = denied.origin;
    const A = allowed.origin;
    return `<!doctype html><html><head>
      <link rel="prefetch" href="${D}/prefetch"><link rel="prefetch" href="${A}/prefetch">
      <style>.box { width: 40px; height: 40px; } #d { background: url(${D}/css-url); } #a { background: url(${A}/css-url); }</style>
      </head><body style="background:#264"><div id="d" class="box"></div><div id="a" class="box"></div><script>
      const D = ${JSON.stringify(D)}, A = ${JSON.stringify(A)};
      const DH = ${JSON.stringify(`${denied.host}:${denied.port}`)}, AH = ${JSON.stringify(`${allowed.host}:${allowed.port}`)};
      const LK = ${JSON.stringify(livekitHost.origin)};
      const settle = (p) => Promise.resolve().then(p).catch(() => undefined);
      const pair = (first, second) => settle(first).then(() => settle(second));
      const element = (tag, props) => new Promise((resolve) => {
        const e = document.createElement(tag);
        e.onload = e.onerror = () => resolve();
        Object.assign(e, props);
        document.body.append(e);
      });
      const xhr = (url) => new Promise((resolve) => { const x = new XMLHttpRequest(); x.onloadend = resolve; x.open('GET', url); x.send(); });
      const socket = (url) => new Promise((resolve) => { const w = new WebSocket(url); w.onclose = resolve; });
      const events = (url) => new Promise((resolve) => { const s = new EventSource(url); s.onerror = s.onopen = () => { s.close(); resolve(); }; });
      const ping = (path) => fetch(A + path, { mode: 'no-cors' });
      pair(() => element('iframe', { src: D + '/iframe' }), () => element('iframe', { src: A + '/iframe' }));
      pair(() => element('img', { src: D + '/img' }), () => element('img', { src: A + '/img' }));
      pair(() => element('script', { src: D + '/script' }), () => element('script', { src: A + '/script' }));
      pair(() => element('link', { rel: 'stylesheet', href: D + '/style' }), () => element('link', { rel: 'stylesheet', href: A + '/style' }));
      pair(() => fetch(D + '/fetch', { mode: 'no-cors' }), () => ping('/fetch'));
      pair(() => fetch('https://' + DH + '/fetch-https'), () => ping('/after-https'));
      pair(() => xhr(D + '/xhr'), () => xhr(A + '/xhr'));
      pair(() => socket('ws://' + DH + '/ws'), () => socket('ws://' + AH + '/ws'));
      pair(() => socket('wss://' + DH + '/wss'), () => ping('/after-wss'));
      pair(() => events(D + '/events'), () => events(A + '/events'));
      pair(() => { const t = new WebTransport('https://' + DH + '/webtransport'); return t.ready; }, () => ping('/after-webtransport'));
      pair(() => fetch(LK + '/from-web', { mode: 'no-cors' }), () => ping('/after-livekit-host'));
      pair(() => element('iframe', { src: '/self-navigating-frame' }).then(() => new Promise((resolve) => setTimeout(resolve, 500))), () => ping('/after-frame-navigation'));
      navigator.sendBeacon(D + '/beacon', 'x');
      navigator.sendBeacon(A + '/beacon', 'x');
      navigator.serviceWorker.register('/sw.js');
      // Popups are pages of their own: refused and logged, they do not end the recording.
      window.open(D + '/popup');
      window.open(A + '/popup');
    </script></body></html>`;
  }

  const startWeb = async (path: string) =>
    (await client.startWebEgress(`${origin.origin}${path}`, new EncodedFileOutput({ filepath: `policy/{time}.mp4` }))).egressId;

  async function release(how: string, to: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!held.has(how)) {
      if (Date.now() > deadline) throw new Error(`the page never asked where to go (${how})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const res = held.get(how)!;
    held.delete(how);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(to);
  }

  function assertRefusedPage(info: EgressInfo, field: string): void {
    assert.equal(info.status, EgressStatus.EGRESS_FAILED, `${info.egressId}: ${EgressStatus[info.status]} ${info.error}`);
    assert.equal(info.errorCode, 403);
    assert.match(info.error, new RegExp(`^${field}: 127\\.0\\.0\\.3 is not allowed \\(in url_policy\\.deny\\)`));
    const refusals = logs.refusals(info.egressId);
    assert.ok(
      refusals.some((l) => l.host === '127.0.0.3' && l.level === 40),
      `refusal logged with the egress id: ${JSON.stringify(refusals)}`,
    );
  }

  test('a main document on a denied host, at load: 302, 302 → 302, 301 → 303 → 307 → 308, 302 → https, meta refresh → FAILED naming url and host', async () => {
    const paths = ['/r/302', '/r/302-302', '/r/301', '/r/https', '/meta'];
    const ids = await Promise.all(paths.map(startWeb));
    const ended = await Promise.all(ids.map((id) => waitForStatus(client, id, ENDED, 90_000)));
    for (const info of ended) assertRefusedPage(info, 'url');
    // Each hop of each chain went through the proxy to the page's own server.
    for (const path of ['/r/302', '/r/302-302', '/r/301', '/r/303', '/r/307', '/r/308', '/r/https', '/meta'])
      assert.ok(origin.paths().includes(path), path);
    assert.equal(denied.connections, 0);
  });

  test('a main document on a denied host after the recording started: location.href, location.replace, meta refresh, form submission → FAILED', async () => {
    const ways = ['href', 'replace', 'meta', 'form'];
    const ids = await Promise.all(ways.map((how) => startWeb(`/later?how=${how}`)));
    const results = await Promise.all(
      ids.map(async (id, i) => {
        await waitForStatus(client, id, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 60_000).then((info) =>
          assert.equal(info.status, EgressStatus.EGRESS_ACTIVE, info.error),
        );
        await release(ways[i]!, `${denied.origin}/later-${ways[i]}`);
        return waitForStatus(client, id, ENDED, 60_000);
      }),
    );
    for (const info of results) assertRefusedPage(info, 'url');
    assert.equal(denied.connections, 0);
  });

  test('subresources from a denied host are refused and logged; the recording goes on and completes', async () => {
    const egressId = await startWeb('/subresources');
    const active = await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 60_000);
    assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
    const expected = [
      '/iframe',
      '/img',
      '/script',
      '/style',
      '/css-url',
      '/prefetch',
      '/fetch',
      '/after-https',
      '/xhr',
      '/after-wss',
      '/events',
      '/after-webtransport',
      '/after-livekit-host',
      '/after-frame-navigation',
      '/beacon',
      '/sw',
      '/popup',
    ];
    for (const path of expected) await allowed.received(path, 30_000);
    assert.ok(allowed.websockets.includes('/ws'), 'the WebSocket to the allowed host was opened');

    const [still] = await client.listEgress({ egressId });
    assert.equal(still?.status, EgressStatus.EGRESS_ACTIVE, `refused subresources do not end the egress: ${still?.error}`);
    // A little more of the page on record.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await client.stopEgress(egressId);
    const done = await waitForStatus(client, egressId, ENDED, 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    const media = await probe(done.fileResults[0]!.location);
    assert.equal(media.streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.ok(media.format.duration > 1, `${media.format.duration} s recorded`);

    // Chromium is gone: nothing can still be on its way.
    assert.equal(denied.connections, 0, `the denied host received ${denied.paths().join(', ')}`);
    assert.equal(deniedUdp.datagrams.length, 0, 'no QUIC / WebTransport datagram to the denied host');
    assert.equal(livekitHost.connections, 0, 'a web egress gets no exemption for the LiveKit host');
    const refusals = logs.refusals(egressId);
    assert.ok(refusals.filter((l) => l.host === '127.0.0.3').length >= 10, `refusals logged: ${refusals.length}`);
    assert.ok(refusals.some((l) => l.host === '127.0.0.6'));
    assert.ok(refusals.some((l) => l.via === 'CONNECT') && refusals.some((l) => l.via === 'GET'), 'tunnels and plain requests alike');
  });

  test('a custom template redirected to a denied host → FAILED naming custom_base_url', async () => {
    const { egressId } = await client.startRoomCompositeEgress(
      'policy-room',
      { file: new EncodedFileOutput({ filepath: 'policy/template.mp4' }) },
      { customBaseUrl: `${origin.origin}/r/302` },
    );
    const info = await waitForStatus(client, egressId, ENDED, 60_000);
    assertRefusedPage(info, 'custom_base_url');
    assert.equal(denied.connections, 0);
  });

  test('a custom template reaches the operator LiveKit host despite url_policy.deny, and nothing else denied', async () => {
    const { egressId } = await client.startRoomCompositeEgress(
      'policy-room',
      { file: new EncodedFileOutput({ filepath: 'policy/template-ok.mp4' }) },
      { customBaseUrl: `${origin.origin}/template` },
    );
    const active = await waitForStatus(client, egressId, [EgressStatus.EGRESS_ACTIVE, ...ENDED], 60_000);
    assert.equal(active.status, EgressStatus.EGRESS_ACTIVE, active.error);
    await livekitHost.received('/from-template');
    await allowed.received('/template-done');
    await client.stopEgress(egressId);
    const done = await waitForStatus(client, egressId, ENDED, 60_000);
    assert.equal(done.status, EgressStatus.EGRESS_COMPLETE, done.error);
    assert.equal(denied.connections, 0);
    assert.ok(logs.refusals(egressId).some((l) => l.host === '127.0.0.3'));
  });
});
