import type { DeviceDriver, DriverCapabilities, IdentifyMethod } from './driver.js';
import type { TransportUrl } from './transportUrl.js';

/** Vendor facts for people and scripts to read, keyed in camelCase; callers show them without knowing what they mean. */
export type DeviceDetails = Record<string, string | number | boolean>;

export interface DeviceInfo {
  serialNumber?: string;
  model?: string;
  firmware?: string;
  details: DeviceDetails;
}

export interface DeviceUser {
  /** The `subject` the device's identified events carry for this person. */
  userId: string;
  name: string;
  details: DeviceDetails;
}

export interface DeviceLogRecord {
  subject: string;
  method: IdentifyMethod;
  deviceTime: Date | null;
  /** Stable across downloads, for deduplication. */
  deviceKey: string;
  details: DeviceDetails;
}

/** One stored fingerprint template: whose (`subject`, as in identified events) and which finger. */
export interface DeviceTemplateRef {
  subject: string;
  finger: number;
}

export interface DeviceTemplateEntry extends DeviceTemplateRef {
  details: DeviceDetails;
}

/**
 * The commands of a device, in vendor-neutral terms. Each optional group is
 * present exactly when its DriverCapabilities flag is true (COMMAND_GROUPS),
 * so callers test for a method, or use requireCommand, instead of the kind.
 */
export interface DeviceCommands {
  getInfo(): Promise<DeviceInfo>;
  // users
  listUsers?(): Promise<DeviceUser[]>;
  /** Adds the user, or replaces the one with the same userId. */
  setUser?(user: DeviceUser): Promise<void>;
  /** Deletes the user and the user's templates. */
  deleteUser?(userId: string): Promise<void>;
  // logs
  readLogs?(): Promise<DeviceLogRecord[]>;
  // clearLogs
  clearLogs?(): Promise<void>;
  // time: the device's wall clock read and set in this host's zone
  getTime?(): Promise<Date>;
  setTime?(date: Date): Promise<void>;
  // enableDisable: disable locks the keypad and sensor while an operator works on the device
  enable?(): Promise<void>;
  disable?(): Promise<void>;
  // templates
  listTemplates?(): Promise<DeviceTemplateEntry[]>;
  /** The template bytes, or null when nothing is stored there. */
  downloadTemplate?(ref: DeviceTemplateRef): Promise<Uint8Array | null>;
  uploadTemplate?(ref: DeviceTemplateRef, bytes: Uint8Array): Promise<void>;
  deleteTemplate?(ref: DeviceTemplateRef): Promise<void>;
  // enroll: captures a finger at the sensor and stores it for `subject`
  enroll?(subject: string, finger?: number): Promise<void>;
}

export type OptionalCommandName = Exclude<keyof DeviceCommands, 'getInfo'>;

/** Which capability flag promises which commands. */
export const COMMAND_GROUPS = {
  users: ['listUsers', 'setUser', 'deleteUser'],
  logs: ['readLogs'],
  clearLogs: ['clearLogs'],
  time: ['getTime', 'setTime'],
  enableDisable: ['enable', 'disable'],
  templates: ['listTemplates', 'downloadTemplate', 'uploadTemplate', 'deleteTemplate'],
  enroll: ['enroll'],
} as const satisfies Partial<Record<keyof DriverCapabilities, readonly OptionalCommandName[]>>;

export type CommandCapability = keyof typeof COMMAND_GROUPS;

export function capabilityOf(command: OptionalCommandName): CommandCapability {
  const groups = Object.entries(COMMAND_GROUPS) as [CommandCapability, readonly OptionalCommandName[]][];
  return groups.find(([, names]) => names.includes(command))![0];
}

/** The capabilities that are true, in their declared order. */
export function capabilityNames(capabilities: DriverCapabilities): (keyof DriverCapabilities)[] {
  return (Object.keys(capabilities) as (keyof DriverCapabilities)[]).filter((name) => capabilities[name]);
}

export class UnsupportedCommandError extends Error {
  override readonly name = 'UnsupportedCommandError';
  /** Why, in words that fit after "cannot …: ". */
  readonly reason: string;

  constructor(
    readonly kind: string,
    readonly command: OptionalCommandName,
    readonly capability: CommandCapability,
    capabilities: DriverCapabilities,
  ) {
    const reason = `its driver (${kind}) lacks the "${capability}" capability (its capabilities: ${capabilityNames(capabilities).join(', ') || 'none'})`;
    super(`cannot ${command}: ${reason}`);
    this.reason = reason;
  }
}

/** The driver's commands, with `name` guaranteed present; throws UnsupportedCommandError when the driver lacks it. */
export function requireCommand<Name extends OptionalCommandName>(driver: DeviceDriver, name: Name): DeviceCommands & Required<Pick<DeviceCommands, Name>> {
  const { commands } = driver;
  if (typeof commands[name] !== 'function') throw new UnsupportedCommandError(driver.kind, name, capabilityOf(name), driver.capabilities);
  return commands as DeviceCommands & Required<Pick<DeviceCommands, Name>>;
}

/** The commands of a device that only sends events: there is nothing to ask it, so its info is what the driver knows of the link. */
export function linkInfoCommands(kind: string, transport: TransportUrl): DeviceCommands {
  return { getInfo: async () => ({ details: { kind, transport: transport.scheme, link: linkAddress(transport) } }) };
}

function linkAddress(transport: TransportUrl): string {
  const hex = (id: number) => id.toString(16).padStart(4, '0');
  switch (transport.scheme) {
    case 'serial':
      return transport.path;
    case 'hid':
      return `${hex(transport.vendorId)}:${hex(transport.productId)}${transport.serialNumber === undefined ? '' : `/${transport.serialNumber}`}`;
    default:
      return `${transport.host}:${transport.port}`;
  }
}
