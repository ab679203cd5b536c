/**
 * The page a Chromium recorder opens: a web egress's URL, or for a room composite the layout template
 * (custom_base_url, else the built-in templates) with `url`, `token` and `layout` in its query, as LiveKit's
 * egress calls templates. The token is secret: `logUrl` is the same URL without it. Also who the page may reach
 * besides url_policy (`access`): a web egress no one; a template the operator's LiveKit server (ws_url's host,
 * every port: signalling, ICE/TCP, TURN) and the built-in templates' origin (template_base), which deny_private
 * would otherwise refuse. A custom template itself is checked, and so is everything it loads but those.
 */
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import { isIP } from 'node:net';
import { hostOfUrl, normalizeHost } from '../../shared/address-forms.ts';
import { checkUrl, systemResolver } from '../../shared/url-policy.ts';
import type { BrowserAccess } from '../web/policy-proxy.ts';
import type { RecorderSettings } from '../recording/recorder-contract.ts';
import { liveKitCredentials, recorderToken } from './recorder-token.ts';

export interface PageSource {
  url: string;
  /** For logs: the token left out. */
  logUrl: string;
  /** Wait for START_RECORDING before capturing. */
  awaitStartSignal: boolean;
  /** Give up waiting for it after this long; undefined = wait until stopped or the room ends (templates, as LiveKit). */
  startSignalTimeoutSec?: number;
  /** What the page may reach besides url_policy, and the field a refused page load is reported against. */
  access: BrowserAccess;
}

/** LiveKit's default layout when a room composite request names none. */
const DEFAULT_LAYOUT = 'grid';

export async function pageSourceOf(
  plan: EgressPlan,
  settings: Pick<RecorderSettings, 'templateBase' | 'liveKit' | 'startSignalTimeoutSec' | 'urlPolicy'>,
): Promise<PageSource> {
  const { source } = plan;
  if (source.kind === 'web') {
    await checkUrl(source.url, 'url', settings.urlPolicy);
    return {
      url: source.url,
      logUrl: source.url,
      awaitStartSignal: source.awaitStartSignal,
      startSignalTimeoutSec: settings.startSignalTimeoutSec,
      access: { field: 'url', exemptHosts: [], exemptOrigins: [] },
    };
  }
  if (source.kind !== 'template') throw new EgressError('EGR_ERR_INTERNAL', `a page recorder got a ${source.kind} source`);
  if (source.baseUrl) await checkUrl(source.baseUrl, 'custom_base_url', settings.urlPolicy);
  const credentials = liveKitCredentials(settings.liveKit);
  const page = new URL(source.baseUrl || settings.templateBase);
  page.searchParams.set('layout', source.layout || DEFAULT_LAYOUT);
  page.searchParams.set('url', credentials.wsUrl);
  const logUrl = page.href;
  page.searchParams.set('token', await recorderToken(credentials, plan.roomName, plan.egressId));
  const access: BrowserAccess = {
    field: source.baseUrl ? 'custom_base_url' : 'template_base',
    exemptHosts: await hostAndAddresses(hostOfUrl(credentials.wsUrl)),
    exemptOrigins: [originOf(settings.templateBase)],
  };
  return { url: page.href, logUrl, awaitStartSignal: true, access };
}

/**
 * The LiveKit server's name and the addresses it resolves to now: its ICE candidates (ICE/TCP goes through the
 * proxy as CONNECT <address>:<port>) name addresses, not the name. Unresolvable: the name alone.
 */
async function hostAndAddresses(host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  const addresses = await systemResolver(host).catch(() => []);
  return [host, ...addresses];
}

/** `host:port` of a URL, the port spelled out. */
function originOf(url: string): string {
  const { hostname, port, protocol } = new URL(url);
  return `${normalizeHost(hostname)}:${port || (protocol === 'https:' ? 443 : 80)}`;
}
