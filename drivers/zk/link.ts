import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { connect, isIPv6, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ByteLink, ByteLinkEvents } from '../core/link.js';
import type { LinkStatsRecorder } from '../core/linkStats.js';
import { ZkLinkClosedError, ZkTimeoutError } from './errors.js';
import { ZkFrameError } from './frames/errors.js';
import { ZkPacket } from './frames/packet.js';
import { ZkTcpFrameParser, type ZkDiscardReason, type ZkParsed } from './frames/parser.js';

export interface ZkLinkEvents {
  packet: [packet: ZkPacket];
  /** The link ended; `error` is set when it ended by failure rather than by close(). */
  close: [error?: Error];
}

/**
 * ZK packets to and from one terminal. Over TCP the packets are cut from the
 * byte stream by their prefix length; over UDP each datagram is one packet.
 * Packets with a bad checksum and bytes between packets are counted and
 * dropped here; the session sees only good packets.
 */
export interface ZkLink extends EventEmitter<ZkLinkEvents> {
  readonly transport: 'tcp' | 'udp';
  readonly description: string;
  send(packet: ZkPacket): Promise<void>;
  /** A reply timed out: stop waiting for the rest of a packet that may never come. */
  abandonPartialFrame(): void;
  close(): Promise<void>;
}

export interface ZkLinkTarget {
  transport: 'tcp' | 'udp';
  host: string;
  port: number;
}

export async function openZkLink(target: ZkLinkTarget, connectTimeoutMs: number, stats: LinkStatsRecorder, log: Logger): Promise<ZkLink> {
  if (target.transport === 'udp') return UdpZkLink.open(target, stats, log);
  return new TcpZkLink(await openTcpByteLink(target.host, target.port, connectTimeoutMs), stats, log);
}

/**
 * A TCP byte link with TCP_NODELAY and keepalive. drivers/core will grow a
 * shared one; the ZK driver keeps its own until then.
 */
function openTcpByteLink(host: string, port: number, connectTimeoutMs: number): Promise<ByteLink> {
  const description = `tcp://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 10_000 });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ZkTimeoutError(`no TCP connection to ${description} within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(new TcpByteLink(socket, description));
    });
  });
}

class TcpByteLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  private closing = false;
  private failure: Error | undefined;
  private readonly closed: Promise<void>;

  constructor(
    private readonly socket: Socket,
    readonly description: string,
  ) {
    super();
    socket.on('data', (bytes) => this.emit('data', bytes));
    socket.on('error', (error) => (this.failure = error));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.emit('close', this.closing ? undefined : (this.failure ?? new ZkLinkClosedError(`${description} closed the connection`)));
        resolve();
      }),
    );
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new ZkLinkClosedError(`${this.description} is closed`));
    return new Promise((resolve, reject) => this.socket.write(bytes, (error) => (error ? reject(error) : resolve())));
  }

  async close(): Promise<void> {
    this.closing = true;
    this.socket.end();
    // A peer that never finishes the FIN handshake must not hold close() up.
    setTimeout(() => this.socket.destroy(), 1000).unref();
    await this.closed;
  }
}

/** Counts and logs what the link throws away, so the stats tell noise from corruption. */
function recordDiscard(stats: LinkStatsRecorder, log: Logger, bytes: Buffer, reason: ZkDiscardReason): void {
  stats.add('discardedBytes', bytes.length);
  if (reason === 'checksum') stats.add('checksumErrors');
  log.trace({ reason, bytes: bytes.length, hex: bytes.subarray(0, 64).toString('hex') }, 'discarded');
}

class TcpZkLink extends EventEmitter<ZkLinkEvents> implements ZkLink {
  readonly transport = 'tcp';
  private readonly parser = new ZkTcpFrameParser();

  constructor(
    private readonly bytes: ByteLink,
    private readonly stats: LinkStatsRecorder,
    private readonly log: Logger,
  ) {
    super();
    bytes.on('data', (chunk) => {
      stats.received(chunk.length);
      this.deliver(this.parser.push(chunk));
    });
    bytes.once('close', (error) => this.emit('close', error));
  }

  get description(): string {
    return this.bytes.description;
  }

  send(packet: ZkPacket): Promise<void> {
    const bytes = packet.serializeTcp();
    this.stats.add('txFrames');
    this.stats.add('txBytes', bytes.length);
    return this.bytes.write(bytes);
  }

  abandonPartialFrame(): void {
    this.deliver(this.parser.abandonPartialFrame());
  }

  close(): Promise<void> {
    return this.bytes.close();
  }

  private deliver(items: ZkParsed[]): void {
    for (const item of items) {
      if (item.type === 'discarded') {
        recordDiscard(this.stats, this.log, item.bytes, item.reason);
      } else {
        this.stats.add('rxFrames');
        this.emit('packet', item.packet);
      }
    }
  }
}

class UdpZkLink extends EventEmitter<ZkLinkEvents> implements ZkLink {
  readonly transport = 'udp';
  private ended = false;

  private constructor(
    private readonly socket: UdpSocket,
    readonly description: string,
    private readonly stats: LinkStatsRecorder,
    private readonly log: Logger,
  ) {
    super();
    socket.on('message', (datagram) => this.receive(datagram));
    // A connected UDP socket reports the ICMP "port unreachable" of a dead terminal as an error.
    socket.on('error', (error) => void this.end(error));
  }

  static async open(target: ZkLinkTarget, stats: LinkStatsRecorder, log: Logger): Promise<UdpZkLink> {
    const socket = createSocket(isIPv6(target.host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(target.port, target.host, () => {
        socket.removeListener('error', reject);
        resolve();
      });
    });
    return new UdpZkLink(socket, `udp://${isIPv6(target.host) ? `[${target.host}]` : target.host}:${target.port}`, stats, log);
  }

  send(packet: ZkPacket): Promise<void> {
    if (this.ended) return Promise.reject(new ZkLinkClosedError(`${this.description} is closed`));
    const bytes = packet.serialize();
    this.stats.add('txFrames');
    this.stats.add('txBytes', bytes.length);
    return new Promise((resolve, reject) => this.socket.send(bytes, (error) => (error ? reject(error) : resolve())));
  }

  abandonPartialFrame(): void {
    // A datagram arrives whole or not at all.
  }

  close(): Promise<void> {
    return this.end();
  }

  private end(error?: Error): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    return new Promise((resolve) =>
      this.socket.close(() => {
        this.emit('close', error);
        resolve();
      }),
    );
  }

  private receive(datagram: Buffer): void {
    this.stats.received(datagram.length);
    let packet: ZkPacket;
    try {
      packet = ZkPacket.from(datagram);
    } catch (error) {
      if (!(error instanceof ZkFrameError)) throw error;
      recordDiscard(this.stats, this.log, datagram, error.code === 'checksum' ? 'checksum' : 'noise');
      return;
    }
    this.stats.add('rxFrames');
    this.emit('packet', packet);
  }
}
