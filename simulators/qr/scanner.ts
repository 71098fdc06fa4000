/**
 * A simulated serial QR reader, written from device-protocols.md §5.3 and
 * the ACK/NAK handshake of RS-232 scanners, not from the driver: it must not
 * share a codec with the code it tests.
 *
 * It either listens on TCP like a serial device server in raw mode
 * (ser2net, Moxa NPort), or writes to a serial device such as one end of a
 * socat pty pair. Each scan goes out as [prefix][AIM id]code terminator.
 */
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { SerialPort } from 'serialport';

/** Host → scanner: scan accepted; the scanner forgets it and sends the next. */
const ACK = 0x06;
/** Host → scanner: scan refused; the scanner sends it again. */
const NAK = 0x15;

/**
 * Fault switches; each can be combined with the others and changed at any
 * time through `scanner.faults`.
 */
export interface QrScannerFaults {
  /** Write each line in pieces of at most this many bytes, one write each (0 = whole lines; default 0). */
  dribbleBytes: number;
  /**
   * Cut the TCP connection once this many more bytes have been written,
   * mid-line if it falls there. Counts down as bytes go out and switches
   * itself off at 0 (0 = off; default 0). Ignored on serial.
   */
  dropAfterBytes: number;
  /** Bytes written just before each line, such as line noise (default none). */
  garbageBeforeScan: Uint8Array | undefined;
}

export interface SimulatorTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface QrScannerSimulatorOptions {
  /** Listen for the host on TCP; port 0 picks a free port (default 127.0.0.1:0). Unused with serialPath. */
  listen?: { host?: string; port?: number };
  /** Write to this serial device instead of listening on TCP. If the device goes away, the simulator does not reopen it. */
  serialPath?: string;
  /** Bits per second on serialPath (default 9600; ptys ignore it). */
  baudRate?: number;
  /** Line terminator (default CR, the factory setting of most readers). */
  terminator?: '\r' | '\r\n' | '\n';
  /** Text sent before each scan (default none). */
  prefix?: string;
  /** AIM symbology identifier sent before each scan, e.g. `]Q1` (default none). */
  aimIdentifier?: string;
  /**
   * ACK/NAK handshake: send one scan, wait for ACK (0x06) before the next;
   * on NAK (0x15), on ackTimeoutMs without an answer, or on a disconnect,
   * send the same scan again. Default false.
   */
  ackMode?: boolean;
  /** How long to wait for ACK or NAK, in ms (1–60000, default 2000). */
  ackTimeoutMs?: number;
  faults?: Partial<QrScannerFaults>;
  /** The clock of autoScan and the ACK timeout; tests pass a manual one. */
  timers?: SimulatorTimers;
}

export interface AutoScanOptions {
  /** Scanned in turn, starting again from the first after the last. */
  codes: readonly string[];
  /** Time between scans, in ms (at least 1); the first scan comes after one interval. */
  intervalMs: number;
  /** Stop after this many scans (default: never). */
  count?: number;
}

export interface QrScannerEvents {
  /** A line was written in full (again, when it is a resend). */
  sent: [code: string];
  /** ACK mode: the host acknowledged the scan. Otherwise: the line was written. */
  delivered: [code: string];
  /** ACK mode: the host refused the scan; it will be sent again. */
  nak: [code: string];
  connection: [];
  disconnect: [];
}

/** One host connection: a TCP socket or the open serial port. */
interface HostLink {
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the connection abruptly; undefined where the transport cannot. */
  cut: (() => void) | undefined;
}

const systemTimers: SimulatorTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

export class QrScannerSimulator extends EventEmitter<QrScannerEvents> {
  readonly faults: QrScannerFaults;
  /** Scans not yet delivered, the one in flight included. */
  private readonly queue: string[] = [];
  private host: HostLink | undefined;
  /** A line is being written or waits for its ACK. */
  private transmitting = false;
  private awaitingAck = false;
  private ackTimer: unknown;
  private readonly autoScans = new Set<() => void>();
  private readonly timers: SimulatorTimers;
  private readonly ackTimeoutMs: number;
  private stopped = false;
  private server: Server | undefined;
  private serialPort: SerialPort | undefined;

  private constructor(private readonly options: QrScannerSimulatorOptions) {
    super();
    this.timers = options.timers ?? systemTimers;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 2_000;
    if (!Number.isInteger(this.ackTimeoutMs) || this.ackTimeoutMs < 1 || this.ackTimeoutMs > 60_000) {
      throw new RangeError(`ackTimeoutMs must be an integer from 1 to 60000, got ${this.ackTimeoutMs}`);
    }
    this.faults = { dribbleBytes: 0, dropAfterBytes: 0, garbageBeforeScan: undefined, ...options.faults };
  }

  /** Scans not yet delivered, the one awaiting its ACK included. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Queues a scan. Scans made while no host is connected wait and go out on
   * connect, oldest first. Real readers differ: many drop a scan they cannot
   * send, some keep a small buffer.
   */
  scan(code: string): void {
    if (code === '' || [...code].some((character) => character < ' ' || character === '\x7f')) {
      throw new RangeError(`a scanner sends non-empty text without control characters, not ${JSON.stringify(code)}`);
    }
    if (this.stopped) throw new Error('the scanner simulator has stopped');
    this.queue.push(code);
    void this.pump();
  }

  /** Scans `codes` in turn every `intervalMs`; returns a function that stops it. */
  autoScan({ codes, intervalMs, count = Infinity }: AutoScanOptions): () => void {
    if (codes.length === 0) throw new RangeError('autoScan needs at least one code');
    if (!(intervalMs >= 1)) throw new RangeError(`intervalMs must be at least 1, got ${intervalMs}`);
    let made = 0;
    let handle: unknown;
    const stop = () => {
      this.timers.clearTimeout(handle);
      this.autoScans.delete(stop);
    };
    const tick = () => {
      this.scan(codes[made % codes.length]!);
      made++;
      if (made < count) handle = this.timers.setTimeout(tick, intervalMs);
      else stop();
    };
    if (count > 0) {
      handle = this.timers.setTimeout(tick, intervalMs);
      this.autoScans.add(stop);
    }
    return stop;
  }

  /** The bound TCP address; the port is the real one when 0 was asked for. */
  address(): { host: string; port: number } {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('this scanner simulator is not listening on TCP');
    return { host: address.address, port: address.port };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const stopAutoScan of [...this.autoScans]) stopAutoScan();
    this.timers.clearTimeout(this.ackTimer);
    this.host?.cut?.();
    this.host = undefined;
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    const port = this.serialPort;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Starts a simulated reader on TCP (default 127.0.0.1, ephemeral port) or on `serialPath`. */
  static async start(options: QrScannerSimulatorOptions = {}): Promise<QrScannerSimulator> {
    const scanner = new QrScannerSimulator(options);
    if (options.serialPath) await scanner.openSerial(options.serialPath, options.baudRate ?? 9_600);
    else await scanner.listen(options.listen?.host ?? '127.0.0.1', options.listen?.port ?? 0);
    return scanner;
  }

  private async listen(host: string, port: number): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  private async openSerial(path: string, baudRate: number): Promise<void> {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    this.serialPort = port;
    const host: HostLink = {
      write: (bytes) => new Promise((resolve, reject) => port.write(Buffer.from(bytes), (error) => (error ? reject(error) : resolve()))),
      cut: undefined,
    };
    port.on('data', (bytes: Buffer) => this.fromHost(bytes));
    port.on('error', () => {
      // 'close' follows; the scan in flight stays queued.
    });
    port.on('close', () => this.lose(host));
    this.connect(host);
  }

  // Like ser2net's kickolduser: the newest host wins, so a host that
  // reconnects before its old socket timed out is not locked out.
  private accept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const host: HostLink = {
      write: (bytes) => new Promise((resolve, reject) => socket.write(bytes, (error) => (error ? reject(error) : resolve()))),
      cut: () => socket.destroy(),
    };
    socket.on('data', (bytes) => {
      if (this.host === host) this.fromHost(bytes);
    });
    socket.on('error', () => {
      // 'close' follows.
    });
    socket.on('close', () => this.lose(host));
    if (this.host) {
      const previous = this.host;
      this.lose(previous);
      previous.cut?.();
    }
    this.connect(host);
  }

  private connect(host: HostLink): void {
    this.host = host;
    this.emit('connection');
    void this.pump();
  }

  private lose(host: HostLink): void {
    if (this.host !== host) return;
    this.host = undefined;
    this.transmitting = false;
    this.awaitingAck = false;
    this.timers.clearTimeout(this.ackTimer);
    this.emit('disconnect');
  }

  /** Sends the oldest queued scan when the line is free. */
  private async pump(): Promise<void> {
    const host = this.host;
    const code = this.queue[0];
    if (this.transmitting || !host || code === undefined || this.stopped) return;
    this.transmitting = true;
    const written = await this.transmit(host, this.lineBytes(code));
    // A lost connection has already reset the state, and a new host may be transmitting.
    if (!written || this.host !== host) return;
    this.emit('sent', code);
    if (this.options.ackMode) {
      this.awaitingAck = true;
      this.ackTimer = this.timers.setTimeout(() => this.answered('timeout'), this.ackTimeoutMs);
      return;
    }
    this.queue.shift();
    this.transmitting = false;
    this.emit('delivered', code);
    void this.pump();
  }

  /** Writes one line with the active faults; false when the connection went away or was cut. */
  private async transmit(host: HostLink, line: Uint8Array): Promise<boolean> {
    const garbage = this.faults.garbageBeforeScan;
    const bytes = garbage ? Buffer.concat([garbage, line]) : line;
    const pieceSize = this.faults.dribbleBytes > 0 ? this.faults.dribbleBytes : bytes.length;
    try {
      for (let offset = 0; offset < bytes.length; offset += pieceSize) {
        if (this.host !== host) return false;
        const piece = bytes.subarray(offset, offset + pieceSize);
        const dropAfter = this.faults.dropAfterBytes;
        if (host.cut && dropAfter > 0 && dropAfter <= piece.length) {
          this.faults.dropAfterBytes = 0;
          await host.write(piece.subarray(0, dropAfter));
          host.cut();
          return false;
        }
        if (host.cut && dropAfter > 0) this.faults.dropAfterBytes = dropAfter - piece.length;
        await host.write(piece);
        // Lets each piece leave in its own segment instead of being coalesced.
        if (pieceSize < bytes.length) await nextTurn();
      }
      return true;
    } catch {
      return false;
    }
  }

  private fromHost(bytes: Buffer): void {
    if (!this.options.ackMode) return;
    for (const byte of bytes) {
      if (byte === ACK) this.answered('ack');
      else if (byte === NAK) this.answered('nak');
      // Any other byte would be a vendor command (e.g. Honeywell SYN T CR); not simulated.
    }
  }

  /** Ends the wait for an answer: ACK delivers the scan; NAK or a timeout sends it again. */
  private answered(answer: 'ack' | 'nak' | 'timeout'): void {
    const code = this.queue[0];
    if (!this.awaitingAck || code === undefined) return;
    this.awaitingAck = false;
    this.transmitting = false;
    this.timers.clearTimeout(this.ackTimer);
    if (answer === 'ack') {
      this.queue.shift();
      this.emit('delivered', code);
    } else if (answer === 'nak') {
      this.emit('nak', code);
    }
    void this.pump();
  }

  private lineBytes(code: string): Uint8Array {
    const { prefix = '', aimIdentifier = '', terminator = '\r' } = this.options;
    return Buffer.from(`${prefix}${aimIdentifier}${code}${terminator}`, 'utf8');
  }
}

/** Starts a simulated reader on TCP (default 127.0.0.1, ephemeral port) or on `serialPath`. */
export function startQrScannerSimulator(options: QrScannerSimulatorOptions = {}): Promise<QrScannerSimulator> {
  return QrScannerSimulator.start(options);
}
