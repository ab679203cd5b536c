/**
 * One recording, from the recorder's start to the hand-over to the upload queue: the outputs (file,
 * HLS, streams, images) wired to the encode, control messages (StopEgress, UpdateStream), limits, and at
 * the end the finalize job (with the file's upload as its child) that completes the egress.
 */
import { EgressStatus } from '@livekit/protocol';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { EgressError, ERRORS } from '../../shared/errors.ts';
import { STOP_BEFORE_START, uploadJobId, type FinalizeJobData, type UploadJobData } from '../../shared/queues.ts';
import { mediaDurationSec } from '../capture/media-duration.ts';
import { Supervisor } from '../process/processes.ts';
import type { RecorderSettings, RecordingResult } from './recorder-contract.ts';
import { fileOutputTarget, manifestTarget, type OutputTarget } from '../outputs/output-paths.ts';
import { ImagesOutput } from '../outputs/images-output.ts';
import { SegmentsOutput } from '../outputs/segments-output.ts';
import { StreamsOutput } from '../outputs/streams-output.ts';
import { uploadJobOptions } from '../upload/upload-options.ts';
import { recorderFor } from './recorder-choice.ts';
import { roomIdOf } from '../room/room-sid.ts';
import { passLateLayout, withStoredLayout } from '../room/late-layout.ts';
import { urlPolicyOf } from '../../shared/url-policy.ts';
import { maxDurationSec, SIZE_CHECK_INTERVAL_MS } from './session-limits.ts';
import type { WorkerContext } from '../worker-context.ts';

export function recorderSettings(ctx: WorkerContext): RecorderSettings {
  const { config } = ctx;
  return {
    chromePath: config.chrome_path,
    chromeFlags: config.chrome_flags,
    enableChromeSandbox: config.enable_chrome_sandbox,
    insecure: config.insecure,
    ffmpegPath: config.ffmpeg_path,
    startSignalTimeoutSec: config.start_signal_timeout,
    templateBase: config.template_base || `http://127.0.0.1:${config.port}/templates/`,
    liveKit: { wsUrl: config.ws_url, apiKey: config.api_key, apiSecret: config.api_secret },
    urlPolicy: urlPolicyOf(config),
    webrtcUdp: config.url_policy.webrtc_udp,
    screenLimits: config.limits,
  };
}

const aborted = (error: string, reason: string) => ({ status: EgressStatus.EGRESS_ABORTED, error, errorCode: ERRORS.EGR_ERR_ABORTED_BEFORE_START.egressCode, reason }) as const;

/** Where `<egress_id>.json` goes: beside the file, else the playlist, else the first images. */
function manifestBeside(plan: EgressPlan, file: OutputTarget | undefined, segments: SegmentsOutput | undefined, images: ImagesOutput | undefined): FinalizeJobData['manifest'] {
  const outputs = [
    file && plan.file && !plan.file.disableManifest ? file : undefined,
    segments && !plan.segments!.disableManifest ? { key: segments.playlistKey, storage: plan.segments!.storage, contentType: '' } : undefined,
    images?.firstKey && !plan.images[0]!.disableManifest ? { key: images.firstKey, storage: plan.images[0]!.storage, contentType: '' } : undefined,
  ];
  const beside = outputs.find((o) => o !== undefined);
  return beside && manifestTarget(plan, beside);
}

export async function runRecording(ctx: WorkerContext, queued: EgressPlan, log: Logger): Promise<string> {
  const { egressId } = queued;
  const plan = withStoredLayout(queued, await ctx.events.store.get(egressId));
  const recorder = recorderFor(plan);
  const workDir = join(ctx.config.tmp_dir, egressId);
  await mkdir(workDir, { recursive: true });
  // Track egress: the container (so the key) follows the track's codec, known once the track is received.
  const keyAfterRecording = plan.source.kind === 'track';
  let file = plan.file && !keyAfterRecording ? fileOutputTarget(plan, ctx.config.storage.prefix) : undefined;
  const filePath = plan.file && (file ? join(workDir, basename(file.key)) : join(workDir, 'track-recording'));
  const websocketUrl = plan.stream?.protocol === 'websocket' ? (await ctx.secrets.get(egressId)).streams[0]?.url : undefined;
  const segments = plan.segments ? new SegmentsOutput(ctx, plan, log) : undefined;
  const images = plan.images.length ? new ImagesOutput(ctx, plan, log) : undefined;
  const streamSupervisor = new Supervisor(log, { EGRESS_ID: egressId });
  const streams = plan.stream && plan.stream.protocol !== 'websocket' ? new StreamsOutput(ctx, plan, streamSupervisor, log) : undefined;
  const otherOutputs = Boolean(plan.file || plan.segments || plan.images.length);

  let stopReason: string | undefined;
  let limitReached = false;
  let streamsFailure: EgressError | undefined;
  const timers: NodeJS.Timeout[] = [];
  // Limits count recorded time, from the first frame.
  const limitSec = maxDurationSec(plan, ctx.config.session_limits);
  const sizeLimit = plan.file ? ctx.config.session_limits.file_output_max_size : 0;

  const settings = recorderSettings(ctx);
  const recording = recorder({
    plan,
    workDir,
    ...(filePath ? { filePath } : {}),
    ...(websocketUrl ? { websocketUrl } : {}),
    ...(segments ? { segmentsDir: join(workDir, 'segments') } : {}),
    ...(images ? { imagesDirs: plan.images.map((_, i) => join(workDir, `images-${i}`)) } : {}),
    settings,
    ...(ctx.warmPool ? { warmPool: ctx.warmPool } : {}),
    log,
    onActive: (startedAtMs, roomId) => {
      log.info('recording active');
      if (limitSec > 0) timers.push(setTimeout(() => ((limitReached = true), stop('Session limit reached')), limitSec * 1000));
      if (sizeLimit > 0) timers.push(setInterval(() => void checkSize(), SIZE_CHECK_INTERVAL_MS));
      void passLateLayout(ctx, plan, log);
      void roomIdOf(plan.roomName, roomId, settings.liveKit, log)
        .then((id) => ctx.events.markActive(egressId, startedAtMs, id))
        .catch((err) => log.error({ err: (err as Error).message }, 'cannot mark active'));
    },
    ...(segments ? { onSegment: (s) => segments.onSegment(s) } : {}),
    ...(images ? { onImage: (i) => images.onImage(i) } : {}),
    ...(streams ? { onStream: (ts) => void streams.start(ts).catch((err: Error) => log.error({ err: err.message }, 'streams not started')) } : {}),
  });
  const stop = (reason: string) => {
    stopReason ??= reason;
    recording.stop(reason);
  };
  /** LiveKit checks the size of what it wrote so far against file_output_max_size. */
  const checkSize = async () => {
    const written = await workDirSize(workDir);
    if (written >= sizeLimit) ((limitReached = true), stop('Session limit reached'));
  };
  void streams?.allStopped.then((stopped) => {
    if (stopped.reason === 'failed') streamsFailure = stopped.error;
    // Other outputs go on without the streams; a stream-only egress ends with them.
    if (!otherOutputs) stop(stopped.reason === 'removed' ? 'All streams stopped' : 'Failure');
  });

  // Drains stop through here too, so the end reason says why.
  ctx.running.set(egressId, { done: recording.done, stop });
  const unlisten = await ctx.subscriber.listen(egressId, (message) => {
    if (message.type === 'stop') stop(message.reason);
    else if (message.type === 'update_stream') void streams?.apply().catch((err: Error) => log.warn({ err: err.message }, 'UpdateStream not applied'));
  });
  let result: RecordingResult;
  try {
    // A stop published between the check at pick-up and the subscription is still honoured.
    const lateStop = await ctx.control.stopRequested(egressId);
    if (lateStop) stop(lateStop);
    result = await recording.done;
  } catch (err) {
    await streams?.stop();
    await rm(workDir, { recursive: true, force: true });
    throw err;
  } finally {
    timers.forEach(clearTimeout);
    ctx.running.delete(egressId);
    await unlisten();
  }
  await streams?.stop();
  await streamSupervisor.killAll();

  if (!result.started) {
    await rm(workDir, { recursive: true, force: true });
    // Every stream of a stream-only egress failed (a refused key fails in milliseconds): that is its end.
    if (streamsFailure && !otherOutputs) throw streamsFailure;
    if (result.end === 'end_signal') {
      await ctx.events.end(egressId, aborted('Source closed before the recording started', 'Source closed'));
      return 'source closed before start';
    }
    const why = limitReached ? 'Session limit reached before start signal' : STOP_BEFORE_START;
    await ctx.events.end(egressId, aborted(why, stopReason ?? 'StopEgress API'));
    return 'stopped before start';
  }
  if (streamsFailure && !otherOutputs) throw streamsFailure;
  // A recording that failed after it started delivers its file, then ends FAILED.
  if (result.failure && !(plan.file && result.file)) throw result.failure;
  const reason = result.failure ? 'Failure' : result.end === 'end_signal' ? 'Source closed' : (stopReason ?? 'StopEgress API');
  await ctx.events.markEnding(egressId, reason);
  if (plan.file && !result.file) throw new EgressError('EGR_ERR_ENCODER_FAILED', 'the recording produced no file');
  if (plan.file && result.file && keyAfterRecording) {
    file = fileOutputTarget(plan, ctx.config.storage.prefix, { fileType: result.file.fileType, vars: result.namingVars });
    const localPath = join(workDir, basename(file.key));
    await rename(result.file.path, localPath);
    result = { ...result, file: { ...result.file, path: localPath } };
  }

  const finalize: FinalizeJobData = {
    egressId,
    plan,
    status: result.failure ? 'failed' : limitReached ? 'limit_reached' : 'complete',
    details: reason,
    ...(result.failure ? { error: { message: result.failure.message, code: result.failure.egressCode } } : {}),
    ...(file && result.file
      ? { file: { filename: file.key, localPath: result.file.path, startedAtMs: result.startedAtMs, endedAtMs: result.endedAtMs, sizeBytes: result.file.sizeBytes, ...(await fileDuration(result.file.path, log)) } }
      : {}),
    ...(segments ? { segments: await segments.summary() } : {}),
    ...(images ? { images: await images.summaries() } : {}),
    ...(result.namingVars ? { learnt: result.namingVars } : {}),
  };
  const manifest = manifestBeside(plan, file, segments, images);
  if (manifest) finalize.manifest = manifest;
  const children =
    file && result.file
      ? [
          {
            name: 'upload',
            queueName: 'upload',
            data: { egressId, output: 'file', localPath: result.file.path, key: file.key, contentType: file.contentType, storage: file.storage } satisfies UploadJobData,
            opts: { jobId: uploadJobId.file(egressId), ...uploadJobOptions(ctx.config) },
          },
        ]
      : [];
  await ctx.queues.flows().add({
    name: 'finalize',
    queueName: 'upload',
    data: finalize,
    opts: { jobId: uploadJobId.finalize(egressId), attempts: 5, backoff: { type: 'exponential', delay: 2000 } },
    children,
  });
  if (result.failure) log.warn({ ...result.stats, err: result.failure.message }, 'recording failed; what was recorded until then is delivered');
  else log.info({ ...result.stats, reason }, 'recording finished; uploads queued');
  return 'recorded';
}

/** The delivered file's own duration (FileInfo.duration): the wall-clock time of the recording can exceed it. */
async function fileDuration(path: string, log: Logger): Promise<{ durationSec?: number }> {
  try {
    return { durationSec: await mediaDurationSec(path) };
  } catch (err) {
    log.warn({ err: (err as Error).message }, "could not read the file's duration; reporting the recording's");
    return {};
  }
}

async function workDirSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
