/**
 * url_policy: where this service may connect on a request's say. A recorder, a stream copy, a webhook sender
 * and an uploader all sit inside the operator's network, so a request must not point them at the cloud's
 * metadata service or, if the operator says so, at this host and its private networks.
 *
 * One decision for every destination a request names (pages and everything they load, stream URLs, webhook
 * URLs, storage endpoints): `addressDenial` says whether one IP address may be connected to, whatever form it
 * was written in (IPv4 in IPv6 clothes: mapped, compatible, translated, NAT64, 6to4, Teredo), and the host
 * checks apply it to every address a name resolves to. At request time `checkUrl` refuses what it can see;
 * at connect time `resolveForConnect` / `policyLookup` hand out only checked addresses, so the address that
 * is connected to is the one that was checked (no DNS-rebinding window).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Config } from './config/schema.ts';
import { canonicalAddress, embeddedIPv4, hostOfUrl, normalizeHost, normalizeName } from './address-forms.ts';
import { EgressError } from './errors.ts';

export interface UrlPolicy {
  /** When not empty, only these hosts may be connected to: names (`example.com`, `*.example.com`) or CIDRs. */
  allow: readonly string[];
  /** Denied besides the defaults: names or CIDRs. */
  deny: readonly string[];
  /** Also deny this host, private, shared (CGNAT), multicast and reserved networks (see PRIVATE_V4/V6). */
  denyPrivate: boolean;
}

/** The operator's `url_policy` config as the checker takes it. */
export const urlPolicyOf = (config: Pick<Config, 'url_policy'>): UrlPolicy => ({
  allow: config.url_policy.allow,
  deny: config.url_policy.deny,
  denyPrivate: config.url_policy.deny_private,
});

export type Resolver = (host: string) => Promise<string[]>;

/** getaddrinfo, as ffmpeg, Chromium's system resolver and Node's sockets resolve. */
export const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface HostCheckOptions {
  /** Name resolution; the system's by default (tests inject the answers a DNS server would give). */
  resolve?: Resolver;
  /**
   * Hosts the operator configured (the LiveKit server of `ws_url`, the built-in templates): exempt from
   * `allow`, `deny` and `deny_private`, never from what is always denied.
   */
  exemptHosts?: readonly string[];
  /** Request time only: how long to wait for the resolver (default REQUEST_TIME_RESOLVE_MS). */
  resolveTimeoutMs?: number;
}

/**
 * How long a request-time check waits for DNS. A slow or unreachable resolver must not hold every Start RPC
 * (a resolver timing out takes 5 s a try); a name not resolved by then is treated as unresolvable, which the
 * connect-time check, waiting as long as the connection would, then decides for good.
 */
export const REQUEST_TIME_RESOLVE_MS = 2_000;

/** The addresses `resolve` gives within `timeoutMs`, or none. */
async function resolveWithin(resolve: Resolver, host: string, timeoutMs: number): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string[]>((done) => (timer = setTimeout(() => done([]), timeoutMs)));
  try {
    return await Promise.race([resolve(host).catch(() => []), late]);
  } finally {
    clearTimeout(timer);
  }
}

type Net = readonly [cidr: string, what: string];

/** Never connected to, whatever the policy: cloud metadata services and addresses that mean "this host, any interface". */
const ALWAYS_DENIED_V4: readonly Net[] = [
  ['0.0.0.0/8', 'an unspecified address ("this host")'],
  ['169.254.0.0/16', 'link-local, where cloud metadata services live'],
  ['100.100.100.200/32', 'a cloud metadata service'],
];
const ALWAYS_DENIED_V6: readonly Net[] = [
  ['::/128', 'the unspecified address ("this host")'],
  ['fe80::/10', 'link-local'],
  ['fd00:ec2::254/128', 'a cloud metadata service'],
];
/** Denied with deny_private: everything that is not a public unicast address. */
const PRIVATE_V4: readonly Net[] = [
  ['127.0.0.0/8', 'loopback'],
  ['10.0.0.0/8', 'a private network'],
  ['172.16.0.0/12', 'a private network'],
  ['192.168.0.0/16', 'a private network'],
  ['100.64.0.0/10', 'shared address space (CGNAT)'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['198.18.0.0/15', 'benchmarking'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved (and broadcast)'],
];
const PRIVATE_V6: readonly Net[] = [
  ['::1/128', 'loopback'],
  ['fc00::/7', 'a private network (unique local)'],
  ['fec0::/10', 'a private network (site-local)'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['100::/64', 'discard-only'],
  ['2001:db8::/32', 'documentation'],
  ['2001:2::/48', 'benchmarking'],
  ['ff00::/8', 'multicast'],
];

/** Names that are always refused (cloud metadata), and with deny_private (this host). */
const ALWAYS_DENIED_NAMES = ['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal'];
const PRIVATE_NAMES = ['localhost', '*.localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback'];

class NetTable {
  readonly #v4 = new BlockList();
  readonly #v6 = new BlockList();
  /** One list per entry, to name the entry that matched. */
  readonly #entries: { type: 'ipv4' | 'ipv6'; what: string; single: BlockList }[] = [];

  add(cidr: string, what: string): boolean {
    const slash = cidr.indexOf('/');
    const address = slash < 0 ? cidr : cidr.slice(0, slash);
    const family = isIP(address);
    if (!family) return false;
    const bits = slash < 0 ? (family === 4 ? 32 : 128) : Number(cidr.slice(slash + 1));
    const max = family === 4 ? 32 : 128;
    if (!Number.isInteger(bits) || bits < 0 || bits > max) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const single = new BlockList();
    single.addSubnet(address, bits, type);
    (family === 4 ? this.#v4 : this.#v6).addSubnet(address, bits, type);
    this.#entries.push({ type, what, single });
    return true;
  }

  /** What the first matching entry is, or undefined. */
  match(address: string): string | undefined {
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (!(type === 'ipv4' ? this.#v4 : this.#v6).check(address, type)) return undefined;
    return this.#entries.find((e) => e.type === type && e.single.check(address, type))?.what;
  }
}

interface Compiled {
  always: NetTable;
  private: NetTable;
  denied: NetTable;
  denyNames: string[];
  allowNets: NetTable | undefined;
  allowNames: string[];
}

function compile(policy: UrlPolicy): Compiled {
  const always = new NetTable();
  for (const [cidr, what] of [...ALWAYS_DENIED_V4, ...ALWAYS_DENIED_V6]) always.add(cidr, what);
  const privateNets = new NetTable();
  for (const [cidr, what] of [...PRIVATE_V4, ...PRIVATE_V6]) privateNets.add(cidr, what);
  const denied = new NetTable();
  const denyNames: string[] = [];
  for (const entry of policy.deny) if (!denied.add(entry.trim(), 'in url_policy.deny')) denyNames.push(normalizeName(entry));
  const nets = new NetTable();
  const allowNames: string[] = [];
  let hasNets = false;
  for (const entry of policy.allow) {
    if (nets.add(entry.trim(), 'allowed')) hasNets = true;
    else allowNames.push(normalizeName(entry));
  }
  const allowNets = hasNets ? nets : undefined;
  return { always, private: privateNets, denied, denyNames, allowNets, allowNames };
}

const compiledPolicies = new WeakMap<UrlPolicy, Compiled>();

function compiled(policy: UrlPolicy): Compiled {
  let found = compiledPolicies.get(policy);
  if (!found) compiledPolicies.set(policy, (found = compile(policy)));
  return found;
}

// ---- addresses ----

/**
 * Why `address` may not be connected to under `policy`, or undefined when it may. The one decision every
 * destination goes through. `exempt`: an operator-configured host, only the always-denied apply.
 */
export function addressDenial(address: string, policy: UrlPolicy, exempt = false): string | undefined {
  const c = compiled(policy);
  const own = canonicalAddress(address);
  if (!isIP(own)) return 'not an IP address';
  const direct = c.always.match(own) ?? (exempt ? undefined : ((policy.denyPrivate ? c.private.match(own) : undefined) ?? c.denied.match(own)));
  if (direct) return direct;
  for (const { form, ipv4 } of embeddedIPv4(address)) {
    if (ipv4 === own) continue;
    const inner = addressDenial(ipv4, policy, exempt);
    if (inner) return `${form} form of ${ipv4}, ${inner}`;
  }
  return undefined;
}

// ---- hosts ----

/** `*.example.com` matches sub.example.com (not example.com); anything else matches itself. */
function nameMatches(pattern: string, host: string): boolean {
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;
}

const isExempt = (host: string, options: HostCheckOptions) => (options.exemptHosts ?? []).some((h) => normalizeHost(h) === host);

/**
 * Why the name itself is refused, before any resolution. An allow list of names only (no CIDRs) decides here
 * too, so a page cannot make the worker look up names the policy would refuse anyway (DNS as a side channel).
 */
function nameDenial(host: string, policy: UrlPolicy, exempt: boolean): string | undefined {
  if (ALWAYS_DENIED_NAMES.includes(host)) return 'a cloud metadata name';
  if (exempt || isIP(host)) return undefined;
  if (policy.denyPrivate && PRIVATE_NAMES.some((name) => nameMatches(name, host))) return 'a name of this host';
  const c = compiled(policy);
  if (c.denyNames.some((name) => nameMatches(name, host))) return 'a denied host';
  if (c.allowNames.length > 0 && !c.allowNets && !c.allowNames.some((name) => nameMatches(name, host))) return 'not in url_policy.allow';
  return undefined;
}

function allowListDenial(host: string, addresses: readonly string[], policy: UrlPolicy, exempt: boolean): string | undefined {
  const c = compiled(policy);
  if (exempt || (c.allowNames.length === 0 && !c.allowNets)) return undefined;
  if (c.allowNames.some((name) => nameMatches(name, host))) return undefined;
  if (addresses.length > 0 && addresses.every((a) => c.allowNets?.match(canonicalAddress(a)) !== undefined)) return undefined;
  return 'not in url_policy.allow';
}

export const policyDenied = (field: string, host: string, why: string): EgressError =>
  new EgressError('EGR_ERR_PERMISSION_DENIED', `${field}: ${host} is not allowed (${why})`, { meta: { field } });

/** Every address of `host` checked; throws policyDenied naming the first refused one. */
function checkAddresses(host: string, addresses: readonly string[], field: string, policy: UrlPolicy, exempt: boolean): void {
  const literal = isIP(host) !== 0;
  for (const address of addresses) {
    const why = addressDenial(address, policy, exempt);
    if (why) throw policyDenied(field, host, literal ? why : `it resolves to ${address}: ${why}`);
  }
  const notAllowed = allowListDenial(host, addresses, policy, exempt);
  if (notAllowed) throw policyDenied(field, host, notAllowed);
}

/**
 * Request-time check of a host: refused when its name, or any address it resolves to now, is refused. A
 * name that does not resolve (or not within REQUEST_TIME_RESOLVE_MS) is let through (the connect-time check
 * refuses to connect to it), unless an allow list leaves it out.
 */
export async function checkHost(host: string, field: string, policy: UrlPolicy, options: HostCheckOptions = {}): Promise<void> {
  const normalized = normalizeHost(host);
  const exempt = isExempt(normalized, options);
  const named = nameDenial(normalized, policy, exempt);
  if (named) throw policyDenied(field, normalized, named);
  const addresses = isIP(normalized)
    ? [normalized]
    : await resolveWithin(options.resolve ?? systemResolver, normalized, options.resolveTimeoutMs ?? REQUEST_TIME_RESOLVE_MS);
  checkAddresses(normalized, addresses, field, policy, exempt);
}

/** Request-time check of a URL (any scheme). A URL that does not parse is the caller's validation to refuse. */
export async function checkUrl(url: string, field: string, policy: UrlPolicy, options: HostCheckOptions | Resolver = {}): Promise<void> {
  let host: string;
  try {
    host = hostOfUrl(url);
  } catch {
    throw new EgressError('EGR_ERR_INVALID_ARGUMENT', `request has missing or invalid field: ${field} (not a URL with a host)`, { meta: { field } });
  }
  await checkHost(host, field, policy, typeof options === 'function' ? { resolve: options } : options);
}

/** A connect-time name that did not resolve: not a policy refusal, and worth a retry. */
export class UnresolvedHostError extends Error {
  override name = 'UnresolvedHostError';
}

/**
 * Connect-time: resolves `host` once and returns its addresses, every one checked. Connect to one of these,
 * never to the name, so nothing can answer differently between the check and the connection.
 */
export async function resolveForConnect(host: string, field: string, policy: UrlPolicy, options: HostCheckOptions = {}): Promise<string[]> {
  const normalized = normalizeHost(host);
  const exempt = isExempt(normalized, options);
  const named = nameDenial(normalized, policy, exempt);
  if (named) throw policyDenied(field, normalized, named);
  let addresses: string[];
  if (isIP(normalized)) addresses = [normalized.replace(/%.*$/, '')];
  else {
    try {
      addresses = await (options.resolve ?? systemResolver)(normalized);
    } catch (err) {
      throw new UnresolvedHostError(`cannot resolve ${normalized}: ${(err as Error).message}`);
    }
    if (addresses.length === 0) throw new UnresolvedHostError(`cannot resolve ${normalized}: no address`);
  }
  checkAddresses(normalized, addresses, field, policy, exempt);
  return addresses;
}

/**
 * A `lookup` (net, tls, http(s), ws) that answers with these already-checked addresses only, whatever is
 * asked: the socket connects to what resolveForConnect returned, never to a second resolution of the name.
 * Node does not call `lookup` for an IP-literal host, so check a literal with resolveForConnect first.
 */
export function pinnedLookup(addresses: readonly string[]): LookupFunction {
  return (hostname, options, callback) => {
    const wanted = typeof options === 'object' ? options : {};
    const family = wanted.family === 'IPv4' || wanted.family === 4 ? 4 : wanted.family === 'IPv6' || wanted.family === 6 ? 6 : 0;
    const usable = addresses.map((address) => ({ address, family: isIP(address) })).filter((a) => family === 0 || a.family === family);
    if (usable.length === 0) return callback(Object.assign(new Error(`no IPv${family} address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
    if (wanted.all) return (callback as unknown as (err: null, all: typeof usable) => void)(null, usable);
    callback(null, usable[0]!.address, usable[0]!.family);
  };
}

/**
 * A `lookup` that resolves each name through resolveForConnect, for clients that connect by name: a socket
 * only ever connects to a checked address. A refusal reaches the socket as its error (an EgressError). Node
 * skips `lookup` for IP literals: a client whose host may be a literal needs the check before it connects.
 */
export function policyLookup(field: string, policy: UrlPolicy, options: HostCheckOptions = {}): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolveForConnect(hostname, field, policy, options).then(
      (addresses) => pinnedLookup(addresses)(hostname, lookupOptions, callback),
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}
