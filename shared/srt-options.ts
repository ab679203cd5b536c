/**
 * The SRT options a stream URL may carry: only what a sender needs, read from the query of
 * `srt://host:port?…` and handed to ffmpeg as options we build, never as the caller's query string.
 *
 * - `streamid` (≤ 512 characters; often the server's stream key), `passphrase` (10–79 characters) and
 *   `pbkeylen` (0, 16, 24, 32): what ingest servers ask for.
 * - `latency` in milliseconds, as GStreamer's srtsink (LiveKit) reads it; ffmpeg takes microseconds.
 * - `mode=caller` is accepted and means the default. `listener` would make the worker's ffmpeg wait on a
 *   UDP port for anyone to connect and pull the recording; `rendezvous` binds a local port too: refused.
 * Anything else (`localport`, `localaddress`, `transtype`, …) is refused rather than passed on unread.
 */
import { StreamUrlError } from './stream-destination.ts';

export interface SrtOptions {
  streamid?: string;
  passphrase?: string;
  pbkeylen?: number;
  latencyMs?: number;
}

type Reader = (value: string, into: SrtOptions) => void;

const integer = (value: string, name: string, ok: (n: number) => boolean): number => {
  const n = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!ok(n)) throw new StreamUrlError(`invalid SRT ${name}`);
  return n;
};

/** Every option a URL may name, in the order they are written back. A Map: the names come from the caller. */
const READERS: ReadonlyMap<string, Reader> = new Map<string, Reader>([
  [
    'streamid',
    (value, into) => {
      if (value.length === 0 || value.length > 512) throw new StreamUrlError('invalid SRT streamid (1 to 512 characters)');
      into.streamid = value;
    },
  ],
  [
    'passphrase',
    (value, into) => {
      if (value.length < 10 || value.length > 79) throw new StreamUrlError('invalid SRT passphrase (10 to 79 characters)');
      into.passphrase = value;
    },
  ],
  ['pbkeylen', (value, into) => void (into.pbkeylen = integer(value, 'pbkeylen', (n) => [0, 16, 24, 32].includes(n)))],
  ['latency', (value, into) => void (into.latencyMs = integer(value, 'latency (milliseconds)', (n) => n >= 0 && n <= 60_000))],
  [
    'mode',
    (value) => {
      const mode = value.toLowerCase();
      if (mode !== 'caller')
        throw new StreamUrlError(`SRT mode ${mode === 'listener' || mode === 'rendezvous' ? mode : '(unknown)'} is not supported: only caller`);
    },
  ],
]);

/** The options of an SRT URL's query; throws StreamUrlError for an unknown, repeated or invalid one. */
export function parseSrtQuery(query: string): SrtOptions {
  const options: SrtOptions = {};
  if (query === '') return options;
  const seen = new Set<string>();
  for (const param of query.split('&')) {
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).toLowerCase();
    const reader = READERS.get(name);
    // Names only: they are few and known; a value may be a secret and is never shown.
    if (!reader)
      throw new StreamUrlError(
        `SRT option ${/^[a-z_]{1,32}$/.test(name) ? name : '(unknown)'} is not supported (only ${[...READERS.keys()].join(', ')})`,
      );
    if (seen.has(name)) throw new StreamUrlError(`SRT option ${name} given twice`);
    seen.add(name);
    let value: string;
    try {
      value = decodeURIComponent(eq < 0 ? '' : param.slice(eq + 1));
    } catch {
      throw new StreamUrlError(`invalid percent-encoding in SRT option ${name}`);
    }
    reader(value, options);
  }
  return options;
}

/** The options written back as a query, in one order, values percent-encoded (the canonical URL's). */
export function srtQueryOf(options: SrtOptions): string {
  const pairs: [string, string | number | undefined][] = [
    ['streamid', options.streamid],
    ['passphrase', options.passphrase],
    ['pbkeylen', options.pbkeylen],
    ['latency', options.latencyMs],
  ];
  return pairs
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`)
    .join('&');
}

/**
 * ffmpeg's libsrt output options for `options` (caller mode always). `-srt_streamid`, not `-streamid`,
 * which ffmpeg's command line takes for its own output option.
 */
export function ffmpegSrtArgs(options: SrtOptions): string[] {
  const args = ['-mode', 'caller'];
  if (options.streamid !== undefined) args.push('-srt_streamid', options.streamid);
  if (options.passphrase !== undefined) args.push('-passphrase', options.passphrase);
  if (options.pbkeylen !== undefined) args.push('-pbkeylen', String(options.pbkeylen));
  if (options.latencyMs !== undefined) args.push('-latency', String(options.latencyMs * 1000));
  return args;
}
