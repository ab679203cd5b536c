/**
 * The policy proxy of warm stations and cold starts, with the page recorder and real Chromium: a station's
 * proxy refuses everything until an egress takes the station, then applies that egress's url_policy and logs
 * on its log; the proxy ends with the station (and a cold start's with its recording). The warm pool only
 * makes stations within the configured screen limits and does not follow a request beyond them.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { DEFAULT_LIMITS } from '../../shared/limits.ts';
import type { RecorderSettings, RecordingResult } from '../../workers/recording/recorder-contract.ts';
import { prepareStation, WarmPool, type Station, type StationSource } from '../../workers/web/warm-pool.ts';
import { recordWeb } from '../../workers/web/web-recorder.ts';
import { probe } from '../support/ffprobe.ts';
import { TEST_RECORDER_SETTINGS, webPlan } from '../support/plans.ts';
import { LogLines, startSite, type Site } from './browser-sites.ts';

const SETTINGS: RecorderSettings = { ...TEST_RECORDER_SETTINGS, urlPolicy: { allow: [], deny: ['127.0.0.3'], denyPrivate: false } };

/** GET `url` through the proxy at `proxyUrl`: the status, or the error code when the proxy is not there. */
function throughProxy(proxyUrl: string, url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: new URL(proxyUrl).port, path: url, headers: { host: new URL(url).host }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

/** The --proxy-server of the Chromium whose environment carries `tag`. */
async function proxyOfChromium(tag: string): Promise<string> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!(await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').includes(tag)) continue;
      const flag = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').find((arg) => arg.startsWith('--proxy-server='));
      if (flag) return flag.slice('--proxy-server='.length);
    } catch {
      // It ended while we looked.
    }
  }
  throw new Error(`no Chromium with ${tag}`);
}

describe('policy proxy of warm stations and cold starts', { concurrency: false }, () => {
  let origin: Site;
  let allowed: Site;
  let denied: Site;
  const dirs: string[] = [];
  const logs = new LogLines();
  const log = pino({ level: 'warn' }, logs);

  before(async () => {
    origin = await startSite('127.0.0.2');
    allowed = await startSite('127.0.0.4');
    denied = await startSite('127.0.0.3');
    origin.page(
      '/fetching',
      `<!doctype html><body style="background:#642"><script>
        const tag = location.search.slice(1);
        fetch('${denied.origin}/' + tag, { mode: 'no-cors' }).catch(() => undefined).then(() => fetch('${allowed.origin}/' + tag, { mode: 'no-cors' }));
      </script>`,
    );
  });
  after(async () => {
    await Promise.all([origin, allowed, denied].map((site) => site?.close()));
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  const workDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'browser-warm-station-'));
    dirs.push(dir);
    return dir;
  };

  /** Records /fetching?<tag> until the allowed host has its request, then stops. */
  async function recordFetching(
    plan: EgressPlan,
    warmPool?: StationSource,
    settings: RecorderSettings = SETTINGS,
  ): Promise<{ result: RecordingResult; filePath: string; proxyUrl: string }> {
    const dir = await workDir();
    const filePath = join(dir, 'out.mp4');
    let active!: () => void;
    const isActive = new Promise<void>((resolve) => (active = resolve));
    const recording = recordWeb({
      plan,
      workDir: dir,
      outputs: { file: { path: filePath } },
      settings,
      log: log.child({ egressId: plan.egressId }),
      onActive: () => active(),
      ...(warmPool ? { warmPool } : {}),
    });
    await Promise.race([isActive, recording.done]);
    const proxyUrl = await proxyOfChromium(`EGRESS_ID=${plan.egressId}`).catch(() => '');
    await allowed.received(`/${plan.egressId}`);
    recording.stop('test over');
    return { result: await recording.done, filePath, proxyUrl };
  }

  test("a station's proxy refuses everything until taken, then applies the egress's policy; it ends with the station", async () => {
    const station: Station = await prepareStation({ screen: { width: 1280, height: 720, depth: 24 }, settings: SETTINGS, dir: await workDir(), log });
    try {
      assert.equal(await throughProxy(station.proxy.url, `${allowed.origin}/idle`), 403, 'nothing is reached before an egress takes it');
      assert.ok(!allowed.paths().includes('/idle'));
      const plan = webPlan({ url: '' });
      plan.source = { kind: 'web', url: `${origin.origin}/fetching?${plan.egressId}`, awaitStartSignal: false };
      let taken = false;
      const { result, filePath } = await recordFetching(plan, { take: () => ((taken = true), station) });
      assert.ok(taken);
      assert.equal(result.started, true);
      assert.equal((await probe(filePath)).streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
      assert.equal(denied.connections, 0);
      assert.ok(
        logs.refusals(plan.egressId).some((l) => l.host === '127.0.0.3'),
        'refusals on the egress log, with its id',
      );
      // Destroyed with the recording: its proxy too.
      assert.equal(await throughProxy(station.proxy.url, `${allowed.origin}/after`), 'ECONNREFUSED');
    } finally {
      await station.destroy();
    }
  });

  test("a cold start's proxy applies the policy, chrome_flags cannot route around it, and it ends with the recording", async () => {
    const plan = webPlan({ url: '' });
    plan.source = { kind: 'web', url: `${origin.origin}/fetching?${plan.egressId}`, awaitStartSignal: false };
    // Each of these would send the page's connections around the proxy if Chromium got it.
    const chromeFlags = {
      'no-proxy-server': true,
      '--proxy-server': 'direct://',
      'proxy-bypass-list': '*',
      'proxy-pac-url': 'data:,',
      'disable-quic': false,
    };
    const { result, proxyUrl } = await recordFetching(plan, undefined, { ...SETTINGS, chromeFlags });
    assert.equal(result.started, true);
    assert.equal(denied.connections, 0, `the denied host received ${denied.paths().join(', ')}`);
    assert.match(proxyUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const ignored = logs.lines.filter((l) => /^chrome_flags: (ignored|replaced)/.test(String(l.msg))).map((l) => l.flag);
    assert.deepEqual(ignored.sort(), ['disable-quic', 'no-proxy-server', 'proxy-bypass-list', 'proxy-pac-url', 'proxy-server']);
    assert.ok(logs.refusals(plan.egressId).some((l) => l.host === '127.0.0.3'));
    assert.equal(await throughProxy(proxyUrl, `${allowed.origin}/after`), 'ECONNREFUSED');
  });

  test('the pool makes and follows only screens within the limits (limits.max_width, max_height, max_pixels; depth 8/16/24)', async () => {
    const limits = { ...DEFAULT_LIMITS, max_width: 1000, max_height: 1000, max_pixels: 1000 * 600 };
    const pool = new WarmPool({ size: 1, settings: { ...SETTINGS, screenLimits: limits }, log });
    try {
      pool.start();
      // 1280x720 (the default) is wider than allowed: no station is made.
      await assert.rejects(pool.ready(), /beyond the configured limits/);
      assert.equal(pool.take(webPlan({ url: origin.origin, width: 1920, height: 1080 }), log), undefined);
      await assert.rejects(pool.ready(), /beyond the configured limits/, 'a request beyond the limits is not followed');
      const deep = webPlan({ url: origin.origin, width: 640, height: 360 });
      assert.equal(pool.take({ ...deep, encoding: { ...deep.encoding, depth: 32 } }, log), undefined);
      await assert.rejects(pool.ready(), /beyond the configured limits/, 'nor a depth Xvfb stations are not made with');
      assert.equal(pool.take(webPlan({ url: origin.origin, width: 1000, height: 700 }), log), undefined);
      await assert.rejects(pool.ready(), /beyond the configured limits/, 'nor one over max_pixels');
      assert.equal(pool.take(webPlan({ url: origin.origin, width: 640, height: 360 }), log), undefined);
      await pool.ready();
      const station = pool.take(webPlan({ url: origin.origin, width: 640, height: 360 }), log);
      assert.deepEqual(station?.screen, { width: 640, height: 360, depth: 24 });
      await station?.destroy();
    } finally {
      await pool.close();
    }
  });
});
