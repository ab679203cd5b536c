/**
 * The image outputs of a running recording: each JPEG the encoder writes is named as LiveKit names it
 * (INDEX, TIMESTAMP, or one overwritten NONE_OVERWRITE file) and sent to storage at once; ImagesInfo in
 * the store follows. A part taken over from a lost worker numbers on from where the earlier parts stopped.
 */
import { ImagesInfo } from '@livekit/protocol';
import { join, posix } from 'node:path';
import type { Logger } from 'pino';
import type { ServiceContext } from '../../shared/context.ts';
import { pathPolicyOf, type EgressPlan, type ImageOutputPlan } from '../../shared/egress-plan.ts';
import { msToNanos } from '../../shared/ids.ts';
import { formatUtc, namingVarsOf, resolveImagePrefix } from '../../shared/naming.ts';
import { uploadJobId, type UploadJobData } from '../../shared/queues.ts';
import type { ImageReport } from '../recording/recorder-contract.ts';
import { imagesResult } from '../upload/finalize-results.ts';
import { resumedImages, type ResumedImages } from '../takeover/resumed-numbering.ts';
import { uploadJobOptions } from '../upload/upload-options.ts';
import type { OutputFinalizer, OutputPluginOf } from './output-plugin.ts';

/**
 * Required when plan.images is not empty: one directory per plan.images entry, in the same order; each image,
 * per output in order, is announced through onImage as soon as it is complete (the caller may then move or
 * delete it).
 */
export interface ImagesWiring {
  dirs: string[];
  onImage: (image: ImageReport) => void;
  /** Per output, the number of its first image (image2 start_number): 0, or after a takeover where the earlier parts stopped. */
  startNumbers?: number[];
}

export interface ImagesSummary {
  /** Index of the image output in the plan (job ids carry it). */
  outputIndex: number;
  filenamePrefix: string;
  count: number;
  startedAtMs: number;
  endedAtMs: number;
}

declare module '../../shared/queues.ts' {
  interface FinalizeResults {
    images: ImagesSummary[];
  }
}

interface Tally {
  output: ImageOutputPlan;
  prefixKey: string;
  count: number;
  startedAtMs: number;
  endedAtMs: number;
}

export class ImagesOutput {
  private readonly ctx: ServiceContext;
  private readonly plan: EgressPlan;
  private readonly log: Logger;
  private readonly tallies: Tally[];
  private chain: Promise<void> = Promise.resolve();

  constructor(ctx: ServiceContext, plan: EgressPlan, log: Logger) {
    this.ctx = ctx;
    this.plan = plan;
    this.log = log;
    this.tallies = plan.images.map((output) => {
      const names = resolveImagePrefix(output.filenamePrefix, namingVarsOf(plan), pathPolicyOf(output.storage));
      return { output, prefixKey: posix.join(ctx.config.storage.prefix, names.dir, names.prefix), count: 0, startedAtMs: 0, endedAtMs: 0 };
    });
  }

  /** A part after a takeover: each output numbers on from what the earlier parts queued, its start kept. */
  resume(from: readonly ResumedImages[]): void {
    for (const [i, tally] of this.tallies.entries()) {
      const resumed = from[i];
      if (!resumed) continue;
      tally.count = resumed.count;
      tally.startedAtMs = resumed.startedAtMs;
      tally.endedAtMs = resumed.endedAtMs;
    }
  }

  /** A key of the first image output, for placing the manifest beside it. */
  get firstKey(): string | undefined {
    return this.tallies[0] && `${this.tallies[0].prefixKey}.jpeg`;
  }

  onImage(report: ImageReport): void {
    this.chain = this.chain
      .then(() => this.deliver(report))
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'image not queued'));
  }

  private async deliver(report: ImageReport): Promise<void> {
    const tally = this.tallies[report.outputIndex];
    if (!tally) return;
    const { egressId } = this.plan;
    const index = tally.count;
    const suffix = tally.output.filenameSuffix;
    const key =
      suffix === 'none_overwrite'
        ? `${tally.prefixKey}.jpeg`
        : `${tally.prefixKey}_${suffix === 'timestamp' ? formatUtc(report.capturedAtMs) : String(index).padStart(5, '0')}.jpeg`;
    const upload: UploadJobData = {
      egressId,
      output: 'image',
      localPath: report.path,
      key,
      contentType: 'image/jpeg',
      storage: tally.output.storage,
      capturedAtMs: report.capturedAtMs,
    };
    await this.ctx.queues
      .get('upload')
      .add('upload', upload, { jobId: uploadJobId.image(egressId, report.outputIndex, index), ...uploadJobOptions(this.ctx.config) });
    tally.count += 1;
    tally.startedAtMs ||= report.capturedAtMs;
    tally.endedAtMs = report.capturedAtMs;
    await this.ctx.events.update(egressId, (info) => {
      info.imageResults = this.tallies.map(
        (t) =>
          new ImagesInfo({
            filenamePrefix: t.prefixKey,
            imageCount: BigInt(t.count),
            startedAt: msToNanos(t.startedAtMs),
            endedAt: msToNanos(t.endedAtMs),
          }),
      );
    });
  }

  async summaries(): Promise<ImagesSummary[]> {
    await this.chain;
    return this.tallies.map((t, outputIndex) => ({
      outputIndex,
      filenamePrefix: t.prefixKey,
      count: t.count,
      startedAtMs: t.startedAtMs,
      endedAtMs: t.endedAtMs,
    }));
  }
}

/** The plugin: each image output into `<workDir>/images-<i>`, each JPEG uploaded as it comes; the summaries and the first output's place at the end. */
/** The finalize job waits for every image; ImagesInfo per output, the manifest one entry per image delivered. */
const imagesFinalizer: OutputFinalizer<ImagesSummary[]> = {
  resultsIn: (data) => data.images,
  uploadsWhileRecording: (egressId, images) =>
    images.flatMap((image) => Array.from({ length: image.count }, (_, i) => uploadJobId.image(egressId, image.outputIndex, i))),
  finalize: async ({ delivered }, images) => {
    const { infos, manifest } = imagesResult(images, delivered);
    return {
      fill: (egress) => {
        if (infos.length) egress.imageResults = infos;
      },
      manifest: { images: manifest },
    };
  },
};

export const imagesOutput: OutputPluginOf<'images', ImagesWiring, ImagesSummary[]> = {
  kind: 'images',
  inPlan: (plan) => plan.images.length > 0,
  maxDuration: 'image_output_max_duration',
  live: false,
  finalizer: imagesFinalizer,
  open: async ({ ctx, plan, workDir, log, part }) => {
    const output = new ImagesOutput(ctx, plan, log);
    const first = plan.images[0]!;
    const firstKey = output.firstKey;
    const resumed = part && part.number > 1 ? await resumedImages(ctx, plan.egressId, plan.images.length) : [];
    output.resume(resumed);
    const dirs = plan.images.map((_, i) => join(workDir, `images-${i}`));
    return {
      wiring: { images: { dirs, onImage: (image) => output.onImage(image), startNumbers: plan.images.map((_, i) => resumed[i]?.count ?? 0) } },
      finish: async () => ({
        data: { images: await output.summaries() },
        uploads: [],
        ...(firstKey && !first.disableManifest ? { manifestBeside: { key: firstKey, storage: first.storage, contentType: '' } } : {}),
      }),
    };
  },
};
