/**
 * The page recorder (web egress, and room composite through its layout template): the page in Chromium on
 * a private X display, its sound in a private PulseAudio sink, both captured and encoded once by ffmpeg into
 * every output of the plan (file, segments, images, stream). Whatever ends the recording (stop, END_RECORDING, a failure),
 * every process it started is gone when `done` settles. With a warm pool (RecordingStart.warmPool) it takes a
 * ready display, sink and Chromium if one fits, and destroys it at the end like its own (warm-pool.ts).
 * Every connection the page makes goes through a policy proxy (policy-proxy.ts) that applies url_policy with
 * this egress's exemptions and logs its refusals on this egress's log; a refused main document fails the egress.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { asEgressError, EgressError } from '../../shared/errors.ts';
import { launchChromium, type ChromiumSession } from './chromium.ts';
import { captureLayout } from '../capture/ffmpeg-args.ts';
import { startCapture } from '../capture/ffmpeg-capture.ts';
import { startPolicyProxy, type PolicyProxy, type ProxyRules } from './policy-proxy.ts';
import { Supervisor } from '../process/processes.ts';
import { createSink, type AudioSink } from './pulse.ts';
import type { Station } from './warm-pool.ts';
import { notStarted, recordingOf, STOPPED, untilStoppedOrFailed } from '../recording/recorder-steps.ts';
import type { Recorder, RecordingEnd, RecordingResult, RecordingStart } from '../recording/recorder-contract.ts';
import { startXvfb, type VirtualDisplay } from './xvfb.ts';
import { pageSourceOf } from '../room/page-source.ts';

export const recordWeb: Recorder = (start) => recordingOf(start.log, 'web recording', (stopSignal) => record(start, stopSignal));

const ENDED_FIRST = Symbol('ended before it started');

/** The page's surroundings: a warm station's, or a display, sink, proxy and Chromium started cold for it. */
interface PageStage {
  display: VirtualDisplay;
  sink: AudioSink | undefined;
  chromium: ChromiumSession;
  /** What this recording must end itself (a station's go with the station). */
  own: { sink?: AudioSink; proxy?: PolicyProxy; station?: Station };
}

async function setStage(start: RecordingStart, supervisor: Supervisor, rules: ProxyRules, stage: PageStage['own']): Promise<PageStage> {
  const { plan, settings, log, workDir } = start;
  const station = (stage.station = start.warmPool?.take(plan, log));
  if (station) {
    // Until now the station's proxy refused everything; from now on it is this egress's.
    station.proxy.apply(rules);
    station.chromium.useLog(log);
    return { display: station.display, sink: plan.audio ? station.sink : undefined, chromium: station.chromium, own: stage };
  }
  const display = await startXvfb(supervisor, plan.encoding);
  const sink = (stage.sink = plan.audio ? await createSink(plan.egressId, log, supervisor) : undefined);
  const proxy = (stage.proxy = await startPolicyProxy({ rules, log }));
  const chromium = await launchChromium({
    settings,
    supervisor,
    display: display.display,
    width: plan.encoding.width,
    height: plan.encoding.height,
    workDir,
    audioEnv: sink?.clientEnv,
    proxy,
    log,
  });
  return { display, sink, chromium, own: stage };
}

type Until = <T>(step: Promise<T>) => Promise<T | typeof STOPPED>;

/** START_RECORDING, unless the page ends first, the wait times out (EGR_ERR_START_SIGNAL) or the recording is stopped. */
async function startSignal(
  chromium: ChromiumSession,
  timeoutSec: number | undefined,
  until: Until,
): Promise<'started' | typeof STOPPED | typeof ENDED_FIRST> {
  const waits: Promise<unknown>[] = [chromium.startSignal, chromium.endSignal.then(() => ENDED_FIRST)];
  if (timeoutSec !== undefined) {
    waits.push(
      delay(timeoutSec * 1000, undefined, { ref: false }).then(() => {
        throw new EgressError('EGR_ERR_START_SIGNAL', 'Start signal not received');
      }),
    );
  }
  const signal = await until(Promise.race(waits));
  return signal === STOPPED || signal === ENDED_FIRST ? signal : 'started';
}

async function record(start: RecordingStart, stopSignal: AbortSignal): Promise<RecordingResult> {
  const { plan, settings, log } = start;
  const supervisor = new Supervisor(log, { EGRESS_ID: plan.egressId });
  const own: PageStage['own'] = {};
  try {
    const source = await pageSourceOf(plan, settings);
    // Outputs this recorder cannot write fail now, before anything is started.
    captureLayout({ ...start, video: plan.video, audio: plan.audio });
    const { display, sink, chromium } = await setStage(start, supervisor, { ...source.access, policy: settings.urlPolicy, log }, own);
    const failures = [display.lost, chromium.crashed, chromium.blocked];
    /** Waits for `step` unless the recording is stopped first (→ STOPPED) or a process it needs dies (→ throws). */
    const until: Until = (step) => untilStoppedOrFailed(step, stopSignal, failures);

    if ((await until(chromium.navigate(source.url))) === STOPPED) return notStarted();
    log.info({ display: display.display, url: source.logUrl }, 'page loaded');
    if (source.awaitStartSignal) {
      const signal = await startSignal(chromium, source.startSignalTimeoutSec, until);
      if (signal === STOPPED) return notStarted();
      // The room ended (END_RECORDING) before anything was worth recording.
      if (signal === ENDED_FIRST) return notStarted('end_signal');
      log.info('start signal received');
    }

    const capture = startCapture({
      ffmpegPath: settings.ffmpegPath,
      supervisor,
      plan,
      display: plan.video ? display.display : undefined,
      audio: sink,
      workDir: start.workDir,
      outputs: start.outputs,
      log,
    });
    failures.push(capture.failed);
    const startedAtMs = await until(capture.active);
    if (startedAtMs === STOPPED) return notStarted();
    log.info({ startedAtMs }, 'recording active');
    start.onActive(startedAtMs);

    const ended = await until(chromium.endSignal);
    const end: RecordingEnd = ended === STOPPED ? 'stopped' : 'end_signal';
    const { endedAtMs, stats, file } = await capture.stop();
    log.info({ end, stats, sizeBytes: file?.sizeBytes, durationMs: endedAtMs - startedAtMs }, 'recording finished');
    return { started: true, end, startedAtMs, endedAtMs, ...(file ? { file } : {}), stats };
  } catch (err) {
    const error = asEgressError(err);
    log.warn({ err: error }, 'web recording failed');
    throw error;
  } finally {
    await supervisor.killAll();
    await own.proxy?.close();
    await own.sink?.remove();
    await own.station?.destroy();
  }
}
