/**
 * Which pages a recorder may open (web egress `url`, room composite `custom_base_url`): a recorder is a browser
 * inside the operator's network, so a request must not point it at the cloud's metadata service or, if the
 * operator says so, at private addresses. Checked on the host name and on every address it resolves to, by
 * the API when the request arrives and again by the worker right before it navigates (DNS can change between).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { Config } from './config/schema.ts';
import { EgressError } from './errors.ts';

export interface UrlPolicy {
  /** When not empty, only these hosts may be opened: names (`example.com`, `*.example.com`) or CIDRs. */
  allow: readonly string[];
  /** Denied besides the defaults: names or CIDRs. */
  deny: readonly string[];
  /** Also deny loopback and private networks (10/8, 172.16/12, 192.168/16, 127/8, fc00::/7, ::1). */
  denyPrivate: boolean;
}

/** Always denied: link-local (the metadata services of AWS, GCP, Azure, OpenStack at 169.254.169.254) and the
 * other clouds' metadata addresses and names. */
const DEFAULT_DENIED_CIDRS = ['169.254.0.0/16', '0.0.0.0/8', '100.100.100.200/32', 'fe80::/10', 'fd00:ec2::254/128'];
const DEFAULT_DENIED_NAMES = ['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal'];
const PRIVATE_CIDRS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '100.64.0.0/10', 'fc00::/7', '::1/128'];

/** The operator's `url_policy` config as the checker takes it. */
export const urlPolicyOf = (config: Pick<Config, 'url_policy'>): UrlPolicy => ({
  allow: config.url_policy.allow,
  deny: config.url_policy.deny,
  denyPrivate: config.url_policy.deny_private,
});

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

interface Compiled {
  allowNames: string[];
  allowNets: BlockList | undefined;
  denyNames: string[];
  denyNets: BlockList;
}

function addCidr(list: BlockList, cidr: string): boolean {
  const [address, bits] = cidr.split('/') as [string, string | undefined];
  const family = isIP(address);
  if (!family) return false;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(address, type);
  else list.addSubnet(address, Number(bits), type);
  return true;
}

function compile(policy: UrlPolicy): Compiled {
  const denyNets = new BlockList();
  for (const cidr of [...DEFAULT_DENIED_CIDRS, ...(policy.denyPrivate ? PRIVATE_CIDRS : [])]) addCidr(denyNets, cidr);
  const denyNames = [...DEFAULT_DENIED_NAMES];
  for (const entry of policy.deny) if (!addCidr(denyNets, entry)) denyNames.push(entry.toLowerCase());
  let allowNets: BlockList | undefined;
  const allowNames: string[] = [];
  for (const entry of policy.allow) {
    allowNets ??= new BlockList();
    if (!addCidr(allowNets, entry)) allowNames.push(entry.toLowerCase());
  }
  return { allowNames, allowNets, denyNames, denyNets };
}

/** `*.example.com` matches sub.example.com (not example.com); anything else matches itself. */
function nameMatches(pattern: string, host: string): boolean {
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;
}

const familyOf = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** `::ffff:a9fe:a9fe` (an IPv4 address in IPv6 clothes, as the URL parser writes it) → `169.254.169.254`. */
function unmapped(address: string): string {
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex) {
    const [high, low] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return dotted ? dotted[1]! : address;
}

const compiledPolicies = new WeakMap<UrlPolicy, Compiled>();

/** Throws EgressError(PERMISSION_DENIED) naming the field and the reason when `url` may not be opened. */
export async function checkUrl(url: string, field: string, policy: UrlPolicy, resolve: Resolver = systemResolver): Promise<void> {
  let compiled = compiledPolicies.get(policy);
  if (!compiled) compiledPolicies.set(policy, (compiled = compile(policy)));
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  const denied = (why: string) => new EgressError('EGR_ERR_PERMISSION_DENIED', `${field}: ${host} is not allowed (${why})`);
  if (compiled.denyNames.some((name) => nameMatches(name, host))) throw denied('a denied host');
  const literal = isIP(host) !== 0;
  let addresses: string[];
  if (literal) addresses = [unmapped(host)];
  else {
    try {
      addresses = (await resolve(host)).map(unmapped);
    } catch {
      // Not resolvable here: the page would not load either; the recorder reports that, with its own check.
      addresses = [];
    }
  }
  for (const address of addresses) {
    if (compiled.denyNets.check(address, familyOf(address))) throw denied(literal ? 'a denied address' : `it resolves to ${address}, a denied address`);
  }
  if (compiled.allowNames.length === 0 && !compiled.allowNets) return;
  const allowedByName = compiled.allowNames.some((name) => nameMatches(name, host));
  const allowedByAddress = addresses.length > 0 && addresses.every((a) => compiled.allowNets?.check(a, familyOf(a)));
  if (!allowedByName && !allowedByAddress) throw denied('not in url_policy.allow');
}
