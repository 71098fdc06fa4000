import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { DeviceCommands } from '../core/commands.js';
import { NO_CAPABILITIES, type ConnectionState, type DeviceDriver, type DriverCapabilities, type DriverEvents, type EventSink } from '../core/driver.js';
import { LinkStatsRecorder, type LinkStats } from '../core/linkStats.js';
import type { Timers } from '../core/reconnect.js';
import type { CommandResult } from './codec.js';
import { parseZkPushUrl, type ZkPushOptions } from './options.js';
import { ZkPushReceiver, type UnknownTerminal } from './receiver.js';

/** Settings that are not part of the URL; every field is optional. */
export interface ZkPushDriverOptions {
  logger?: Logger;
  /** For tests: the clock of command timeouts. */
  timers?: Timers;
}

/** A DeviceDriver for push terminals, plus what only they offer. */
export interface ZkPushDriver extends DeviceDriver {
  /** Where the receiver listens once open; undefined before. */
  address(): AddressInfo | undefined;
  /**
   * Sends `command` to terminal `serial` on its next poll and resolves with
   * the terminal's result (device-protocols.md §3.3–3.4), e.g.
   * `DATA UPDATE USERINFO PIN=7\tName=Asha`, `CLEAR LOG`, `REBOOT`.
   * Rejects with ZkPushCommandTimeoutError after `timeoutMs` (default: the
   * commandTimeout URL option) and ZkPushCommandCancelledError on close.
   */
  queueCommand(serial: string, command: string, timeoutMs?: number): Promise<CommandResult>;
  /** The counters of one terminal; undefined for a serial not on the allow-list. stats() adds up all terminals. */
  terminalStats(serial: string): LinkStats | undefined;
  /** Terminals that pushed without being on the allow-list, most recent first. */
  unknownTerminals(): UnknownTerminal[];
}

/**
 * ZKTeco terminals in ADMS / "Cloud Server" mode: they push attendance over
 * HTTP to this receiver, e.g. `http://0.0.0.0:8081?serials=ABC123,DEF456`.
 * URL options are described in options.ts. Throws at once on a URL or
 * option it cannot use.
 */
export function createZkPushDriver(url: string, options: ZkPushDriverOptions = {}): ZkPushDriver {
  return new PushDriver(parseZkPushUrl(url), options);
}

const NEVER_OPENED = new LinkStatsRecorder();

class PushDriver extends EventEmitter<DriverEvents> implements ZkPushDriver {
  readonly kind = 'zk-push';
  readonly capabilities: DriverCapabilities = Object.freeze({ ...NO_CAPABILITIES, identify: true, acknowledgedDelivery: true });
  /** Commands reach a push terminal only on its next poll, by serial number (queueCommand); none fit the one-device interface. */
  readonly commands: DeviceCommands = {
    getInfo: async () => {
      const address = this.address();
      const refused = this.unknownTerminals().map((terminal) => `${terminal.serial} from ${terminal.remoteAddress}`);
      return {
        details: {
          listening: address ? `http://${address.address}:${address.port}` : 'not yet',
          allowedTerminals: this.pushOptions.serials.join(', '),
          refusedTerminals: refused.join(', ') || 'none so far',
        },
      };
    },
  };
  private receiver: ZkPushReceiver | undefined;
  private current: ConnectionState = 'closed';
  private closed = false;
  private readonly log: Logger;

  constructor(
    private readonly pushOptions: ZkPushOptions,
    private readonly driverOptions: ZkPushDriverOptions,
  ) {
    super();
    this.log = (driverOptions.logger ?? pino({ level: 'silent' })).child({ ns: 'driver:zk-push' });
  }

  get state(): ConnectionState {
    return this.current;
  }

  stats(): LinkStats {
    return this.receiver?.stats() ?? NEVER_OPENED.snapshot();
  }

  address(): AddressInfo | undefined {
    return this.receiver?.address();
  }

  queueCommand(serial: string, command: string, timeoutMs?: number): Promise<CommandResult> {
    if (!this.receiver || this.current !== 'ready') return Promise.reject(new Error(`the zk-push driver is ${this.current}; open it first`));
    return this.receiver.queueCommand(serial, command, timeoutMs);
  }

  terminalStats(serial: string): LinkStats | undefined {
    return this.receiver?.terminalStats(serial);
  }

  unknownTerminals(): UnknownTerminal[] {
    return this.receiver?.unknownTerminals() ?? [];
  }

  async open(sink: EventSink): Promise<void> {
    if (this.receiver || this.closed) throw new Error('a zk-push driver opens once; create a new driver to open again');
    const receiver = new ZkPushReceiver(this.pushOptions, { sink, log: this.log, timers: this.driverOptions.timers });
    this.receiver = receiver;
    this.setState('opening');
    try {
      const address = await receiver.listen();
      this.log.info({ host: address.address, port: address.port, serials: this.pushOptions.serials }, 'listening for push terminals');
    } catch (error) {
      this.setState('failed', error instanceof Error ? error.message : String(error));
      throw error;
    }
    this.setState('ready');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.receiver?.close();
    if (this.current !== 'closed') this.setState('closed');
  }

  private setState(state: ConnectionState, reason?: string): void {
    this.current = state;
    this.emit('state', state, reason);
  }
}
