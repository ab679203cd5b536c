/**
 * What a recorder is configured with (from the worker's config), in a module of its own: the recording
 * contract (recorder-contract.ts), Chromium (web/chromium.ts) and the warm pool (web/warm-pool.ts) all need it, and would
 * otherwise import one another in a circle.
 */
import type { Limits } from '../../shared/limits.ts';
import { urlPolicyOf, type UrlPolicy } from '../../shared/url-policy.ts';
import type { WorkerContext } from '../worker-context.ts';

export interface RecorderSettings {
  chromePath: string;
  chromeFlags: Record<string, string | boolean | number>;
  enableChromeSandbox: boolean;
  insecure: boolean;
  ffmpegPath: string;
  /** Seconds to wait for START_RECORDING when the plan awaits a start signal. */
  startSignalTimeoutSec: number;
  /** The built-in room composite templates, for template sources without a custom_base_url. */
  templateBase: string;
  /** The LiveKit server and key pair a room recorder joins with (config ws_url, api_key, api_secret). */
  liveKit: { wsUrl: string; apiKey: string; apiSecret: string };
  /**
   * Where the recording browser may connect (config url_policy): checked before navigating, then on every
   * connection the browser makes, through its policy proxy (policy-proxy.ts).
   */
  urlPolicy: UrlPolicy;
  /** url_policy.webrtc_udp: false makes Chromium send no WebRTC UDP (UDP cannot go through the proxy). */
  webrtcUdp: boolean;
  /** What a request may ask for (config limits): warm stations are never made beyond it. */
  screenLimits: Limits;
}

export function recorderSettings(ctx: Pick<WorkerContext, 'config'>): RecorderSettings {
  const { config } = ctx;
  return {
    chromePath: config.chrome_path,
    chromeFlags: config.chrome_flags,
    enableChromeSandbox: config.enable_chrome_sandbox,
    insecure: config.insecure,
    ffmpegPath: config.ffmpeg_path,
    startSignalTimeoutSec: config.start_signal_timeout,
    templateBase: config.template_base || `http://127.0.0.1:${config.port}/templates/`,
    liveKit: { wsUrl: config.ws_url, apiKey: config.api_key, apiSecret: config.api_secret },
    urlPolicy: urlPolicyOf(config),
    webrtcUdp: config.url_policy.webrtc_udp,
    screenLimits: config.limits,
  };
}
