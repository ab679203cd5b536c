/**
 * Connect-time check of a stream URL: parsed again (never handed on as given), its host resolved once and
 * every address checked against url_policy (shared/url-policy.ts `resolveForConnect`), so what connects
 * is an address that was just checked, whatever the name resolves to by then (no DNS rebinding).
 */
import { parseStreamUrl, type StreamDestination } from '../../shared/stream-destination.ts';
import { resolveForConnect, type Resolver, type UrlPolicy } from '../../shared/url-policy.ts';

/** The field connect-time refusals name, as the API's do. */
export const STREAM_URL_FIELD = 'stream url';

export interface PinnedDestination {
  destination: StreamDestination;
  /** The checked address to connect to. */
  address: string;
  /** Every checked address, for a client that tries them in turn. */
  addresses: string[];
}

/**
 * Throws StreamUrlError (unusable URL), EgressError PERMISSION_DENIED (refused by the policy) or
 * UnresolvedHostError (no address: worth a retry).
 */
export async function pinDestination(
  url: string,
  policy: UrlPolicy,
  resolve: Resolver | undefined,
  field = STREAM_URL_FIELD,
): Promise<PinnedDestination> {
  const destination = parseStreamUrl(url);
  const addresses = await resolveForConnect(destination.host, field, policy, resolve ? { resolve } : {});
  return { destination, address: addresses[0]!, addresses };
}
