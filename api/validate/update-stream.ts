/**
 * UpdateStream's rules, apart from any I/O: how big its lists may be (checked before anything else, so
 * 5,000 URLs are refused at once, not parsed, resolved or started), and what one update does to an
 * egress's streams: streams are found by their real URL (its identity, shared/stream-destination.ts), never
 * by the redacted text two URLs may share, and the egress never ends up with more than `max_stream_urls`.
 */
import type { StreamInfo, UpdateStreamRequest } from '@livekit/protocol';
import type { SealedStream } from '../../shared/egress-secrets.ts';
import { invalidField, notFound } from '../../shared/errors.ts';
import type { Limits } from '../../shared/limits.ts';
import { streamEnded } from '../../shared/stream-results.ts';
import type { ResolvedStreamUrl } from './stream-url.ts';

/** Refuses lists longer than an egress may have streams (each URL's length is bounded with every string of every RPC: string-lengths.ts). */
export function checkUpdateStreamBounds(request: UpdateStreamRequest, limits: Limits): void {
  const lists = [
    ['add_output_urls', request.addOutputUrls],
    ['remove_output_urls', request.removeOutputUrls],
  ] as const;
  for (const [field, urls] of lists) {
    if (urls.length > limits.max_stream_urls) throw invalidField(field, `at most ${limits.max_stream_urls} URLs`);
  }
}

export interface StreamUpdate {
  /** Streams to append to the sealed list (and to StreamInfo), in order. */
  added: SealedStream[];
  /** Positions (in the sealed list after `added`) of the streams to stop. */
  removed: number[];
}

/** Targets with the same identity once. */
export function uniqueTargets(targets: readonly ResolvedStreamUrl[]): ResolvedStreamUrl[] {
  return targets.filter((t, i) => targets.findIndex((other) => other.id === t.id) === i);
}

/**
 * What adding `add` and then removing `remove` (LiveKit's order) does to `streams` (the sealed list) whose
 * StreamInfo entries are `results` (same positions; an entry not there yet is a stream not started yet,
 * so active). Adding a URL that is active is a no-op; removing one that is not active is `not_found`; more
 * active streams than `limit` afterwards is `invalid_argument` naming add_output_urls. Throws before
 * anything is changed.
 */
export function planStreamUpdate(
  streams: readonly SealedStream[],
  results: readonly StreamInfo[],
  add: readonly ResolvedStreamUrl[],
  remove: readonly ResolvedStreamUrl[],
  limit: number,
): StreamUpdate {
  const active = (position: number) => !streamEnded(results[position]);
  const activeIds = new Set(streams.filter((_, i) => active(i)).map((s) => s.id));
  const added = uniqueTargets(add)
    .filter((t) => !activeIds.has(t.id))
    .map((t) => ({ id: t.id, url: t.url, redacted: t.redacted }));
  const after = [...streams, ...added];
  const removed = uniqueTargets(remove).map((t) => {
    const position = after.findLastIndex((s, i) => s.id === t.id && active(i));
    if (position < 0) throw notFound(`stream ${t.redacted} not found`);
    return position;
  });
  const count = after.filter((_, i) => active(i)).length - removed.length;
  if (count > limit) throw invalidField('add_output_urls', `an egress streams to at most ${limit} URLs at once (${count} after this update)`);
  return { added, removed };
}
