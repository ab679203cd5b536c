/**
 * A private X display for one recording. Xvfb picks a free display number itself (-displayfd) and
 * claims it by binding its sockets (no lock file then), so concurrent recordings never race for the same
 * display. The socket file a killed Xvfb leaves behind is reaped by the next worker (stale-displays.ts).
 */
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { EgressError } from '../../shared/errors.ts';
import { describeExit, type Supervisor } from '../process/processes.ts';

const READY_TIMEOUT_MS = 10_000;
/** The child's fd on which Xvfb writes its display number once it accepts connections. */
const DISPLAY_FD = 3;

export interface VirtualDisplay {
  /** DISPLAY value, e.g. ":3". */
  display: string;
  /** Resolves (never rejects) with an error when Xvfb exits. */
  lost: Promise<EgressError>;
}

export interface ScreenSize {
  width: number;
  height: number;
  depth: number;
}

export async function startXvfb(supervisor: Supervisor, screen: ScreenSize): Promise<VirtualDisplay> {
  const xvfb = supervisor.spawn(
    'Xvfb',
    'Xvfb',
    ['-displayfd', String(DISPLAY_FD), '-screen', '0', `${screen.width}x${screen.height}x${screen.depth}`, '-ac', '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  );
  const displayNumber = await Promise.race([
    readLine(xvfb.child.stdio[DISPLAY_FD] as Readable),
    xvfb.exited.then((exit) => {
      throw new EgressError('EGR_ERR_INTERNAL', `Xvfb could not start: ${describeExit(exit, xvfb)}`);
    }),
    delay(READY_TIMEOUT_MS, undefined, { ref: false }).then(() => {
      throw new EgressError('EGR_ERR_INTERNAL', `Xvfb did not report a display within ${READY_TIMEOUT_MS / 1000} s`);
    }),
  ]).catch(async (err: unknown) => {
    await xvfb.kill();
    throw err;
  });
  const lost = xvfb.exited.then((exit) => new EgressError('EGR_ERR_INTERNAL', `the virtual display ended: ${describeExit(exit, xvfb)}`));
  return { display: `:${displayNumber}`, lost };
}

function readLine(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) {
        stream.destroy();
        resolve(text.trim());
      }
    });
  });
}
