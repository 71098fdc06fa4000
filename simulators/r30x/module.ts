import { EventEmitter, once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import { Code, UNKNOWN_INSTRUCTION_REPLY, defaultBehaviors, type BehaviorContext, type ModuleReply, type R30xBehavior } from './behaviors.js';
import { R30xFaults } from './faults.js';
import { R30xModuleState, type R30xModuleSettings } from './state.js';
import { PID_ACK, PID_COMMAND, PID_DATA, PID_END_OF_DATA, PacketReader, encodePacket, type ReaderEvent } from './wire.js';

export interface MockR30xModuleOptions extends Partial<R30xModuleSettings> {
  /**
   * Send 0x55 whenever a host link opens, as an R503 does after power-up
   * (R503 manual V1.2.2, HandShake). Clients must skip it as noise. On a
   * serial device it goes out when the simulator opens its end, so a host
   * that opens the other end later may never see it, as with real power-up.
   */
  announceReady?: boolean;
}

export interface ReceivedCommand {
  instruction: number;
  parameters: Buffer;
}

interface MockR30xModuleEvents {
  command: [command: ReceivedCommand];
  connection: [];
}

/** A byte pipe to the host: a TCP socket or one end of a pty pair. */
interface HostTransport {
  write(bytes: Buffer): Promise<void>;
  disconnect(): void;
}

/** Instructions the password gate lets through before VfyPwd succeeds. */
const ALLOWED_BEFORE_PASSWORD = new Set([0x13, 0x40]);
const READY_SIGN = Buffer.of(0x55);

/**
 * A simulated R30x-family fingerprint module (R307, ZFM-20, AS608, R503)
 * behind a UART, served over raw TCP (what ser2net or a serial device
 * server gives the driver) or a serial device path.
 *
 * Behaviours are small handlers keyed by instruction code; the newest one
 * that answers wins, so a test overrides a default by adding a behaviour.
 * Fault switches are in `faults`. Tests move a simulated finger on and off
 * the sensor with placeFinger() and liftFinger().
 */
export class MockR30xModule extends EventEmitter<MockR30xModuleEvents> {
  readonly state: R30xModuleState;
  readonly faults = new R30xFaults();
  /** Every command addressed to this module, oldest first. */
  readonly received: ReceivedCommand[] = [];
  private behaviors: R30xBehavior[] = [...defaultBehaviors].reverse();
  private readonly connections = new Set<HostConnection>();
  private readonly closers = new Set<() => Promise<void>>();

  constructor(private readonly options: MockR30xModuleOptions = {}) {
    super();
    const { announceReady: _announceReady, ...settings } = options;
    this.state = new R30xModuleState(settings);
  }

  placeFinger(fingerId: number): void {
    this.state.fingerOnSensor = fingerId;
  }

  liftFinger(): void {
    this.state.fingerOnSensor = null;
  }

  /** Stores a template of `fingerId` at `page`, as if it had been enrolled there. */
  enroll(page: number, fingerId: number): void {
    this.state.library.set(page, this.state.templateOf(fingerId));
  }

  /** Adds a behaviour in front of all others. */
  defineBehavior(behavior: R30xBehavior): void {
    this.behaviors.unshift(behavior);
  }

  /** Host links open now: TCP connections and served serial ports. */
  get hostLinks(): number {
    return this.connections.size;
  }

  /** How many commands with this instruction code have arrived. */
  count(instruction: number): number {
    return this.received.filter((command) => command.instruction === instruction).length;
  }

  /**
   * Serves one host at a time over raw TCP on `host:port` (default
   * 127.0.0.1, port 0 for any free one). A new connection replaces the old
   * one, as after a host that vanished without closing its socket.
   */
  async serveTcp(listen: { host?: string; port?: number } = {}): Promise<{ port: number }> {
    const server: Server = createServer((socket) => this.acceptSocket(socket));
    server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1');
    await once(server, 'listening');
    const sockets = new Set<Socket>();
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    this.closers.add(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('the TCP server has no address');
    return { port: address.port };
  }

  /** Serves the host on the other end of a serial device, e.g. one end of a socat pty pair. */
  async serveSerial(path: string): Promise<void> {
    const port = new SerialPort({ path, baudRate: 9600 * this.state.settings.baudMultiplier, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    const connection = this.connect({
      write: (bytes) => new Promise((resolve, reject) => port.write(bytes, (error) => (error ? reject(error) : resolve()))),
      disconnect: () => {
        if (port.isOpen) port.close();
      },
    });
    port.on('data', (bytes: Buffer) => connection.feed(bytes));
    // A write into a pty whose other end is gone fails with EIO; the write's callback reports it, and an
    // 'error' event without a listener would take the whole process down.
    port.on('error', () => {});
    port.once('close', () => this.connections.delete(connection));
    this.closers.add(async () => {
      if (!port.isOpen) return;
      await new Promise<void>((resolve) => port.close(() => resolve()));
    });
  }

  /** Drops every host link, as a cable pull would. */
  disconnectAll(): void {
    for (const connection of this.connections) connection.disconnect();
  }

  async close(): Promise<void> {
    this.disconnectAll();
    await Promise.all([...this.closers].map((closer) => closer()));
    this.closers.clear();
  }

  private acceptSocket(socket: Socket): void {
    for (const connection of this.connections) connection.disconnect();
    socket.setNoDelay(true);
    const connection = this.connect({
      write: (bytes) => new Promise((resolve, reject) => socket.write(bytes, (error) => (error ? reject(error) : resolve()))),
      disconnect: () => socket.destroy(),
    });
    socket.on('data', (bytes) => connection.feed(bytes));
    socket.on('error', () => {});
    socket.once('close', () => {
      connection.end();
      this.connections.delete(connection);
    });
  }

  private connect(transport: HostTransport): HostConnection {
    const connection = new HostConnection(this, transport);
    this.connections.add(connection);
    if (this.options.announceReady) connection.announce(READY_SIGN);
    this.emit('connection');
    return connection;
  }

  /** @internal The reply of the newest behaviour that answers, after the password gate. */
  answer(instruction: number, parameters: Buffer): ModuleReply | 'silent' {
    const command = { instruction, parameters };
    this.received.push(command);
    this.emit('command', command);
    const { settings, passwordVerified } = this.state;
    if (settings.password !== 0 && !passwordVerified && !ALLOWED_BEFORE_PASSWORD.has(instruction)) {
      return { confirmation: Code.mustVerifyPassword };
    }
    const context: BehaviorContext = { state: this.state, faults: this.faults };
    for (const behavior of this.behaviors) {
      if (behavior.instruction !== instruction) continue;
      const result = behavior.handle(context, parameters);
      if (result !== undefined) return result;
    }
    return UNKNOWN_INSTRUCTION_REPLY;
  }
}

interface Download {
  take: (data: Buffer | undefined) => void;
  parts: Buffer[];
  wellSized: boolean;
  disconnectAfter: number | undefined;
}

/** One host link: reads its packets, answers them one at a time, in order. */
class HostConnection {
  private readonly reader = new PacketReader((event) => this.enqueue(event));
  private work: Promise<void> = Promise.resolve();
  private download: Download | undefined;
  private closed = false;

  constructor(
    private readonly module: MockR30xModule,
    private readonly transport: HostTransport,
  ) {}

  feed(bytes: Buffer): void {
    this.reader.feed(bytes);
  }

  announce(bytes: Buffer): void {
    this.work = this.work.then(() => this.transport.write(bytes)).catch(() => {});
  }

  disconnect(): void {
    this.end();
    this.transport.disconnect();
  }

  /** The link is gone: a download cut short leaves its char buffer empty. */
  end(): void {
    this.closed = true;
    this.finishDownload(undefined);
  }

  private get address(): number {
    return this.module.state.settings.address;
  }

  private enqueue(event: ReaderEvent): void {
    this.work = this.work.then(() => this.handle(event)).catch(() => {});
  }

  private async handle(event: ReaderEvent): Promise<void> {
    const address = event.kind === 'corrupt' ? event.address : event.packet.address;
    if (this.closed || address !== this.address) return;
    if (event.kind === 'corrupt') {
      if (this.download) this.download.wellSized = false;
      // The manual's meaning of 0x01: the module received a garbled packet.
      else if (event.pid === PID_COMMAND) await this.send(encodePacket(this.address, PID_ACK, Buffer.of(Code.packetError)));
      return;
    }
    const { packet } = event;
    if (packet.pid === PID_DATA || packet.pid === PID_END_OF_DATA) {
      this.takeDataPacket(packet.pid, packet.payload);
      return;
    }
    if (packet.pid !== PID_COMMAND) return;
    this.finishDownload(undefined);
    await this.runCommand(packet.payload[0]!, packet.payload.subarray(1));
  }

  private async runCommand(instruction: number, parameters: Buffer): Promise<void> {
    const reply = this.module.answer(instruction, parameters);
    const { faults } = this.module;
    if (reply === 'silent' || faults.drops.take(instruction)) return;
    const delay = faults.delays.take(instruction);
    if (delay !== undefined) await sleep(delay);
    const corruption = faults.corruptions.take(instruction);
    const transfers = reply.confirmation === Code.ok && (reply.upload !== undefined || reply.download !== undefined);
    const disconnectAfter = transfers ? faults.disconnects.take(instruction) : undefined;
    const ack = encodePacket(this.address, PID_ACK, Buffer.concat([Buffer.of(reply.confirmation), reply.values ?? Buffer.alloc(0)]));
    await this.send(corruption && corruption.dataPacket === undefined ? corruptChecksum(ack) : ack);
    if (reply.confirmation !== Code.ok) return;
    if (reply.upload) await this.upload(reply.upload, corruption?.dataPacket, disconnectAfter);
    if (reply.download) this.download = { take: reply.download, parts: [], wellSized: true, disconnectAfter };
  }

  private async upload(bytes: Uint8Array, corruptIndex: number | undefined, disconnectAfter: number | undefined): Promise<void> {
    const size = this.module.state.packetSize;
    const count = Math.ceil(bytes.length / size);
    for (let index = 0; index < count; index++) {
      if (index === disconnectAfter) {
        this.disconnect();
        return;
      }
      const pid = index === count - 1 ? PID_END_OF_DATA : PID_DATA;
      const packet = encodePacket(this.address, pid, bytes.subarray(index * size, (index + 1) * size));
      await this.send(index === corruptIndex ? corruptChecksum(packet) : packet);
    }
  }

  private takeDataPacket(pid: number, payload: Buffer): void {
    const download = this.download;
    if (!download) return;
    const size = this.module.state.packetSize;
    const last = pid === PID_END_OF_DATA;
    // Every packet but the last fills the packet size that ReadSysPara reports (§4.7).
    if (last ? payload.length > size : payload.length !== size) download.wellSized = false;
    download.parts.push(payload);
    if (download.parts.length === download.disconnectAfter) {
      this.disconnect();
      return;
    }
    if (last) this.finishDownload(download.wellSized ? Buffer.concat(download.parts) : undefined);
  }

  private finishDownload(data: Buffer | undefined): void {
    const download = this.download;
    this.download = undefined;
    download?.take(data);
  }

  private async send(bytes: Buffer): Promise<void> {
    if (this.closed) return;
    const step = this.module.faults.bytesPerWrite;
    if (step <= 0) return this.transport.write(bytes);
    for (let offset = 0; offset < bytes.length && !this.closed; offset += step) {
      await this.transport.write(bytes.subarray(offset, offset + step));
      // Let the event loop deliver this piece before the next one is written.
      await nextTurn();
    }
  }
}

function corruptChecksum(packet: Buffer): Buffer {
  const copy = Buffer.from(packet);
  copy[copy.length - 1] = copy[copy.length - 1]! ^ 0xff;
  return copy;
}
