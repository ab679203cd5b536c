/**
 * One stream output (one RTMP/RTMPS or SRT URL), fed from the egress's single MPEG-TS encode by a light
 * `ffmpeg -c copy` of its own, so URLs can come and go while live without touching the encoder.
 *
 * Behaviour follows LiveKit (egress `pkg/pipeline/builder/stream.go`, `watch.go`): a first attempt that
 * ends before anything was sent (DNS, refused connection, refused publish) fails at once; a stream that
 * dies after it was up, or sends less than 4 KiB in the liveness window, is restarted with a doubling
 * backoff, counting StreamInfo.retries / last_retry_at, until it has failed too often in a row; SRT is
 * never retried. Only the redacted URL ever reaches a message or a log line.
 */
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { describeExit, type ProcessExit, type SupervisedProcess, type Supervisor } from '../processes.ts';
import { TsJoinPoint } from './ts-join-point.ts';

export type StreamProtocol = 'rtmp' | 'srt';

export interface StreamTarget {
  /** The URL as given, stream key and all: handed to ffmpeg and nowhere else. */
  url: string;
  /** The URL fit to show (`redactStreamUrl`): for StreamInfo, logs and error messages. */
  redactedUrl: string;
  /** rtmp covers rtmps. */
  protocol: StreamProtocol;
}

export type StreamStatus = 'active' | 'finished' | 'failed';

/** What StreamInfo says about one URL; times in Unix ms. */
export interface StreamState {
  /** The redacted URL. */
  url: string;
  /** 'active' from the start until the stream ends, as LiveKit's StreamInfo (ACTIVE is its zero value). */
  status: StreamStatus;
  /** When the server first took the stream (RTMP: publish accepted; SRT: connected). */
  startedAtMs?: number;
  endedAtMs?: number;
  /** Why it failed; names the redacted URL only. */
  error?: string;
  /** Restarts so far. */
  retries: number;
  lastRetryAtMs?: number;
  /** Data is reaching the server now; false while connecting, stalled or waiting to retry. */
  connected: boolean;
}

export interface StreamSinkSettings {
  /** Less than 4 KiB sent in this long counts as stalled (LiveKit: 30 s). @defaultValue 30 000 */
  stallTimeoutMs?: number;
  /** RTMP restarts in a row before the stream fails. @defaultValue 5 */
  maxRetries?: number;
  /** Longest wait before a restart; the waits double from 1 s. @defaultValue 30 000 */
  maxBackoffMs?: number;
  /** Bytes a sink may hold unsent before it counts as stalled. @defaultValue 4 MiB */
  maxBufferBytes?: number;
  /** How long a sink may take to finish once its input ended, before it is killed. @defaultValue 5 000 */
  stopTimeoutMs?: number;
  /**
   * RTMP: a fixed TCP send buffer (bytes) instead of the kernel's autotuned one (up to 4 MiB), which
   * can hide a stall for many seconds. Smaller limits throughput on long paths. @defaultValue kernel's
   */
  sendBufferBytes?: number;
}

export interface StreamSinkOptions extends StreamSinkSettings {
  target: StreamTarget;
  ffmpegPath: string;
  supervisor: Supervisor;
  log: Logger;
  /** Called with a copy of the state after every change. */
  onChange: (state: StreamState) => void;
}

/** LiveKit's liveness threshold: a stream must move at least this much per window. */
const PROGRESS_BYTES = 4096;
const FIRST_BACKOFF_MS = 1_000;
/**
 * How much of its input (µs of stream time) the copy's ffmpeg analyses before it connects. Its input
 * starts at a keyframe with the codec headers, so little is needed; 1 s leaves room for the audio.
 */
const ANALYZE_DURATION_US = 1_000_000;
/** A stuck ffmpeg being replaced gets no time to say goodbye to a server that does not listen. */
const RESTART_KILL_GRACE_MS = 1_000;

type Settings = Required<Omit<StreamSinkSettings, 'sendBufferBytes'>> & Pick<StreamSinkSettings, 'sendBufferBytes'>;

function settingsOf(options: StreamSinkSettings): Settings {
  return {
    stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
    maxRetries: options.maxRetries ?? 5,
    maxBackoffMs: options.maxBackoffMs ?? 30_000,
    maxBufferBytes: options.maxBufferBytes ?? 4 * 1024 * 1024,
    stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
    sendBufferBytes: options.sendBufferBytes,
  };
}

/** One run of the copy process. */
interface Attempt {
  ffmpeg: SupervisedProcess;
  /** Bytes ffmpeg has written out (its `total_size`). */
  sentBytes: number;
  /** sentBytes when it last moved PROGRESS_BYTES, and when that was. */
  progressBytes: number;
  progressAtMs: number;
  connectedAtMs?: number;
  watchdog: NodeJS.Timeout;
  /** Finds where this run joins the TS; absent once it has. */
  join?: TsJoinPoint;
}

export class StreamSink {
  readonly target: StreamTarget;
  readonly #options: StreamSinkOptions;
  readonly #settings: Settings;
  readonly #log: Logger;
  readonly #state: StreamState;
  #attempt: Attempt | undefined;
  #attempts = 0;
  #failuresInRow = 0;
  /** The kill of a replaced attempt, still under way. */
  #killing: Promise<unknown> = Promise.resolve();
  #ending: Promise<void> | undefined;
  readonly #endRequested = new AbortController();

  constructor(options: StreamSinkOptions) {
    this.#options = options;
    this.#settings = settingsOf(options);
    this.target = options.target;
    this.#log = options.log.child({ stream: this.target.redactedUrl });
    this.#state = { url: this.target.redactedUrl, status: 'active', retries: 0, connected: false };
    this.#spawn();
  }

  get state(): StreamState {
    return { ...this.#state };
  }

  /** Still taking data: active and not being ended. */
  get live(): boolean {
    return this.#state.status === 'active' && this.#ending === undefined;
  }

  /**
   * Passes one chunk of the MPEG-TS on. Never blocks: between attempts the chunk is dropped, each run
   * starts at the next keyframe, and a sink too far behind counts as stalled.
   */
  write(chunk: Buffer): void {
    const attempt = this.#attempt;
    const stdin = attempt?.ffmpeg.child.stdin;
    if (!attempt || !stdin?.writable || !this.live) return;
    if (stdin.writableLength > this.#settings.maxBufferBytes) {
      this.#attemptFailed(attempt, `fell more than ${Math.round(this.#settings.maxBufferBytes / 1024)} KiB behind`);
      return;
    }
    const data = attempt.join ? attempt.join.feed(chunk) : chunk;
    if (!data) return;
    if (attempt.join) {
      attempt.join = undefined;
      // The wait for a keyframe is not the server's doing: its liveness window starts now.
      attempt.progressAtMs = Date.now();
    }
    stdin.write(data);
  }

  /**
   * Ends the stream gracefully (ffmpeg sends what it has and closes the connection) → FINISHED; a
   * failed stream stays FAILED. Resolves when no process of this sink is left. Safe to call again.
   */
  end(): Promise<void> {
    return (this.#ending ??= this.#finish());
  }

  async #finish(): Promise<void> {
    this.#endRequested.abort();
    const attempt = this.#attempt;
    if (attempt) {
      attempt.ffmpeg.child.stdin?.end();
      const exit = await Promise.race([attempt.ffmpeg.exited, delay(this.#settings.stopTimeoutMs, undefined, { ref: false })]);
      if (!exit) {
        this.#log.warn(`stream did not finish within ${this.#settings.stopTimeoutMs} ms; killing it`);
        await attempt.ffmpeg.kill();
      }
      clearInterval(attempt.watchdog);
    }
    await this.#killing;
    if (this.#state.status === 'active') {
      this.#log.info('stream finished');
      this.#update({ status: 'finished', endedAtMs: Date.now(), connected: false });
    }
  }

  #spawn(): void {
    this.#attempts += 1;
    const ffmpeg = this.#options.supervisor.spawn('ffmpeg-stream', this.#options.ffmpegPath, copyArgs(this.target, this.#settings.sendBufferBytes));
    const attempt: Attempt = {
      ffmpeg,
      sentBytes: 0,
      progressBytes: 0,
      progressAtMs: Date.now(),
      watchdog: setInterval(() => this.#checkLiveness(attempt), Math.min(1_000, this.#settings.stallTimeoutMs / 4)),
      join: new TsJoinPoint(),
    };
    attempt.watchdog.unref();
    this.#attempt = attempt;
    followSentBytes(ffmpeg, (sentBytes) => this.#onProgress(attempt, sentBytes));
    void ffmpeg.exited.then((exit) => this.#onExit(attempt, exit));
  }

  #onProgress(attempt: Attempt, sentBytes: number): void {
    if (attempt !== this.#attempt) return;
    const now = Date.now();
    attempt.sentBytes = sentBytes;
    if (sentBytes - attempt.progressBytes >= PROGRESS_BYTES) {
      attempt.progressBytes = sentBytes;
      attempt.progressAtMs = now;
    }
    // ffmpeg writes its first byte only once the server took the stream (RTMP publish answered).
    if (sentBytes > 0 && attempt.connectedAtMs === undefined) {
      attempt.connectedAtMs = now;
      this.#log.info({ retries: this.#state.retries }, 'stream connected');
      this.#update({ connected: true, startedAtMs: this.#state.startedAtMs ?? now });
    }
  }

  #checkLiveness(attempt: Attempt): void {
    if (attempt !== this.#attempt || !this.live) return;
    const now = Date.now();
    const window = this.#settings.stallTimeoutMs;
    if (now - attempt.progressAtMs >= window) {
      const seconds = Math.round(window / 1000);
      const reason = attempt.join ? `no keyframe to start from in ${seconds} s` : attempt.sentBytes === 0 ? `not connected after ${seconds} s` : `sent less than 4 KiB in ${seconds} s`;
      this.#attemptFailed(attempt, reason);
    } else if (attempt.connectedAtMs !== undefined && now - attempt.connectedAtMs >= window) {
      // Healthy for a whole window: the next trouble starts a fresh series of retries.
      this.#failuresInRow = 0;
    }
  }

  #onExit(attempt: Attempt, exit: ProcessExit): void {
    clearInterval(attempt.watchdog);
    // ffmpeg's last two error lines, on one line as StreamInfo.error is shown.
    if (attempt === this.#attempt && this.live) this.#attemptFailed(attempt, this.#scrub(describeExit(exit, attempt.ffmpeg, 2).replaceAll('\n', '; ')));
  }

  /** The attempt died or stalled: fail at once, retry after a backoff, or give up. */
  #attemptFailed(attempt: Attempt, reason: string): void {
    if (attempt !== this.#attempt || !this.live) return;
    this.#attempt = undefined;
    clearInterval(attempt.watchdog);
    this.#killing = attempt.ffmpeg.kill(RESTART_KILL_GRACE_MS);
    const { maxRetries, maxBackoffMs } = this.#settings;
    if (this.#attempts === 1 && attempt.sentBytes === 0) return this.#fail(reason);
    if (this.target.protocol === 'srt') return this.#fail(reason);
    if (this.#failuresInRow >= maxRetries) return this.#fail(`${reason} (gave up after ${maxRetries} retries in a row)`);
    this.#failuresInRow += 1;
    const backoffMs = Math.min(FIRST_BACKOFF_MS * 2 ** (this.#failuresInRow - 1), maxBackoffMs);
    this.#log.warn({ reason, backoffMs, retries: this.#state.retries }, 'stream interrupted; restarting it');
    this.#update({ connected: false });
    void this.#restartAfter(backoffMs);
  }

  async #restartAfter(backoffMs: number): Promise<void> {
    await this.#killing;
    try {
      await delay(backoffMs, undefined, { signal: this.#endRequested.signal });
    } catch {
      return; // ended while waiting
    }
    if (this.#endRequested.signal.aborted) return;
    this.#spawn();
    this.#update({ retries: this.#state.retries + 1, lastRetryAtMs: Date.now() });
  }

  #fail(reason: string): void {
    const error = `stream ${this.target.redactedUrl} failed: ${reason}`;
    this.#log.warn({ error }, 'stream failed');
    this.#update({ status: 'failed', endedAtMs: Date.now(), error, connected: false });
  }

  #update(change: Partial<StreamState>): void {
    Object.assign(this.#state, change);
    this.#options.onChange(this.state);
  }

  /** `text` (ffmpeg's words) with the real URL, and every part of it the redacted form hides, replaced. */
  #scrub(text: string): string {
    const { url, redactedUrl } = this.target;
    const shown = new Set(redactedUrl.split(URL_SEPARATORS));
    const hidden = url.split(URL_SEPARATORS).filter((part) => part !== '' && !shown.has(part));
    return hidden.reduce((scrubbed, part) => scrubbed.replaceAll(part, '{...}'), text.replaceAll(url, redactedUrl));
  }
}

const URL_SEPARATORS = /[/?&=:@\s]+/;

function copyArgs(target: StreamTarget, sendBufferBytes: number | undefined): string[] {
  // The input starts at a keyframe with its codec headers (TsJoinPoint), so a short analysis finds
  // everything; ffmpeg's mpegts demuxer waits out the whole window whatever it finds.
  const input = ['-hide_banner', '-nostats', '-loglevel', 'error', '-progress', 'pipe:1', '-f', 'mpegts', '-analyzeduration', String(ANALYZE_DURATION_US), '-i', 'pipe:0'];
  // FLV carries one video and one audio stream, and nothing else the encode might add.
  const copy = ['-map', '0:v:0?', '-map', '0:a:0?', '-c', 'copy'];
  if (target.protocol === 'srt') return [...input, ...copy, '-f', 'mpegts', target.url];
  const sendBuffer = sendBufferBytes ? ['-send_buffer_size', String(sendBufferBytes)] : [];
  // ` live=1` is librtmp syntax LiveKit accepts; ffmpeg's own RTMP client always publishes live.
  const url = target.url.replace(/ live=1$/, '');
  // no_duration_filesize: a live connection cannot be seeked back to patch the header at the end.
  return [...input, ...copy, ...sendBuffer, '-f', 'flv', '-flvflags', 'no_duration_filesize', url];
}

/** Calls back with ffmpeg's `total_size` (bytes written out) at each `-progress` report. */
function followSentBytes(ffmpeg: SupervisedProcess, onReport: (sentBytes: number) => void): void {
  let totalSize = 0;
  createInterface({ input: ffmpeg.child.stdout! }).on('line', (line) => {
    if (line.startsWith('total_size=')) totalSize = Number(line.slice('total_size='.length)) || 0;
    else if (line.startsWith('progress=')) onReport(totalSize);
  });
}
