/**
 * The image outputs of a running recording: each JPEG the encoder writes is named as LiveKit names it
 * (INDEX, TIMESTAMP, or one overwritten NONE_OVERWRITE file) and sent to storage at once; ImagesInfo in
 * the store follows.
 */
import { ImagesInfo } from '@livekit/protocol';
import { join, posix } from 'node:path';
import type { Logger } from 'pino';
import type { ServiceContext } from '../../shared/context.ts';
import { pathPolicyOf, type EgressPlan, type ImageOutputPlan } from '../../shared/egress-plan.ts';
import { msToNanos } from '../../shared/ids.ts';
import { formatUtc, namingVarsOf, resolveImagePrefix } from '../../shared/naming.ts';
import { uploadJobId, type ImagesSummary, type UploadJobData } from '../../shared/queues.ts';
import type { ImageReport } from '../recording/recorder-contract.ts';
import { uploadJobOptions } from '../upload/upload-options.ts';
import type { OutputPlugin } from './output-plugin.ts';

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
export const imagesOutput: OutputPlugin = {
  kind: 'images',
  inPlan: (plan) => plan.images.length > 0,
  maxDuration: 'image_output_max_duration',
  live: false,
  open: async ({ ctx, plan, workDir, log }) => {
    const output = new ImagesOutput(ctx, plan, log);
    const first = plan.images[0]!;
    const firstKey = output.firstKey;
    return {
      wiring: { images: { dirs: plan.images.map((_, i) => join(workDir, `images-${i}`)), onImage: (image) => output.onImage(image) } },
      finish: async () => ({
        data: { images: await output.summaries() },
        uploads: [],
        ...(firstKey && !first.disableManifest ? { manifestBeside: { key: firstKey, storage: first.storage, contentType: '' } } : {}),
      }),
    };
  },
};
