/**
 * The stream output of a running recording: a StreamFanout fed by the encode, its URLs from the sealed
 * secrets, StreamInfo in the store kept current (LiveKit's fields: status, started/ended, duration,
 * error, retries, last_retry_at), and UpdateStream applied as the API recorded it.
 *
 * Sealed stream i is StreamInfo entry i (shared/stream-results.ts): two URLs may redact alike, so entries
 * are found by position, never by their URL text. Everything is read again from Redis at each apply(), so
 * whichever worker runs the egress sees the same mapping.
 */
import { StreamInfo, StreamInfo_Status } from '@livekit/protocol';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ServiceContext } from '../../shared/context.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import type { SealedStream } from '../../shared/egress-secrets.ts';
import { msToNanos } from '../../shared/ids.ts';
import { alignStreamResults, streamEnded } from '../../shared/stream-results.ts';
import { urlPolicyOf } from '../../shared/url-policy.ts';
import { Supervisor } from '../process/processes.ts';
import type { OutputPluginOf } from './output-plugin.ts';
import { StreamFanout, type SinkProtocol, type StreamsStopped, type StreamState } from '../streams/stream-fanout.ts';

/**
 * When plan.stream is RTMP/SRT: onStream is called once, when the encode starts, with the H.264/AAC encode as
 * an MPEG-TS byte stream; it ends when the encode does. Read it in flowing mode: the recorder never waits for
 * it, and drops data it would have to hold beyond a bound (a warning says so). Without it, no stream is made.
 */
export interface StreamWiring {
  onStream: (ts: Readable) => void;
}

const STATUS: ReadonlyMap<StreamState['status'], StreamInfo_Status> = new Map([
  ['active', StreamInfo_Status.ACTIVE],
  ['finished', StreamInfo_Status.FINISHED],
  ['failed', StreamInfo_Status.FAILED],
]);

/**
 * The stream's entry as its sink reports it. A stream resumed by a later part after a takeover (shared/takeover/)
 * keeps the start its first part stored: the receiver sees one stream, gap and all.
 */
function streamInfo(state: StreamState, storedStartedAt = 0n): StreamInfo {
  const endedAt = msToNanos(state.endedAtMs ?? 0);
  const ownStart = msToNanos(state.startedAtMs ?? 0);
  const startedAt = storedStartedAt > 0n && (ownStart === 0n || storedStartedAt < ownStart) ? storedStartedAt : ownStart;
  return new StreamInfo({
    url: state.url,
    status: STATUS.get(state.status)!,
    startedAt,
    endedAt,
    duration: startedAt && endedAt ? endedAt - startedAt : 0n,
    error: state.error ?? '',
    retries: state.retries,
    lastRetryAt: msToNanos(state.lastRetryAtMs ?? 0),
  });
}

/** The fanout id of sealed stream `position`: the position itself (never the URL, real or redacted). */
const idOf = (position: number) => `stream-${position}`;
const positionOf = (id: string) => Number(id.slice('stream-'.length));

export class StreamsOutput {
  readonly fanout: StreamFanout;
  private readonly ctx: ServiceContext;
  private readonly plan: EgressPlan;
  private readonly log: Logger;
  private readonly protocol: SinkProtocol;
  /** The sealed list as last read: StreamInfo entries are made for it before any is written. */
  private streams: readonly SealedStream[] = [];
  /** StreamInfo writes under way: stop() waits for them, so the final states are stored. */
  private readonly writes = new Set<Promise<void>>();

  constructor(ctx: ServiceContext, plan: EgressPlan, supervisor: Supervisor, log: Logger) {
    this.ctx = ctx;
    this.plan = plan;
    this.log = log;
    this.protocol = plan.stream!.protocol === 'srt' ? 'srt' : 'rtmp';
    this.fanout = new StreamFanout({
      ffmpegPath: ctx.config.ffmpeg_path,
      supervisor,
      log,
      urlPolicy: urlPolicyOf(ctx.config),
      onChange: (state) => void this.recordTracked(state),
    });
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
   * Brings the running streams in line with what the API recorded: sealed streams whose entry is still
   * ACTIVE and that do not run yet are started; running ones whose entry the API marked FINISHED stop.
   */
  async apply(): Promise<void> {
    const { egressId } = this.plan;
    const [secrets, info] = await Promise.all([this.ctx.secrets.get(egressId), this.ctx.events.store.get(egressId)]);
    this.streams = secrets.streams;
    const results = info?.streamResults ?? [];
    if (results.length < this.streams.length) await this.ctx.events.update(egressId, (current) => alignStreamResults(current, this.streams));
    const running = new Map(this.fanout.states().map((s) => [s.id, s]));
    const added: StreamState[] = [];
    const removed: number[] = [];
    for (const [position, stream] of this.streams.entries()) {
      const id = idOf(position);
      const state = running.get(id);
      const entry = results[position];
      // Added in one go, with no await in between: a stream refused at once must not find itself the
      // last one live (and end a stream-only egress) while the others are still to be added.
      if (!state && !streamEnded(entry)) added.push(this.fanout.add({ id, url: stream.url, redactedUrl: stream.redacted, protocol: this.protocol }));
      if (state?.status === 'active' && entry?.status === StreamInfo_Status.FINISHED) removed.push(position);
    }
    for (const state of added) await this.record(state);
    for (const position of removed) {
      await this.fanout
        .remove(idOf(position))
        .catch((err: Error) => this.log.warn({ err: err.message, stream: this.streams[position]!.redacted }, 'stream not removed'));
    }
  }

  private recordTracked(state: StreamState): void {
    const write = this.record(state);
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  private async record(state: StreamState): Promise<void> {
    const position = positionOf(state.id);
    const updated = await this.ctx.events
      .update(
        this.plan.egressId,
        (info) => {
          alignStreamResults(info, this.streams);
          const stored = info.streamResults[position];
          if (!stored) return false;
          // The API marks a removed stream FINISHED itself: a late report from its sink must not make it
          // ACTIVE again (the removal would be lost); its final report brings the sink's times.
          if (streamEnded(stored) && state.status !== 'finished') return false;
          info.streamResults[position] = streamInfo(state, stored.startedAt);
        },
        { announce: state.status !== 'active' || state.retries > 0 },
      )
      .catch((err: Error) => this.log.warn({ err: err.message }, 'stream state not stored'));
    if (updated) this.log.info({ url: state.url, status: state.status, retries: state.retries, error: state.error }, 'stream state');
  }

  async stop(): Promise<StreamState[]> {
    const states = await this.fanout.stop();
    await Promise.all(this.writes);
    return states;
  }
}

/**
 * The plugin (RTMP and SRT; a WebSocket is websocket-output.ts): the sinks fed from the encode's MPEG-TS, under
 * a supervisor of their own that ends them when the recording is over; UpdateStream applied as it comes.
 */
export const streamsOutput: OutputPluginOf<'stream', StreamWiring> = {
  kind: 'stream',
  inPlan: (plan) => plan.stream !== undefined && plan.stream.protocol !== 'websocket',
  maxDuration: 'stream_output_max_duration',
  live: true,
  open: async ({ ctx, plan, log }) => {
    const supervisor = new Supervisor(log, { EGRESS_ID: plan.egressId });
    const output = new StreamsOutput(ctx, plan, supervisor, log);
    return {
      wiring: { stream: { onStream: (ts) => void output.start(ts).catch((err: Error) => log.error({ err: err.message }, 'streams not started')) } },
      allStopped: output.allStopped,
      updateStream: () => output.apply(),
      close: async () => {
        await output.stop();
        await supervisor.killAll();
      },
    };
  },
};
