/**
 * The parts of an RTMP(S) URL a publisher sends, split as LiveKit's pattern
 * `rtmp(s)://{host}(/{path})/{app}/{stream_key}` splits it (and GStreamer's rtmp2sink): the stream key is
 * the last path segment with the query, the application everything between the host and it.
 */
import { portOf, StreamUrlError, type StreamDestination } from './stream-destination.ts';

export interface RtmpParts {
  /** `live`, `app/instance`, …: the connect command's `app`. */
  app: string;
  /** The publish name (secret). */
  streamKey: string;
  /** `rtmp(s)://host[:port]/app`: the connect command's `tcUrl`, with the host name as written (virtual hosts). */
  tcUrl: string;
}

export function rtmpPartsOf(destination: StreamDestination): RtmpParts {
  const { path, query } = destination;
  const slash = path.lastIndexOf('/');
  const app = slash > 0 ? path.slice(1, slash) : '';
  const key = path.slice(slash + 1);
  if (!app || !key) throw new StreamUrlError('rtmp urls must be of format rtmp(s)://{host}(/{path})/{app}/{stream_key}( live=1)');
  // A `/` after the key would move where LiveKit's pattern (and our redaction) sees the key start.
  if (query.includes('/')) throw new StreamUrlError('a "/" in the stream key');
  const host = destination.host.includes(':') ? `[${destination.host}]` : destination.host;
  const port = destination.port === undefined ? '' : `:${portOf(destination)}`;
  return { app, streamKey: query ? `${key}?${query}` : key, tcUrl: `${destination.scheme}://${host}${port}/${app}` };
}
