/**
 * Chromium showing the recorded page full-screen on a virtual display, as LiveKit egress runs it:
 * kiosk window the size of the screen, autoplay allowed, audio into the recording's PulseAudio sink,
 * and the page's console as the start/end signal channel (START_RECORDING / END_RECORDING).
 */
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import puppeteer, { TimeoutError, type Browser, type Page } from 'puppeteer-core';
import type { Logger } from 'pino';
import { EgressError } from '../../shared/errors.ts';
import { describeExit, type Supervisor } from './processes.ts';
import type { RecorderSettings } from './recording.ts';

const LAUNCH_TIMEOUT_MS = 30_000;
const NAVIGATION_TIMEOUT_MS = 30_000;
const NAVIGATION_ATTEMPTS = 3;
/** Navigation failures worth another attempt (LiveKit retries the same): the page may just be slow or restarting. */
const RETRYABLE_NAVIGATION = /net::ERR_(CONNECTION_(CLOSED|RESET|REFUSED)|TIMED_OUT|CERT_VERIFIER_CHANGED)/;

export interface ChromiumOptions {
  settings: RecorderSettings;
  supervisor: Supervisor;
  display: string;
  width: number;
  height: number;
  /** Its profile goes here, fresh for every recording. */
  workDir: string;
  /** PulseAudio routing (PULSE_SERVER, PULSE_SINK); absent for a recording without audio. */
  audioEnv?: Record<string, string>;
  log: Logger;
}

export interface ChromiumSession {
  /** Loads `url`; rejects with EGR_ERR_PAGE_LOAD (or EGR_ERR_BROWSER_CRASHED). */
  navigate(url: string): Promise<void>;
  /** Resolves when the page logs START_RECORDING. */
  readonly startSignal: Promise<void>;
  /** Resolves when the page logs END_RECORDING. */
  readonly endSignal: Promise<void>;
  /** Resolves (never rejects) with EGR_ERR_BROWSER_CRASHED if Chromium or the page dies. */
  readonly crashed: Promise<EgressError>;
  /** Logs from now on go to `log` (a warm Chromium, launched before its egress was known, joins the egress's log). */
  useLog(log: Logger): void;
}

/** Starts Chromium on the display; its processes belong to the supervisor, which ends them. */
export async function launchChromium(options: ChromiumOptions): Promise<ChromiumSession> {
  const { settings, supervisor } = options;
  let log = options.log;
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: settings.chromePath,
      headless: false,
      pipe: true,
      userDataDir: join(options.workDir, 'chromium-profile'),
      args: chromiumFlags(options),
      // --enable-automation shows the "controlled by automated test software" bar in the recording.
      ignoreDefaultArgs: ['--enable-automation'],
      defaultViewport: null,
      env: supervisor.environment({ DISPLAY: options.display, ...options.audioEnv }),
      // The worker decides what happens to recordings on signals, not puppeteer.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: LAUNCH_TIMEOUT_MS,
    });
  } catch (err) {
    throw new EgressError('EGR_ERR_BROWSER_CRASHED', `Chromium could not start: ${(err as Error).message}`, { cause: err });
  }
  const chromium = supervisor.adopt('chromium', browser.process()!);
  const page = (await browser.pages())[0] ?? (await browser.newPage());

  const consoleMessage = (text: string) =>
    new Promise<void>((resolve) => {
      page.on('console', (message) => {
        if (message.text().trim() === text) resolve();
      });
    });
  page.on('console', (message) => log.debug({ type: message.type(), text: message.text() }, 'page console'));

  const crashed = new Promise<EgressError>((resolve) => {
    const crash = (what: string) => resolve(new EgressError('EGR_ERR_BROWSER_CRASHED', `Chromium crashed: ${what}`));
    // Without Chromium's stderr: it is D-Bus and GPU noise, not why it died.
    const exit = chromium.exited.then((exited) => describeExit(exited, chromium, 0));
    void exit.then(crash);
    // The connection drops a moment before the exit is seen; the exit says more, if it comes.
    browser.on('disconnected', () => void Promise.race([exit, delay(1000).then(() => 'lost the connection to the browser')]).then(crash));
    page.on('error', (err) => crash(err.message));
  });

  return {
    navigate: (url) => navigate(browser, page, url, log),
    startSignal: consoleMessage('START_RECORDING'),
    endSignal: consoleMessage('END_RECORDING'),
    crashed,
    useLog: (next) => (log = next),
  };
}

async function navigate(browser: Browser, page: Page, url: string, log: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await page.goto(url, { waitUntil: 'load', timeout: NAVIGATION_TIMEOUT_MS });
      if (response && response.status() >= 400) {
        throw new EgressError('EGR_ERR_PAGE_LOAD', `page load error: HTTP ${response.status()} ${response.statusText()}`.trim());
      }
      return;
    } catch (err) {
      if (err instanceof EgressError) throw err;
      if (!browser.connected) throw new EgressError('EGR_ERR_BROWSER_CRASHED', 'Chromium crashed while loading the page', { cause: err });
      const message = (err as Error).message;
      const retryable = err instanceof TimeoutError || RETRYABLE_NAVIGATION.test(message);
      if (!retryable || attempt === NAVIGATION_ATTEMPTS) throw new EgressError('EGR_ERR_PAGE_LOAD', `page load error: ${message}`, { cause: err });
      log.warn({ attempt, err: message }, 'page load failed, retrying');
    }
  }
}

/** LiveKit's Chrome flags, then the configured chrome_flags, which win. */
function chromiumFlags({ settings, width, height }: ChromiumOptions): string[] {
  const flags: Record<string, string | number | boolean> = {
    kiosk: true,
    'window-size': `${width},${height}`,
    'window-position': '0,0',
    'autoplay-policy': 'no-user-gesture-required',
    'disable-gpu': true,
    'disable-dev-shm-usage': true,
    'no-first-run': true,
    'no-default-browser-check': true,
    'disable-background-networking': true,
    'disable-component-update': true,
    'disable-sync': true,
    'hide-scrollbars': true,
    // Suppresses the "unsupported command-line flag" bar that --no-sandbox would show.
    'test-type': true,
    'no-sandbox': !settings.enableChromeSandbox,
    'disable-web-security': settings.insecure,
    'allow-running-insecure-content': settings.insecure,
    'ignore-certificate-errors': settings.insecure,
  };
  for (const [name, value] of Object.entries(settings.chromeFlags)) flags[name.replace(/^-+/, '')] = value;
  return Object.entries(flags)
    .filter(([, value]) => value !== false)
    .map(([name, value]) => (value === true ? `--${name}` : `--${name}=${value}`));
}
