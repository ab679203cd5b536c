/**
 * The segmented (HLS) output of a request (SegmentedFileOutput): protocol, suffix, segment duration, and the
 * playlist and segment names checked as storage keys.
 */
import { SegmentedFileProtocol, SegmentedFileSuffix, type SegmentedFileOutput } from '@livekit/protocol';
import { pathPolicyOf, type SegmentsOutputPlan } from '../../../shared/egress-plan.ts';
import { invalidField } from '../../../shared/errors.ts';
import { resolveSegmentNames } from '../../../shared/naming.ts';
import { SEGMENT_SUFFIX_LENGTH, checkStorageKey } from '../storage-keys.ts';
import type { Stored } from './gather.ts';
import { seconds, type OutputContext } from './output-context.ts';

const SEGMENT_SUFFIX: ReadonlyMap<SegmentedFileSuffix, SegmentsOutputPlan['filenameSuffix']> = new Map([
  [SegmentedFileSuffix.INDEX, 'index'],
  [SegmentedFileSuffix.TIMESTAMP, 'timestamp'],
]);

const HLS_PROTOCOLS: ReadonlySet<SegmentedFileProtocol> = new Set([
  SegmentedFileProtocol.DEFAULT_SEGMENTED_FILE_PROTOCOL,
  SegmentedFileProtocol.HLS_PROTOCOL,
]);

export const DEFAULT_SEGMENT_DURATION_SEC = 4;

export function checkSegments({ output, storage }: Stored<SegmentedFileOutput>, ctx: OutputContext): SegmentsOutputPlan {
  if (!HLS_PROTOCOLS.has(output.protocol)) throw invalidField('protocol');
  const filenameSuffix = SEGMENT_SUFFIX.get(output.filenameSuffix);
  if (!filenameSuffix) throw invalidField('filename_suffix');
  const segmentDurationSec = seconds(output.segmentDuration, ctx.limits.max_segment_duration, DEFAULT_SEGMENT_DURATION_SEC, 'segment_duration');
  const names = resolveSegmentNames(output, ctx.vars, pathPolicyOf(storage));
  checkStorageKey(names.dir + names.playlist, 0, storage, 'playlist_name');
  checkStorageKey(names.dir + names.livePlaylist, 0, storage, 'live_playlist_name');
  checkStorageKey(names.dir + names.segmentPrefix, SEGMENT_SUFFIX_LENGTH, storage, 'filename_prefix');
  return {
    filenamePrefix: output.filenamePrefix,
    playlistName: output.playlistName,
    livePlaylistName: output.livePlaylistName,
    segmentDurationSec,
    filenameSuffix,
    disableManifest: output.disableManifest,
    storage,
  };
}
