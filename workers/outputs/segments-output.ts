/**
 * The HLS output of a running recording: each segment the encoder closes is named as LiveKit names it,
 * logged, and sent to storage at once through the upload queue, its playlists right behind it (a flow:
 * playlist job = parent of the segment's upload). SegmentsInfo in the store follows every segment. A part
 * taken over from a lost worker goes on in the same playlists, numbering on, after a discontinuity.
 */
import { SegmentsInfo } from '@livekit/protocol';
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Logger } from 'pino';
import { pathPolicyOf, type EgressPlan, type SegmentsOutputPlan, type StorageTarget } from '../../shared/egress-plan.ts';
import { msToNanos } from '../../shared/ids.ts';
import { formatUtc, namingVarsOf, resolveSegmentNames, type SegmentNames } from '../../shared/naming.ts';
import { uploadJobId, type PlaylistJobData, type UploadJobData } from '../../shared/queues.ts';
import type { ServiceContext } from '../../shared/context.ts';
import type { LoggedSegment } from '../../shared/segment-log.ts';
import type { SegmentReport } from '../recording/recorder-contract.ts';
import { segmentsResult } from '../upload/finalize-results.ts';
import { writePlaylists } from '../upload/playlist-job.ts';
import { resumedSegments, type ResumedSegments } from '../takeover/resumed-numbering.ts';
import { isLastAttempt, uploadJobOptions } from '../upload/upload-options.ts';
import type { FinalizeInput, OutputFinalizer, OutputPluginOf } from './output-plugin.ts';

/**
 * Required when plan.segments: the directory (created if missing) the MPEG-TS segments are written to, under
 * names of the recorder's choosing; each is announced through onSegment once closed, in order (the last one at
 * stop). An announced segment is complete and the recorder no longer touches it: the caller may rename,
 * upload or delete it.
 */
export interface SegmentsWiring {
  dir: string;
  onSegment: (segment: SegmentReport) => void;
  /** The number of the first segment (ffmpeg's segment_start_number): 0, or after a takeover the recording's next. */
  startNumber?: number;
}

/** The HLS output of a finished recording; its segments are in the segment log. */
export interface SegmentsSummary {
  playlistKey: string;
  livePlaylistKey: string;
  storage: StorageTarget;
  segmentDurationSec: number;
  count: number;
  startedAtMs: number;
  endedAtMs: number;
}

declare module '../../shared/queues.ts' {
  interface FinalizeResults {
    segments: SegmentsSummary;
  }
}

const pad5 = (n: number) => String(n).padStart(5, '0');

export class SegmentsOutput {
  private readonly ctx: ServiceContext;
  private readonly plan: EgressPlan;
  private readonly output: SegmentsOutputPlan;
  private readonly names: SegmentNames;
  private readonly dirKey: string;
  private readonly log: Logger;
  private count = 0;
  private durationSec = 0;
  private sizeBytes = 0;
  private startedAtMs = 0;
  private endedAtMs = 0;
  /** The next segment begins a part after a takeover: the playlists mark a discontinuity before it. */
  private discontinuityNext = false;
  /** Segments are handled one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(ctx: ServiceContext, plan: EgressPlan, log: Logger) {
    this.ctx = ctx;
    this.plan = plan;
    this.output = plan.segments!;
    this.log = log;
    const policy = pathPolicyOf(this.output.storage);
    this.names = resolveSegmentNames(this.output, namingVarsOf(plan), policy);
    this.dirKey = posix.join(ctx.config.storage.prefix, this.names.dir);
  }

  get playlistKey(): string {
    return posix.join(this.dirKey, this.names.playlist);
  }

  get livePlaylistKey(): string {
    return this.names.livePlaylist ? posix.join(this.dirKey, this.names.livePlaylist) : '';
  }

  /**
   * A part after a takeover goes on where the earlier parts stopped: its segments are numbered on, the totals
   * include theirs, and its first segment is marked as a discontinuity (its timestamps start over).
   */
  resume(from: ResumedSegments): void {
    this.count = from.count;
    this.durationSec = from.durationSec;
    this.sizeBytes = from.sizeBytes;
    this.startedAtMs = from.startedAtMs;
    this.endedAtMs = from.endedAtMs;
    this.discontinuityNext = from.count > 0;
  }

  /** Called by the recorder as each segment closes. */
  onSegment(report: SegmentReport): void {
    this.chain = this.chain
      .then(() => this.deliver(report))
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'segment not queued'));
  }

  private async deliver(report: SegmentReport): Promise<void> {
    const { egressId } = this.plan;
    const index = this.count;
    const filename = `${this.names.segmentPrefix}_${this.output.filenameSuffix === 'timestamp' ? formatUtc(report.startedAtMs) : pad5(index)}.ts`;
    const segment: LoggedSegment = {
      filename,
      key: posix.join(this.dirKey, filename),
      durationSec: report.durationSec,
      startedAtMs: report.startedAtMs,
      sizeBytes: report.sizeBytes,
      localPath: report.path,
      ...(this.discontinuityNext ? { discontinuity: true } : {}),
    };
    const upTo = await this.ctx.segments.append(egressId, segment);
    this.discontinuityNext = false;
    this.count = upTo;
    this.durationSec += report.durationSec;
    this.sizeBytes += report.sizeBytes;
    this.startedAtMs ||= report.startedAtMs;
    this.endedAtMs = report.startedAtMs + report.durationSec * 1000;
    // LiveKit's throttle: the full playlist every N segments, N = hours recorded + 1; the live one always.
    await this.queueUpload(segment, report.path, index, upTo % (1 + Math.floor(this.durationSec / 3600)) === 0);
    await this.ctx.events.update(egressId, (info) => {
      info.segmentResults = [this.info()];
    });
  }

  /** The segment's upload, its playlists right behind it (a flow: the playlist job is the upload's parent). */
  private async queueUpload(segment: LoggedSegment, localPath: string, index: number, withMainPlaylist: boolean): Promise<void> {
    const { egressId } = this.plan;
    const upload: UploadJobData = {
      egressId,
      output: 'segment',
      localPath,
      key: segment.key,
      contentType: 'video/mp2t',
      storage: this.output.storage,
    };
    const playlist: PlaylistJobData = {
      egressId,
      upTo: index + 1,
      segmentDurationSec: this.output.segmentDurationSec,
      storage: this.output.storage,
      ...(withMainPlaylist ? { mainKey: this.playlistKey } : {}),
      ...(this.livePlaylistKey ? { liveKey: this.livePlaylistKey } : {}),
    };
    await this.ctx.queues.flows().add({
      name: 'playlist',
      queueName: 'upload',
      data: playlist,
      opts: { jobId: uploadJobId.playlist(egressId, index + 1), ...uploadJobOptions(this.ctx.config) },
      children: [
        {
          name: 'upload',
          queueName: 'upload',
          data: upload,
          opts: { jobId: uploadJobId.segment(egressId, index), ...uploadJobOptions(this.ctx.config) },
        },
      ],
    });
  }

  /**
   * A worker lost between logging a segment and queueing its upload left it logged (so in the playlists) but
   * never sent: the part taking over sends it, from where the lost recorder left it on the shared tmp_dir. A
   * segment with an upload job, or whose file is gone (a local file goes only once uploaded), is left alone.
   */
  async sendUnqueued(last: LoggedSegment | undefined): Promise<boolean> {
    const index = this.count - 1;
    if (!last?.localPath || index < 0) return false;
    if (await this.ctx.queues.get('upload').getJob(uploadJobId.segment(this.plan.egressId, index))) return false;
    if (!existsSync(last.localPath)) return false;
    this.log.warn({ segment: last.filename }, 'the lost worker never queued its last segment: sending it now');
    await this.queueUpload(last, last.localPath, index, true);
    return true;
  }

  private info(): SegmentsInfo {
    return new SegmentsInfo({
      playlistName: this.playlistKey,
      livePlaylistName: this.livePlaylistKey,
      segmentCount: BigInt(this.count),
      duration: msToNanos(this.durationSec * 1000),
      size: BigInt(this.sizeBytes),
      startedAt: msToNanos(this.startedAtMs),
      endedAt: msToNanos(this.endedAtMs),
    });
  }

  /** Once the recorder has reported its last segment. */
  async summary(): Promise<SegmentsSummary> {
    await this.chain;
    return {
      playlistKey: this.playlistKey,
      livePlaylistKey: this.livePlaylistKey,
      storage: this.output.storage,
      segmentDurationSec: this.output.segmentDurationSec,
      count: this.count,
      startedAtMs: this.startedAtMs,
      endedAtMs: this.endedAtMs,
    };
  }
}

/** Writes the final playlists (with #EXT-X-ENDLIST), then makes the segments result from the segment log. */
async function finalSegments({ ctx, delivery, job, delivered }: FinalizeInput, segments: SegmentsSummary) {
  const { egressId } = job.data;
  const written = await writePlaylists(
    ctx,
    delivery,
    {
      egressId,
      upTo: segments.count,
      segmentDurationSec: segments.segmentDurationSec,
      storage: segments.storage,
      mainKey: segments.playlistKey,
      ...(segments.livePlaylistKey ? { liveKey: segments.livePlaylistKey } : {}),
    },
    true,
    isLastAttempt(job),
  );
  return segmentsResult(segments, written, await ctx.segments.list(egressId), delivered);
}

/** The finalize job waits for every segment and the playlist behind it, then ends the playlists. */
const segmentsFinalizer: OutputFinalizer<SegmentsSummary> = {
  resultsIn: (data) => data.segments,
  uploadsWhileRecording: (egressId, segments) =>
    Array.from({ length: segments.count }, (_, i) => [uploadJobId.segment(egressId, i), uploadJobId.playlist(egressId, i + 1)]).flat(),
  finalize: async (input, segments) => {
    const { info, playlist } = await finalSegments(input, segments);
    return { fill: (egress) => (egress.segmentResults = [info]), single: { case: 'segments', value: info }, manifest: { playlists: [playlist] } };
  },
};

/** The plugin: segments into `<workDir>/segments`, each uploaded as it closes; the summary and the playlist's place at the end. */
export const segmentsOutput: OutputPluginOf<'segments', SegmentsWiring, SegmentsSummary> = {
  kind: 'segments',
  inPlan: (plan) => plan.segments !== undefined,
  maxDuration: 'segment_output_max_duration',
  live: false,
  finalizer: segmentsFinalizer,
  open: async ({ ctx, plan, workDir, log, part }) => {
    const output = new SegmentsOutput(ctx, plan, log);
    const { storage, disableManifest } = plan.segments!;
    const resumed = part && part.number > 1 ? await resumedSegments(ctx, plan.egressId) : undefined;
    if (resumed) {
      output.resume(resumed);
      await output.sendUnqueued(resumed.last);
    }
    return {
      wiring: {
        segments: { dir: join(workDir, 'segments'), onSegment: (segment) => output.onSegment(segment), startNumber: resumed?.count ?? 0 },
      },
      finish: async () => ({
        data: { segments: await output.summary() },
        uploads: [],
        ...(disableManifest ? {} : { manifestBeside: { key: output.playlistKey, storage, contentType: '' } }),
      }),
    };
  },
};
