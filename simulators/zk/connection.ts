import { setTimeout as sleep } from 'node:timers/promises';
import type { ZkFaultSwitches } from './faults.js';
import { CMD, EF_ATTLOG, packetBytes, type Transport } from './wire.js';

/** One packet the terminal sends in answer to a request; the session and reply id are filled in. */
export interface Reply {
  code: number;
  payload?: Buffer;
  /** Goes out in the same write as the packet before it instead of in a write of its own. */
  sameWrite?: boolean;
}

export interface SimRequest {
  command: number;
  session: number;
  replyId: number;
  payload: Buffer;
  transport: Transport;
}

/** How bytes leave for one client: a TCP socket, or datagrams to one UDP peer. */
export interface ClientPipe {
  write(bytes: Buffer): void;
  /** Ends the session after pending writes; `abrupt` drops the connection at once. */
  end(abrupt: boolean): void;
}

export interface PacingSettings {
  /** Least time between two writes to a client, ms (§2.13 rule 5). */
  packetGapMs: number;
  /** Least time between two realtime events to a client, ms (§2.13 rule 14). */
  eventGapMs: number;
}

/**
 * The terminal's side of one client session: its session id, authentication,
 * event registration, its read and upload buffers, and an outbound queue that
 * writes one packet per write with a pause between, because the node clients
 * read one packet per 'data' event (§2.13 rules 3, 5, 14).
 */
export class SimConnection {
  sessionId = 0;
  /** CONNECT received, and AUTH passed where the terminal has a comm key. */
  authenticated = false;
  eventMask = 0;
  /** The dataset prepared by 1503, read by 1504, released by FREE_DATA. */
  readBuffer: Buffer | null = null;
  /** Bytes a client announced with PREPARE_DATA and sent with DATA. */
  upload: { size: number; parts: Buffer[] } | null = null;
  closed = false;
  private inbox: Promise<void> = Promise.resolve();
  private outbound: Promise<void> = Promise.resolve();
  private lastWriteAt = 0;
  private lastEventAt = 0;
  private closeAfterReplies = false;

  constructor(
    readonly transport: Transport,
    private readonly pipe: ClientPipe,
    private readonly pacing: PacingSettings,
    private readonly faults: ZkFaultSwitches,
  ) {}

  /** Handles requests one at a time in arrival order; replies queue in the same order. */
  serve(handle: () => Promise<void>, onError: (error: Error) => void): void {
    this.inbox = this.inbox.then(handle).catch(onError);
  }

  /** Ends the session once the current replies are written (CMD_EXIT). */
  endAfterReplies(): void {
    this.closeAfterReplies = true;
  }

  reply(request: SimRequest, replies: readonly Reply[]): void {
    const { drop, delayMs } = this.faults.planReply(request.command);
    const breakChunk = request.command === CMD.DATA_RDY && this.faults.breaksChunk();
    const closing = this.closeAfterReplies;
    this.enqueue(async () => {
      if (delayMs > 0) await sleep(delayMs);
      const writes: Buffer[][] = [];
      for (const reply of drop ? [] : replies) {
        const bytes = packetBytes(
          { code: reply.code, session: this.sessionId, reply: request.replyId, payload: reply.payload ?? Buffer.alloc(0) },
          this.transport,
          this.faults.corrupts(request.command, reply.code),
        );
        if (reply.sameWrite && writes.length > 0 && this.transport === 'tcp') writes.at(-1)!.push(bytes);
        else writes.push([bytes]);
      }
      for (const packets of writes) {
        const bytes = Buffer.concat(packets);
        if (breakChunk && bytes.readUInt16LE(8) === CMD.DATA) {
          await this.write(bytes.subarray(0, Math.ceil(bytes.length / 2)));
          this.close(true);
          return;
        }
        await this.write(bytes);
      }
      if (closing) this.close(false);
    });
  }

  /** An unsolicited EF_ATTLOG packet: session field = the flag, reply id 0 (§2.11). */
  sendAttendanceEvent(payload: Buffer): void {
    this.enqueue(async () => {
      await pause(this.lastEventAt + this.pacing.eventGapMs);
      await this.write(packetBytes({ code: CMD.REG_EVENT, session: EF_ATTLOG, reply: 0, payload }, this.transport));
      this.lastEventAt = Date.now();
    });
  }

  close(abrupt: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.pipe.end(abrupt);
  }

  private enqueue(job: () => Promise<void>): void {
    this.outbound = this.outbound.then(() => (this.closed ? undefined : job()));
  }

  private async write(bytes: Buffer): Promise<void> {
    await pause(this.lastWriteAt + this.pacing.packetGapMs);
    if (this.closed) return;
    const piece = this.faults.dribbleBytes;
    if (piece === null || this.transport === 'udp') {
      this.pipe.write(bytes);
    } else {
      for (let at = 0; at < bytes.length && !this.closed; at += piece) {
        this.pipe.write(bytes.subarray(at, at + piece));
        await sleep(1);
      }
    }
    this.lastWriteAt = Date.now();
  }
}

async function pause(until: number): Promise<void> {
  const wait = until - Date.now();
  if (wait > 0) await sleep(wait);
}
