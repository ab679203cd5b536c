/**
 * Warm stations for page recordings (web and room composite egress): each station is an X display, a primed
 * PulseAudio sink and Chromium launched on about:blank, with a fresh profile, made ready before any egress
 * asks for it. A recording that finds one that fits takes it and goes straight to loading its page, which
 * cuts its start by the display, sink and browser launch (RPC → ACTIVE: see bench/web-start-latency.ts);
 * otherwise it starts its own, as without a pool.
 *
 * - A station serves one egress and is then destroyed by the recording that took it: a browser profile is
 *   never shared between egresses. A replacement is prepared REFILL_DELAY_MS after a station is taken, so
 *   its launch does not compete with the page load of the recording that took it.
 * - Fits: the same screen (width, height, depth) as the plan, or any screen for a recording without video.
 *   Stations are made at LiveKit's default size (1280x720x24) until a recording asks for another: then the
 *   pool follows it (an idle station of the old size is retired for one of the new) if that size is within the
 *   configured limits (limits.max_width, max_height, max_pixels; depth 8, 16 or 24): a request must not make
 *   the pool keep huge displays about. No station is made while the size to make is beyond them.
 * - Each station has its own policy proxy (policy-proxy.ts), which refuses every connection until an egress
 *   takes the station and applies its url_policy, exemptions and log (about:blank needs no network).
 * - A station whose Xvfb, Chromium or sink reader ends while it waits is discarded and replaced; one that
 *   cannot be made is retried with a growing delay.
 * - Costs: an idle station's processes carry EGRESS_WARM_STATION=<station id>, not EGRESS_ID, so no
 *   recording's measured cost includes them (measured idle: Chromium on about:blank, Xvfb and the sink's reader
 *   together 0.2 % of a core, plus the PulseAudio daemon's wake-ups, and about 140 MB PSS; the host figures
 *   admission also reads do include them). Once taken, `owners` maps the station to its egress, and the
 *   station's CPU counts for that egress like the processes started for it.
 * - close() (SIGTERM drain) destroys the idle stations and makes no more; taken ones end with their recordings.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { exponentialBackoff } from '../../shared/backoff.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { DEFAULT_ENCODING } from '../../shared/encoding.ts';
import { launchChromium, type ChromiumSession } from './chromium.ts';
import { startPolicyProxy, type PolicyProxy } from './policy-proxy.ts';
import { ownedDirPrefix } from '../process/owner-tag.ts';
import { Supervisor } from '../process/processes.ts';
import { createSink, type AudioSink } from './pulse.ts';
import type { RecorderSettings } from '../recording/recorder-settings.ts';
import { screenWithinLimits, type Limits } from '../../shared/limits.ts';
import { startXvfb, type ScreenSize, type VirtualDisplay } from './xvfb.ts';

/** The environment variable naming the station on each of its processes (Chromium's helpers inherit it). */
export const STATION_TAG = 'EGRESS_WARM_STATION';
/** The pool's directory of station profiles: `<tmp>/egress-warm-stations-<owner>-XXXXXX`. */
export const STATIONS_DIR_KIND = 'egress-warm-stations';
const REFILL_DELAY_MS = 3_000;
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 60_000;
const stationBackoff = exponentialBackoff(RETRY_FIRST_MS, RETRY_MAX_MS);

export interface Station {
  readonly id: string;
  readonly screen: ScreenSize;
  readonly display: VirtualDisplay;
  /** A primed sink Chromium plays into; a recording without audio just does not record it. */
  readonly sink: AudioSink;
  /** On about:blank until the recording navigates. */
  readonly chromium: ChromiumSession;
  /** Chromium's policy proxy: refuses everything until the recording that took the station applies its rules. */
  readonly proxy: PolicyProxy;
  /** Every process of the station still runs (none is known to have ended). */
  alive(): boolean;
  /** Ends every process of the station, unloads its sink and deletes its profile; resolves when all is gone. Idempotent. */
  destroy(): Promise<void>;
}

/** What a recorder asks of a pool (tests give a recorder a pool of their own). */
export interface StationSource {
  /** A ready station for `plan`, now its egress's to destroy, or undefined: start cold. */
  take(plan: EgressPlan, log: Logger): Station | undefined;
}

export interface WarmPoolOptions {
  /** Idle stations to keep ready. */
  size: number;
  settings: RecorderSettings;
  log: Logger;
  /** The screen of the first stations (default: LiveKit's default encoding, 1280x720x24). */
  screen?: ScreenSize;
}

interface Idle {
  station: Station;
  /** Set when it is taken or retired: its processes ending no longer mean it died. */
  claimed: boolean;
}

const sameScreen = (a: ScreenSize, b: ScreenSize) => a.width === b.width && a.height === b.height && a.depth === b.depth;

/** Whether a station of this screen may be made: the checks the API applies to requests (config limits). */
const stationScreenAllowed = (screen: ScreenSize, limits: Limits) => screenWithinLimits(limits, screen.width, screen.height, screen.depth);

export class WarmPool implements StationSource {
  /** Station id → the egress that took it, until the station is destroyed (cost attribution). */
  readonly owners = new Map<string, string>();
  readonly #options: WarmPoolOptions;
  readonly #log: Logger;
  readonly #idle: Idle[] = [];
  readonly #preparing = new Set<Promise<void>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #screen: ScreenSize;
  #dir: Promise<string> | undefined;
  #closed = false;
  #failures = 0;
  #retryAt = 0;
  #retryScheduled = false;
  #readyWaiters: (() => void)[] = [];

  constructor(options: WarmPoolOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'warm-pool' });
    const { width, height, depth } = options.screen ?? DEFAULT_ENCODING;
    this.#screen = { width, height, depth };
  }

  /** Starts preparing stations. */
  start(): void {
    this.#fill();
  }

  /** Stations ready now. */
  get idle(): number {
    return this.#idle.length;
  }

  /** Ids of the stations ready now (logs, tests). */
  idleIds(): string[] {
    return this.#idle.map(({ station }) => station.id);
  }

  take(plan: EgressPlan, log: Logger): Station | undefined {
    if (this.#closed) return undefined;
    const wanted: ScreenSize = { width: plan.encoding.width, height: plan.encoding.height, depth: plan.encoding.depth };
    // A station whose process has just ended is not handed out (its watcher discards it).
    const index = this.#idle.findIndex(({ station }) => station.alive() && (!plan.video || sameScreen(station.screen, wanted)));
    if (index < 0) {
      if (plan.video && !sameScreen(wanted, this.#screen) && stationScreenAllowed(wanted, this.#options.settings.screenLimits))
        this.#follow(wanted, log);
      log.info({ idle: this.#idle.length, preparing: this.#preparing.size }, 'no warm station fits; starting cold');
      return undefined;
    }
    const [entry] = this.#idle.splice(index, 1);
    const station = entry!.station;
    entry!.claimed = true;
    this.owners.set(station.id, plan.egressId);
    log.info({ station: station.id, display: station.display.display }, 'recording on a warm station');
    this.#later(REFILL_DELAY_MS, () => this.#fill());
    return station;
  }

  /** Resolves once `size` stations are ready (or the pool is closed); for tests and the bench. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (!stationScreenAllowed(this.#screen, this.#options.settings.screenLimits))
      throw new Error('the warm pool makes no station: its screen is beyond the configured limits');
    while (!this.#closed && this.#idle.length < this.#options.size) {
      if (Date.now() > deadline)
        throw new Error(`the warm pool has ${this.#idle.length} of ${this.#options.size} stations ready after ${timeoutMs} ms`);
      this.#fill();
      await Promise.race([new Promise<void>((resolve) => this.#readyWaiters.push(resolve)), delay(100)]);
    }
  }

  /** Makes no more stations and destroys the idle ones; resolves when they are gone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const idle = this.#idle.splice(0);
    for (const entry of idle) entry.claimed = true;
    // A station still being prepared destroys itself once made.
    await Promise.all([...idle.map(({ station }) => station.destroy()), ...this.#preparing]);
    this.#readyWaiters.splice(0).forEach((resolve) => resolve());
    const dir = this.#dir;
    this.#dir = undefined;
    if (dir) await rm(await dir, { recursive: true, force: true }).catch(() => undefined);
    this.#log.info('warm pool closed');
  }

  /** Recordings ask for another screen: make stations of that size from now on, retiring an idle one of the old. */
  #follow(screen: ScreenSize, log: Logger): void {
    log.info({ from: this.#screen, to: screen }, 'warm stations follow the screen size recordings ask for');
    this.#screen = screen;
    const stale = this.#idle.findIndex(({ station }) => !sameScreen(station.screen, screen));
    if (stale >= 0) {
      const [entry] = this.#idle.splice(stale, 1);
      entry!.claimed = true;
      void entry!.station.destroy();
    }
    this.#fill();
  }

  #fill(): void {
    if (this.#closed || !stationScreenAllowed(this.#screen, this.#options.settings.screenLimits)) return;
    const wait = this.#retryAt - Date.now();
    if (wait > 0) {
      if (!this.#retryScheduled) {
        this.#retryScheduled = true;
        this.#later(wait, () => {
          this.#retryScheduled = false;
          this.#fill();
        });
      }
      return;
    }
    while (this.#idle.length + this.#preparing.size < this.#options.size) {
      const preparing: Promise<void> = this.#prepare(this.#screen).finally(() => this.#preparing.delete(preparing));
      this.#preparing.add(preparing);
    }
  }

  async #prepare(screen: ScreenSize): Promise<void> {
    let station: Station;
    const startedAt = Date.now();
    try {
      station = await prepareStation({
        screen,
        settings: this.#options.settings,
        dir: await this.#stationsDir(),
        log: this.#log,
        // Destroyed (by the recording that took it, or here): its processes are gone and count for no one.
        onDestroyed: (id) => this.owners.delete(id),
      });
    } catch (err) {
      const retryMs = this.#backOff();
      this.#log.warn({ err: (err as Error).message, retryMs }, 'could not prepare a warm station');
      this.#fill();
      return;
    }
    if (this.#closed) {
      await station.destroy();
      return;
    }
    this.#failures = 0;
    const entry: Idle = { station, claimed: false };
    this.#idle.push(entry);
    this.#log.debug({ station: station.id, screen, ms: Date.now() - startedAt }, 'warm station ready');
    this.#readyWaiters.splice(0).forEach((resolve) => resolve());
    void Promise.race([
      station.display.lost.then((error) => error.message),
      station.chromium.crashed.then((error) => error.message),
      station.sink.lost,
    ]).then(async (reason) => {
      if (entry.claimed) return;
      const index = this.#idle.indexOf(entry);
      if (index >= 0) this.#idle.splice(index, 1);
      entry.claimed = true;
      // Counted as a failure: a station that keeps dying is not remade in a loop.
      const retryMs = this.#backOff();
      this.#log.warn({ station: station.id, reason, retryMs }, 'a warm station died while idle; discarded');
      await station.destroy();
      this.#fill();
    });
  }

  /** After a failure: no station is made for a while, longer after each failure in a row. Returns the wait, ms. */
  #backOff(): number {
    this.#failures++;
    const retryMs = stationBackoff(this.#failures);
    this.#retryAt = Date.now() + retryMs;
    return retryMs;
  }

  /** One directory per pool for the stations' profiles, outside every egress's work directory. */
  #stationsDir(): Promise<string> {
    // Named for its owner: what a crash leaves here is reaped by the next worker (leftovers.ts).
    this.#dir ??= mkdtemp(join(tmpdir(), ownedDirPrefix(STATIONS_DIR_KIND))).then((dir) => {
      // What an orderly exit leaves behind goes with the process.
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      return dir;
    });
    return this.#dir;
  }

  #later(ms: number, run: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }
}

/** Makes one station: Xvfb at `screen`, a primed sink, Chromium on about:blank with a fresh profile behind a proxy that refuses everything. */
export async function prepareStation(options: {
  screen: ScreenSize;
  settings: RecorderSettings;
  dir: string;
  log: Logger;
  onDestroyed?: (id: string) => void;
}): Promise<Station> {
  const { screen, settings, log } = options;
  const id = `ws_${randomBytes(6).toString('hex')}`;
  const stationLog = log.child({ station: id });
  const supervisor = new Supervisor(stationLog, { [STATION_TAG]: id });
  const profileDir = join(options.dir, id);
  let sink: AudioSink | undefined;
  let proxy: PolicyProxy | undefined;
  let destroyed: Promise<void> | undefined;
  const destroy = () =>
    (destroyed ??= (async () => {
      await supervisor.killAll();
      await proxy?.close();
      await sink?.remove();
      await rm(profileDir, { recursive: true, force: true }).catch(() => undefined);
      options.onDestroyed?.(id);
    })());
  try {
    await mkdir(profileDir, { recursive: true });
    const display = await startXvfb(supervisor, screen);
    sink = await createSink(id, stationLog, supervisor);
    // No rules yet: nothing is reached until an egress takes the station.
    proxy = await startPolicyProxy({ log: stationLog });
    const chromium = await launchChromium({
      settings,
      supervisor,
      display: display.display,
      width: screen.width,
      height: screen.height,
      workDir: profileDir,
      audioEnv: sink.clientEnv,
      proxy,
      log: stationLog,
    });
    return { id, screen, display, sink, chromium, proxy, alive: () => destroyed === undefined && supervisor.allRunning(), destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
