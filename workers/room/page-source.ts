/**
 * The page a Chromium recorder opens: a web egress's URL, or for a room composite the layout template
 * (custom_base_url, else the built-in templates) with `url`, `token` and `layout` in its query, as LiveKit's
 * egress calls templates. The token is secret: `logUrl` is the same URL without it.
 */
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import { checkUrl } from '../../shared/url-policy.ts';
import type { RecorderSettings } from '../media/recording.ts';
import { liveKitCredentials, recorderToken } from './recorder-token.ts';

export interface PageSource {
  url: string;
  /** For logs: the token left out. */
  logUrl: string;
  /** Wait for START_RECORDING before capturing. */
  awaitStartSignal: boolean;
  /** Give up waiting for it after this long; undefined = wait until stopped or the room ends (templates, as LiveKit). */
  startSignalTimeoutSec?: number;
}

/** LiveKit's default layout when a room composite request names none. */
const DEFAULT_LAYOUT = 'grid';

export async function pageSourceOf(plan: EgressPlan, settings: Pick<RecorderSettings, 'templateBase' | 'liveKit' | 'startSignalTimeoutSec' | 'urlPolicy'>): Promise<PageSource> {
  const { source } = plan;
  if (source.kind === 'web') {
    await checkUrl(source.url, 'url', settings.urlPolicy);
    return { url: source.url, logUrl: source.url, awaitStartSignal: source.awaitStartSignal, startSignalTimeoutSec: settings.startSignalTimeoutSec };
  }
  if (source.kind !== 'template') throw new EgressError('EGR_ERR_INTERNAL', `a page recorder got a ${source.kind} source`);
  if (source.baseUrl) await checkUrl(source.baseUrl, 'custom_base_url', settings.urlPolicy);
  const credentials = liveKitCredentials({ ws_url: settings.liveKit.wsUrl, api_key: settings.liveKit.apiKey, api_secret: settings.liveKit.apiSecret });
  const page = new URL(source.baseUrl || settings.templateBase);
  page.searchParams.set('layout', source.layout || DEFAULT_LAYOUT);
  page.searchParams.set('url', credentials.wsUrl);
  const logUrl = page.href;
  page.searchParams.set('token', await recorderToken(credentials, plan.roomName, plan.egressId));
  return { url: page.href, logUrl, awaitStartSignal: true };
}
