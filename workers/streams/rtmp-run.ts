/**
 * RTMP(S) without the stream key or the server on any command line: `ffmpeg -c copy` remuxes the TS to
 * FLV on its stdout, and our publisher (rtmp/publisher.ts) sends it over a socket we connect to the pinned
 * addresses — for RTMPS over TLS with the host's name for SNI and certificate checks, so the address is
 * pinned and the name still verified. FLV waits in ffmpeg's pipe until the server took the publication;
 * a full socket pauses the pipe (and so, upstream, the sink's backlog grows, as with any slow server).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { rtmpPartsOf } from '../../shared/rtmp-url.ts';
import { portOf } from '../../shared/stream-destination.ts';
import { describeExit, type Supervisor } from '../process/processes.ts';
import type { CopyRun } from './copy-run.ts';
import { pinnedLookup } from '../../shared/url-policy.ts';
import type { PinnedDestination } from './pinned-destination.ts';
import { FlvTagReader } from './rtmp/flv-tags.ts';
import { RtmpPublisher } from './rtmp/publisher.ts';
import { flvPipeArgs } from './stream-copy-args.ts';

export interface RtmpRunOptions {
  pinned: PinnedDestination;
  supervisor: Supervisor;
  ffmpegPath: string;
  /** Certificates to trust for RTMPS instead of Node's CA list (tests). */
  tlsCa?: readonly string[];
}

/** How often progress is reported while nothing else happens (acks come in between). */
const REPORT_INTERVAL_MS = 250;
const KILL_GRACE_MS = 1_000;

/**
 * To the checked addresses only (a pinned lookup, tried in turn as Node tries a name's addresses), by the
 * host's name: for RTMPS that name is the SNI and what the certificate must match.
 */
function connectSocket({ pinned, tlsCa }: RtmpRunOptions): { socket: Socket; connected: 'connect' | 'secureConnect' } {
  const { destination, addresses } = pinned;
  const options = { host: destination.host, port: portOf(destination), lookup: pinnedLookup(addresses), noDelay: true };
  if (destination.scheme !== 'rtmps') return { socket: netConnect(options), connected: 'connect' };
  // tls.connect sends no SNI unless told; an address host is checked as an address, without SNI.
  const servername = isIP(destination.host) ? {} : { servername: destination.host };
  return { socket: tlsConnect({ ...options, ...servername, ...(tlsCa ? { ca: [...tlsCa] } : {}) }), connected: 'secureConnect' };
}

export function startRtmpRun(options: RtmpRunOptions): CopyRun {
  const ffmpeg = options.supervisor.spawn('ffmpeg-stream', options.ffmpegPath, flvPipeArgs());
  const { socket, connected } = connectSocket(options);
  const publisher = new RtmpPublisher(socket, rtmpPartsOf(options.pinned.destination), connected);
  const listeners: ((bytes: number) => void)[] = [];
  const report = () => {
    if (publisher.publishing) for (const listener of listeners) listener(publisher.progressBytes);
  };
  const timer = setInterval(report, REPORT_INTERVAL_MS);
  timer.unref();

  const stdout = ffmpeg.child.stdout!;
  const flv = new FlvTagReader();
  let flvError: string | undefined;
  void publisher.published.then(
    () => {
      stdout.on('data', (chunk: Buffer) => {
        let full = false;
        try {
          for (const tag of flv.push(chunk)) full = !publisher.writeTag(tag) || full;
        } catch (err) {
          flvError = (err as Error).message;
          publisher.destroy();
          return;
        }
        if (full) {
          stdout.pause();
          publisher.onDrain(() => stdout.resume());
        }
        report();
      });
    },
    () => undefined,
  );
  // ffmpeg wrote its last tag (its input ended): the publication ends after it.
  stdout.once('end', () => void publisher.close());

  const ended = new Promise<string>((resolve) => {
    let settled = false;
    const finish = (why: string) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      resolve(why);
    };
    const ffmpegEnded = () => ffmpeg.exited.then((exit) => describeExit(exit, ffmpeg, 2).replaceAll('\n', '; '));
    void publisher.closed.then(async (error) => {
      if (error) {
        void ffmpeg.kill(KILL_GRACE_MS);
        return finish(error.message);
      }
      finish(flvError ?? (await ffmpegEnded()));
    });
    void ffmpeg.exited.then(async (exit) => {
      // A clean exit: its output ends, the publisher closes, and `closed` ends the run.
      if (exit.code === 0 && !exit.requested) return;
      publisher.destroy();
      finish(await ffmpegEnded());
    });
  });

  return {
    input: ffmpeg.child.stdin!,
    ended,
    onProgress: (callback) => void listeners.push(callback),
    kill: async (graceMs) => {
      publisher.destroy();
      return ffmpeg.kill(graceMs);
    },
  };
}
