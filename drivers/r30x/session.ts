import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ByteLink } from '../core/link.js';
import type { LinkStatsRecorder } from '../core/linkStats.js';
import { R30xLinkLostError, R30xNoReplyError } from './errors.js';
import { Confirmation } from './frames/codes.js';
import { DataPacketCollector, toDataPackets } from './frames/dataTransfer.js';
import { R30xFrameError } from './frames/errors.js';
import { R30xAck, R30xCommand, type CommandParameters, type InstructionName } from './frames/instructions.js';
import { HEADER_SIZE, Pid, type R30xPacket } from './frames/packet.js';
import { R30xFrameParser, type R30xParsed } from './frames/parser.js';

export interface R30xSessionOptions {
  address: number;
  replyTimeoutMs: number;
  retries: number;
  stats: LinkStatsRecorder;
  log: Logger;
}

/**
 * Most bytes one upload may carry: far above any template of the family
 * (512 bytes on R30x and ZFM-20), low enough that a module which never sends
 * its end packet cannot make the driver hold much.
 */
const MAX_UPLOAD_BYTES = 16_384;
/**
 * After a command had to be resent because its reply was late, the module
 * may still answer the first copy. The session lets the line go this quiet
 * (ms) before the next command, so that late duplicate is not taken for
 * the next command's reply: acks carry no sequence number.
 */
const SETTLE_QUIET_MS = 50;

/** Why an attempt failed in a way a resend may cure. */
class RetryableReplyFailure extends Error {
  constructor(
    readonly kind: 'timeout' | 'corrupt',
    message: string,
  ) {
    super(message);
  }
}

/** A packet not yet claimed by the exchange in progress, or the mark of one that arrived corrupt. */
type InboxItem = R30xPacket | 'corrupt';

/**
 * Request/response over one link, which it owns: one command at a time,
 * each answered by exactly one ack (device-protocols.md §4.7), plus the
 * data packets of UpChar and DownChar.
 *
 * An attempt fails when its ack or a data packet does not arrive within the
 * reply timeout, when a packet arrives with a bad checksum, or when the
 * module answers 0x01 (it received our packet garbled). The session then
 * resends the command, up to `retries` times; every instruction the driver
 * uses may be sent twice without harm (frames/instructions.ts). Packets
 * that answer nothing awaited (late duplicates, the tail of an abandoned
 * upload) are dropped. When every attempt failed, the session closes the
 * link so that the supervisor opens a fresh one.
 */
export class R30xSession {
  private readonly parser = new R30xFrameParser();
  private inbox: InboxItem[] = [];
  private wake: (() => void) | undefined;
  private lost: R30xLinkLostError | undefined;
  private busy = false;
  private lastReceivedAt = 0;

  constructor(
    private readonly link: ByteLink,
    private readonly options: R30xSessionOptions,
  ) {
    link.on('data', (bytes) => this.receive(bytes));
    link.once('close', (error) => {
      this.lost = new R30xLinkLostError(`${link.description}: link lost${error ? ` (${error.message})` : ''}`);
      this.wake?.();
    });
  }

  get closed(): boolean {
    return this.lost !== undefined;
  }

  async close(): Promise<void> {
    await this.link.close();
  }

  /** Sends a command and resolves with its ack, whatever its confirmation code. */
  async request<N extends Exclude<InstructionName, 'UpChar' | 'DownChar'>>(instruction: N, parameters: CommandParameters<N>): Promise<R30xAck<N>> {
    return (await this.exchange(new R30xCommand(instruction, parameters, this.options.address))).ack;
  }

  /** UpChar: the ack and, when it is OK, the bytes of the data packets that follow it. */
  async upload(buffer: number): Promise<{ ack: R30xAck<'UpChar'>; data: Buffer | undefined }> {
    return this.exchange(new R30xCommand('UpChar', { buffer }, this.options.address));
  }

  /** DownChar: when the ack is OK, sends `bytes` in data packets of `packetSize`. No ack follows them. */
  async download(buffer: number, bytes: Uint8Array, packetSize: number): Promise<R30xAck<'DownChar'>> {
    const packets = toDataPackets(bytes, packetSize, this.options.address);
    return (await this.exchange(new R30xCommand('DownChar', { buffer }, this.options.address), packets)).ack;
  }

  private async exchange<N extends InstructionName>(command: R30xCommand<N>, outgoing: R30xPacket[] = []): Promise<{ ack: R30xAck<N>; data: Buffer | undefined }> {
    if (this.busy) throw new Error('an R30x session runs one command at a time');
    this.busy = true;
    try {
      return await this.attempts(command, outgoing);
    } finally {
      this.busy = false;
    }
  }

  private async attempts<N extends InstructionName>(command: R30xCommand<N>, outgoing: R30xPacket[]): Promise<{ ack: R30xAck<N>; data: Buffer | undefined }> {
    const { stats, log, retries } = this.options;
    let resentAfterTimeout = false;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) stats.add('retries');
      try {
        const result = await this.attempt(command, outgoing);
        if (resentAfterTimeout) await this.settle();
        return result;
      } catch (error) {
        if (!(error instanceof RetryableReplyFailure)) throw error;
        if (error.kind === 'timeout') {
          stats.add('timeouts');
          resentAfterTimeout = true;
          this.handle(this.parser.abandonPartialFrame());
        }
        log.debug({ instruction: command.instruction, attempt, reason: error.message }, 'attempt failed');
        if (attempt >= retries) {
          await this.close();
          throw new R30xNoReplyError(`${command.instruction}: no valid reply in ${attempt + 1} attempt(s) (last: ${error.message}); reopening the link`);
        }
      }
    }
  }

  private async attempt<N extends InstructionName>(command: R30xCommand<N>, outgoing: R30xPacket[]): Promise<{ ack: R30xAck<N>; data: Buffer | undefined }> {
    // Whatever arrived before this command was sent cannot answer it.
    this.inbox = [];
    await this.write([command.toPacket()]);
    const ack = await this.next((packet) => decodeAck(command.instruction, packet), `${command.instruction} ack`);
    if (ack.confirmation === Confirmation.packetReceiveError) throw new RetryableReplyFailure('corrupt', 'the module received the command garbled (0x01)');
    if (!ack.ok) return { ack, data: undefined };
    if (command.spec.transfer === 'toModule') await this.write(outgoing);
    const data = command.spec.transfer === 'toHost' ? await this.receiveData(command.instruction) : undefined;
    return { ack, data };
  }

  private async receiveData(instruction: InstructionName): Promise<Buffer> {
    const collector = new DataPacketCollector(MAX_UPLOAD_BYTES);
    for (;;) {
      const packet = await this.next((candidate) => (candidate.pid === Pid.data || candidate.pid === Pid.endData ? candidate : undefined), `${instruction} data`);
      let data: Buffer | undefined;
      try {
        data = collector.accept(packet);
      } catch (error) {
        if (!(error instanceof R30xFrameError)) throw error;
        throw new RetryableReplyFailure('corrupt', error.message);
      }
      if (data) return data;
    }
  }

  /**
   * The next packet `match` accepts, from what has already arrived or what
   * arrives within the reply timeout. Packets it refuses are dropped; a
   * packet that arrived with a bad checksum fails the attempt, since it may
   * have been the one awaited.
   */
  private next<T>(match: (packet: R30xPacket) => T | undefined, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        if (this.lost) return finish(() => reject(this.lost));
        for (let item = this.inbox.shift(); item !== undefined; item = this.inbox.shift()) {
          if (item === 'corrupt') return finish(() => reject(new RetryableReplyFailure('corrupt', `a packet arrived with a bad checksum while awaiting the ${what}`)));
          const meaning = match(item);
          if (meaning !== undefined) return finish(() => resolve(meaning));
          this.options.log.debug({ pid: item.pid, length: item.payload.length, awaiting: what }, 'dropped a packet that answers nothing awaited');
        }
      };
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.wake = undefined;
        settle();
      };
      const timer = setTimeout(() => finish(() => reject(new RetryableReplyFailure('timeout', `no ${what} within ${this.options.replyTimeoutMs} ms`))), this.options.replyTimeoutMs);
      this.wake = check;
      check();
    });
  }

  private async write(packets: R30xPacket[]): Promise<void> {
    for (const packet of packets) {
      if (this.lost) throw this.lost;
      const bytes = packet.serialize();
      try {
        await this.link.write(bytes);
      } catch (error) {
        throw this.lost ?? new R30xLinkLostError(`${this.link.description}: write failed (${error instanceof Error ? error.message : String(error)})`);
      }
      this.options.stats.add('txFrames');
      this.options.stats.add('txBytes', bytes.length);
    }
  }

  private receive(bytes: Buffer): void {
    this.options.stats.received(bytes.length);
    this.lastReceivedAt = performance.now();
    this.handle(this.parser.push(bytes));
  }

  private handle(items: R30xParsed[]): void {
    const { stats, log } = this.options;
    for (const item of items) {
      if (item.type === 'discarded') {
        stats.add('discardedBytes', item.bytes.length);
        // Only a header's worth: a discarded data packet carries template bytes, which are never logged.
        log.trace({ reason: item.reason, length: item.bytes.length, hex: item.bytes.subarray(0, HEADER_SIZE).toString('hex') }, '[DISCARDED]');
        if (item.reason === 'checksum') {
          stats.add('checksumErrors');
          this.deliver('corrupt');
        }
        continue;
      }
      stats.add('rxFrames');
      this.deliver(item.packet);
    }
  }

  private deliver(item: InboxItem): void {
    if (!this.busy) {
      this.options.log.debug({ item: item === 'corrupt' ? item : { pid: item.pid, length: item.payload.length } }, 'dropped an unsolicited packet');
      return;
    }
    this.inbox.push(item);
    this.wake?.();
  }

  /** Waits until nothing has arrived for SETTLE_QUIET_MS, at most one reply timeout. */
  private async settle(): Promise<void> {
    const deadline = performance.now() + this.options.replyTimeoutMs;
    for (;;) {
      const quietFor = performance.now() - this.lastReceivedAt;
      if (this.lost || quietFor >= SETTLE_QUIET_MS || performance.now() >= deadline) return;
      await sleep(SETTLE_QUIET_MS - quietFor);
    }
  }
}

/** The packet as an ack of `instruction`, or undefined when it cannot be one (a stray of another exchange). */
function decodeAck<N extends InstructionName>(instruction: N, packet: R30xPacket): R30xAck<N> | undefined {
  if (packet.pid !== Pid.ack) return undefined;
  try {
    return R30xAck.from(instruction, packet);
  } catch (error) {
    if (error instanceof R30xFrameError) return undefined;
    throw error;
  }
}
