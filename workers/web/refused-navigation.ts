/**
 * Which refusals of the policy proxy end the recording: those of a main-document load of the recorded page
 * (its first URL, every redirect hop, a later navigation: location.href / replace, meta refresh, a form
 * submission). The recording would otherwise show a refusal instead of the page, so the egress fails naming
 * the field and the host. Whatever else the page loads (frames, images, scripts, fetch, XHR, WebSockets,
 * beacons, and popups from window.open, which are pages of their own) is only refused and logged by the
 * proxy, and the recording goes on.
 *
 * A main document is a navigation request of the page's own main frame (puppeteer's isNavigationRequest()
 * and frame() === page.mainFrame()). A refused http load comes back as the proxy's 403 marked
 * `X-Egress-Policy: refused`; a refused https (CONNECT) load fails with net::ERR_TUNNEL_CONNECTION_FAILED,
 * and the proxy's outcome for its host and port says whether the proxy refused it.
 */
import type { HTTPRequest, Page } from 'puppeteer-core';
import { EgressError } from '../../shared/errors.ts';
import type { PolicyProxy, ProxyOutcome } from './policy-proxy.ts';
import { POLICY_HEADER } from './proxy-wire.ts';

const TUNNEL_FAILED = /ERR_TUNNEL_CONNECTION_FAILED/;

export interface NavigationWatch {
  /** Resolves (never rejects) with EGR_ERR_PERMISSION_DENIED once a main-document load has been refused. */
  readonly blocked: Promise<EgressError>;
  /** The proxy's refusal of the load of `url` (a response marked refused). */
  refusalAt(url: string): EgressError;
  /** What the proxy knows of the latest main-document load, if it failed there (refused, or unreachable and why). */
  lastDocumentFailure(): ProxyOutcome | undefined;
}

export function watchNavigation(page: Page, proxy: PolicyProxy): NavigationWatch {
  /** The URL of the latest main-document request: each redirect hop is a request of its own. */
  let documentUrl: string | undefined;
  let block!: (error: EgressError) => void;
  const blocked = new Promise<EgressError>((resolve) => (block = resolve));
  const isMainDocument = (request: HTTPRequest) => request.isNavigationRequest() && request.frame() === page.mainFrame();
  const refusalAt = (url: string): EgressError => {
    const outcome = proxy.outcomeFor(url);
    if (outcome && 'refused' in outcome) return outcome.refused;
    const host = URL.canParse(url) ? new URL(url).host : 'the page';
    return new EgressError('EGR_ERR_PERMISSION_DENIED', `${host} is not allowed (url_policy)`);
  };

  page.on('request', (request) => {
    if (isMainDocument(request)) documentUrl = request.url();
  });
  page.on('response', (response) => {
    if (response.headers()[POLICY_HEADER] === 'refused' && isMainDocument(response.request())) block(refusalAt(response.url()));
  });
  page.on('requestfailed', (request) => {
    if (!isMainDocument(request) || !TUNNEL_FAILED.test(request.failure()?.errorText ?? '')) return;
    const outcome = proxy.outcomeFor(request.url());
    if (outcome && 'refused' in outcome) block(outcome.refused);
  });

  return {
    blocked,
    refusalAt,
    lastDocumentFailure: () => (documentUrl === undefined ? undefined : proxy.outcomeFor(documentUrl)),
  };
}
