/**
 * The many ways one address or host can be written, brought to the one form url_policy decides on
 * (url-policy.ts): IPv6 addresses that carry an IPv4 address (mapped, translated, compatible, NAT64, 6to4,
 * Teredo), and host names in inet_aton's forms (`2130706433`, `0x7f.1`), which getaddrinfo and so ffmpeg accept.
 */
import { isIP } from 'node:net';

/** The eight 16-bit groups of an IPv6 address (zone id dropped; a dotted IPv4 tail taken apart). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups = tail === undefined ? front : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return groups.map((g) => parseInt(g, 16));
}

const v4Of = (high: number, low: number): string => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;

/**
 * IPv4 addresses an IPv6 address carries, each with the form it is in: mapped (::ffff:a.b.c.d), translated
 * (::ffff:0:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96 and local-use 64:ff9b:1::/48 with the
 * address in its last 32 bits), 6to4 (2002:AABB:CCDD::/48) and Teredo (2001:0::/32: the server, and the
 * client's address inverted in the last 32 bits). A packet to any of them may end up at that IPv4 address.
 */
export function embeddedIPv4(address: string): { form: string; ipv4: string }[] {
  if (isIP(address.replace(/%.*$/, '')) !== 6) return [];
  const g = ipv6Groups(address);
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const tail = v4Of(g[6]!, g[7]!);
  const found: { form: string; ipv4: string }[] = [];
  if (zeros(0, 5) && g[5] === 0xffff) found.push({ form: 'IPv4-mapped', ipv4: tail });
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) found.push({ form: 'IPv4-translated', ipv4: tail });
  // :: and ::1 are the IPv6 unspecified and loopback addresses, decided as themselves.
  if (zeros(0, 6) && !(g[6] === 0 && g[7]! <= 1)) found.push({ form: 'IPv4-compatible', ipv4: tail });
  if (g[0] === 0x64 && g[1] === 0xff9b && (zeros(2, 6) || g[2] === 1)) found.push({ form: 'NAT64', ipv4: tail });
  if (g[0] === 0x2002) found.push({ form: '6to4', ipv4: v4Of(g[1]!, g[2]!) });
  if (g[0] === 0x2001 && g[1] === 0) {
    found.push({ form: 'Teredo server', ipv4: v4Of(g[2]!, g[3]!) });
    found.push({ form: 'Teredo client', ipv4: v4Of(~g[6]! & 0xffff, ~g[7]! & 0xffff) });
  }
  return found;
}

/** The address as allow/deny CIDRs see it: an IPv4 address written as mapped or translated IPv6 is that IPv4 address. */
export function canonicalAddress(address: string): string {
  const mapped = embeddedIPv4(address).find((e) => e.form === 'IPv4-mapped' || e.form === 'IPv4-translated');
  return mapped ? mapped.ipv4 : address.replace(/%.*$/, '').toLowerCase();
}

/** inet_aton's forms (`2130706433`, `0x7f.1`, `0177.0.0.1`), which getaddrinfo and so ffmpeg accept as addresses. */
function inetAton(host: string): string | undefined {
  const parts = host.split('.');
  if (parts.length > 4 || parts.some((p) => !/^(0x[0-9a-f]*|[0-9]+)$/i.test(p))) return undefined;
  const values = parts.map((p) =>
    /^0x/i.test(p) ? parseInt(p.slice(2) || '0', 16) : /^0[0-7]+$/.test(p) ? parseInt(p, 8) : /^0\d/.test(p) ? NaN : Number(p),
  );
  if (values.some((v) => !Number.isFinite(v))) return undefined;
  const last = values.pop()!;
  if (values.some((v) => v > 255) || last >= 256 ** (4 - values.length)) return undefined;
  let n = values.reduce((acc, v, i) => acc + v * 256 ** (3 - i), 0) + last;
  const octets: number[] = [];
  for (let i = 0; i < 4; i++) {
    octets.unshift(n % 256);
    n = Math.floor(n / 256);
  }
  return octets.join('.');
}

/** A name as it is compared: trimmed, lower case, no trailing dots. */
export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.+$/, '');
}

/** A host as it is checked: lower case, no brackets, no trailing dots, inet_aton forms as dotted IPv4. */
export function normalizeHost(host: string): string {
  const bare = normalizeName(host.replace(/^\[(.*)\]$/, '$1'));
  if (isIP(bare.replace(/%.*$/, ''))) return bare;
  return inetAton(bare) ?? bare;
}

/** The host of a URL of any scheme, normalized; throws when the URL does not parse or has no host. */
export function hostOfUrl(url: string): string {
  const host = URL.canParse(url) ? new URL(url).hostname : '';
  if (!host) throw new TypeError('not a URL with a host');
  return normalizeHost(host);
}
