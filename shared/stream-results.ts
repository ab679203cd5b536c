/**
 * StreamInfo entry i of an egress is its sealed stream i (shared/egress-secrets.ts `streams`): StreamInfo
 * shows only the redacted URL, which two streams may share, so the position is what ties an entry to its
 * real URL. Both lists only grow. The API (UpdateStream) and the worker (the streams it starts) each make
 * sure every sealed stream has its entry before they touch one, so whoever comes first, positions agree.
 */
import { StreamInfo, StreamInfo_Status, type EgressInfo } from '@livekit/protocol';

/** Appends an ACTIVE entry for every sealed stream that has none yet; whether any was added. */
export function alignStreamResults(info: EgressInfo, streams: readonly { redacted: string }[]): boolean {
  const before = info.streamResults.length;
  for (let i = before; i < streams.length; i++)
    info.streamResults.push(new StreamInfo({ url: streams[i]!.redacted, status: StreamInfo_Status.ACTIVE }));
  return info.streamResults.length > before;
}

/** FINISHED (removed, or ended with the egress) or FAILED: never started again. */
export function streamEnded(entry: StreamInfo | undefined): boolean {
  return entry !== undefined && entry.status !== StreamInfo_Status.ACTIVE;
}
