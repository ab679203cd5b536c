/**
 * Output names, LiveKit's way (egress `pkg/config/output_file.go`, `output_segment.go`, `output_image.go`):
 * `{variables}` expanded, a generated `<identifier>-<time>` name for an empty path or a directory, the
 * extension fixed. Validation runs these at request time (so a bad path is an invalid_argument, not a
 * failed egress) and workers run them again with the variables only known once in the room.
 */
import { posix } from 'node:path';
import type { EgressPlan, PathPolicy, SourcePlan } from './egress-plan.ts';
import { invalidField } from './errors.ts';

export interface NamingVars {
  /** What generated names start with: room name, `web`, participant identity or track id. */
  identifier: string;
  /** Unix ms of the request: `{time}`, `{utc}` and generated names. */
  time: number;
  roomName?: string;
  roomId?: string;
  publisherIdentity?: string;
  trackId?: string;
  /** `audio` / `video`. */
  trackType?: string;
  /** `camera`, `microphone`, `screen_share`, … */
  trackSource?: string;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Go's `2006-01-02T150405` in the server's local time zone, as LiveKit writes `{time}`. */
export function formatLocalTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

/**
 * `20060102150405` + 3-digit milliseconds. In UTC, as the name says (LiveKit formats the container's local
 * time, which is UTC in its images).
 */
export function formatUtc(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}${pad(d.getUTCMilliseconds(), 3)}`;
}

/** Each variable and its value; one not known (undefined) stays in the name as written, as in LiveKit. */
const VARIABLES: ReadonlyArray<readonly [string, (v: NamingVars) => string | undefined]> = [
  ['{room_name}', (v) => v.roomName],
  ['{room_id}', (v) => v.roomId],
  ['{time}', (v) => formatLocalTime(v.time)],
  ['{utc}', (v) => formatUtc(v.time)],
  ['{publisher_identity}', (v) => v.publisherIdentity],
  ['{track_id}', (v) => v.trackId],
  ['{track_type}', (v) => v.trackType],
  ['{track_source}', (v) => v.trackSource],
];

export function expandTemplate(template: string, vars: NamingVars): string {
  let out = template;
  for (const [placeholder, value] of VARIABLES) {
    const v = value(vars);
    if (v !== undefined) out = out.replaceAll(placeholder, v);
  }
  return out;
}

/** The name LiveKit makes up for an empty path: `<identifier>-<time>`. */
export function generatedName(vars: NamingVars): string {
  return `${vars.identifier}-${formatLocalTime(vars.time)}`;
}

/** Whose name a generated file carries: room name; `web` for web egress; identity; track id. */
export function fileIdentifier(source: SourcePlan, roomName: string): string {
  switch (source.kind) {
    case 'web':
      return 'web';
    case 'participant':
      return source.identity;
    case 'track':
      return source.trackId;
    case 'template':
    case 'track_composite':
      return roomName;
  }
}

/** The variables a plan already knows; workers add room id, publisher and track details as they learn them. */
export function namingVarsOf(plan: Pick<EgressPlan, 'source' | 'roomName' | 'requestedAt'>, more: Partial<NamingVars> = {}): NamingVars {
  const { source, roomName } = plan;
  return {
    identifier: fileIdentifier(source, roomName),
    time: plan.requestedAt,
    ...(roomName ? { roomName } : {}),
    ...(source.kind === 'participant' ? { publisherIdentity: source.identity } : {}),
    ...(source.kind === 'track' ? { trackId: source.trackId } : {}),
    ...more,
  };
}

/** LiveKit's known extensions: one of these at the end of a name is replaced, anything else kept. */
const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set(['.raw', '.ogg', '.mp3', '.ivf', '.mp4', '.ts', '.webm', '.m3u8', '.jpeg']);

/** Normalised relative path ('' for none), keeping a trailing `/`; escapes refused or stripped by policy. */
export function cleanPath(path: string, policy: PathPolicy, field: string): string {
  if (path.includes('\0')) throw invalidField(field, 'contains a NUL character');
  let p = posix.normalize(path === '' ? '.' : path);
  if (posix.isAbsolute(p) || p === '..' || p.startsWith('../')) {
    if (policy === 'confined') throw invalidField(field, `${path} is outside the output directory`);
    p = p.replace(/^\/+/, '');
    while (p === '..' || p.startsWith('../')) p = p.slice(3);
  }
  if (p === '.' || p === './' || p === '') return '';
  return path.endsWith('/') && !p.endsWith('/') ? `${p}/` : p;
}

/** Splits at the last `/`: the directory keeps its trailing slash. */
function splitDir(path: string): [dir: string, name: string] {
  const slash = path.lastIndexOf('/');
  return [path.slice(0, slash + 1), path.slice(slash + 1)];
}

function withoutExtension(name: string, only?: ReadonlySet<string>): string {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return name;
  return !only || only.has(name.slice(dot)) ? name.slice(0, dot) : name;
}

/**
 * A file's storage key: `{variables}` expanded; empty or ending in `/` → `<dir>/<identifier>-<time><ext>`;
 * a wrong known extension replaced, a missing one appended (`ext` '' leaves the name alone: track egress
 * before its codec is known). Relative to the storage root.
 */
export function resolveOutputPath(template: string, vars: NamingVars, ext: string, policy: PathPolicy, field = 'filepath'): string {
  let path = cleanPath(expandTemplate(template, vars), policy, field);
  if (path === '' || path.endsWith('/')) {
    path += generatedName(vars) + ext;
  } else if (ext && !path.endsWith(ext)) {
    const [dir, name] = splitDir(path);
    path = dir + withoutExtension(name, KNOWN_EXTENSIONS) + ext;
  }
  // The identifier (a room name, an identity) is the caller's text too: check the result again.
  return cleanPath(path, policy, field);
}

/** An absolute local path for a key, refusing one outside `baseDir` (defence in depth for local storage). */
export function localPathOf(baseDir: string, key: string, field = 'filepath'): string {
  const base = posix.resolve(baseDir);
  const full = posix.resolve(base, cleanPath(key, 'confined', field));
  if (full !== base && !full.startsWith(`${base}/`)) throw invalidField(field, `${key} is outside the output directory`);
  return full;
}

export interface SegmentNames {
  /** Directory of the playlists: '' or ending in `/`. */
  dir: string;
  /** Playlist file name, `.m3u8`. */
  playlist: string;
  /** Live (sliding-window) playlist file name, or '' when not asked for. */
  livePlaylist: string;
  /** Segment file prefix relative to `dir` (may name a sub-directory); segments are `<prefix>_00001.ts`. */
  segmentPrefix: string;
}

export interface SegmentNameRequest {
  filenamePrefix: string;
  playlistName: string;
  livePlaylistName: string;
}

/** HLS names (LiveKit `updatePrefixAndPlaylist`): the live playlist must sit next to, and differ from, the playlist. */
export function resolveSegmentNames(request: SegmentNameRequest, vars: NamingVars, policy: PathPolicy): SegmentNames {
  const clean = (template: string, field: string): string => cleanPath(expandTemplate(template, vars), policy, field);
  let [dir, playlistName] = splitDir(clean(request.playlistName, 'playlist_name'));
  const [liveDir, liveName] = splitDir(clean(request.livePlaylistName, 'live_playlist_name'));
  let [segmentDir, segmentPrefix] = splitDir(clean(request.filenamePrefix, 'filename_prefix'));

  if (liveDir !== '' && liveDir !== dir) throw invalidField('live_playlist_name', 'must be in the same directory as playlist_name');
  // LiveKit drops whatever extension the playlist names carry and writes .m3u8.
  playlistName = withoutExtension(playlistName);
  const livePlaylistName = withoutExtension(liveName);

  // A segment directory equal to the playlist's, or the only directory given, becomes the playlists' directory.
  if (segmentDir !== '' && (segmentDir === dir || dir === '')) {
    dir = segmentDir;
    segmentDir = '';
  }
  playlistName ||= segmentPrefix || generatedName(vars);
  segmentPrefix ||= playlistName;

  const names: SegmentNames = {
    dir,
    playlist: `${playlistName}.m3u8`,
    livePlaylist: livePlaylistName ? `${livePlaylistName}.m3u8` : '',
    segmentPrefix: segmentDir + segmentPrefix,
  };
  if (names.playlist === names.livePlaylist) throw invalidField('live_playlist_name', 'cannot be identical to playlist_name');
  cleanPath(names.dir + names.playlist, policy, 'playlist_name');
  cleanPath(names.dir + names.segmentPrefix, policy, 'filename_prefix');
  return names;
}

export interface ImageNames {
  /** '' or ending in `/`. */
  dir: string;
  /** Images are `<prefix>_00001.jpeg`, `<prefix>_<utc>.jpeg` or `<prefix>.jpeg`. */
  prefix: string;
}

export function resolveImagePrefix(template: string, vars: NamingVars, policy: PathPolicy): ImageNames {
  const [dir, prefix] = splitDir(cleanPath(expandTemplate(template, vars), policy, 'filename_prefix'));
  const names = { dir, prefix: prefix || generatedName(vars) };
  cleanPath(names.dir + names.prefix, policy, 'filename_prefix');
  return names;
}
