/**
 * Chromium showing the recorded page full-screen on a virtual display, as LiveKit egress runs it:
 * kiosk window the size of the screen, autoplay allowed, audio into the recording's PulseAudio sink,
 * and the page's console as the start/end signal channel (START_RECORDING / END_RECORDING). Every connection it
 * makes goes through its policy proxy (policy-proxy.ts), which applies url_policy; a main-document load the
 * proxy refused ends the recording (refused-navigation.ts).
 */
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import puppeteer, { TimeoutError, type Browser, type Page } from 'puppeteer-core';
import type { Logger } from 'pino';
import { EgressError } from '../../shared/errors.ts';
import { ownedChild } from '../process/owned-child.ts';
import type { PolicyProxy } from './policy-proxy.ts';
import { POLICY_HEADER, PROXY_ERROR_HEADER } from './proxy-wire.ts';
import { describeExit, type Supervisor } from '../process/processes.ts';
import type { RecorderSettings } from '../recording/recorder-settings.ts';
import { watchNavigation, type NavigationWatch } from './refused-navigation.ts';

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
  /** The proxy every connection of this Chromium goes through; its owner closes it once Chromium is gone. */
  proxy: PolicyProxy;
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
  /**
   * Resolves (never rejects) with EGR_ERR_PERMISSION_DENIED when url_policy refused a main-document load: the
   * first page, a redirect hop, or a later navigation of the page.
   */
  readonly blocked: Promise<EgressError>;
  /** Logs from now on go to `log` (a warm Chromium, launched before its egress was known, joins the egress's log). */
  useLog(log: Logger): void;
}

/** Starts Chromium on the display; its processes belong to the supervisor, which ends them. */
export async function launchChromium(options: ChromiumOptions): Promise<ChromiumSession> {
  const { settings, supervisor } = options;
  let log = options.log;
  let browser: Browser;
  try {
    // puppeteer's arguments for Chromium, as it would pass them, go after setpriv's (a child of ours dies with
    // this process: owned-child.ts).
    const chromiumArgs = await puppeteer.defaultArgs({
      browser: 'chrome',
      headless: false,
      userDataDir: join(options.workDir, 'chromium-profile'),
      args: chromiumFlags(options),
    });
    // --enable-automation shows the "controlled by automated test software" bar in the recording.
    const launch = ownedChild(
      settings.chromePath,
      chromiumArgs.filter((arg) => arg !== '--enable-automation'),
      supervisor.environment({ DISPLAY: options.display, ...options.audioEnv }),
    );
    browser = await puppeteer.launch({
      executablePath: launch.command,
      headless: false,
      pipe: true,
      args: launch.args,
      ignoreDefaultArgs: true,
      defaultViewport: null,
      env: launch.env,
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
  const watch = watchNavigation(page, options.proxy);

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
    navigate: (url) => navigate(browser, page, url, log, watch),
    startSignal: consoleMessage('START_RECORDING'),
    endSignal: consoleMessage('END_RECORDING'),
    crashed,
    blocked: watch.blocked,
    useLog: (next) => (log = next),
  };
}

async function navigate(browser: Browser, page: Page, url: string, log: Logger, watch: NavigationWatch): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await page.goto(url, { waitUntil: 'load', timeout: NAVIGATION_TIMEOUT_MS });
      const proxied = response?.headers()[POLICY_HEADER];
      if (proxied === 'refused') throw watch.refusalAt(response!.url());
      // The proxy could not reach the page: the error Chromium would have shown without a proxy, retried alike.
      if (proxied === 'unreachable') throw new Error(`net::${response!.headers()[PROXY_ERROR_HEADER]} at ${response!.url()}`);
      if (response && response.status() >= 400) {
        throw new EgressError('EGR_ERR_PAGE_LOAD', `page load error: HTTP ${response.status()} ${response.statusText()}`.trim());
      }
      return;
    } catch (err) {
      if (err instanceof EgressError) throw err;
      if (!browser.connected) throw new EgressError('EGR_ERR_BROWSER_CRASHED', 'Chromium crashed while loading the page', { cause: err });
      const failure = watch.lastDocumentFailure();
      if (failure && 'refused' in failure) throw failure.refused;
      // A tunnel (https) the proxy could not open: Chromium only knows that much; the proxy knows why.
      const message = failure ? (err as Error).message.replace('ERR_TUNNEL_CONNECTION_FAILED', failure.unreachable) : (err as Error).message;
      const retryable = err instanceof TimeoutError || RETRYABLE_NAVIGATION.test(message);
      if (!retryable || attempt === NAVIGATION_ATTEMPTS) throw new EgressError('EGR_ERR_PAGE_LOAD', `page load error: ${message}`, { cause: err });
      log.warn({ attempt, err: message }, 'page load failed, retrying');
    }
  }
}

/**
 * chrome_flags that would take connections around the policy proxy: ignored, with a warning. Chromium's
 * --no-proxy-server, --proxy-pac-url and --proxy-auto-detect win over --proxy-server wherever they stand.
 */
const ROUTING_FLAGS = new Set([
  'proxy-server',
  'proxy-bypass-list',
  'no-proxy-server',
  'proxy-pac-url',
  'proxy-auto-detect',
  'winhttp-proxy-resolver',
  'host-rules',
  'host-resolver-rules',
  'enable-quic',
  'origin-to-force-quic-on',
]);

/**
 * LiveKit's Chrome flags, then the configured chrome_flags, which win; then url_policy's enforcement, last, so
 * that no chrome_flags entry replaces it (Chromium takes the last value of a flag).
 */
function chromiumFlags({ settings, width, height, proxy, log }: ChromiumOptions): string[] {
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
  for (const [flag, value] of Object.entries(settings.chromeFlags)) {
    const name = flag.replace(/^-+/, '');
    if (ROUTING_FLAGS.has(name)) log.warn({ flag: name }, 'chrome_flags: ignored, it would take connections around url_policy');
    else flags[name] = value;
  }
  const enforcement: Record<string, string | boolean> = {
    'proxy-server': proxy.url,
    // Without it Chromium goes direct to localhost, 127/8, [::1] and link-local (the cloud metadata service).
    'proxy-bypass-list': '<-loopback>',
    // QUIC is UDP: it would not go through the proxy.
    'disable-quic': true,
    // WebRTC over TCP through the proxy only, no UDP at all (url_policy.webrtc_udp: false).
    ...(settings.webrtcUdp ? {} : { 'webrtc-ip-handling-policy': 'disable_non_proxied_udp' }),
  };
  for (const [name, value] of Object.entries(enforcement)) {
    if (name in flags && flags[name] !== value) log.warn({ flag: name }, 'chrome_flags: replaced by url_policy enforcement');
    delete flags[name];
    flags[name] = value;
  }
  return Object.entries(flags)
    .filter(([, value]) => value !== false)
    .map(([name, value]) => (value === true ? `--${name}` : `--${name}=${value}`));
}
