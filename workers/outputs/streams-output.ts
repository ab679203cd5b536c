/**
 * The stream output of a running recording: a StreamFanout fed by the encode, its URLs from the sealed
 * secrets, StreamInfo in the store kept current (LiveKit's fields: status, started/ended, duration,
 * error, retries, last_retry_at), and UpdateStream applied as the API recorded it.
 */
import { StreamInfo, StreamInfo_Status } from '@livekit/protocol';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ServiceContext } from '../../shared/context.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { msToNanos } from '../../shared/ids.ts';
import type { Supervisor } from '../media/processes.ts';
import { StreamFanout, type StreamProtocol, type StreamsStopped, type StreamState } from '../media/sinks/stream-fanout.ts';

const STATUS: Record<StreamState['status'], StreamInfo_Status> = {
  active: StreamInfo_Status.ACTIVE,
  finished: StreamInfo_Status.FINISHED,
  failed: StreamInfo_Status.FAILED,
};

function streamInfo(state: StreamState): StreamInfo {
  const ended = state.endedAtMs ?? 0;
  return new StreamInfo({
    url: state.url,
    status: STATUS[state.status],
    startedAt: msToNanos(state.startedAtMs ?? 0),
    endedAt: msToNanos(ended),
    duration: state.startedAtMs && ended ? msToNanos(ended - state.startedAtMs) : 0n,
    error: state.error ?? '',
    retries: state.retries,
    lastRetryAt: msToNanos(state.lastRetryAtMs ?? 0),
  });
}

export class StreamsOutput {
  readonly fanout: StreamFanout;
  private readonly ctx: ServiceContext;
  private readonly plan: EgressPlan;
  private readonly log: Logger;
  private readonly protocol: StreamProtocol;

  constructor(ctx: ServiceContext, plan: EgressPlan, supervisor: Supervisor, log: Logger) {
    this.ctx = ctx;
    this.plan = plan;
    this.log = log;
    this.protocol = plan.stream!.protocol === 'srt' ? 'srt' : 'rtmp';
    this.fanout = new StreamFanout({ ffmpegPath: ctx.config.ffmpeg_path, supervisor, log, onChange: (state) => void this.record(state) });
  }

  /** How the last URL stopped, if they all did while recording. */
  get allStopped(): Promise<StreamsStopped> {
    return this.fanout.allStopped;
  }

  /** Starts the URLs the request named, fed from the encode's MPEG-TS. */
  async start(ts: Readable): Promise<void> {
    this.fanout.attach(ts);
    await this.apply();
  }

  /**
   * Brings the running URLs in line with what the API recorded: sealed URLs not running yet are added;
   * running ones whose StreamInfo the API marked FINISHED are removed.
   */
  async apply(): Promise<void> {
    const { egressId } = this.plan;
    const [secrets, info] = await Promise.all([this.ctx.secrets.get(egressId), this.ctx.events.store.get(egressId)]);
    const running = new Map(this.fanout.states().map((s) => [s.url, s]));
    for (const [redacted, url] of Object.entries(secrets.streamUrls)) {
      const finished = info?.streamResults.some((s) => s.url === redacted && s.status === StreamInfo_Status.FINISHED);
      const state = running.get(redacted);
      if (!state && !finished) await this.record(this.fanout.add({ url, redactedUrl: redacted, protocol: this.protocol }));
      if (state?.status === 'active' && finished) await this.fanout.remove(url).catch((err: Error) => this.log.warn({ err: err.message }, 'stream not removed'));
    }
  }

  private async record(state: StreamState): Promise<void> {
    const updated = await this.ctx.events
      .update(
        this.plan.egressId,
        (info) => {
          const next = streamInfo(state);
          const i = info.streamResults.findIndex((s) => s.url === state.url);
          // The API marks a removed URL FINISHED itself; keep its times from the sink.
          if (i < 0) info.streamResults.push(next);
          else info.streamResults[i] = next;
        },
        { announce: state.status !== 'active' || state.retries > 0 },
      )
      .catch((err: Error) => this.log.warn({ err: err.message }, 'stream state not stored'));
    if (updated) this.log.info({ url: state.url, status: state.status, retries: state.retries, error: state.error }, 'stream state');
  }

  stop(): Promise<StreamState[]> {
    return this.fanout.stop();
  }
}
