/**
 * The stream outputs of one egress: every URL gets its own StreamSink, all fed the same MPEG-TS
 * encode, so UpdateStream can add and remove URLs while live (LiveKit: a tee with a queue per URL).
 * The encode is never held back: each sink bounds its own backlog, and one that falls too far behind
 * counts as stalled. When no URL is left taking data, `allStopped` says how that came about, and the
 * caller ends the egress (LiveKit: removing the last → "All streams stopped"; the last failing → FAILED).
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { EgressError, failedPrecondition, notFound } from '../../shared/errors.ts';
import type { Supervisor } from '../process/processes.ts';
import { StreamSink, type StreamPolicy, type StreamSinkSettings, type StreamState, type StreamTarget } from './stream-sink.ts';

export type { SinkProtocol, StreamPolicy, StreamSinkSettings, StreamState, StreamStatus, StreamTarget } from './stream-sink.ts';

export interface StreamFanoutOptions extends StreamSinkSettings, StreamPolicy {
  ffmpegPath: string;
  supervisor: Supervisor;
  log: Logger;
  /** Called with a copy of a stream's state after every change (for StreamInfo). */
  onChange?: (state: StreamState) => void;
}

/** How the last URL stopped taking data. */
export type StreamsStopped = { reason: 'removed' } | { reason: 'failed'; error: EgressError };

export class StreamFanout {
  /** Resolves once every URL added has been removed or has failed; never after stop(). */
  readonly allStopped: Promise<StreamsStopped>;
  readonly #options: StreamFanoutOptions;
  /** Every sink ever added, in order: the StreamInfo list keeps failed and finished URLs too. */
  readonly #sinks: StreamSink[] = [];
  #resolveAllStopped: (stopped: StreamsStopped) => void = () => {};
  #attached = false;
  #stopping: Promise<StreamState[]> | undefined;

  constructor(options: StreamFanoutOptions) {
    this.#options = options;
    this.allStopped = new Promise((resolve) => (this.#resolveAllStopped = resolve));
  }

  /** Feeds every live sink from `ts`; when `ts` closes (the encode ended), the sinks are stopped. */
  attach(ts: Readable): void {
    if (this.#attached) throw new Error('a stream fanout is fed from one encode only');
    this.#attached = true;
    // Flowing mode and never paused: a slow sink must not hold back the encoder or the other sinks.
    ts.on('data', (chunk: Buffer) => {
      for (const sink of this.#sinks) if (sink.live) sink.write(chunk);
    });
    ts.once('close', () => void this.stop());
  }

  /** Starts streaming to one more URL; it joins the encode where it is. */
  add(target: StreamTarget): StreamState {
    if (this.#stopping) throw failedPrecondition('the egress is stopping; no stream can be added');
    if (this.#liveSink(target.id)) throw new EgressError('EGR_ERR_ALREADY_EXISTS', `stream ${target.redactedUrl} already exists`);
    const { onChange: _, ...settings } = this.#options;
    const sink = new StreamSink({ ...settings, target, onChange: (state) => this.#changed(state) });
    this.#sinks.push(sink);
    return sink.state;
  }

  /** Ends one stream gracefully → FINISHED. `id` is its target's. */
  async remove(id: string): Promise<void> {
    const sink = this.#liveSink(id);
    if (!sink) throw notFound('stream not found');
    await sink.end();
  }

  /** Ends every URL gracefully; resolves with the final states once no process of them is left. */
  stop(): Promise<StreamState[]> {
    return (this.#stopping ??= Promise.all(this.#sinks.map((sink) => sink.end())).then(() => this.states()));
  }

  /** The state of every URL ever added, in order. */
  states(): StreamState[] {
    return this.#sinks.map((sink) => sink.state);
  }

  #liveSink(id: string): StreamSink | undefined {
    return this.#sinks.find((sink) => sink.live && sink.target.id === id);
  }

  #changed(state: StreamState): void {
    this.#options.onChange?.(state);
    if (state.status === 'active' || this.#stopping) return;
    // Sinks being removed are no longer live either, so the last one to go decides the reason.
    if (this.#sinks.some((sink) => sink.live)) return;
    this.#resolveAllStopped(
      state.status === 'failed'
        ? { reason: 'failed', error: new EgressError('EGR_ERR_UNAVAILABLE', state.error ?? `stream ${state.url} failed`) }
        : { reason: 'removed' },
    );
  }
}
