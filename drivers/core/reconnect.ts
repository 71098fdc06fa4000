import { EventEmitter } from 'node:events';
import type { ConnectionState, DriverEvents } from './driver.js';
import type { ByteLink, ByteLinkFactory } from './link.js';
import type { LinkStatsRecorder } from './linkStats.js';

/**
 * Keeps one device link open: opens it through its factory, and when it
 * closes with an error opens a fresh one after a full-jitter exponential
 * backoff, so that a campus of devices that lost power together does not
 * reconnect in lockstep.
 *
 * The supervisor only learns about a dead link from the link's `close`
 * event. How soon that comes depends on the transport:
 *   - TCP: at once when the peer closes or resets; for a peer that vanished
 *     silently, when TCP keepalive gives up (see tcp.ts).
 *   - serial: unreliable. serialport may emit nothing on a USB unplug
 *     (attendance-domain.md §14), so serial.ts watches the device path.
 * Drivers whose protocol has a harmless command should also probe with it
 * and close the link when the probe times out.
 */

/** The clock the supervisor runs on; tests pass a manual one so nothing sleeps. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds from an arbitrary origin. */
  now(): number;
}

const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  now: () => performance.now(),
};

export interface BackoffOptions {
  /** Upper bound of the first retry delay, in ms (1–60000, default 1000). */
  baseMs?: number;
  /** Upper bound of every retry delay, in ms (baseMs–3600000, default 30000). */
  capMs?: number;
}

const BACKOFF_DEFAULTS = { baseMs: 1_000, capMs: 30_000 } as const;

/**
 * Delay before retry number `attempt` (0 for the first): uniformly random in
 * [0, min(capMs, baseMs · 2^attempt)), the "full jitter" of the AWS
 * architecture blog's backoff comparison. Pure given `random`.
 */
export function fullJitterDelay(
  attempt: number,
  baseMs: number = BACKOFF_DEFAULTS.baseMs,
  capMs: number = BACKOFF_DEFAULTS.capMs,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
  return random() * Math.min(capMs, baseMs * 2 ** attempt);
}

export interface LinkSupervisorOptions extends BackoffOptions {
  factory: ByteLinkFactory;
  /** Hands each freshly opened link to the session that reads it. */
  attach(link: ByteLink): void;
  /** Receives `reconnects`: links opened again after one was lost. */
  stats: LinkStatsRecorder;
  /**
   * Retries before giving up with state `failed`, counted since a link last
   * stayed up for stableAfterMs (1 or more, default Infinity: a door device
   * is worth retrying for as long as it takes).
   */
  maxRetries?: number;
  /**
   * A link must have stayed open this long, in ms, for its loss to restart the
   * backoff from baseMs (0–3600000, default 10000). Without it a peer that
   * accepts and at once hangs up (ser2net with the reader unplugged) would be
   * redialled within a second, forever.
   */
  stableAfterMs?: number;
  timers?: Timers;
  random?: () => number;
}

export class LinkSupervisor extends EventEmitter<DriverEvents> {
  private currentState: ConnectionState = 'closed';
  private link: ByteLink | undefined;
  private retryTimer: unknown;
  private opening: Promise<void> | undefined;
  private attempt = 0;
  private openedBefore = false;
  private openedAt = 0;
  private stopped = false;
  private readonly timers: Timers;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly maxRetries: number;
  private readonly stableAfterMs: number;

  constructor(private readonly options: LinkSupervisorOptions) {
    super();
    this.timers = options.timers ?? systemTimers;
    this.baseMs = options.baseMs ?? BACKOFF_DEFAULTS.baseMs;
    this.capMs = options.capMs ?? BACKOFF_DEFAULTS.capMs;
    this.maxRetries = options.maxRetries ?? Infinity;
    this.stableAfterMs = options.stableAfterMs ?? 10_000;
    checkRange('baseMs', this.baseMs, 1, 60_000);
    checkRange('capMs', this.capMs, this.baseMs, 3_600_000);
    checkRange('maxRetries', this.maxRetries, 1, Infinity);
    checkRange('stableAfterMs', this.stableAfterMs, 0, 3_600_000);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /**
   * Opens the first link. Resolves once that attempt has settled, whether or
   * not it succeeded: an unreachable device leaves the supervisor
   * `reopening`, so one dead door cannot stop an agent from starting.
   */
  async start(): Promise<void> {
    if (this.currentState !== 'closed' || this.stopped) throw new Error('a link supervisor starts once');
    this.setState('opening');
    await this.openLink();
  }

  /** Closes the link for good and cancels any pending retry. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.clearTimeout(this.retryTimer);
    await this.opening;
    const link = this.link;
    this.link = undefined;
    await link?.close();
    this.setState('closed');
  }

  private openLink(): Promise<void> {
    this.opening = this.tryOpen().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async tryOpen(): Promise<void> {
    let link: ByteLink;
    try {
      link = await this.options.factory();
    } catch (error) {
      if (!this.stopped) this.retryLater(error instanceof Error ? error.message : String(error));
      return;
    }
    if (this.stopped) {
      await link.close();
      return;
    }
    this.link = link;
    link.once('close', (error) => this.onLinkClosed(link, error));
    this.options.attach(link);
    if (this.openedBefore) this.options.stats.add('reconnects');
    this.openedBefore = true;
    this.openedAt = this.timers.now();
    this.setState('ready');
  }

  private onLinkClosed(link: ByteLink, error: Error | undefined): void {
    if (this.stopped || link !== this.link) return;
    this.link = undefined;
    if (this.timers.now() - this.openedAt >= this.stableAfterMs) this.attempt = 0;
    this.retryLater(error?.message ?? `${link.description} closed`);
  }

  private retryLater(reason: string): void {
    if (this.attempt >= this.maxRetries) {
      this.setState('failed', `gave up after ${this.attempt} retries: ${reason}`);
      return;
    }
    const delay = fullJitterDelay(this.attempt++, this.baseMs, this.capMs, this.options.random);
    this.setState('reopening', reason);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = undefined;
      void this.openLink();
    }, delay);
  }

  private setState(state: ConnectionState, reason?: string): void {
    this.currentState = state;
    this.emit('state', state, reason);
  }
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (Number.isNaN(value) || value < min || value > max) throw new RangeError(`${name} must be from ${min} to ${max}, got ${value}`);
}
