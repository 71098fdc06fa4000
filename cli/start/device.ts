import { once } from 'node:events';
import type { DeviceDriver, DeviceEvent, DriverCapabilities, EventSink } from '../../drivers/core/driver.js';
import type { LinkStats } from '../../drivers/core/linkStats.js';
import { DRIVER_KINDS, createDriver } from '../../drivers/index.js';
import type { R30xDriver } from '../../drivers/r30x/driver.js';
import type { ZkDriver } from '../../drivers/zk/driver.js';
import type { ZkPushDriver } from '../../drivers/zkpush/driver.js';
import type { ParsedArgs } from '../commands/command.js';
import { DEVICE_ACTIONS } from '../commands/device.js';
import { USAGE_EXIT_CODE, closestName } from '../dispatch.js';
import { UsageError, integerArg, stringArg, untilSignal } from './args.js';

type DeviceAction = (typeof DEVICE_ACTIONS)[number];

interface Target {
  kind: string;
  url: string;
  /** The URL with the comm key or password masked: output gets pasted into tickets. */
  shownUrl: string;
  /** How output names the device: KIND:URL, masked. */
  name: string;
}

/** What an action found, as text for people and as a JSON document for scripts. */
interface Report {
  text: string;
  json: Record<string, unknown>;
}

type Fields = [label: string, value: string][];

/** How long closing may take before the process exits anyway, so a link stuck connecting to a silent host cannot hold it. */
const CLOSE_GRACE_MS = 1_000;
const URL_ERRORS = new Set(['TransportUrlError', 'UnsupportedTransportError']);

const REQUIREMENTS: Record<DeviceAction, { doing: string; anyOf: (keyof DriverCapabilities)[] }> = {
  info: { doing: 'describe itself', anyOf: [] },
  users: { doing: 'list its users', anyOf: ['users'] },
  logs: { doing: 'hand over its attendance log', anyOf: ['logs'] },
  time: { doing: 'tell or set its clock', anyOf: ['time'] },
  templates: { doing: 'list its templates', anyOf: ['templates'] },
  watch: { doing: 'report taps or scans', anyOf: ['identify', 'scan'] },
};

/** Options that only mean something to one action; given to another, they are a mistake worth pointing out. */
const ACTION_OPTIONS: Record<string, DeviceAction> = { since: 'logs', set: 'time', count: 'watch' };

export async function runDevice(args: ParsedArgs): Promise<number> {
  const action = actionArg(args.positionals[0]);
  const target = targetArg(args.positionals[1]);
  for (const [option, owner] of Object.entries(ACTION_OPTIONS)) {
    if (stringArg(args, option) !== undefined && action !== owner) throw new UsageError(`--${option} applies to \`device ${owner}\` only`);
  }
  const json = args.values.json === true;
  const timeoutMs = integerArg(args, 'timeout-ms', 1, 600_000);
  const since = sinceArg(stringArg(args, 'since'));
  const setTo = setArg(stringArg(args, 'set'));
  const count = stringArg(args, 'count') === undefined ? undefined : integerArg(args, 'count', 1, Number.MAX_SAFE_INTEGER);

  const driver = await driverFor(target);
  const missing = missingCapability(driver, action, target);
  if (missing) {
    // The command line asks for something this device cannot do: a usage error, though not one --help would fix.
    process.stderr.write(`campushub device: ${missing}\n`);
    return USAGE_EXIT_CODE;
  }
  try {
    if (action === 'watch') return await watch(driver, target, { json, timeoutMs, count });
    await openWithin(driver, refuseEvents, timeoutMs, target);
    const report = await runAction(action, driver, target, { since, setTo }).catch((error: unknown) => {
      throw new Error(`${target.name} could not ${REQUIREMENTS[action].doing}: ${messageOf(error)}`);
    });
    await print(json ? `${JSON.stringify(report.json, null, 2)}\n` : report.text);
    return 0;
  } finally {
    await closeQuietly(driver);
  }
}

function actionArg(text: string | undefined): DeviceAction {
  const action = DEVICE_ACTIONS.find((known) => known === text);
  if (action) return action;
  const suggestion = closestName(text ?? '', DEVICE_ACTIONS);
  throw new UsageError(`unknown action ${JSON.stringify(text ?? '')}${suggestion ? ` (did you mean ${suggestion}?)` : ''}; choose one of ${DEVICE_ACTIONS.join(', ')}`);
}

function targetArg(text = ''): Target {
  const separator = text.indexOf(':');
  const kind = text.slice(0, Math.max(separator, 0));
  if (!DRIVER_KINDS.includes(kind)) {
    throw new UsageError(`expected the device as KIND:URL with KIND one of ${DRIVER_KINDS.join(', ')}, e.g. zk:tcp://10.0.0.5:4370, not ${JSON.stringify(text)}`);
  }
  const url = text.slice(separator + 1);
  const shownUrl = url.replace(/([?&](?:commKey|password)=)[^&]*/gi, '$1***');
  return { kind, url, shownUrl, name: `${kind}:${shownUrl}` };
}

/** A moment given on the command line: ISO dates and date-times are read in this host's zone, as devices keep local time. */
function instantArg(option: string, text: string): Date {
  // ECMAScript reads a bare date as UTC but a date-time without offset as local time.
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00` : text.replace(' ', 'T');
  const time = Date.parse(iso);
  if (Number.isNaN(time)) throw new UsageError(`--${option} ${JSON.stringify(text)} is not an ISO date or date-time such as 2025-01-06 or 2025-01-06T09:00`);
  return new Date(time);
}

const AGE_UNITS_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

function sinceArg(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const age = /^(\d+)([mhd])$/.exec(text);
  return age ? new Date(Date.now() - Number(age[1]) * AGE_UNITS_MS[age[2]!]!) : instantArg('since', text);
}

function setArg(text: string | undefined): Date | 'now' | undefined {
  if (text === undefined || text === 'now') return text;
  return instantArg('set', text);
}

async function driverFor(target: Target): Promise<DeviceDriver> {
  try {
    return await createDriver(target.kind, target.url);
  } catch (error) {
    if (error instanceof Error && URL_ERRORS.has(error.name)) throw new UsageError(`${target.name}: ${error.message}`);
    throw error;
  }
}

function missingCapability(driver: DeviceDriver, action: DeviceAction, target: Target): string | undefined {
  const { doing, anyOf } = REQUIREMENTS[action];
  if (anyOf.length === 0 || anyOf.some((capability) => driver.capabilities[capability])) return undefined;
  const lacks = anyOf.length === 1 ? `lacks the "${anyOf[0]}" capability` : `has none of the capabilities ${anyOf.map((name) => `"${name}"`).join(', ')}`;
  return `${target.name} cannot ${doing}: its driver (${driver.kind}) ${lacks} (its capabilities: ${capabilityNames(driver.capabilities).join(', ') || 'none'})`;
}

function capabilityNames(capabilities: DriverCapabilities): string[] {
  return Object.entries(capabilities)
    .filter(([, present]) => present)
    .map(([name]) => name);
}

/** Outside `watch` every event is refused, so that the device keeps it (or sends it again) for the agent. */
const refuseEvents: EventSink = async () => {
  throw new Error('campushub device is not watching for events');
};

/**
 * Opens the driver and waits until its link is ready. Drivers with a link
 * supervisor resolve open() while they keep redialling a device that does
 * not answer, so readiness is awaited on the state, not on open().
 */
async function openWithin(driver: DeviceDriver, sink: EventSink, timeoutMs: number, target: Target): Promise<void> {
  let lastReason: string | undefined;
  const noteReason = (_state: string, reason?: string) => {
    if (reason) lastReason = reason;
  };
  driver.on('state', noteReason);
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    await untilAborted(driver.open(sink), deadline.signal);
    while (driver.state !== 'ready') {
      if (driver.state === 'failed' || driver.state === 'closed') throw new Error(lastReason ?? `the driver is ${driver.state}`);
      await once(driver, 'state', { signal: deadline.signal });
    }
  } catch (error) {
    if (deadline.signal.aborted) throw new Error(`${target.name} did not become ready within ${timeoutMs} ms${lastReason ? ` (last problem: ${lastReason})` : ''}`);
    throw new Error(`cannot open ${target.name}: ${messageOf(error)}`);
  } finally {
    clearTimeout(timer);
    driver.off('state', noteReason);
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function closeQuietly(driver: DeviceDriver): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // A close error must not hide what the command found or why it failed.
  const closed = driver.close().catch(() => undefined);
  await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
  clearTimeout(timer);
}

function runAction(action: Exclude<DeviceAction, 'watch'>, driver: DeviceDriver, target: Target, options: { since: Date | undefined; setTo: Date | 'now' | undefined }): Promise<Report> {
  switch (action) {
    case 'info':
      return infoReport(driver, target);
    case 'users':
      return usersReport(zkDriver(driver, action), target);
    case 'logs':
      return logsReport(zkDriver(driver, action), target, options.since);
    case 'time':
      return timeReport(zkDriver(driver, action), target, options.setTo);
    case 'templates':
      if (isR30x(driver)) return r30xTemplatesReport(driver, target);
      return zkTemplatesReport(zkDriver(driver, action), target);
  }
}

const isZk = (driver: DeviceDriver): driver is ZkDriver => driver.kind === 'zk';
const isR30x = (driver: DeviceDriver): driver is R30xDriver => driver.kind === 'r30x';
const isZkPush = (driver: DeviceDriver): driver is ZkPushDriver => driver.kind === 'zk-push';

/** The ZK driver is the only one with users, logs and clock commands; a new driver claiming them needs its own case here. */
function zkDriver(driver: DeviceDriver, action: DeviceAction): ZkDriver {
  if (isZk(driver)) return driver;
  throw new Error(`the ${driver.kind} driver claims the capability for \`device ${action}\`, but campushub device does not know its command yet`);
}

async function infoReport(driver: DeviceDriver, target: Target): Promise<Report> {
  const details = await deviceDetails(driver);
  const stats = driver.stats();
  const capabilities = capabilityNames(driver.capabilities);
  return {
    text: fieldsText([
      [
        ['Device', target.name],
        ['Driver', `${driver.kind}, ${driver.state}`],
        ['Capabilities', capabilities.join(', ') || 'none'],
      ],
      details.fields,
      linkFields(stats),
    ]),
    json: { device: deviceJson(target), driver: driver.kind, state: driver.state, capabilities: driver.capabilities, details: details.json, link: stats },
  };
}

async function deviceDetails(driver: DeviceDriver): Promise<{ fields: Fields; json: Record<string, unknown> }> {
  if (isZk(driver)) {
    const info = await driver.getInfo();
    const sizes = await driver.getFreeSizes();
    const fields: Fields = [
      ['Serial number', info.serialNumber ?? '-'],
      ['Name', info.deviceName ?? '-'],
      ['Platform', info.platform ?? '-'],
      ['Vendor', info.vendor ?? '-'],
      ['MAC address', info.macAddress ?? '-'],
      ['Firmware', info.firmwareVersion],
      ['Users', `${sizes.users} of ${sizes.userCapacity}`],
      ['Templates', `${sizes.templates} of ${sizes.templateCapacity}`],
      ['Log records', `${sizes.records} of ${sizes.recordCapacity}`],
    ];
    if (sizes.faceCapacity > 0) fields.push(['Faces', `${sizes.faces} of ${sizes.faceCapacity}`]);
    return { fields, json: { ...info, counts: sizes } };
  }
  if (isR30x(driver)) {
    const parameters = await driver.systemParameters();
    const templateCount = await driver.templateCount();
    return {
      fields: [
        ['Library', `${plural(templateCount, 'slot')} of ${parameters.capacity} hold a template`],
        ['Security level', String(parameters.securityLevel)],
        ['Packet size', `${parameters.packetSize} bytes`],
        ['Baud rate', String(parameters.baudRate)],
        ['Address', `0x${parameters.address.toString(16).toUpperCase().padStart(8, '0')}`],
        ['System id', String(parameters.systemId)],
      ],
      json: { systemParameters: parameters, templateCount },
    };
  }
  if (isZkPush(driver)) {
    const address = driver.address();
    const unknown = driver.unknownTerminals();
    return {
      fields: [
        ['Listening', address ? `http://${address.address}:${address.port} (terminals push here)` : '-'],
        ['Refused terminals', unknown.map((terminal) => `${terminal.serial} from ${terminal.remoteAddress}`).join(', ') || 'none so far'],
      ],
      json: { listening: address ?? null, unknownTerminals: unknown },
    };
  }
  return { fields: [], json: {} };
}

function linkFields(stats: LinkStats): Fields {
  const problems = (
    [
      [stats.checksumErrors, 'checksum error', 'checksum errors'],
      [stats.timeouts, 'timeout', 'timeouts'],
      [stats.retries, 'retry', 'retries'],
      [stats.reconnects, 'reconnect', 'reconnects'],
      [stats.discardedBytes, 'byte discarded', 'bytes discarded'],
    ] as const
  )
    .filter(([count]) => count > 0)
    .map(([count, one, many]) => `${count} ${count === 1 ? one : many}`);
  return [
    ['Link sent', `${plural(stats.txFrames, 'frame')}, ${formatBytes(stats.txBytes)}`],
    ['Link received', `${plural(stats.rxFrames, 'frame')}, ${formatBytes(stats.rxBytes)}`],
    ['Link problems', problems.join(', ') || 'none'],
    ['Last heard', stats.lastSeenAt ? formatTime(stats.lastSeenAt) : 'never'],
  ];
}

/** ZK privilege: bit 0 disabled, bits 1–3 the level. */
const ZK_ROLES = new Map([
  [0, 'user'],
  [1, 'enroller'],
  [3, 'admin'],
  [7, 'super admin'],
]);

function roleOf(privilege: number): string {
  const level = (privilege >> 1) & 0b111;
  const role = ZK_ROLES.get(level) ?? `level ${level}`;
  return privilege & 1 ? `${role} (disabled)` : role;
}

async function usersReport(driver: ZkDriver, target: Target): Promise<Report> {
  const users = await driver.listUsers();
  const rows = users.map((user) => [String(user.uid), user.userId, user.name || '-', roleOf(user.privilege), user.card ? String(user.card) : '-', user.groupId || '-']);
  return {
    text: listText(`${plural(users.length, 'user')} on ${target.name}`, ['UID', 'USER ID', 'NAME', 'ROLE', 'CARD', 'GROUP'], rows),
    // Passwords stay on the device; the listing says only whether one is set.
    json: {
      device: deviceJson(target),
      count: users.length,
      users: users.map(({ password, ...user }) => ({ ...user, role: roleOf(user.privilege), hasPassword: password !== '' })),
    },
  };
}

const PUNCH_STATES = ['check-in', 'check-out', 'break-out', 'break-in', 'overtime-in', 'overtime-out'];

async function logsReport(driver: ZkDriver, target: Target, since: Date | undefined): Promise<Report> {
  const log = await driver.readLogs();
  const records = since ? log.filter((record) => record.deviceTime >= since) : log;
  const heading = since
    ? `${plural(records.length, 'record')} from ${formatTime(since)} on, of ${log.length} in the log of ${target.name}`
    : `${plural(records.length, 'record')} in the log of ${target.name}`;
  const rows = records.map((record) => [formatTime(record.deviceTime), record.userId, record.method, PUNCH_STATES[record.state] ?? `state ${record.state}`]);
  return {
    text: listText(heading, ['TIME', 'USER ID', 'METHOD', 'STATE'], rows),
    json: {
      device: deviceJson(target),
      since: since ?? null,
      total: log.length,
      count: records.length,
      records: records.map(({ uid, userId, deviceTime, method, verifyMode, state, deviceKey }) => ({ uid, userId, deviceTime, method, verifyMode, state, deviceKey })),
    },
  };
}

async function timeReport(driver: ZkDriver, target: Target, setTo: Date | 'now' | undefined): Promise<Report> {
  // `now` is taken when the clock is set, not when the command line was read: opening the link takes a while.
  const setTime = setTo === 'now' ? new Date() : setTo;
  if (setTime) await driver.setTime(setTime);
  const deviceTime = await driver.getTime();
  const hostTime = new Date();
  const offsetMs = deviceTime.getTime() - hostTime.getTime();
  const fields: Fields = [
    ['Device time', formatTime(deviceTime)],
    ['Host time', formatTime(hostTime)],
    // The device clock counts whole seconds and the reply takes a moment, so a second or so apart is in step.
    ['Difference', Math.abs(offsetMs) < 2_000 ? 'in step with this host' : `the device is ${describeDuration(offsetMs)} ${offsetMs < 0 ? 'behind' : 'ahead of'} this host`],
  ];
  if (setTime) fields.unshift(['Set to', formatTime(setTime)]);
  return {
    text: fieldsText([[['Device', target.name], ...fields]]),
    json: { device: deviceJson(target), set: setTime ?? null, deviceTime, hostTime, offsetMs },
  };
}

const TEMPLATE_FLAGS = new Map([
  [0, 'invalid'],
  [1, 'valid'],
  [3, 'duress'],
]);

async function zkTemplatesReport(driver: ZkDriver, target: Target): Promise<Report> {
  const templates = await driver.listTemplates();
  // Templates name users by the device's internal uid; people know them by user id.
  const userIds = new Map((await driver.listUsers()).map((user) => [user.uid, user.userId]));
  const entries = templates.map((template) => ({
    uid: template.uid,
    userId: userIds.get(template.uid) ?? null,
    fingerIndex: template.fingerIndex,
    flag: TEMPLATE_FLAGS.get(template.flag) ?? `flag ${template.flag}`,
    bytes: template.template.length,
  }));
  const rows = entries.map((entry) => [String(entry.uid), entry.userId ?? '-', String(entry.fingerIndex), entry.flag, String(entry.bytes)]);
  return {
    text: listText(`${plural(templates.length, 'template')} on ${target.name}`, ['UID', 'USER ID', 'FINGER', 'FLAG', 'BYTES'], rows),
    json: { device: deviceJson(target), count: templates.length, templates: entries },
  };
}

async function r30xTemplatesReport(driver: R30xDriver, target: Target): Promise<Report> {
  const { capacity } = await driver.systemParameters();
  const slots = await driver.occupiedSlots();
  const heading = `${plural(slots.length, 'slot')} of ${capacity} on ${target.name} hold a template`;
  return {
    text: `${heading}${slots.length > 0 ? `: ${slotRanges(slots)}` : ''}\n`,
    json: { device: deviceJson(target), count: slots.length, capacity, slots },
  };
}

async function watch(driver: DeviceDriver, target: Target, options: { json: boolean; timeoutMs: number; count: number | undefined }): Promise<number> {
  const { json, timeoutMs, count } = options;
  let seen = 0;
  let countReached!: () => void;
  const counted = new Promise<void>((resolve) => (countReached = resolve));
  const sink: EventSink = async (event) => {
    if (count !== undefined && seen >= count) throw new Error('the watch has all the events it asked for');
    seen++;
    const receivedAt = new Date();
    await print(json ? `${JSON.stringify({ ...event, receivedAt })}\n` : `${eventLine(event, receivedAt)}\n`);
    if (seen === count) countReached();
  };
  await openWithin(driver, sink, timeoutMs, target);
  process.stderr.write(`Watching ${target.name}${count === undefined ? '' : ` for ${plural(count, 'event')}`}; Ctrl-C stops.\n`);
  let reportState!: (state: string, reason?: string) => void;
  const failed = new Promise<never>((_resolve, reject) => {
    reportState = (state, reason) => {
      process.stderr.write(`campushub device: ${target.name} is ${state}${reason ? `: ${reason}` : ''}\n`);
      if (state === 'failed') reject(new Error(`${target.name} failed${reason ? `: ${reason}` : ''}`));
    };
  });
  driver.on('state', reportState);
  try {
    await Promise.race([counted, untilSignal(), failed]);
  } finally {
    // Closing the driver is the watch ending, not news about the device.
    driver.off('state', reportState);
  }
  return 0;
}

function eventLine(event: DeviceEvent, receivedAt: Date): string {
  const at = formatTime(receivedAt);
  if (event.type === 'scanned') return `${at}  scanned     ${event.payload}`;
  const details = [event.deviceTime ? `device time ${formatTime(event.deviceTime)}` : '', event.score === undefined ? '' : `score ${event.score}`].filter(Boolean);
  return `${at}  identified  ${event.subject.padEnd(12)}  ${event.method.padEnd(11)}  ${details.join(', ')}`.trimEnd();
}

function deviceJson(target: Target): { kind: string; url: string } {
  return { kind: target.kind, url: target.shownUrl };
}

/** Resolves once the text is handed to the OS, so that the process exit that follows cannot cut it off on a pipe. */
function print(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
}

function fieldsText(sections: Fields[]): string {
  const filled = sections.filter((section) => section.length > 0);
  const width = Math.max(...filled.flat().map(([label]) => label.length));
  return `${filled.map((section) => section.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')).join('\n\n')}\n`;
}

function listText(heading: string, headers: string[], rows: string[][]): string {
  return rows.length === 0 ? `${heading}\n` : `${heading}\n\n${table(headers, rows)}`;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ');
  return `${[headers, ...rows].map(line).join('\n')}\n`;
}

/** `2025-01-06 09:00:05` in this host's zone, the campus's, as devices show their clocks. */
function formatTime(date: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

function describeDuration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1_000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1_024) return `${bytes} B`;
  if (bytes < 1_048_576) return `${(bytes / 1_024).toFixed(1)} KiB`;
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** `0–9, 12, 15–16`: a library of hundreds of slots stays one line. */
function slotRanges(slots: readonly number[]): string {
  const ranges: string[] = [];
  for (let start = 0; start < slots.length; ) {
    let end = start;
    while (end + 1 < slots.length && slots[end + 1] === slots[end]! + 1) end++;
    ranges.push(end === start ? String(slots[start]) : `${slots[start]}–${slots[end]}`);
    start = end + 1;
  }
  return ranges.join(', ');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
