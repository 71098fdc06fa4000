import type { SimRecord } from './wire.js';

/** Which replies a fault applies to: the request's command, the reply packet's code, or both; empty matches all. */
export interface ReplyMatch {
  command?: number;
  reply?: number;
}

interface CountedFault {
  remaining: number;
  match: ReplyMatch;
}

/** What the terminal can do to its own state when a test asks for trouble. */
export interface FaultTarget {
  resetClock(): void;
  fillLog(count: number): SimRecord[];
}

/**
 * Switches that make the simulated terminal misbehave, each one-shot or
 * counted so tests stay deterministic. All are off until a test arms them.
 */
export class ZkFaultSwitches {
  private readonly drops: CountedFault[] = [];
  private readonly delays: (CountedFault & { ms: number })[] = [];
  private readonly corruptions: CountedFault[] = [];
  private disconnect: { afterChunks: number } | null = null;
  /** Bytes per write when dribbling; null writes each packet whole. */
  dribbleBytes: number | null = null;

  constructor(private readonly target: FaultTarget) {}

  /** Swallows every packet of the replies to the next `times` matching requests. */
  dropReplies(times = 1, match: ReplyMatch = {}): void {
    this.drops.push({ remaining: times, match });
  }

  /** Holds the replies to the next `times` matching requests for `ms` (later replies queue behind them). */
  delayReplies(ms: number, times = 1, match: ReplyMatch = {}): void {
    this.delays.push({ remaining: times, match, ms });
  }

  /** Sends the next `times` matching reply packets with a wrong checksum. */
  corruptChecksums(times = 1, match: ReplyMatch = {}): void {
    this.corruptions.push({ remaining: times, match });
  }

  /**
   * Writes every packet in pieces of `bytes` (null stops it). This breaks the
   * one-packet-per-write rule on purpose (§2.13 rules 3 and 5): pyzk and the
   * node clients fail on it, a stream parser must not.
   */
  dribble(bytes: number | null): void {
    this.dribbleBytes = bytes;
  }

  /** During the next buffered chunk read after `afterChunks` good ones, sends half a DATA packet and drops the connection. */
  disconnectMidTransfer(afterChunks = 0): void {
    this.disconnect = { afterChunks };
  }

  /** The clock jumps to 2000-01-01 00:00:00, as after a flat backup battery. */
  resetClock(): void {
    this.target.resetClock();
  }

  /** Appends `count` generated attendance records. */
  fillLog(count: number): SimRecord[] {
    return this.target.fillLog(count);
  }

  /** Consulted once per request: whether to swallow its replies and how long to hold them. */
  planReply(command: number): { drop: boolean; delayMs: number } {
    const drop = takeOne(this.drops, { command });
    const delay = this.delays.find((fault) => fault.remaining > 0 && matches(fault.match, { command }));
    if (delay) delay.remaining--;
    return { drop, delayMs: delay?.ms ?? 0 };
  }

  /** Consulted once per reply packet. */
  corrupts(command: number, reply: number): boolean {
    return takeOne(this.corruptions, { command, reply });
  }

  /** Consulted once per chunk read: true when this chunk is the one to break. */
  breaksChunk(): boolean {
    if (!this.disconnect) return false;
    if (this.disconnect.afterChunks-- > 0) return false;
    this.disconnect = null;
    return true;
  }
}

function matches(match: ReplyMatch, actual: ReplyMatch): boolean {
  return (match.command === undefined || match.command === actual.command) && (match.reply === undefined || actual.reply === undefined || match.reply === actual.reply);
}

function takeOne(faults: CountedFault[], actual: ReplyMatch): boolean {
  const fault = faults.find((candidate) => candidate.remaining > 0 && matches(candidate.match, actual));
  if (fault) fault.remaining--;
  return fault !== undefined;
}
