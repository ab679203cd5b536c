/**
 * The client a per-address limit counts: one IPv4 address, or one IPv6 /64. An IPv6 host is normally given a
 * whole /64, so counting single IPv6 addresses would let one client rotate through 2^64 of them.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { createHash } from 'node:crypto';

/** The key a client address is counted under: `1.2.3.4`, `2001:db8:0:1::/64`, or a digest of anything else. */
export function clientKey(address: string): string {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  if (mapped && isIPv4(mapped)) return mapped;
  if (isIPv4(bare)) return bare;
  if (isIPv6(bare)) return `${ipv6Groups(bare).slice(0, 4).join(':')}::/64`;
  // Not an address (a trusted proxy passed something odd): still counted, under a name of bounded length.
  return `other:${createHash('sha256').update(address).digest('hex').slice(0, 32)}`;
}

/** The eight 16-bit groups of an IPv6 address (already checked by isIPv6), in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const parts = (text: string) => (text === '' ? [] : text.split(':').flatMap(expandIPv4));
  const left = parts(head);
  const right = tail === undefined ? [] : parts(tail);
  const zeros = Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16).toString(16));
}

/** A trailing dotted IPv4 part (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) is two groups. */
function expandIPv4(part: string): string[] {
  if (!part.includes('.')) return [part];
  const [a = 0, b = 0, c = 0, d = 0] = part.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
