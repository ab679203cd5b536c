/**
 * The SDK recorder (participant, track composite, and audio-only room composite without Chrome): joins
 * the room through @livekit/rtc-node as a hidden, subscribe-only recorder (identity = the egress id),
 * waits for its source (30 s, then not found), subscribes, and from the source's first media on (the start
 * gate: the file opens on it, and that is when the egress is ACTIVE) feeds the decoded tracks to one ffmpeg
 * encode writing every output of the plan, as the web recorder does: frames of the plan's size at its frame
 * rate and 48 kHz stereo audio, both on the wall clock, black and silent whenever there is nothing to show
 * or hear.
 * It ends when stopped or when the source is gone ("Source closed"), or fails, its recording finalized and
 * delivered all the same, when the room connection is lost; every process and stream it started is gone
 * when `done` settles.
 */
import { Room } from '@livekit/rtc-node';
import { asEgressError, EgressError } from '../../shared/errors.ts';
import { captureLayout } from '../capture/ffmpeg-args.ts';
import { startCapture } from '../capture/ffmpeg-capture.ts';
import { Supervisor } from '../process/processes.ts';
import { notStarted, recordingOf, STOPPED, untilStoppedOrFailed } from '../recording/recorder-steps.ts';
import type { Recorder, RecordingEnd, RecordingResult, RecordingStart } from '../recording/recorder-contract.ts';
import { liveKitCredentials, recorderToken } from '../room/recorder-token.ts';
import { sidOf } from '../room/room-sid.ts';
import { AudioMixer } from './audio-mixer.ts';
import { FramePacer } from './frame-pacer.ts';
import { startLipSync, type LipSync } from './lip-sync.ts';
import { sourceRulesOf, type SourceRules } from './source-rules.ts';
import { waitForSource } from './source-wait.ts';
import { StartGate } from './start-gate.ts';
import { feedTracks, type TrackFeeds } from './track-feeds.ts';

export const recordSdk: Recorder = (start) => recordingOf(start.log, 'SDK recording', (stopSignal) => record(start, stopSignal));

/** The decoded tracks on their way to the encode: the feeds, the frame pacer, the audio mixer and lip sync. */
interface MediaChain {
  feeds?: TrackFeeds;
  pacer?: FramePacer;
  mixer?: AudioMixer;
  lipSync?: LipSync;
}

function startMedia(room: Room, start: RecordingStart, rules: SourceRules, gate: StartGate, media: MediaChain): TrackFeeds {
  const { plan, log } = start;
  const pacer = (media.pacer = plan.video ? new FramePacer(plan.encoding, log) : undefined);
  const mixer = (media.mixer = plan.audio ? new AudioMixer() : undefined);
  const feeds = (media.feeds = feedTracks(room, rules, { pacer, mixer, gate }, log));
  if (pacer && mixer) media.lipSync = startLipSync(room, pacer, log);
  return feeds;
}

function stopMedia(media: MediaChain): void {
  media.feeds?.stop();
  media.lipSync?.stop();
  media.pacer?.stop();
  media.mixer?.stop();
}

type Until = <T>(step: Promise<T>) => Promise<T | typeof STOPPED>;

/** Joins the room as the recorder and waits for the source to be there; false when stopped first. */
async function joinForSource(room: Room, start: RecordingStart, rules: SourceRules, until: Until): Promise<boolean> {
  const { plan, settings, log } = start;
  const credentials = liveKitCredentials(settings.liveKit);
  const token = await recorderToken(credentials, plan.roomName, plan.egressId);
  const joined = room.connect(credentials.wsUrl, token, { autoSubscribe: false, dynacast: false }).catch((err: unknown) => {
    throw new EgressError('EGR_ERR_UNAVAILABLE', `could not join room ${plan.roomName}: ${(err as Error).message}`, { cause: err });
  });
  if ((await until(joined)) === STOPPED) return false;
  log.info({ room: plan.roomName }, 'joined the room');
  return (await until(waitForSource(room, rules))) !== STOPPED;
}

async function record(start: RecordingStart, stopSignal: AbortSignal): Promise<RecordingResult> {
  const { plan, settings, log } = start;
  const rules = sourceRulesOf(plan);
  const supervisor = new Supervisor(log, { EGRESS_ID: plan.egressId });
  const room = new Room();
  const gate = new StartGate();
  const media: MediaChain = {};
  try {
    // Outputs this recorder cannot write fail now, before joining.
    captureLayout({ ...start, video: plan.video, audio: plan.audio });
    const failures: Promise<EgressError>[] = [];
    const until: Until = (step) => untilStoppedOrFailed(step, stopSignal, failures);
    if (!(await joinForSource(room, start, rules, until))) return notStarted();
    const roomSid = sidOf(room);

    const feeds = startMedia(room, start, rules, gate, media);
    const first = await until(Promise.race([gate.ready, feeds.sourceClosed]));
    if (first === STOPPED) return notStarted();
    if (typeof first !== 'string') {
      if (first.lost) throw new EgressError('EGR_ERR_UNAVAILABLE', `could not record room ${plan.roomName}: ${first.why}`);
      log.info({ why: first.why }, 'source closed before its first media');
      return notStarted('end_signal');
    }

    const startedAtMs = Date.now();
    const t0 = performance.now();
    const capture = startCapture({
      ffmpegPath: settings.ffmpegPath,
      supervisor,
      plan,
      raw: { video: plan.video, audio: plan.audio, startedAtMs },
      workDir: start.workDir,
      outputs: start.outputs,
      log,
    });
    failures.push(capture.failed);
    if (capture.rawPipes.video) media.pacer?.start(capture.rawPipes.video, t0);
    if (capture.rawPipes.audio) media.mixer?.start(capture.rawPipes.audio, t0);

    if ((await until(capture.active)) === STOPPED) return notStarted();
    log.info({ startedAtMs, start: first }, 'recording active');
    start.onActive(startedAtMs, await roomSid);

    const closed = await until(feeds.sourceClosed);
    const end: RecordingEnd = closed === STOPPED ? 'stopped' : 'end_signal';
    if (closed !== STOPPED && closed.lost) log.warn({ why: closed.why }, 'connection to the room lost; finalizing what was recorded');
    else if (closed !== STOPPED) log.info({ why: closed.why }, 'source closed');
    stopMedia(media);
    const { endedAtMs, stats, file } = await capture.stop();
    log.info(
      { end, stats, pacer: media.pacer?.stats, lipSync: media.lipSync?.stats, sizeBytes: file?.sizeBytes, durationMs: endedAtMs - startedAtMs },
      'recording finished',
    );
    // As LiveKit's: the egress fails, and what was recorded until then is delivered.
    const failure = closed !== STOPPED && closed.lost ? new EgressError('EGR_ERR_UNAVAILABLE', `recording ended early: ${closed.why}`) : undefined;
    return { started: true, end, startedAtMs, endedAtMs, ...(file ? { file } : {}), stats, ...(failure ? { failure } : {}) };
  } catch (err) {
    const error = asEgressError(err);
    log.warn({ err: error }, 'SDK recording failed');
    throw error;
  } finally {
    gate.close();
    stopMedia(media);
    await supervisor.killAll();
    await room.disconnect().catch((err: unknown) => log.warn({ err }, 'could not leave the room cleanly'));
  }
}
