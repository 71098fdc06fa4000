/**
 * Fault switches of the simulated module. Each one-shot fault hits the
 * replies it matches, `times` of them (default 1), then disarms itself, so
 * a test says exactly which exchange goes wrong while a driver keeps
 * polling in the background.
 */
export interface FaultTarget {
  /** Only replies to this instruction code; any instruction when absent. */
  instruction?: number;
  /** Replies to hit before the fault disarms itself; default 1, Infinity for every one. */
  times?: number;
}

export interface CorruptTarget extends FaultTarget {
  /** Corrupt this data packet (0 = first) of an upload instead of the ack. */
  dataPacket?: number;
}

interface Armed<T> {
  target: FaultTarget;
  remaining: number;
  detail: T;
}

class FaultList<T> {
  private armed: Armed<T>[] = [];

  arm(target: FaultTarget, detail: T): void {
    this.armed.push({ target, remaining: target.times ?? 1, detail });
  }

  /** The detail of the first armed fault that matches `instruction`, which that use spends. */
  take(instruction: number): T | undefined {
    const hit = this.armed.find((fault) => fault.target.instruction === undefined || fault.target.instruction === instruction);
    if (!hit) return undefined;
    if (--hit.remaining <= 0) this.armed = this.armed.filter((fault) => fault !== hit);
    return hit.detail;
  }

  clear(): void {
    this.armed = [];
  }
}

export class R30xFaults {
  /** @internal read by the module */
  readonly drops = new FaultList<true>();
  /** @internal */
  readonly delays = new FaultList<number>();
  /** @internal */
  readonly corruptions = new FaultList<{ dataPacket: number | undefined }>();
  /** @internal */
  readonly disconnects = new FaultList<number>();
  /** Bytes per write when splitting packets; 0 writes each packet whole. */
  bytesPerWrite = 0;
  /** Answer every VfyPwd with 0x13 whatever the password. */
  passwordRejected = false;

  /** Answer nothing: no ack and no data packets. */
  dropReply(target: FaultTarget = {}): void {
    this.drops.arm(target, true);
  }

  /** Hold the reply for `ms` milliseconds before sending it. */
  delayReply(ms: number, target: FaultTarget = {}): void {
    this.delays.arm(target, ms);
  }

  /** Send the ack (or one data packet) with its checksum inverted. */
  corruptChecksum(target: CorruptTarget = {}): void {
    this.corruptions.arm(target, { dataPacket: target.dataPacket });
  }

  /**
   * Drop the host link in the middle of a template transfer: after sending
   * `afterDataPackets` data packets of an UpChar, or receiving that many of
   * a DownChar.
   */
  disconnectMidTransfer(afterDataPackets: number, target: FaultTarget = {}): void {
    this.disconnects.arm(target, afterDataPackets);
  }

  /** Write every packet in pieces of `bytes` bytes, each its own write; 0 turns it off. */
  splitFrames(bytes: number): void {
    this.bytesPerWrite = bytes;
  }

  /** Reject every password, as a module whose password was changed would. */
  rejectPassword(on = true): void {
    this.passwordRejected = on;
  }

  clear(): void {
    for (const list of [this.drops, this.delays, this.corruptions, this.disconnects]) list.clear();
    this.bytesPerWrite = 0;
    this.passwordRejected = false;
  }
}
