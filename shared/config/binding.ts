/**
 * Where the API may listen with which keys. The development secret (`secret`, of livekit-server --dev's
 * `devkey`) is public knowledge: a service that accepts it may only be reachable from this machine. Any key
 * whose secret is the development secret is refused, not only `devkey`: key names are no secret (they are in
 * every token's `iss` and in logs), so such a key is as open as the dev pair.
 */
import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** 127.0.0.0/8, ::1 (also `[::1]` and IPv4-mapped loopback) or `localhost`: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host
    .trim()
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  if (bare === 'localhost' || bare === 'localhost.') return true;
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** What is wrong (for a ConfigError naming `host`) when `devSecret` would be accepted on a non-loopback address. */
export function bindingProblem(host: string, apiKeys: ReadonlyMap<string, string>, devSecret: string): string | undefined {
  if (isLoopbackHost(host)) return undefined;
  const devKeys = [...apiKeys].filter(([, secret]) => secret === devSecret).map(([key]) => key);
  if (devKeys.length === 0) return undefined;
  return (
    `config key host: "${host}" is not a loopback address, and API key ${devKeys.join(', ')} has the public development secret. ` +
    'Configure your own key (api_key / api_secret, env LIVEKIT_API_KEY / LIVEKIT_API_SECRET) with a long random secret, ' +
    'or listen on this machine only (host: 127.0.0.1, env EGRESS_HOST).'
  );
}
