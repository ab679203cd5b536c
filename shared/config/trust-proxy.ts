/**
 * `trust_proxy` as Fastify (proxy-addr) reads a string: comma-separated addresses, CIDRs (`10.0.0.0/8`),
 * address/netmask pairs, or the names `loopback`, `linklocal`, `uniquelocal`. Checked when the config loads, so
 * that a typo stops the service with a message naming the key rather than a stack trace when the API starts.
 */
import { isIP, isIPv4 } from 'node:net';

const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function entryProblem(entry: string): string | undefined {
  if (NAMED_RANGES.has(entry)) return undefined;
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `"${entry}" is not an address, a CIDR or one of ${[...NAMED_RANGES].join(', ')}`;
  if (slash < 0) return undefined;
  const range = entry.slice(slash + 1);
  const bits = family === 4 ? 32 : 128;
  if (/^\d+$/.test(range) && Number(range) <= bits) return undefined;
  if (family === 4 && isIPv4(range) && isContiguousMask(range)) return undefined;
  return `"${entry}": the prefix length must be 0 to ${bits}${family === 4 ? ' or a netmask' : ''}`;
}

/** 255.255.0.0 is a netmask, 255.0.255.0 is not (proxy-addr refuses it). */
function isContiguousMask(mask: string): boolean {
  const bits = mask.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const hostPart = 2 ** 32 - 1 - bits;
  return (hostPart & (hostPart + 1)) === 0;
}

/** What is wrong with a trust_proxy value, or undefined. */
export function trustProxyProblem(value: boolean | string): string | undefined {
  if (typeof value === 'boolean') return undefined;
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.some((entry) => entry === '')) return 'config key trust_proxy: an empty entry (expected addresses or CIDRs, comma-separated)';
  const problem = entries.map(entryProblem).find((p) => p !== undefined);
  return problem && `config key trust_proxy: ${problem}`;
}
