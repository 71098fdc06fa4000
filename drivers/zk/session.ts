import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ByteLink } from '../core/link.js';
import type { LinkStatsRecorder } from '../core/linkStats.js';
import { ZkAuthError, ZkDeviceError, ZkLinkClosedError, ZkTimeoutError, ZkTransferError, isRetryable } from './errors.js';
import { zkCommKey } from './frames/auth.js';
import { BufferAnnouncement, PrepareData, datasetRecords, planChunks, type DatasetRequest } from './frames/buffered.js';
import { ZkCommand, ZkReply, zkCodeName } from './frames/codes.js';
import { ZkFrameError } from './frames/errors.js';
import { ZkPacket } from './frames/packet.js';
import { ZkTcpFrameParser, type ZkParsed } from './frames/parser.js';
import { requestTraits } from './frames/requests.js';
import type { TemplateSlot } from './frames/templates.js';
import type { ZkOptions, ZkTarget } from './options.js';
import { dropTemplateReadTrailer } from './quirks.js';

export interface ZkSessionEvents {
  /** An unsolicited event packet: its flag (the session field, §2.11) and payload. */
  event: [flag: number, payload: Buffer];
}

const MORE = Symbol('more packets');
/** Takes each reply packet of one request: the result, MORE to wait for the next packet, or a thrown error. */
type Collector<T> = (packet: ZkPacket) => T | typeof MORE;

interface Pending {
  replyId: number;
  accept(packet: ZkPacket): void;
  fail(error: Error): void;
}

const EMPTY = Buffer.alloc(0);

/** 1503 answered with the dataset itself (reply A) or with its size for chunked reads (reply B), §2.8. */
type DatasetReply = { direct: Buffer } | { size: number };

export type SessionOptions = Pick<ZkOptions, 'commKey' | 'timeoutMs' | 'attempts'>;

/**
 * Request and reply over one ZK link (§2.3): the session id the device
 * assigned, a reply id per attempt, replies matched by that id, timeouts
 * restarted by every reply packet, and retries for requests whose traits
 * (frames/requests.ts) allow them. One request is outstanding at a time; the
 * driver queues its callers.
 *
 * Over TCP the packets are cut from the byte stream by their prefix length;
 * over UDP each datagram, which a UDP link delivers as one `data` event, is
 * one packet. Packets with a bad checksum and bytes between packets are
 * counted and dropped; only good packets reach the request in flight.
 */
export class ZkSession extends EventEmitter<ZkSessionEvents> {
  sessionId = 0;
  private lastReplyId = 0;
  private pending: Pending | null = null;
  private closedBy: ZkLinkClosedError | null = null;
  /** Null over UDP, where a datagram arrives whole or not at all. */
  private readonly streamParser: ZkTcpFrameParser | null;

  constructor(
    readonly link: ByteLink,
    transport: ZkTarget['transport'],
    private readonly options: SessionOptions,
    private readonly stats: LinkStatsRecorder,
    private readonly log: Logger,
  ) {
    super();
    this.streamParser = transport === 'tcp' ? new ZkTcpFrameParser() : null;
    link.on('data', (bytes) => {
      stats.received(bytes.length);
      this.deliver(this.streamParser ? this.streamParser.push(bytes) : parseDatagram(bytes));
    });
    link.once('close', (error) => {
      this.closedBy = new ZkLinkClosedError(`${link.description} closed${error ? `: ${error.message}` : ''}`);
      this.pending?.fail(this.closedBy);
    });
  }

  get isOpen(): boolean {
    return this.closedBy === null;
  }

  /** CMD_CONNECT, then CMD_AUTH when the device answers ACK_UNAUTH (§2.5). */
  async connect(): Promise<void> {
    const reply = await this.exchange(ZkCommand.CONNECT, EMPTY, () => (packet) => packet);
    this.sessionId = reply.sessionId;
    if (reply.command === ZkReply.ACK_OK) return;
    if (reply.command !== ZkReply.ACK_UNAUTH) throw new ZkDeviceError(ZkCommand.CONNECT, reply.command);
    if (this.options.commKey === 0) throw new ZkAuthError(`${this.link.description} has a comm key set; give it as ?commKey=N`);
    const auth = await this.exchange(ZkCommand.AUTH, zkCommKey(this.options.commKey, this.sessionId), () => (packet) => packet);
    if (auth.command !== ZkReply.ACK_OK) throw new ZkAuthError(`${this.link.description} rejected the comm key`);
  }

  /** A request the device answers with ACK_OK; resolves to that reply's payload. */
  command(command: number, payload: Uint8Array = EMPTY): Promise<Buffer> {
    return this.exchange(command, payload, () => (packet) => {
      if (packet.command !== ZkReply.ACK_OK) throw new ZkDeviceError(command, packet.command);
      return packet.payload;
    });
  }

  /**
   * A dataset (§2.8): 1503, then either the whole dataset at once or READ_BUFFER
   * chunks in order, each retried on its own; FREE_DATA before and after.
   * Resolves to the records without the byte-count prefix.
   */
  async readDataset(request: DatasetRequest, chunkSize: number, onProgress?: (received: number, total: number) => void): Promise<Buffer> {
    await this.command(ZkCommand.FREE_DATA);
    const first = await this.exchange(ZkCommand.PREPARE_BUFFER, request.serialize(), () => (packet): DatasetReply => {
      if (packet.command === ZkCommand.DATA) return { direct: packet.payload };
      if ((packet.command === ZkReply.ACK_OK || packet.command === ZkCommand.PREPARE_DATA) && packet.payload.length >= 5) {
        return { size: BufferAnnouncement.from(packet.payload).size };
      }
      throw new ZkDeviceError(ZkCommand.PREPARE_BUFFER, packet.command);
    });
    let dataset: Buffer;
    if ('direct' in first) {
      dataset = first.direct;
    } else {
      const parts: Buffer[] = [];
      let received = 0;
      for (const chunk of planChunks(first.size, chunkSize)) {
        parts.push(await this.exchange(ZkCommand.READ_BUFFER, chunk.serialize(), () => preparedData(ZkCommand.READ_BUFFER, chunk.size)));
        received += chunk.size;
        onProgress?.(received, first.size);
      }
      dataset = Buffer.concat(parts);
    }
    await this.command(ZkCommand.FREE_DATA);
    return dataset.length === 0 ? EMPTY : datasetRecords(dataset);
  }

  /** One template by _CMD_GET_USERTEMP (88); null when the device has none in that slot. */
  async readTemplate(slot: TemplateSlot): Promise<Buffer | null> {
    try {
      return dropTemplateReadTrailer(await this.exchange(ZkCommand.GET_USERTEMP, slot.serialize(), () => preparedData(ZkCommand.GET_USERTEMP, null)));
    } catch (error) {
      if (error instanceof ZkDeviceError && error.reply === ZkReply.ACK_ERROR) return null;
      throw error;
    }
  }

  /** Fills the device's upload buffer: FREE_DATA, PREPARE_DATA with the size, DATA packets (§2.10). */
  async upload(bytes: Buffer, chunkSize: number): Promise<void> {
    await this.command(ZkCommand.FREE_DATA);
    await this.command(ZkCommand.PREPARE_DATA, new PrepareData(bytes.length).serialize());
    for (let start = 0; start < bytes.length; start += chunkSize) await this.command(ZkCommand.DATA, bytes.subarray(start, start + chunkSize));
  }

  /** Acknowledges a realtime event as pyzk does: ACK_OK, this session, reply id 0; the device never answers it (§2.11). */
  async acknowledgeEvent(): Promise<void> {
    if (this.closedBy) throw this.closedBy;
    await this.send(new ZkPacket(ZkReply.ACK_OK, this.sessionId, 0));
  }

  /** CMD_EXIT, then closes the link. The device's answer is not awaited for long: the link closes either way. */
  async close(): Promise<void> {
    if (this.closedBy) return;
    try {
      await this.attempt(ZkCommand.EXIT, EMPTY, (packet) => packet, this.options.timeoutMs);
    } catch (error) {
      this.log.debug({ err: error }, 'CMD_EXIT got no answer');
    }
    await this.link.close();
  }

  private async exchange<T>(command: number, payload: Uint8Array, collector: () => Collector<T>): Promise<T> {
    const traits = requestTraits(command);
    const attempts = traits.retryable ? this.options.attempts : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(command, payload, collector(), this.options.timeoutMs * traits.timeoutFactor);
      } catch (error) {
        if (!isRetryable(error) || attempt >= attempts) throw error;
        this.stats.add('retries');
        this.log.debug({ command: zkCodeName(command), attempt, err: error }, 'retrying');
      }
    }
  }

  private attempt<T>(command: number, payload: Uint8Array, collect: Collector<T>, timeoutMs: number): Promise<T> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    if (this.pending) return Promise.reject(new Error(`${zkCodeName(command)} sent while a reply is outstanding; the driver serialises requests`));
    const replyId = this.nextReplyId();
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        if (this.pending === pending) this.pending = null;
        outcome();
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.stats.add('timeouts');
          // Stop waiting for the rest of a packet that may never come.
          if (this.streamParser) this.deliver(this.streamParser.abandonPartialFrame());
          settle(() => reject(new ZkTimeoutError(`${zkCodeName(command)} (reply id ${replyId}) got no complete reply within ${timeoutMs} ms`)));
        }, timeoutMs);
      };
      const pending: Pending = {
        replyId,
        accept: (packet) => {
          arm();
          try {
            const result = collect(packet);
            if (result !== MORE) settle(() => resolve(result));
          } catch (error) {
            settle(() => reject(error));
          }
        },
        fail: (error) => settle(() => reject(error)),
      };
      this.pending = pending;
      arm();
      this.send(new ZkPacket(command, this.sessionId, replyId, payload)).catch((error: unknown) => pending.fail(error as Error));
    });
  }

  private send(packet: ZkPacket): Promise<void> {
    const bytes = this.streamParser ? packet.serializeTcp() : packet.serialize();
    this.stats.add('txFrames');
    this.stats.add('txBytes', bytes.length);
    return this.link.write(bytes);
  }

  private deliver(items: ZkParsed[]): void {
    for (const item of items) {
      if (item.type === 'frame') {
        this.stats.add('rxFrames');
        this.dispatch(item.packet);
      } else {
        // Counted apart so that the stats tell line noise from corruption.
        this.stats.add('discardedBytes', item.bytes.length);
        if (item.reason === 'checksum') this.stats.add('checksumErrors');
        this.log.trace({ reason: item.reason, bytes: item.bytes.length, hex: item.bytes.subarray(0, 64).toString('hex') }, 'discarded');
      }
    }
  }

  private dispatch(packet: ZkPacket): void {
    if (packet.command === ZkCommand.REG_EVENT) {
      this.emit('event', packet.sessionId, packet.payload);
    } else if (this.pending?.replyId === packet.replyId) {
      this.pending.accept(packet);
    } else {
      // A late answer to an attempt that already timed out.
      this.log.debug({ reply: zkCodeName(packet.command), replyId: packet.replyId }, 'reply to no outstanding request ignored');
    }
  }

  /** 1…65535: reply id 0 belongs to realtime events and their acknowledgements (§2.3). */
  private nextReplyId(): number {
    this.lastReplyId = (this.lastReplyId % 0xffff) + 1;
    return this.lastReplyId;
  }
}

function parseDatagram(datagram: Buffer): ZkParsed[] {
  try {
    return [{ type: 'frame', packet: ZkPacket.from(datagram) }];
  } catch (error) {
    if (!(error instanceof ZkFrameError)) throw error;
    return [{ type: 'discarded', bytes: datagram, reason: error.code === 'checksum' ? 'checksum' : 'noise' }];
  }
}

/**
 * Collects PREPARE_DATA · DATA × n · ACK_OK (§2.8), or a lone DATA that is the
 * whole reply (pyzk __recieve_chunk). `requested` is the size asked for, when
 * the request names one; a reply of another size is a broken transfer.
 */
function preparedData(command: number, requested: number | null): Collector<Buffer> {
  let announced: number | null = null;
  const parts: Buffer[] = [];
  let received = 0;
  const complete = () => {
    if (announced === null && parts.length === 0) throw new ZkTransferError(`${zkCodeName(command)} ended without data`);
    for (const expected of [announced, requested]) {
      if (expected !== null && received !== expected) throw new ZkTransferError(`${zkCodeName(command)} carried ${received} bytes, not ${expected}`);
    }
    return Buffer.concat(parts);
  };
  return (packet) => {
    switch (packet.command) {
      case ZkCommand.PREPARE_DATA:
        announced = PrepareData.from(packet.payload).size;
        return MORE;
      case ZkCommand.DATA:
        parts.push(packet.payload);
        received += packet.payload.length;
        if (announced === null) return complete();
        if (received > announced) throw new ZkTransferError(`${zkCodeName(command)} carried more than the ${announced} bytes announced`);
        return MORE;
      case ZkReply.ACK_OK:
        return complete();
      default:
        throw new ZkDeviceError(command, packet.command);
    }
  };
}
