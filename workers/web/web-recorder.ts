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
import { captureOutputsOf, notStarted, recordingOf, STOPPED, untilStoppedOrFailed } from '../recording/recorder-steps.ts';
import type { Recorder, RecordingEnd, RecordingResult, RecordingStart } from '../recording/recorder-contract.ts';
import { startXvfb, type VirtualDisplay } from './xvfb.ts';
import { pageSourceOf } from '../room/page-source.ts';

export const recordWeb: Recorder = (start) => recordingOf(start.log, 'web recording', (stopSignal) => record(start, stopSignal));

const ENDED_FIRST = Symbol('ended before it started');

async function record(start: RecordingStart, stopSignal: AbortSignal): Promise<RecordingResult> {
  const { plan, settings, log, workDir } = start;
  const supervisor = new Supervisor(log, { EGRESS_ID: plan.egressId });
  /** A sink of this recording's own (cold start); a station's goes with the station. */
  let ownSink: AudioSink | undefined;
  /** Likewise the proxy. */
  let ownProxy: PolicyProxy | undefined;
  let station: Station | undefined;
  try {
    const source = await pageSourceOf(plan, settings);
    // Outputs this recorder cannot write fail now, before anything is started.
    captureLayout({ ...start, video: plan.video, audio: plan.audio, streamWanted: start.onStream !== undefined });
    const rules: ProxyRules = { ...source.access, policy: settings.urlPolicy, log };
    station = start.warmPool?.take(plan, log);
    let display: VirtualDisplay;
    let sink: AudioSink | undefined;
    let chromium: ChromiumSession;
    if (station) {
      ({ display, chromium } = station);
      sink = plan.audio ? station.sink : undefined;
      // Until now the station's proxy refused everything; from now on it is this egress's.
      station.proxy.apply(rules);
      chromium.useLog(log);
    } else {
      display = await startXvfb(supervisor, plan.encoding);
      sink = ownSink = plan.audio ? await createSink(plan.egressId, log, supervisor) : undefined;
      ownProxy = await startPolicyProxy({ rules, log });
      chromium = await launchChromium({
        settings,
        supervisor,
        display: display.display,
        width: plan.encoding.width,
        height: plan.encoding.height,
        workDir,
        audioEnv: sink?.clientEnv,
        proxy: ownProxy,
        log,
      });
    }
    const failures = [display.lost, chromium.crashed, chromium.blocked];
    /** Waits for `step` unless the recording is stopped first (→ STOPPED) or a process it needs dies (→ throws). */
    const until = <T>(step: Promise<T>) => untilStoppedOrFailed(step, stopSignal, failures);

    if ((await until(chromium.navigate(source.url))) === STOPPED) return notStarted();
    log.info({ display: display.display, url: source.logUrl }, 'page loaded');
    if (source.awaitStartSignal) {
      const waits: Promise<unknown>[] = [chromium.startSignal, chromium.endSignal.then(() => ENDED_FIRST)];
      if (source.startSignalTimeoutSec !== undefined) {
        const timeoutMs = source.startSignalTimeoutSec * 1000;
        waits.push(
          delay(timeoutMs, undefined, { ref: false }).then(() => {
            throw new EgressError('EGR_ERR_START_SIGNAL', 'Start signal not received');
          }),
        );
      }
      const signal = await until(Promise.race(waits));
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
      ...captureOutputsOf(start),
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
    await ownProxy?.close();
    await ownSink?.remove();
    await station?.destroy();
  }
}
