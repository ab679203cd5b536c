/**
 * One stream output (one RTMP/RTMPS or SRT URL), fed from the egress's single MPEG-TS encode by a light
 * `ffmpeg -c copy` of its own, so URLs can come and go while live without touching the encoder. RTMP(S)
 * goes out through our own publisher (rtmp-run.ts), SRT through ffmpeg's libsrt (srt-run.ts).
 *
 * Behaviour follows LiveKit (egress `pkg/pipeline/builder/stream.go`, `watch.go`): a first attempt that
 * ends before anything was sent (DNS, refused connection, refused publish) fails at once; a stream that
 * dies after it was up, or sends less than 4 KiB in the liveness window, is restarted with a doubling
 * backoff, counting StreamInfo.retries / last_retry_at, until it has failed too often in a row; SRT is
 * never retried. Only the redacted URL ever reaches a message or a log line.
 *
 * Every attempt (the first and each retry) parses the URL again, resolves its host once and checks every
 * address against url_policy (pinned-destination.ts), and connects to a checked address: a refusal fails
 * the stream at once, whenever it comes.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { exponentialBackoff } from '../../shared/backoff.ts';
import { EgressError } from '../../shared/errors.ts';
import { parseSrtQuery } from '../../shared/srt-options.ts';
import { parseStreamUrl } from '../../shared/stream-destination.ts';
import { UnresolvedHostError, type Resolver, type UrlPolicy } from '../../shared/url-policy.ts';
import type { Supervisor } from '../process/processes.ts';
import type { CopyRun } from './copy-run.ts';
import { pinDestination, type PinnedDestination } from './pinned-destination.ts';
import { startRtmpRun } from './rtmp-run.ts';
import { startSrtRun } from './srt-run.ts';
import { TsJoinPoint } from './ts-join-point.ts';

/** The protocols a stream sink speaks (the request's StreamProtocol, websocket aside). */
export type SinkProtocol = 'rtmp' | 'srt';

export interface StreamTarget {
  /** Names this stream in its fanout (`remove(id)`); never shown. */
  id: string;
  /** The URL as validation rebuilt it, stream key and all: parsed again at each attempt, never handed on as is. */
  url: string;
  /** The URL fit to show (`redactStreamUrl`): for StreamInfo, logs and error messages. */
  redactedUrl: string;
  /** rtmp covers rtmps. */
  protocol: SinkProtocol;
}

export type StreamStatus = 'active' | 'finished' | 'failed';

/** What StreamInfo says about one URL; times in Unix ms. */
export interface StreamState {
  /** The target's id. */
  id: string;
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
}

/** Where streams may connect: url_policy, and the resolver and RTMPS trust (tests inject their own). */
export interface StreamPolicy {
  urlPolicy: UrlPolicy;
  resolve?: Resolver;
  /** Certificates to trust for RTMPS instead of Node's CA list. */
  tlsCa?: readonly string[];
}

export interface StreamSinkOptions extends StreamSinkSettings, StreamPolicy {
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
/** A stuck ffmpeg being replaced gets no time to say goodbye to a server that does not listen. */
const RESTART_KILL_GRACE_MS = 1_000;

type Settings = Required<StreamSinkSettings>;

function settingsOf(options: StreamSinkSettings): Settings {
  return {
    stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
    maxRetries: options.maxRetries ?? 5,
    maxBackoffMs: options.maxBackoffMs ?? 30_000,
    maxBufferBytes: options.maxBufferBytes ?? 4 * 1024 * 1024,
    stopTimeoutMs: options.stopTimeoutMs ?? 5_000,
  };
}

/** One run of the copy process. */
interface Attempt {
  run: CopyRun;
  /** Bytes the destination has taken (RTMP: acknowledged; SRT: ffmpeg's `total_size`). */
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
    this.#state = { id: this.target.id, url: this.target.redactedUrl, status: 'active', retries: 0, connected: false };
    void this.#startAttempt();
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
    const stdin = attempt?.run.input;
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
      attempt.run.input.end();
      const exit = await Promise.race([attempt.run.ended, delay(this.#settings.stopTimeoutMs, undefined, { ref: false })]);
      if (!exit) {
        this.#log.warn(`stream did not finish within ${this.#settings.stopTimeoutMs} ms; killing it`);
        await attempt.run.kill();
      }
      clearInterval(attempt.watchdog);
    }
    await this.#killing;
    if (this.#state.status === 'active') {
      this.#log.info('stream finished');
      this.#update({ status: 'finished', endedAtMs: Date.now(), connected: false });
    }
  }

  /** Checks where to connect, then starts the copy; a refusal fails the stream, a name that does not resolve is a failed attempt. */
  async #startAttempt(): Promise<void> {
    this.#attempts += 1;
    let pinned: PinnedDestination;
    try {
      pinned = await pinDestination(this.target.url, this.#options.urlPolicy, this.#options.resolve);
    } catch (err) {
      if (!this.live) return;
      if (err instanceof UnresolvedHostError) return this.#attemptFailed(undefined, err.message);
      // Refused by url_policy, or a URL that does not parse: no retry changes that.
      return this.#fail(err instanceof EgressError ? err.message : `unusable URL: ${(err as Error).message}`);
    }
    if (!this.live) return;
    this.#spawn(pinned);
  }

  #spawn(pinned: PinnedDestination): void {
    const { supervisor, ffmpegPath, tlsCa } = this.#options;
    const run =
      this.target.protocol === 'srt'
        ? startSrtRun(pinned, supervisor, ffmpegPath)
        : startRtmpRun({ pinned, supervisor, ffmpegPath, ...(tlsCa ? { tlsCa } : {}) });
    const attempt: Attempt = {
      run,
      sentBytes: 0,
      progressBytes: 0,
      progressAtMs: Date.now(),
      watchdog: setInterval(() => this.#checkLiveness(attempt), Math.min(1_000, this.#settings.stallTimeoutMs / 4)),
      join: new TsJoinPoint(),
    };
    attempt.watchdog.unref();
    this.#attempt = attempt;
    run.onProgress((sentBytes) => this.#onProgress(attempt, sentBytes));
    void run.ended.then((why) => this.#onEnd(attempt, why));
  }

  #onProgress(attempt: Attempt, sentBytes: number): void {
    if (attempt !== this.#attempt) return;
    const now = Date.now();
    attempt.sentBytes = sentBytes;
    if (sentBytes - attempt.progressBytes >= PROGRESS_BYTES) {
      attempt.progressBytes = sentBytes;
      attempt.progressAtMs = now;
    }
    // Nothing counts before the server took the stream (RTMP publish answered, SRT connected).
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
      const reason = attempt.join
        ? `no keyframe to start from in ${seconds} s`
        : attempt.sentBytes === 0
          ? `not connected after ${seconds} s`
          : `sent less than 4 KiB in ${seconds} s`;
      this.#attemptFailed(attempt, reason);
    } else if (attempt.connectedAtMs !== undefined && now - attempt.connectedAtMs >= window) {
      // Healthy for a whole window: the next trouble starts a fresh series of retries.
      this.#failuresInRow = 0;
    }
  }

  #onEnd(attempt: Attempt, why: string): void {
    clearInterval(attempt.watchdog);
    if (attempt === this.#attempt && this.live) this.#attemptFailed(attempt, this.#scrub(why));
  }

  /** The attempt died, stalled, or (none) found no address: fail at once, retry after a backoff, or give up. */
  #attemptFailed(attempt: Attempt | undefined, reason: string): void {
    if (attempt !== this.#attempt || !this.live) return;
    this.#attempt = undefined;
    if (attempt) {
      clearInterval(attempt.watchdog);
      this.#killing = attempt.run.kill(RESTART_KILL_GRACE_MS);
    }
    const { maxRetries, maxBackoffMs } = this.#settings;
    if (this.#attempts === 1 && (attempt?.sentBytes ?? 0) === 0) return this.#fail(reason);
    if (this.target.protocol === 'srt') return this.#fail(reason);
    if (this.#failuresInRow >= maxRetries) return this.#fail(`${reason} (gave up after ${maxRetries} retries in a row)`);
    this.#failuresInRow += 1;
    const backoffMs = exponentialBackoff(FIRST_BACKOFF_MS, maxBackoffMs)(this.#failuresInRow);
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
    this.#update({ retries: this.#state.retries + 1, lastRetryAtMs: Date.now() });
    await this.#startAttempt();
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

  /** `text` (ffmpeg's or the server's words) with the real URL, every part of it the redacted form hides, and its decoded SRT options replaced. */
  #scrub(text: string): string {
    const { url, redactedUrl } = this.target;
    const shown = new Set(redactedUrl.split(URL_SEPARATORS));
    const hidden = [...url.split(URL_SEPARATORS), ...srtSecretsOf(url)].filter((part) => part !== '' && !shown.has(part));
    return hidden.reduce((scrubbed, part) => scrubbed.replaceAll(part, '{...}'), text.replaceAll(url, redactedUrl));
  }
}

/** The SRT option values of `url` as ffmpeg was given them (decoded): they may show in its messages. */
function srtSecretsOf(url: string): string[] {
  try {
    const destination = parseStreamUrl(url);
    if (destination.scheme !== 'srt') return [];
    const { streamid, passphrase } = parseSrtQuery(destination.query);
    return [streamid, passphrase].filter((v): v is string => v !== undefined);
  } catch {
    return [];
  }
}

const URL_SEPARATORS = /[/?&=:@\s]+/;
