import { once } from 'node:events';
import {
  UnsupportedCommandError,
  capabilityNames,
  requireCommand,
  type DeviceDetails,
  type DeviceInfo,
  type OptionalCommandName,
} from '../../drivers/core/commands.js';
import type { DeviceDriver, DeviceEvent, DriverCapabilities, EventSink } from '../../drivers/core/driver.js';
import type { LinkStats } from '../../drivers/core/linkStats.js';
import { DRIVER_KINDS, createDriver } from '../../drivers/index.js';
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

/** What each action does, in words for messages, and the command it needs; info needs only getInfo, which every driver has. */
const REQUIREMENTS: Record<DeviceAction, { doing: string; command?: OptionalCommandName }> = {
  info: { doing: 'describe itself' },
  users: { doing: 'list its users', command: 'listUsers' },
  logs: { doing: 'hand over its attendance log', command: 'readLogs' },
  time: { doing: 'tell or set its clock', command: 'getTime' },
  templates: { doing: 'list its templates', command: 'listTemplates' },
  watch: { doing: 'report taps or scans' },
};
/** Watching needs events, not a command: either kind of event will do. */
const WATCHED_EVENTS: (keyof DriverCapabilities)[] = ['identify', 'scan'];

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
  const { doing, command } = REQUIREMENTS[action];
  const cannot = `${target.name} cannot ${doing}`;
  if (action === 'watch') {
    if (WATCHED_EVENTS.some((capability) => driver.capabilities[capability])) return undefined;
    const names = WATCHED_EVENTS.map((name) => `"${name}"`).join(', ');
    return `${cannot}: its driver (${driver.kind}) has none of the capabilities ${names} (its capabilities: ${capabilityNames(driver.capabilities).join(', ') || 'none'})`;
  }
  try {
    if (command) requireCommand(driver, command);
    return undefined;
  } catch (error) {
    if (error instanceof UnsupportedCommandError) return `${cannot}: ${error.reason}`;
    throw error;
  }
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
      return usersReport(driver, target);
    case 'logs':
      return logsReport(driver, target, options.since);
    case 'time':
      return timeReport(driver, target, options.setTo);
    case 'templates':
      return templatesReport(driver, target);
  }
}

async function infoReport(driver: DeviceDriver, target: Target): Promise<Report> {
  const { details, ...identity } = await driver.commands.getInfo();
  const stats = driver.stats();
  const capabilities = capabilityNames(driver.capabilities);
  const identityFields = (Object.keys(IDENTITY_LABELS) as (keyof typeof IDENTITY_LABELS)[])
    .filter((key) => identity[key] !== undefined)
    .map((key): [string, string] => [IDENTITY_LABELS[key], identity[key]!]);
  return {
    text: fieldsText([
      [
        ['Device', target.name],
        ['Driver', `${driver.kind}, ${driver.state}`],
        ['Capabilities', capabilities.join(', ') || 'none'],
      ],
      [...identityFields, ...Object.entries(details).map(([key, value]): [string, string] => [labelOf(key), detailText(value)])],
      linkFields(stats),
    ]),
    json: { device: deviceJson(target), driver: driver.kind, state: driver.state, capabilities: driver.capabilities, details: { ...identity, ...details }, link: stats },
  };
}

const IDENTITY_LABELS: Record<Exclude<keyof DeviceInfo, 'details'>, string> = { serialNumber: 'Serial number', model: 'Model', firmware: 'Firmware' };

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

async function usersReport(driver: DeviceDriver, target: Target): Promise<Report> {
  const users = await requireCommand(driver, 'listUsers').listUsers();
  const columns = detailColumns(users);
  const rows = users.map((user) => [user.userId, user.name || '-', ...detailCells(user.details, columns)]);
  return {
    text: listText(`${plural(users.length, 'user')} on ${target.name}`, ['USER ID', 'NAME', ...columns.map(headerOf)], rows),
    json: {
      device: deviceJson(target),
      count: users.length,
      users: users.map(({ userId, name, details }) => ({ ...details, userId, name })),
    },
  };
}

async function logsReport(driver: DeviceDriver, target: Target, since: Date | undefined): Promise<Report> {
  const log = await requireCommand(driver, 'readLogs').readLogs();
  // A record without a device time cannot be placed after --since, so it is left out with the older ones.
  const records = since ? log.filter((record) => record.deviceTime !== null && record.deviceTime >= since) : log;
  const heading = since
    ? `${plural(records.length, 'record')} from ${formatTime(since)} on, of ${log.length} in the log of ${target.name}`
    : `${plural(records.length, 'record')} in the log of ${target.name}`;
  const columns = detailColumns(records);
  const rows = records.map((record) => [record.deviceTime ? formatTime(record.deviceTime) : '-', record.subject, record.method, ...detailCells(record.details, columns)]);
  return {
    text: listText(heading, ['TIME', 'SUBJECT', 'METHOD', ...columns.map(headerOf)], rows),
    json: {
      device: deviceJson(target),
      since: since ?? null,
      total: log.length,
      count: records.length,
      records: records.map(({ details, ...record }) => ({ ...details, ...record })),
    },
  };
}

async function timeReport(driver: DeviceDriver, target: Target, setTo: Date | 'now' | undefined): Promise<Report> {
  // `now` is taken when the clock is set, not when the command line was read: opening the link takes a while.
  const setTime = setTo === 'now' ? new Date() : setTo;
  if (setTime) await requireCommand(driver, 'setTime').setTime(setTime);
  const deviceTime = await requireCommand(driver, 'getTime').getTime();
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

async function templatesReport(driver: DeviceDriver, target: Target): Promise<Report> {
  const templates = await requireCommand(driver, 'listTemplates').listTemplates();
  const columns = detailColumns(templates);
  const rows = templates.map((template) => [template.subject, String(template.finger), ...detailCells(template.details, columns)]);
  return {
    text: listText(`${plural(templates.length, 'template')} on ${target.name}`, ['SUBJECT', 'FINGER', ...columns.map(headerOf)], rows),
    json: { device: deviceJson(target), count: templates.length, templates: templates.map(({ details, ...template }) => ({ ...details, ...template })) },
  };
}

/** The detail keys of listed items, as columns: every key any item has, in the order they first appear. */
function detailColumns(items: readonly { details: DeviceDetails }[]): string[] {
  return [...new Set(items.flatMap((item) => Object.keys(item.details)))];
}

function detailCells(details: DeviceDetails, columns: readonly string[]): string[] {
  return columns.map((key) => (Object.hasOwn(details, key) ? detailText(details[key]!) : '-'));
}

function detailText(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value) || '-';
}

/** `macAddress` → `Mac address`: drivers name details in camelCase for JSON. */
function labelOf(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function headerOf(key: string): string {
  return labelOf(key).toUpperCase();
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
