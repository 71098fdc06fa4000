import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { DEFAULT_BEHAVIORS, type ZkBehavior } from './behaviors.js';
import { SimConnection, type PacingSettings, type SimRequest } from './connection.js';
import { ZkFaultSwitches } from './faults.js';
import {
  CMD,
  EF_ATTLOG,
  attendanceEvent,
  dateOf,
  readBody,
  PacketStream,
  wallClockOf,
  type SimRecord,
  type SimTemplate,
  type SimUser,
  type Transport,
  type WallClock,
  type WirePacket,
} from './wire.js';

export interface MockZkTerminalOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** TCP port, UDP on the same number; 0 (default) picks a free one. */
  port?: number;
  /** Also serve UDP. Default true. */
  udp?: boolean;
  /** Comm key (device password); 0, the default, means none (§2.5). */
  commKey?: number;
  serialNumber?: string;
  firmwareVersion?: string;
  /** Further device options for OPTIONS_RRQ, e.g. `{ '~ZKFPVersion': '10' }`. */
  options?: Record<string, string>;
  /** Least pause between two packets to one client, ms; 20 by default (§2.13 rule 5). 0 lets packets run together. */
  packetGapMs?: number;
  /** Least pause between two realtime events to one client, ms; 100 by default (§2.13 rule 14). */
  eventGapMs?: number;
  /** Bytes per DATA packet of a chunk reply; 1008 by default, as captured from a real device (§2.8). */
  dataPacketSize?: number;
  /** Datasets up to this many bytes go out at once as CMD_DATA; 1024 by default (§2.8 reply A). */
  directReplyLimit?: number;
  capacity?: Partial<Capacity>;
  /** Where the device clock starts; the host's clock by default. */
  clock?: WallClock;
}

export interface Capacity {
  users: number;
  templates: number;
  records: number;
}

export interface TerminalEvents {
  /** Every request a client sent, before the terminal answers it. */
  request: [request: SimRequest, connection: SimConnection];
  /** A behaviour threw; a test's own behaviour is the usual suspect. */
  error: [error: Error];
}

export interface NewUser {
  uid?: number;
  userId: string;
  name?: string;
  privilege?: number;
  password?: string;
  card?: number;
  group?: string;
}

/** The clock a flat backup battery leaves behind. */
const RESET_CLOCK: WallClock = { year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0 };

/**
 * A simulated ZKTeco terminal on TCP and UDP: users, templates (opaque bytes),
 * an attendance log, device options, a clock and enabled/disabled state,
 * served to any number of clients with the packet pacing the public clients
 * need. Behaviours are composable handlers keyed by command, newest first;
 * `faults` makes it misbehave on purpose.
 */
export class MockZkTerminal extends EventEmitter<TerminalEvents> {
  readonly users = new Map<number, SimUser>();
  readonly templates: SimTemplate[] = [];
  readonly log: SimRecord[] = [];
  readonly options: Map<string, string>;
  readonly faults: ZkFaultSwitches;
  /** Every request received, oldest first. */
  readonly requests: SimRequest[] = [];
  enabled = true;
  /** Realtime events the clients acknowledged with ACK_OK. */
  eventAcks = 0;
  /** Client packets dropped for a wrong checksum. */
  badChecksums = 0;
  readonly commKey: number;
  readonly firmwareVersion: string;
  readonly capacity: Capacity;
  readonly settings: { dataPacketSize: number; directReplyLimit: number };
  private readonly behaviors: ZkBehavior[] = [...DEFAULT_BEHAVIORS];
  private readonly connections = new Set<SimConnection>();
  private readonly udpPeers = new Map<string, SimConnection>();
  private readonly pacing: PacingSettings;
  private clockOffsetMs = 0;
  private lastSessionId = Math.floor(Math.random() * 0xf000) + 1;
  private tcpServer: Server | null = null;
  private udpSocket: UdpSocket | null = null;
  host = '';
  port = 0;

  private constructor(options: MockZkTerminalOptions) {
    super();
    this.commKey = options.commKey ?? 0;
    this.firmwareVersion = options.firmwareVersion ?? 'Ver 6.60 Apr 28 2015';
    this.capacity = { users: 3000, templates: 3000, records: 100_000, ...options.capacity };
    this.settings = { dataPacketSize: options.dataPacketSize ?? 1008, directReplyLimit: options.directReplyLimit ?? 1024 };
    this.pacing = { packetGapMs: options.packetGapMs ?? 20, eventGapMs: options.eventGapMs ?? 100 };
    this.options = new Map(
      Object.entries({
        '~SerialNumber': options.serialNumber ?? 'CH360SIM0001',
        '~DeviceName': 'CampusHub360 ZK simulator',
        '~Platform': 'ZMM220_TFT',
        '~OEMVendor': 'CampusHub360',
        '~ProductTime': '2015-04-28 10:00:00',
        '~OS': '1',
        '~ZKFPVersion': '10',
        '~PIN2Width': '9',
        '~SSR': '1',
        '~ExtendFmt': '1',
        '~UserExtFmt': '1',
        MAC: '00:17:61:00:00:01',
        IPAddress: '127.0.0.1',
        WorkCode: '0',
        FaceFunOn: '0',
        ZKFaceVersion: '0',
        ...options.options,
      }),
    );
    this.faults = new ZkFaultSwitches(this);
    if (options.clock) this.setClock(options.clock);
  }

  static async start(options: MockZkTerminalOptions = {}): Promise<MockZkTerminal> {
    const terminal = new MockZkTerminal(options);
    await terminal.listen(options.host ?? '127.0.0.1', options.port ?? 0, options.udp ?? true);
    return terminal;
  }

  /** Where a driver finds this terminal, e.g. `tcp://127.0.0.1:4370?commKey=45`. */
  url(transport: Transport = 'tcp', query: Record<string, string | number> = {}): string {
    const search = new URLSearchParams(Object.entries(query).map(([key, value]): [string, string] => [key, String(value)])).toString();
    return `${transport}://${this.host}:${this.port}${search ? `?${search}` : ''}`;
  }

  get serialNumber(): string {
    return this.options.get('~SerialNumber') ?? '';
  }

  /** Adds a behaviour in front of all others; returns a function that removes it. */
  defineBehavior(behavior: ZkBehavior): () => void {
    this.behaviors.push(behavior);
    return () => {
      const index = this.behaviors.indexOf(behavior);
      if (index >= 0) this.behaviors.splice(index, 1);
    };
  }

  addUser(user: NewUser): SimUser {
    const uid = user.uid ?? Math.max(0, ...this.users.keys()) + 1;
    const stored: SimUser = { uid, userId: user.userId, name: user.name ?? '', privilege: user.privilege ?? 0, password: user.password ?? '', card: user.card ?? 0, group: user.group ?? '1' };
    this.users.set(uid, stored);
    return stored;
  }

  deleteUser(uid: number): void {
    this.users.delete(uid);
    this.removeTemplates((template) => template.uid === uid);
  }

  clearUsers(): void {
    this.users.clear();
    this.templates.length = 0;
  }

  sortedUsers(): SimUser[] {
    return [...this.users.values()].sort((a, b) => a.uid - b.uid);
  }

  putTemplate(template: SimTemplate): void {
    this.deleteTemplate(template.uid, template.finger);
    this.templates.push(template);
  }

  deleteTemplate(uid: number, finger: number): boolean {
    return this.removeTemplates((template) => template.uid === uid && template.finger === finger) > 0;
  }

  now(): WallClock {
    return wallClockOf(new Date(Date.now() + this.clockOffsetMs));
  }

  setClock(clock: WallClock | Date): void {
    this.clockOffsetMs = (clock instanceof Date ? clock : dateOf(clock)).getTime() - Date.now();
  }

  resetClock(): void {
    this.setClock(RESET_CLOCK);
  }

  /**
   * Someone is identified at the terminal: the record joins the log and goes
   * to every client registered for EF_ATTLOG, as a device does.
   */
  punch(userId: string, verifyMode = 1, state = 0): SimRecord {
    if (!this.enabled) throw new Error('the terminal is disabled (CMD_DISABLEDEVICE); nobody can punch');
    const uid = this.sortedUsers().find((user) => user.userId === userId)?.uid ?? 0;
    const record: SimRecord = { uid, userId, verifyMode, state, time: this.now() };
    this.log.push(record);
    for (const connection of this.connections) {
      if (connection.eventMask & EF_ATTLOG) connection.sendAttendanceEvent(attendanceEvent(record, connection.transport));
    }
    return record;
  }

  /** Appends `count` records of the known users (or of generated ids), a minute apart, ending now. */
  fillLog(count: number): SimRecord[] {
    const users = this.sortedUsers();
    const end = dateOf(this.now()).getTime();
    const records = Array.from({ length: count }, (_, index): SimRecord => {
      const user = users[index % Math.max(1, users.length)];
      return {
        uid: user?.uid ?? 0,
        userId: user?.userId ?? String(100_000 + index),
        verifyMode: index % 3 === 0 ? 2 : 1,
        state: index % 2,
        time: wallClockOf(new Date(end - (count - index) * 60_000)),
      };
    });
    this.log.push(...records);
    return records;
  }

  nextSessionId(): number {
    this.lastSessionId = (this.lastSessionId % 0xffff) + 1;
    return this.lastSessionId;
  }

  /** Open client sessions (TCP connections and UDP peers). */
  get clientCount(): number {
    return this.connections.size;
  }

  /** Clients registered for realtime attendance events. */
  get eventListenerCount(): number {
    return [...this.connections].filter((connection) => connection.eventMask & EF_ATTLOG).length;
  }

  /** Drops every client connection at once, as a power cut would. */
  disconnectAll(): void {
    for (const connection of this.connections) connection.close(true);
  }

  async close(): Promise<void> {
    this.disconnectAll();
    await Promise.all([
      new Promise<void>((resolve) => (this.tcpServer ? this.tcpServer.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (this.udpSocket ? this.udpSocket.close(() => resolve()) : resolve())),
    ]);
  }

  private removeTemplates(predicate: (template: SimTemplate) => boolean): number {
    const before = this.templates.length;
    const kept = this.templates.filter((template) => !predicate(template));
    this.templates.splice(0, this.templates.length, ...kept);
    return before - kept.length;
  }

  private async listen(host: string, port: number, udp: boolean): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.acceptTcp(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.tcpServer = server;
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('TCP server has no address');
    this.host = host;
    this.port = address.port;
    if (!udp) return;
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, host, () => resolve());
    });
    socket.on('message', (message, peer) => this.receiveUdp(socket, message, peer));
    this.udpSocket = socket;
  }

  private acceptTcp(socket: Socket): void {
    socket.setNoDelay(true);
    const connection = new SimConnection(
      'tcp',
      {
        write: (bytes) => void socket.write(bytes),
        end: (abrupt) => (abrupt ? socket.destroy() : socket.end()),
      },
      this.pacing,
      this.faults,
    );
    this.connections.add(connection);
    const stream = new PacketStream();
    socket.on('data', (chunk) => {
      const before = stream.badChecksums;
      const packets = stream.feed(chunk);
      this.badChecksums += stream.badChecksums - before;
      for (const packet of packets) this.serve(connection, packet);
    });
    // A client that connects and leaves without a word (pyzk's probe, §2.13 rule 2) is fine.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      connection.closed = true;
      this.connections.delete(connection);
    });
  }

  private receiveUdp(socket: UdpSocket, message: Buffer, peer: RemoteInfo): void {
    const packet = readBody(message);
    if (!packet) {
      this.badChecksums++;
      return;
    }
    const key = `${peer.address}:${peer.port}`;
    let connection = this.udpPeers.get(key);
    if (!connection || connection.closed) {
      const created = new SimConnection(
        'udp',
        {
          write: (bytes) => socket.send(bytes, peer.port, peer.address),
          end: () => {
            this.udpPeers.delete(key);
            this.connections.delete(created);
          },
        },
        this.pacing,
        this.faults,
      );
      connection = created;
      this.udpPeers.set(key, created);
      this.connections.add(created);
    }
    this.serve(connection, packet);
  }

  private serve(connection: SimConnection, packet: WirePacket): void {
    const request: SimRequest = { command: packet.code, session: packet.session, replyId: packet.reply, payload: packet.payload, transport: connection.transport };
    connection.serve(
      () => this.handle(connection, request),
      (error) => this.emit('error', error),
    );
  }

  private async handle(connection: SimConnection, request: SimRequest): Promise<void> {
    this.requests.push(request);
    this.emit('request', request, connection);
    // A client's ACK_OK acknowledges an event; answering it would start an endless exchange (§2.13 rule 13).
    if (request.command === CMD.ACK_OK) {
      this.eventAcks++;
      return;
    }
    for (let index = this.behaviors.length - 1; index >= 0; index--) {
      const behavior = this.behaviors[index]!;
      if (behavior.commands !== 'any' && !behavior.commands.includes(request.command)) continue;
      const replies = await behavior.handle(request, { terminal: this, connection });
      if (replies) {
        connection.reply(request, replies);
        return;
      }
    }
  }
}
