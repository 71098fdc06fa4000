import type { EventEmitter } from 'node:events';
import type { DeviceCommands } from './commands.js';
import type { LinkStats } from './linkStats.js';

/**
 * Connection states of every driver:
 *   closed → opening → ready ⇄ degraded → reopening → ready | failed
 * `degraded` means the link answers but something is wrong (e.g. repeated
 * timeouts); `failed` means the supervisor gave up and a person must look.
 */
export type ConnectionState = 'closed' | 'opening' | 'ready' | 'degraded' | 'reopening' | 'failed';

export type IdentifyMethod = 'fingerprint' | 'card' | 'face' | 'pin' | 'password';

/** What a door device reports. */
export type DeviceEvent =
  | {
      type: 'identified';
      /** The user id the device knows the person by. */
      subject: string;
      method: IdentifyMethod;
      /** The device's own clock; null where the device keeps none. */
      deviceTime: Date | null;
      score?: number;
      /** Stable key of the device's log record, for devices that keep a log. */
      deviceKey?: string;
    }
  | {
      type: 'scanned';
      /** The decoded code, without prefix or terminator. */
      payload: string;
    };

/**
 * Receives each event and resolves once the event is durably stored. The
 * driver acknowledges to the device (where the protocol can) only after the
 * sink resolves, and refuses the read (NAK, error beep) when it rejects.
 */
export type EventSink = (event: DeviceEvent) => Promise<void>;

/** What a driver can do. Commands whose flag is false are absent. */
export interface DriverCapabilities {
  /** Reports people identified on the device (fingerprint, card, face). */
  identify: boolean;
  /** Reports scanned codes. */
  scan: boolean;
  users: boolean;
  templates: boolean;
  enroll: boolean;
  logs: boolean;
  clearLogs: boolean;
  time: boolean;
  enableDisable: boolean;
  /** Acknowledges each event to the device after the sink commits it. */
  acknowledgedDelivery: boolean;
}

export interface DriverEvents {
  state: [state: ConnectionState, reason?: string];
}

export interface DeviceDriver extends EventEmitter<DriverEvents> {
  /** Driver family, e.g. `qr-line`, `zk`. */
  readonly kind: string;
  readonly capabilities: DriverCapabilities;
  /** The device's commands; a group is present exactly when its capability flag is true (commands.ts). */
  readonly commands: DeviceCommands;
  readonly state: ConnectionState;
  /** A frozen snapshot of the link counters. */
  stats(): LinkStats;
  /** Opens the link and starts delivering events to `sink`. Reopens by itself when the link drops. */
  open(sink: EventSink): Promise<void>;
  /** Closes the link for good; no events are delivered after it resolves. */
  close(): Promise<void>;
}

export const NO_CAPABILITIES: DriverCapabilities = Object.freeze({
  identify: false,
  scan: false,
  users: false,
  templates: false,
  enroll: false,
  logs: false,
  clearLogs: false,
  time: false,
  enableDisable: false,
  acknowledgedDelivery: false,
});
