/**
 * The owner's side of a recording lease: renews it every TTL/3 and fences itself off. It counts the lease as
 * its own only until `sent + ttl − safety margin`, `sent` being when its last *successful* renew request left
 * (local monotonic clock: performance.now()): Redis applied that renewal after `sent`, so the lease cannot lapse
 * before `sent + ttl`, and the owner stops recording and writing before Redis can grant it to another worker.
 * That deadline has a timer of its own, so a renewal that hangs (Redis unreachable, a partition holding its
 * packets) cannot delay it. A renewal refused because another token holds the lease ends ownership at once.
 * See lease-timing.ts for the numbers.
 */
import type { FenceRefusal, FencedResult } from './fence.ts';
import type { Lease } from './egress-lease.ts';
import { LEASE_SAFETY_MARGIN_MS } from './lease-timing.ts';

/** Why the owner stopped owning: it could not confirm a renewal in time, or Redis refused one. */
export type LostReason =
  | { kind: 'unconfirmed'; /** ms since the last successful renew request left */ sinceConfirmedMs: number }
  | { kind: 'refused'; refusal: FenceRefusal };

/** What the keeper needs of EgressLeases (a stand-in in tests). */
export interface LeaseRenewer {
  renew(lease: Lease): Promise<FencedResult>;
  release(lease: Lease): Promise<FencedResult>;
}

export interface LeaseKeeperOptions {
  /** Renewal period; default a third of the lease's TTL. */
  renewEveryMs?: number;
  /** How long before the lease can lapse the owner stops; default LEASE_SAFETY_MARGIN_MS. */
  safetyMarginMs?: number;
  /** Called once when ownership ends (never after stop()); `signal` is aborted just before. */
  onLost?: (reason: LostReason) => void;
  /** A renewal that failed (it is retried at the next period), or an onLost that threw. */
  onError?: (err: Error) => void;
}

/** The `signal`'s abort reason. */
export class LeaseLostError extends Error {
  readonly reason: LostReason;
  constructor(lease: Lease, reason: LostReason) {
    const why =
      reason.kind === 'refused' ? `renewal refused (${reason.refusal})` : `no renewal confirmed for ${Math.round(reason.sinceConfirmedMs)} ms`;
    super(`lease on ${lease.egressId} (token ${lease.token}) lost: ${why}`);
    this.name = 'LeaseLostError';
    this.reason = reason;
  }
}

export class LeaseKeeper {
  readonly lease: Lease;
  private readonly renewer: LeaseRenewer;
  private readonly renewEveryMs: number;
  private readonly safetyMarginMs: number;
  private readonly onLost: (reason: LostReason) => void;
  private readonly onError: (err: Error) => void;
  private readonly controller = new AbortController();
  /** performance.now() of the last successful renew request's (or the grant's) departure. */
  private confirmedSentAt: number;
  private lostReason: LostReason | undefined;
  private stopped = false;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;

  /**
   * Starts keeping `grant` (EgressLeases.acquire's success): its first renewal goes out after renewEveryMs. A
   * grant whose answer came later than ttl − margin after its request is lost at once (onLost fires in here).
   */
  constructor(renewer: LeaseRenewer, grant: { lease: Lease; sentAt: number }, options: LeaseKeeperOptions = {}) {
    this.renewer = renewer;
    this.lease = grant.lease;
    this.confirmedSentAt = grant.sentAt;
    this.safetyMarginMs = options.safetyMarginMs ?? LEASE_SAFETY_MARGIN_MS;
    this.renewEveryMs = options.renewEveryMs ?? Math.floor(grant.lease.ttlMs / 3);
    this.onLost = options.onLost ?? (() => undefined);
    this.onError = options.onError ?? (() => undefined);
    if (!(this.safetyMarginMs >= 0 && this.renewEveryMs > 0 && this.renewEveryMs < this.validForMs)) {
      throw new RangeError(
        `lease keeping needs 0 < renewEveryMs (${this.renewEveryMs}) < ttl (${grant.lease.ttlMs}) − safety margin (${this.safetyMarginMs})`,
      );
    }
    this.renewTimer = setInterval(() => this.renewOnce(), this.renewEveryMs);
    this.armDeadline();
  }

  /** Aborted when ownership ends (reason: a LeaseLostError); not by stop(). Its listeners must not throw. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Why ownership ended, once it has. */
  get lost(): LostReason | undefined {
    return this.lostReason;
  }

  /**
   * Whether this worker may act as the owner now, read from the clock rather than from a timer: right even
   * when the process was frozen past its deadline and its timers have not run yet.
   */
  get held(): boolean {
    return !this.stopped && this.lostReason === undefined && performance.now() < this.deadline;
  }

  /** Stops renewing, silently (no onLost); the lease lapses by itself unless released. Safe to call twice. */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
  }

  /** stop(), then frees the lease in Redis if still held, so the next owner need not wait for its lapse. */
  release(): Promise<FencedResult> {
    this.stop();
    return this.renewer.release(this.lease);
  }

  private get validForMs(): number {
    return this.lease.ttlMs - this.safetyMarginMs;
  }

  /** Until when (performance.now()) the owner may act: the lease cannot lapse before `+ safetyMarginMs`. */
  private get deadline(): number {
    return this.confirmedSentAt + this.validForMs;
  }

  /** One renewal; they may overlap (a hung one does not hold back the next), each confirming its own send time. */
  private renewOnce(): void {
    if (this.done) return;
    const sentAt = performance.now();
    let pending: Promise<FencedResult>;
    try {
      pending = this.renewer.renew(this.lease);
    } catch (err) {
      pending = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    pending.then(
      (result) => {
        if (this.done) return;
        if (result.ok) this.confirm(sentAt);
        else this.lose({ kind: 'refused', refusal: result.reason });
      },
      (err: unknown) => {
        if (!this.done) this.report(err);
      },
    );
  }

  private confirm(sentAt: number): void {
    if (sentAt <= this.confirmedSentAt) return;
    this.confirmedSentAt = sentAt;
    this.armDeadline();
  }

  /** (Re)sets the deadline timer; past the deadline (a confirmation that came too late), ownership ends now. */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const left = this.deadline - performance.now();
    if (left <= 0) {
      this.lose({ kind: 'unconfirmed', sinceConfirmedMs: performance.now() - this.confirmedSentAt });
      return;
    }
    // A timer may fire a little early against performance.now(): armDeadline checks again then.
    this.deadlineTimer = setTimeout(() => this.armDeadline(), Math.ceil(left));
  }

  private get done(): boolean {
    return this.stopped || this.lostReason !== undefined;
  }

  private lose(reason: LostReason): void {
    if (this.done) return;
    this.lostReason = reason;
    this.clearTimers();
    this.controller.abort(new LeaseLostError(this.lease, reason));
    try {
      this.onLost(reason);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // onError is for logging; one that throws must not take the keeper down.
    }
  }

  private clearTimers(): void {
    clearInterval(this.renewTimer);
    clearTimeout(this.deadlineTimer);
    this.renewTimer = undefined;
    this.deadlineTimer = undefined;
  }
}
