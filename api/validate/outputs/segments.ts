/**
 * The segmented (HLS) output of a request (SegmentedFileOutput): at most one, protocol, suffix, segment
 * duration, and the playlist and segment names checked as storage keys. Segments cut at keyframes, so they
 * own them; next to a live stream, a requested keyframe interval shortens them to match.
 */
import { SegmentedFileProtocol, SegmentedFileSuffix, type SegmentedFileOutput } from '@livekit/protocol';
import { pathPolicyOf, type SegmentsOutputPlan } from '../../../shared/egress-plan.ts';
import { invalidField } from '../../../shared/errors.ts';
import { resolveSegmentNames } from '../../../shared/naming.ts';
import { SEGMENT_SUFFIX_LENGTH, checkStorageKey } from '../storage-keys.ts';
import { stored, withLegacy, type Stored } from './stored.ts';
import { seconds, type OutputContext } from './output-context.ts';
import { atMostOne, requestOutputKind, type CheckedKind, type Settled } from './output-kind.ts';
import { v2Upload } from './upload-storage.ts';

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

/** With a live stream as well, a requested keyframe interval shortens the segments to match. */
function segmentDuration(segments: SegmentsOutputPlan, settled: Settled): number {
  const { keyFrameIntervalSec: intervalSec, liveAlongside } = settled;
  return liveAlongside && intervalSec > 0 ? Math.max(1, Math.min(Math.floor(intervalSec), segments.segmentDurationSec)) : segments.segmentDurationSec;
}

const checkedSegments = (segments: SegmentsOutputPlan): Omit<CheckedKind, 'name'> => ({
  carriesAudio: true,
  container: 'hls',
  ownsKeyframes: true,
  plan: (settled) => ({ segments: { ...segments, segmentDurationSec: segmentDuration(segments, settled) } }),
});

export const segmentsKind = requestOutputKind<Stored<SegmentedFileOutput>>({
  name: 'segments',
  fromV1: (request) =>
    withLegacy(request.segmentOutputs, request.output?.case === 'segments' ? request.output.value : undefined).map((s) => stored(s, s.output)),
  fromV2: ({ config, storage }, request) =>
    config.case === 'segments' ? stored(config.value, v2Upload(storage, request.storage, config.value.output)) : undefined,
  uploadOf: (segments) => segments.upload,
  rules: atMostOne('multiple segmented file outputs', (segments, ctx) => checkedSegments(checkSegments(segments, ctx))),
});
