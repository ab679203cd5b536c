/**
 * One attempt of a stream output: the process (and, for RTMP, the connection) that takes the encode's
 * MPEG-TS and delivers it. The sink (stream-sink.ts) feeds `input`, watches progress for its liveness
 * window, and ends or kills the run; how the run delivers is the transport's business.
 */
import type { Writable } from 'node:stream';

export interface CopyRun {
  /** The MPEG-TS goes in here. */
  readonly input: Writable;
  /** Settles when the run is over, saying how it ended (ffmpeg's last error lines, the server's refusal…). */
  readonly ended: Promise<string>;
  /** Called back with the bytes the destination has taken so far; the first report (> 0) means it took the stream. */
  onProgress(callback: (bytes: number) => void): void;
  /** Ends it now: the process group, the connection. */
  kill(graceMs?: number): Promise<unknown>;
}
