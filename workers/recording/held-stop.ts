/**
 * StopEgress heard by a part after a takeover before its first frame (it came in the gap, or while the part
 * was starting): the part records on to that frame, then stops, so the egress ends as a stop ends it
 * (COMPLETE, every part in its outputs) rather than with nothing of its own to hand over. Held at most
 * `holdMs`: a part with no first frame by then stops all the same, and the salvage delivers the earlier parts
 * (session.ts). Any other stop (a limit, a drain) goes through at once.
 */
import { STOP_EGRESS_API } from '../../shared/control.ts';

/** How long a takeover's part may take to its first frame while a StopEgress waits. */
export const STOP_HOLD_MS = 10_000;

export class HeldStop {
  private readonly stop: (reason: string) => void;
  private readonly holdMs: number;
  /** Whether a StopEgress is still to be held: a later part, before its first frame, within holdMs. */
  private holding: boolean;
  private held: { reason: string; timer: NodeJS.Timeout } | undefined;

  /** `takeover`: this is a part after a takeover (part 1 holds nothing). */
  constructor(takeover: boolean, stop: (reason: string) => void, holdMs = STOP_HOLD_MS) {
    this.holding = takeover;
    this.stop = stop;
    this.holdMs = holdMs;
  }

  /** A stop for the recording: passed on now, or held until the first frame. */
  request(reason: string): void {
    if (this.holding && reason === STOP_EGRESS_API) {
      this.held ??= { reason, timer: setTimeout(() => this.release(), this.holdMs) };
      return;
    }
    this.stop(reason);
  }

  /** The part's first frame: a held stop goes through now. */
  activated(): void {
    this.release();
  }

  /** The recording is over: nothing is held any more. */
  clear(): void {
    this.holding = false;
    if (this.held) clearTimeout(this.held.timer);
    this.held = undefined;
  }

  private release(): void {
    this.holding = false;
    const held = this.held;
    if (!held) return;
    clearTimeout(held.timer);
    this.held = undefined;
    this.stop(held.reason);
  }
}
