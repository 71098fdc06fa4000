import { EventEmitter, once } from 'node:events';
import { pino, type Logger } from 'pino';
import type { DeviceCommands } from '../core/commands.js';
import type { ConnectionState, DeviceDriver, DriverCapabilities, DriverEvents, EventSink, IdentifyMethod } from '../core/driver.js';
import type { ByteLink, ByteLinkFactory } from '../core/link.js';
import { createLinkFactory } from '../core/linkFactory.js';
import { LinkStatsRecorder, type LinkStats } from '../core/linkStats.js';
import { LinkSupervisor } from '../core/reconnect.js';
import { parseTransportUrl } from '../core/transportUrl.js';
import { zkCommands } from './commands.js';
import { ZkAuthError, ZkDeviceError, ZkNotOpenError, ZkTimeoutError } from './errors.js';
import { identifiedEvent, identifyMethodOf, zkDeviceKey, type IdentifiedEvent } from './events.js';
import { ATTENDANCE_RECORD_SIZES, decodeAttendances, type ZkAttendance } from './frames/attendance.js';
import { Dataset, recordSizeFor } from './frames/buffered.js';
import { ZkCommand, ZkEventFlag, ZkReply } from './frames/codes.js';
import { decodeOptionReply, decodeVersion, encodeOptionRequest, FreeSizes, type FreeSizeCounts } from './frames/deviceInfo.js';
import { ZkFrameError } from './frames/errors.js';
import { decodeRealtimeAttendance } from './frames/realtime.js';
import {
  decodeTemplates,
  encodeUserTemplateBatch,
  SAVE_USERTEMPS_PAYLOAD,
  TemplateSlot,
  TemplateWrite,
  type UserWithTemplates,
  type ZkTemplate,
} from './frames/templates.js';
import { decodeZkTime, encodeZkTime, zkDateTimeFromDate, zkDateTimeToDate } from './frames/time.js';
import { decodeUsers, encodeUser, encodeUserDeletion, type ZkUser } from './frames/users.js';
import { parseZkUrl, type ZkOptions, type ZkTarget } from './options.js';
import { ZkSession } from './session.js';

/** Settings that are not part of the device URL. */
export interface ZkDriverOptions {
  logger?: Logger;
  /** For tests: the randomness of the reconnect jitter. */
  random?: () => number;
}

export interface ZkDeviceInfo {
  serialNumber: string | null;
  deviceName: string | null;
  platform: string | null;
  vendor: string | null;
  macAddress: string | null;
  firmwareVersion: string;
}

/** A log record with what the agent needs: the method, the device time as a Date, and the deduplication key. */
export interface ZkLogEntry extends ZkAttendance {
  method: IdentifyMethod;
  /** The device's wall-clock time read in this host's zone (§2.13 rule 20). */
  deviceTime: Date;
  deviceKey: string;
}

export interface ReadLogsOptions {
  /** Called after each chunk of a buffered read with bytes received so far and in total. */
  onProgress?: (received: number, total: number) => void;
}

/** A ZKTeco standalone terminal (TCP or UDP port 4370), with the terminal's own commands beside the DeviceDriver contract. */
export interface ZkDriver extends DeviceDriver {
  readonly kind: 'zk';
  getInfo(): Promise<ZkDeviceInfo>;
  getFreeSizes(): Promise<FreeSizeCounts>;
  listUsers(): Promise<ZkUser[]>;
  /** Writes (adds or replaces, by uid) a user. */
  setUser(user: ZkUser): Promise<void>;
  /** Deletes a user and the user's templates. */
  deleteUser(uid: number): Promise<void>;
  /** The whole attendance log, through the buffered read for large logs. */
  readLogs(options?: ReadLogsOptions): Promise<ZkLogEntry[]>;
  clearLogs(): Promise<void>;
  /** The device clock read in this host's zone. */
  getTime(): Promise<Date>;
  /** Sets the device clock to the wall-clock time of `date` in this host's zone. */
  setTime(date: Date): Promise<void>;
  /** Unlocks the keypad and sensor (CMD_ENABLEDEVICE). */
  enable(): Promise<void>;
  /** Locks the keypad and sensor while an operator works on the device (CMD_DISABLEDEVICE). */
  disable(): Promise<void>;
  listTemplates(): Promise<ZkTemplate[]>;
  /** One template, or null when the slot is empty. */
  downloadTemplate(uid: number, fingerIndex: number): Promise<Buffer | null>;
  /** Stores one template for an existing user, SDK style (§2.10). */
  uploadTemplate(template: ZkTemplate): Promise<void>;
  /** Stores users with their templates in one batch, pyzk's "HR" upload (§2.10). */
  uploadUsersWithTemplates(entries: UserWithTemplates[]): Promise<void>;
  /** Deletes one template; false when the slot was empty. */
  deleteTemplate(uid: number, fingerIndex: number): Promise<boolean>;
}

/** Requests in a row that time out, after every retry, before the link counts as degraded. */
const DEGRADED_AFTER_TIMEOUTS = 3;

/**
 * A ZK terminal at `tcp://host:4370?commKey=N` or `udp://host:4370`; URL
 * options are described in options.ts. Throws at once on a URL or option it
 * cannot use.
 */
export function createZkDriver(url: string, options: ZkDriverOptions = {}): ZkDriver {
  const transport = parseTransportUrl(url);
  const { target, options: zkOptions } = parseZkUrl(transport);
  const linkFactory = createLinkFactory(transport, { connectTimeoutMs: zkOptions.connectTimeoutMs, acceptUdp: true });
  return new ZkTerminalDriver(target, zkOptions, linkFactory, options);
}

class ZkTerminalDriver extends EventEmitter<DriverEvents> implements ZkDriver {
  readonly kind = 'zk';
  readonly capabilities: DriverCapabilities;
  readonly commands: DeviceCommands = zkCommands(this);
  state: ConnectionState = 'closed';
  private readonly recorder = new LinkStatsRecorder();
  private readonly log: Logger;
  private readonly random: () => number;
  private session: ZkSession | null = null;
  private sink: EventSink | null = null;
  private serialNumber: string | null = null;
  private readonly userIds = new Map<number, string>();
  private operations: Promise<unknown> = Promise.resolve();
  private events: Promise<void> = Promise.resolve();
  private supervisor: LinkSupervisor | null = null;
  /** The handshake on the newest link: whether it made the terminal ready. Never rejects. */
  private handshake: Promise<boolean> = Promise.resolve(false);
  /** Why the newest link could not be opened or shaken hands with; open() throws it. */
  private lastFailure: unknown;
  private probe: NodeJS.Timeout | null = null;
  private consecutiveTimeouts = 0;
  private closing = false;

  constructor(
    private readonly target: ZkTarget,
    private readonly options: ZkOptions,
    private readonly linkFactory: ByteLinkFactory,
    driverOptions: ZkDriverOptions,
  ) {
    super();
    this.log = (driverOptions.logger ?? pino({ level: 'silent' })).child({ ns: 'driver:zk', device: `${target.transport}://${target.host}:${target.port}` });
    this.random = driverOptions.random ?? Math.random;
    this.capabilities = Object.freeze({
      identify: options.realtime,
      scan: false,
      users: true,
      templates: true,
      enroll: false,
      logs: true,
      clearLogs: true,
      time: true,
      enableDisable: true,
      acknowledgedDelivery: options.realtime,
    });
  }

  stats(): LinkStats {
    return this.recorder.snapshot();
  }

  /**
   * Resolves once the terminal has been connected to and has accepted the
   * comm key. Unlike drivers that keep redialling in the background, a ZK
   * driver that cannot get through the first time rejects and stays closed,
   * so that a wrong address or comm key shows up at once.
   */
  async open(sink: EventSink): Promise<void> {
    if (this.state !== 'closed') throw new Error(`open() on a driver that is ${this.state}`);
    this.sink = sink;
    this.closing = false;
    this.lastFailure = undefined;
    this.handshake = Promise.resolve(false);
    this.setState('opening');
    const supervisor = new LinkSupervisor({
      factory: () => this.openLink(),
      attach: (link) => this.attach(link),
      stats: this.recorder,
      baseMs: this.options.reconnectMinMs,
      capMs: this.options.reconnectMaxMs,
      random: this.random,
    });
    supervisor.on('state', (state, reason) => {
      // A reopened link is not ready before its handshake, and the first open is open()'s to judge.
      if (state === 'reopening' && (this.state === 'ready' || this.state === 'degraded')) {
        this.log.warn({ reason }, 'link lost; reopening');
        this.setState('reopening', reason);
      }
    });
    this.supervisor = supervisor;
    await supervisor.start();
    if (await this.handshake) {
      if (this.options.probeMs > 0) this.probe = setInterval(() => this.probeIfIdle(), this.options.probeMs).unref();
      return;
    }
    const failure = transportCause(this.lastFailure);
    await supervisor.stop();
    this.supervisor = null;
    this.sink = null;
    this.setState('closed', failure.message);
    throw failure;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    await this.handshake;
    const session = this.session;
    this.session = null;
    await session?.close();
    await this.supervisor?.stop();
    this.supervisor = null;
    await this.events;
    this.sink = null;
    this.setState('closed');
  }

  getInfo(): Promise<ZkDeviceInfo> {
    return this.run(async (session) => ({
      serialNumber: await this.readOption(session, '~SerialNumber'),
      deviceName: await this.readOption(session, '~DeviceName'),
      platform: await this.readOption(session, '~Platform'),
      vendor: await this.readOption(session, '~OEMVendor'),
      macAddress: await this.readOption(session, 'MAC'),
      firmwareVersion: decodeVersion(await session.command(ZkCommand.GET_VERSION)),
    }));
  }

  getFreeSizes(): Promise<FreeSizeCounts> {
    return this.run(async (session) => ({ ...(await this.readFreeSizes(session)) }));
  }

  listUsers(): Promise<ZkUser[]> {
    return this.run((session) => this.readUsers(session));
  }

  setUser(user: ZkUser): Promise<void> {
    const record = encodeUser(user, this.target.transport === 'tcp' ? 72 : 28);
    return this.run(async (session) => {
      await session.command(ZkCommand.USER_WRQ, record);
      await session.command(ZkCommand.REFRESH_DATA);
      this.userIds.set(user.uid, user.userId);
    });
  }

  deleteUser(uid: number): Promise<void> {
    const payload = encodeUserDeletion(uid);
    return this.run(async (session) => {
      await session.command(ZkCommand.DELETE_USER, payload);
      await session.command(ZkCommand.REFRESH_DATA);
      this.userIds.delete(uid);
    });
  }

  readLogs(options: ReadLogsOptions = {}): Promise<ZkLogEntry[]> {
    return this.run(async (session) => {
      const counted = (await this.readFreeSizes(session)).records;
      if (counted === 0) return [];
      const data = await session.readDataset(Dataset.attendance, this.options.chunkSize, options.onProgress);
      // Punches during a long download leave the first count too low to tell the record size (and a wrong
      // stride decodes garbage); a count read after the download is at least the records downloaded.
      const count = recordSizeFor(data.length, counted, ATTENDANCE_RECORD_SIZES) === null ? (await this.readFreeSizes(session)).records : counted;
      const records = decodeAttendances(data, count);
      // The 8-byte layout of old firmware carries the uid only; the user list names it.
      if (records.some((record) => record.userId === '')) await this.readUsers(session);
      const serial = this.deviceSerial();
      return records.map((record) => {
        const punch = { ...record, userId: record.userId || this.userIdOf(record.uid) };
        return { ...punch, method: identifyMethodOf(punch.verifyMode), deviceTime: zkDateTimeToDate(punch.time), deviceKey: zkDeviceKey(serial, punch) };
      });
    });
  }

  clearLogs(): Promise<void> {
    return this.run(async (session) => {
      await session.command(ZkCommand.CLEAR_ATTLOG);
      await session.command(ZkCommand.REFRESH_DATA);
    });
  }

  getTime(): Promise<Date> {
    return this.run(async (session) => {
      const payload = await session.command(ZkCommand.GET_TIME);
      if (payload.length < 4) throw new ZkFrameError('truncated', `GET_TIME reply carries ${payload.length} bytes, not 4`);
      return zkDateTimeToDate(decodeZkTime(payload.readUInt32LE(0)));
    });
  }

  setTime(date: Date): Promise<void> {
    const payload = Buffer.alloc(4);
    payload.writeUInt32LE(encodeZkTime(zkDateTimeFromDate(date)));
    return this.run(async (session) => {
      await session.command(ZkCommand.SET_TIME, payload);
      await session.command(ZkCommand.REFRESH_DATA);
    });
  }

  enable(): Promise<void> {
    return this.run(async (session) => void (await session.command(ZkCommand.ENABLE_DEVICE)));
  }

  disable(): Promise<void> {
    return this.run(async (session) => void (await session.command(ZkCommand.DISABLE_DEVICE)));
  }

  listTemplates(): Promise<ZkTemplate[]> {
    return this.run(async (session) => {
      if ((await this.readFreeSizes(session)).templates === 0) return [];
      return decodeTemplates(await session.readDataset(Dataset.templates, this.options.chunkSize));
    });
  }

  downloadTemplate(uid: number, fingerIndex: number): Promise<Buffer | null> {
    const slot = new TemplateSlot(uid, fingerIndex);
    return this.run((session) => session.readTemplate(slot));
  }

  uploadTemplate(template: ZkTemplate): Promise<void> {
    const write = new TemplateWrite(template.uid, template.fingerIndex, template.flag, template.template.length);
    return this.run(async (session) => {
      await session.upload(template.template, this.options.uploadChunkSize);
      // The device answers with a checksum of its buffer; the algorithm is unknown (§6), so it cannot be checked.
      await session.command(ZkCommand.CHECKSUM_BUFFER);
      await session.command(ZkCommand.TMP_WRITE, write.serialize());
      await session.command(ZkCommand.FREE_DATA);
      await session.command(ZkCommand.REFRESH_DATA);
    });
  }

  uploadUsersWithTemplates(entries: UserWithTemplates[]): Promise<void> {
    const batch = encodeUserTemplateBatch(entries, this.target.transport === 'tcp' ? 72 : 28);
    return this.run(async (session) => {
      await session.upload(batch, this.options.uploadChunkSize);
      await session.command(ZkCommand.SAVE_USERTEMPS, SAVE_USERTEMPS_PAYLOAD);
      await session.command(ZkCommand.FREE_DATA);
      await session.command(ZkCommand.REFRESH_DATA);
      for (const { user } of entries) this.userIds.set(user.uid, user.userId);
    });
  }

  deleteTemplate(uid: number, fingerIndex: number): Promise<boolean> {
    const slot = new TemplateSlot(uid, fingerIndex);
    return this.run(async (session) => {
      try {
        await session.command(ZkCommand.DELETE_USERTEMP, slot.serialize());
      } catch (error) {
        if (error instanceof ZkDeviceError && error.reply === ZkReply.ACK_ERROR) return false;
        throw error;
      }
      await session.command(ZkCommand.REFRESH_DATA);
      return true;
    });
  }

  private async openLink(): Promise<ByteLink> {
    try {
      return await this.linkFactory();
    } catch (error) {
      this.lastFailure = error;
      throw error;
    }
  }

  /** Every link the supervisor opens, the first and each reopened one, gets the full handshake. */
  private attach(link: ByteLink): void {
    this.handshake = this.shakeHands(new ZkSession(link, this.target.transport, this.options, this.recorder, this.log));
  }

  /**
   * Connects, authenticates with the comm key, learns the serial number and
   * registers for realtime events. Never rejects: a handshake that fails
   * closes its link for the supervisor to reopen, except when the comm key
   * is refused, which no retry mends.
   */
  private async shakeHands(session: ZkSession): Promise<boolean> {
    try {
      await session.connect();
      this.serialNumber ??= await this.readOption(session, '~SerialNumber');
      if (this.options.realtime) {
        const flags = Buffer.alloc(4);
        flags.writeUInt32LE(ZkEventFlag.ATTLOG);
        await session.command(ZkCommand.REG_EVENT, flags);
      }
    } catch (error) {
      this.lastFailure = error;
      await session.link.close();
      if (error instanceof ZkAuthError) {
        await this.supervisor?.stop();
        // On the first open, open() reports the refusal and leaves the driver closed.
        if (this.state !== 'opening') this.setState('failed', error.message);
      } else {
        this.log.info({ err: error }, 'handshake failed; the link will be reopened');
      }
      return false;
    }
    // A link lost in the meantime is the supervisor's to reopen.
    if (!session.isOpen) return false;
    session.on('event', (flag, payload) => {
      this.events = this.events.then(() => this.deliverEvent(session, flag, payload)).catch((error: unknown) => this.log.error({ err: error }, 'event delivery failed'));
    });
    this.session = session;
    if (this.closing) return false;
    this.setState('ready');
    return true;
  }

  /** Runs one operation when its turn comes, on a ready session; operations never interleave on the wire. */
  private run<T>(operation: (session: ZkSession) => Promise<T>): Promise<T> {
    const result = this.operations.then(async () => {
      const session = await this.readySession();
      try {
        const value = await operation(session);
        this.consecutiveTimeouts = 0;
        if (this.state === 'degraded') this.setState('ready');
        return value;
      } catch (error) {
        if (error instanceof ZkTimeoutError && ++this.consecutiveTimeouts >= DEGRADED_AFTER_TIMEOUTS && this.state === 'ready') {
          this.setState('degraded', `${this.consecutiveTimeouts} requests in a row timed out`);
        }
        throw error;
      }
    });
    this.operations = result.catch(() => undefined);
    return result;
  }

  private async readySession(): Promise<ZkSession> {
    const deadline = Date.now() + this.options.readyWaitMs;
    for (;;) {
      if (this.closing) throw new ZkNotOpenError('the ZK driver is closing');
      if (this.session?.isOpen) return this.session;
      if (this.state === 'closed' || this.state === 'failed') throw new ZkNotOpenError(`the ZK driver is ${this.state}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new ZkNotOpenError(`the terminal did not come back within ${this.options.readyWaitMs} ms`);
      await once(this, 'state', { signal: AbortSignal.timeout(remaining) }).catch(() => undefined);
    }
  }

  /** A liveness probe when nothing has been heard for a probe interval; a probe that fails every attempt reopens the link. */
  private probeIfIdle(): void {
    const lastSeen = this.recorder.snapshot().lastSeenAt?.getTime() ?? 0;
    if (Date.now() - lastSeen < this.options.probeMs || !this.session?.isOpen) return;
    const session = this.session;
    this.run((probed) => probed.command(ZkCommand.GET_TIME)).catch((error: unknown) => {
      if (!(error instanceof ZkTimeoutError)) return;
      this.log.warn({ err: error }, 'liveness probe failed; reopening');
      void session.link.close();
    });
  }

  private async deliverEvent(session: ZkSession, flag: number, payload: Buffer): Promise<void> {
    const sink = this.sink;
    if (this.closing || !sink) return;
    if (flag === ZkEventFlag.ATTLOG) {
      let event: IdentifiedEvent;
      try {
        const decoded = decodeRealtimeAttendance(payload);
        const userId = decoded.userId ?? (await this.userIdOfEvent(decoded.uid!));
        event = identifiedEvent(this.deviceSerial(), { ...decoded, userId });
      } catch (error) {
        this.log.warn({ err: error, bytes: payload.length }, 'undecodable attendance event acknowledged and dropped');
        await this.acknowledge(session);
        return;
      }
      try {
        await sink(event);
      } catch (error) {
        // Left unacknowledged: the record stays in the device log for the next download.
        this.log.warn({ err: error, deviceKey: event.deviceKey }, 'sink refused an attendance event');
        return;
      }
    }
    await this.acknowledge(session);
  }

  private async acknowledge(session: ZkSession): Promise<void> {
    await session.acknowledgeEvent().catch((error: unknown) => this.log.debug({ err: error }, 'event acknowledgement not sent'));
  }

  /** Events of old UDP firmware name the uid only (§2.11); the user list, read again when the uid is new, names the person. */
  private async userIdOfEvent(uid: number): Promise<string> {
    if (!this.userIds.has(uid)) await this.listUsers();
    return this.userIdOf(uid);
  }

  private userIdOf(uid: number): string {
    return this.userIds.get(uid) ?? String(uid);
  }

  private async readUsers(session: ZkSession): Promise<ZkUser[]> {
    const count = (await this.readFreeSizes(session)).users;
    const users = count === 0 ? [] : decodeUsers(await session.readDataset(Dataset.users, this.options.chunkSize), count);
    this.userIds.clear();
    for (const user of users) this.userIds.set(user.uid, user.userId);
    return users;
  }

  private async readFreeSizes(session: ZkSession): Promise<FreeSizeCounts> {
    return FreeSizes.from(await session.command(ZkCommand.GET_FREE_SIZES)).counts;
  }

  /** An option's value, or null when the device does not know the option (ACK_ERROR). */
  private async readOption(session: ZkSession, name: string): Promise<string | null> {
    try {
      return decodeOptionReply(await session.command(ZkCommand.OPTIONS_RRQ, encodeOptionRequest(name))).value;
    } catch (error) {
      if (error instanceof ZkDeviceError) return null;
      throw error;
    }
  }

  /** The serial number names the terminal in deviceKeys; a device without one is named by its address. */
  private deviceSerial(): string {
    return this.serialNumber ?? `${this.target.host}:${this.target.port}`;
  }

  private setState(state: ConnectionState, reason?: string): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state, reason);
  }
}

/**
 * A transport error without the link's `tcp://host:port: ` prefix: whoever
 * opened the driver names the device already.
 */
function transportCause(error: unknown): Error {
  if (error instanceof Error) return error.cause instanceof Error ? error.cause : error;
  return new Error(String(error));
}
